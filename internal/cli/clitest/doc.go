// Package clitest checks what every edgetrust binary promises about help:
// --help and "help CMD" exit 0 on every command and group, a command's help
// names each of its flags and shows an example. It also holds the
// testscript commands the binaries' scripts share. It imports internal/cli,
// testing and testscript only.
package clitest
