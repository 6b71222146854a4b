package clitest

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
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

// JSONShape is the testscript command "jsonshape FILE GOLDEN": FILE
// (or stdout) holds one JSON document of the same shape as GOLDEN's.
// Objects must have exactly the golden's keys; scalars must be of the
// golden's kind (string, number, bool, null) but may differ in value, so
// times, ids and keys need no scrubbing; each element of an array must
// match the golden array's first element (an empty golden array takes
// any, an empty golden object any object); a golden key ending in "?"
// may be absent (omitempty). Values are pinned with stdout regexps beside it.
func JSONShape(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonshape file golden")
	}
	var got, want any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &got); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[1])), &want); err != nil {
		ts.Fatalf("golden %s is not JSON: %v", args[1], err)
	}
	err := sameShape("$", got, want)
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s does not have the shape of %s: %v", args[0], args[1], err)
	case err == nil && neg:
		ts.Fatalf("%s has the shape of %s", args[0], args[1])
	}
}

func sameShape(at string, got, want any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %s, want an object", at, kind(got))
		}
		if len(w) == 0 {
			return nil // {} takes any object (a free-form detail)
		}
		for k := range w {
			if _, ok := g[k]; !ok && !strings.HasSuffix(k, "?") {
				return fmt.Errorf("%s: missing key %q", at, k)
			}
		}
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, ok := w[k]
			if !ok {
				wv, ok = w[k+"?"]
			}
			if !ok {
				return fmt.Errorf("%s: unexpected key %q", at, k)
			}
			if err := sameShape(at+"."+k, g[k], wv); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: got %s, want an array", at, kind(got))
		}
		if len(w) == 0 {
			return nil
		}
		for i, e := range g {
			if err := sameShape(fmt.Sprintf("%s[%d]", at, i), e, w[0]); err != nil {
				return err
			}
		}
		return nil
	}
	if kind(got) != kind(want) {
		return fmt.Errorf("%s: got %s, want %s", at, kind(got), kind(want))
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}
