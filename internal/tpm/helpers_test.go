package tpm

import (
	"context"
	"testing"

	"github.com/edgetrust/edgetrust/internal/tpm/swtpmtest"
)

// requireSwtpm is set by CI: there a missing swtpm is a failure, not a skip.
func requireSwtpm() bool { return swtpmtest.Required() }

func openSimT(t testing.TB) *TPM {
	t.Helper()
	tp, err := Open(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return tp
}

// startSwtpm starts Debian's swtpm with a fresh state (see swtpmtest).
func startSwtpm(t testing.TB) *swtpmtest.Swtpm { return swtpmtest.Start(t) }

func openURL(t testing.TB, url string) *TPM {
	t.Helper()
	tp, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}

// backends runs f against the simulator and against a real swtpm.
func backends(t *testing.T, f func(t *testing.T, tp *TPM)) {
	t.Run("sim", func(t *testing.T) { f(t, openSimT(t)) })
	t.Run("swtpm", func(t *testing.T) {
		s := startSwtpm(t)
		f(t, openURL(t, s.URL))
	})
}
