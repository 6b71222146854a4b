package testtool

import (
	"testing"
)

// recorder is a testing.TB that records a skip or a failure instead of
// ending the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Skipf(f string, a ...any)  { r.skipped = f }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = f }
func (r *recorder) Cleanup(func())            {}
func (r *recorder) Name() string              { return "recorder" }

func TestMissingSkipsOrFails(t *testing.T) {
	t.Setenv(Env, "")
	r := &recorder{TB: t}
	if p := Need(r, "nothing installs it", "edgetrust-no-such-tool"); p != "" || r.skipped == "" || r.failed != "" {
		t.Fatalf("without %s: path %q, skipped %q, failed %q; want a skip", Env, p, r.skipped, r.failed)
	}
	t.Setenv(Env, "1")
	r = &recorder{TB: t}
	if Need(r, "nothing installs it", "edgetrust-no-such-tool"); r.failed == "" || r.skipped != "" {
		t.Fatalf("with %s=1: skipped %q, failed %q; want a failure", Env, r.skipped, r.failed)
	}
	t.Setenv(Env, "0")
	if Required() {
		t.Fatalf("%s=0 must not require tools", Env)
	}
}

func TestNeedFindsATool(t *testing.T) {
	r := &recorder{TB: t}
	if p := Need(r, "coreutils", "edgetrust-no-such-tool", "sh"); p == "" || r.skipped != "" || r.failed != "" {
		t.Fatalf("sh not found through the second name: %q %q %q", p, r.skipped, r.failed)
	}
}

func TestNodeNeedsTheModule(t *testing.T) {
	t.Setenv(Env, "")
	r := &recorder{TB: t}
	Node(r, t.TempDir(), "jose", "npm ci")
	if r.skipped == "" {
		t.Fatal("an empty dir has no node_modules/jose, yet Node did not skip")
	}
}
