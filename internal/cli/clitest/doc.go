// Package clitest checks what every edgetrust binary promises about help:
// --help and "help CMD" exit 0 on every command and group, and a command's
// help names each of its flags. It imports internal/cli and testing only.
package clitest
