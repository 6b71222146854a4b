// Package ctk runs MOSIP's SBI compliance test cases (package suite)
// against an SBI 0.9.5 device service and produces a report (package
// report). It is the library behind the edgetrust-ctk command.
//
// For each device the target reports, the cases whose type, sub-type and
// purpose match are run in test-id order. A case builds the request MOSIP's
// CTK UI would build, validates it against the case's request schema,
// calls the device, and runs every validator the case names on the answer,
// each at least as strictly as MOSIP's validator (see
// docs/decisions/0007-ctk.md). Cases that need the device in a state are
// driven through a Controller when the device offers one, else through a
// Prompter (a person at the keyboard), else skipped with the reason.
//
// Certificates are made with internal/pki. It imports sbi and internal/
// libraries, never another daemon.
//
// Size: about 2,300 lines over the ~1,500 house limit: the compliance
// checks are one table of MOSIP CTK cases run against one endpoint and
// share its request state; the suite data, report and fake SBI are
// subpackages.
package ctk
