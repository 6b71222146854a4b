package clitest

import (
	"os"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// WaitFile is the testscript command "waitfile PATH": it waits up to
// limit for PATH to exist, and a regular file to be non-empty (a server in
// the background is up and has written its address; a file seen between
// create and write would hand the script an empty address). Sockets and
// pty links count as soon as they exist.
func WaitFile(limit time.Duration) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitfile path")
		}
		path := ts.MkAbs(args[0])
		for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if fi, err := os.Stat(path); err == nil && (!fi.Mode().IsRegular() || fi.Size() > 0) {
				return
			}
		}
		ts.Fatalf("%s did not appear within %v", path, limit)
	}
}
