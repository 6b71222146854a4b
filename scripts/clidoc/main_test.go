package main

import (
	"slices"
	"strings"
	"testing"
)

func TestChildren(t *testing.T) {
	text := `edgetrust-x vendor — the vendors. edgetrust-x vendor mentions prose.

Usage:
  edgetrust-x vendor <command> [flags]

Commands:
  add          add a vendor
  list         list vendors

Also:
  edgetrust-x vendor revoke|suspend --id ID [--reason TEXT]
Usage: edgetrust-x vendor show --id ID
  edgetrust-x vendor --json     (a flag, not a command)
  edgetrust-x other thing       (another group's line)
`
	got := children(text, "edgetrust-x", []string{"vendor"})
	want := []string{"add", "list", "revoke", "suspend", "show"}
	if !slices.Equal(got, want) {
		t.Fatalf("children = %q, want %q", got, want)
	}
}

func TestFirstDiff(t *testing.T) {
	if d := firstDiff([]byte("a\nb\nc"), []byte("a\nB\nc")); d == "" || !strings.Contains(d, "line 2") {
		t.Fatalf("firstDiff = %q, want it at line 2", d)
	}
}
