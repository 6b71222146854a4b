// Package testtool finds the independent tools that cross-check tests
// (openssl, curl, zbarimg, node packages, chromium). A missing tool skips
// the test on a developer's machine and fails it in CI, where
// EDGETRUST_REQUIRE_TOOLS=1 says everything scripts/install-deps.sh
// installs must be there: a green CI run never hides a skipped check.
package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Env is the variable that turns a missing tool from a skip into a failure.
const Env = "EDGETRUST_REQUIRE_TOOLS"

// Required reports whether missing tools fail tests (Env is set to
// anything but "" or "0").
func Required() bool {
	v := os.Getenv(Env)
	return v != "" && v != "0"
}

// Missing skips t, or fails it when Required, saying what is missing and
// how to install it.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is not installed and %s is set (install: %s)", what, Env, install)
		return
	}
	t.Skipf("%s is not installed (install: %s); set %s=1 to fail instead", what, install, Env)
}

// Need returns the path of the first of names found on PATH, or calls
// Missing. install says how to get it, e.g. "apt-get install zbar-tools".
func Need(t testing.TB, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, names[0], install)
	return ""
}

// Node returns the node binary once dir/node_modules/<module> exists (an
// npm package locked in a testdata folder), or calls Missing.
func Node(t testing.TB, dir, module, install string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node", install)
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(module))); err != nil {
		Missing(t, "npm package "+module+" in "+dir, install)
		return ""
	}
	return node
}
