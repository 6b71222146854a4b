package browsertest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// Options say how to start the browser.
type Options struct {
	// Trust lists server certificates whose keys Chromium accepts without a
	// chain to its own roots (--ignore-certificate-errors-spki-list): the
	// pages are served over edgetrust's own TLS, signed by central's CA.
	Trust []*x509.Certificate
	// FakeVideo, if set, is a Y4M file Chromium plays as the camera
	// (getUserMedia is granted without a prompt).
	FakeVideo string
	// Timeout bounds the whole browser session; 2 minutes if zero.
	Timeout time.Duration
}

// Chromium finds the browser binary, or skips (fails with
// EDGETRUST_REQUIRE_TOOLS=1).
func Chromium(t testing.TB) string {
	t.Helper()
	return testtool.Need(t, "apt-get install -y chromium (scripts/install-deps.sh does it)", "chromium", "chromium-browser", "google-chrome")
}

// New starts a headless Chromium with a fresh profile and returns a context
// for chromedp actions on its first tab. The browser stops at test cleanup.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	bin := Chromium(t)
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The network is closed: anything Chromium phones home for fails, many
		// times over, and slows the test.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.WindowSize(1280, 800),
	}
	if len(o.Trust) > 0 {
		flags = append(flags, chromedp.Flag("ignore-certificate-errors-spki-list", SPKIList(o.Trust...)))
	}
	if o.FakeVideo != "" {
		flags = append(flags,
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", o.FakeVideo))
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	base, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, flags...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelTimeout() })
	return ctx
}

// SPKIList is the value of --ignore-certificate-errors-spki-list for certs:
// base64 SHA-256 of each SubjectPublicKeyInfo, comma-separated.
func SPKIList(certs ...*x509.Certificate) string {
	s := ""
	for i, c := range certs {
		h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		if i > 0 {
			s += ","
		}
		s += base64.StdEncoding.EncodeToString(h[:])
	}
	return s
}
