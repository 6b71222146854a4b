// Command demo runs edgetrust's main job end to end on one machine with
// embedded defaults: `make demo` runs it. It drives the real binaries
// (bin/edgetrust-*) as a user would, over their documented interfaces.
//
// It is a test harness: it may import any package of the module, but today
// needs only internal/tpm, sbi and sbi/client beside the binaries.
package main
