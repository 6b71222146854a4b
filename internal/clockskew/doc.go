// Package clockskew lets a test run a daemon on a clock that is deliberately
// wrong, the way a box with a dead RTC battery or a mis-set NTP server runs:
// EDGETRUST_TEST_CLOCK_SKEW (a Go duration such as "24h" or "-24h", at most
// 30 days either way) shifts the clock the agent and the appliance stamp,
// sign and judge with. Unset, the clock is time.Now. It exists for fault
// injection (internal/e2e/faults_clock_test.go) and is never set in
// production; a daemon that sees it logs a warning at start.
package clockskew
