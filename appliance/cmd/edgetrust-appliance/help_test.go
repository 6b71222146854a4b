package main

import (
	"testing"

	"github.com/edgetrust/edgetrust/internal/cli/clitest"
)

// TestHelp: --help and help CMD exit 0 on every command and name every flag.
func TestHelp(t *testing.T) { clitest.Help(t, program) }

// TestUsage: wrong usage of every command exits 2 with one line that
// points at --help.
func TestUsage(t *testing.T) { clitest.Usage(t, program) }
