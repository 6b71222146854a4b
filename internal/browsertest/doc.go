// Package browsertest runs edgetrust's web pages in a real browser for tests:
// Debian's Chromium driven over the DevTools protocol by chromedp, with the
// flags this closed network needs, a fake camera fed from a Y4M file, a
// virtual WebAuthn authenticator, screenshots at fixed viewports and axe-core
// accessibility checks.
//
// It is test plumbing: only _test.go files import it. Chromium comes from
// scripts/install-deps.sh and axe-core from testdata/axe (npm ci, locked).
// Without Chromium a test skips, unless EDGETRUST_REQUIRE_TOOLS=1 (CI), where
// it fails.
//
// chromedp v0.24 has a generic API: an Action[T] returns a value;
// chromedp.Do runs steps that return nothing, chromedp.Run one that returns a
// value (chromedp.Run(ctx, chromedp.Evaluate[string](js))), and
// chromedp.Call sends a cdproto command (see webauthn.go).
//
// May import: the standard library and chromedp.
package browsertest
