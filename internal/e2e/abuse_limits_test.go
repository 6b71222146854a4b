package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAbuseLimits: slow clients, oversized headers and bodies, deep JSON
// and too many feed long polls are refused or timed out per the daemons'
// configured limits (docs/operations.md, "Limits"), with real processes.
func TestAbuseLimits(t *testing.T) {
	w := newAbuseWorld(t, []string{"--max-feed-waiters", "12", "--max-feed-waiters-per-client", "4"}, nil)
	servers := []struct{ name, url string }{{"central", w.centralURL}, {"appliance", w.applianceURL}}

	t.Run("slowloris", func(t *testing.T) {
		// 20 connections per daemon each send a request line and trickle
		// a header line a second, never finishing: ReadHeaderTimeout (5 s)
		// closes them; meanwhile the daemons keep answering.
		n := 20
		if abuseFull() {
			n = 200
		}
		for _, s := range servers {
			host := strings.TrimPrefix(s.url, "https://")
			var wg sync.WaitGroup
			closed := make([]time.Duration, n)
			for i := range n {
				wg.Go(func() {
					// Loopback to the daemon under test; the certificate
					// does not matter to a slow client.
					c, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
					if err != nil {
						closed[i] = -1
						return
					}
					defer c.Close()
					start := time.Now()
					fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", host)
					for time.Since(start) < 40*time.Second {
						c.SetWriteDeadline(time.Now().Add(2 * time.Second))
						if _, err := fmt.Fprintf(c, "X-Slow-%d: x\r\n", time.Now().UnixNano()); err != nil {
							break
						}
						c.SetReadDeadline(time.Now().Add(time.Second))
						if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
							break // closed (or answered 408 and closed)
						}
					}
					closed[i] = time.Since(start)
				})
			}
			time.Sleep(time.Second)
			if !httpOK(s.url + "/healthz") {
				t.Errorf("%s stopped answering during the slowloris", s.name)
			}
			wg.Wait()
			var worst time.Duration
			for i, d := range closed {
				if d < 0 {
					t.Errorf("%s: slow connection %d could not connect", s.name, i)
				}
				worst = max(worst, d)
			}
			t.Logf("ABUSE slowloris %s: %d connections trickling headers, all closed by the server within %v (ReadHeaderTimeout 5s)", s.name, n, worst.Round(100*time.Millisecond))
			if worst >= 40*time.Second {
				t.Errorf("%s kept a slow connection open for %v", s.name, worst)
			}
		}
	})

	t.Run("oversized headers", func(t *testing.T) {
		for _, s := range servers {
			req, _ := http.NewRequest("GET", s.url+"/healthz", nil)
			req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
			if code := status(http.DefaultClient, req); code != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s: 64 KiB of headers: %d, want 431 (MaxHeaderBytes 32 KiB)", s.name, code)
			}
		}
	})

	big := func(n int) []byte { return bytes.Repeat([]byte(" "), n) }
	deep := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	bodies := []struct {
		name, url string
		rp        string // POST /v1/auth as this relying party
		body      []byte
		want      int
	}{
		{"appliance /v1/auth over 2 MiB", w.applianceURL + "/v1/auth", "kiosk-a", big(2<<20 + 1), http.StatusRequestEntityTooLarge},
		{"appliance /v1/qr/verify over 8 MiB", w.applianceURL + "/v1/qr/verify", "", big(8<<20 + 1), http.StatusRequestEntityTooLarge},
		{"central /v1/enrol/start over its limit", w.centralURL + "/v1/enrol/start", "", big(1<<20 + 1), http.StatusRequestEntityTooLarge},
		{"appliance /v1/auth 100000 deep", w.applianceURL + "/v1/auth", "kiosk-a", deep(100000), http.StatusBadRequest},
		{"appliance /v1/qr/verify 100000 deep", w.applianceURL + "/v1/qr/verify", "", deep(100000), http.StatusBadRequest},
		{"central /v1/enrol/start 50000 deep", w.centralURL + "/v1/enrol/start", "", deep(50000), http.StatusBadRequest},
		{"appliance /v1/captures/verify 100000 deep", w.applianceURL + "/v1/captures/verify", "", deep(100000), http.StatusBadRequest},
	}
	t.Run("oversized and deep bodies", func(t *testing.T) {
		for _, b := range bodies {
			req, _ := http.NewRequest("POST", b.url, bytes.NewReader(b.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "10.8.0.1")
			if b.rp != "" {
				req.Header.Set("Authorization", "Bearer "+w.rpKeys[b.rp])
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s: %v", b.name, err)
				continue
			}
			msg, _ := io.ReadAll(io.LimitReader(r.Body, 300))
			r.Body.Close()
			if r.StatusCode != b.want {
				t.Errorf("%s: %d %s, want %d", b.name, r.StatusCode, msg, b.want)
			} else {
				t.Logf("ABUSE %s: %d %s", b.name, r.StatusCode, bytes.TrimSpace(msg))
			}
		}
		for _, s := range servers {
			if !httpOK(s.url + "/healthz") {
				t.Errorf("%s not answering after the bodies", s.name)
			}
		}
	})

	t.Run("feed long polls", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := floodClient(32)
		defer c.CloseIdleConnections()
		head := func() string {
			r, err := c.Do(w.centralReq("GET", "/v1/feeds/trust", "10.7.9.9", false, nil))
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			return r.Header.Get("Edgetrust-Feed-Head")
		}()
		poll := func(ctx context.Context, from string) (int, string) {
			req := w.centralReq("GET", "/v1/feeds/trust?after="+head+"&wait=60s", from, false, nil).WithContext(ctx)
			r, err := c.Do(req)
			if err != nil {
				return 0, err.Error()
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			return r.StatusCode, string(b)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		// A holder keeps one long poll waiting until the test ends,
		// asking again at once when refused or answered.
		hold := func(from string) {
			wg.Go(func() {
				for ctx.Err() == nil {
					if code, _ := poll(ctx, from); code == http.StatusTooManyRequests {
						time.Sleep(100 * time.Millisecond)
					}
				}
			})
		}
		for range 4 {
			hold("10.7.0.1")
		}
		// The fifth from one address is refused at once; wait for the four
		// to be waiting first.
		var code int
		var msg string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(time.Second)
			qctx, qcancel := context.WithTimeout(ctx, 3*time.Second)
			code, msg = poll(qctx, "10.7.0.1")
			qcancel()
			if code == http.StatusTooManyRequests {
				break
			}
		}
		if code != http.StatusTooManyRequests || !strings.Contains(msg, "from this address") {
			t.Fatalf("fifth long poll from one address: %d %s, want 429", code, msg)
		}
		t.Logf("ABUSE long polls: the 5th from one address (limit 4): %d %s", code, strings.TrimSpace(msg))
		// Fill the total (12, the appliance's own two included) from other
		// addresses: one is refused "in all" by the 12th at the latest.
		refused := false
		for i := range 12 {
			from := fmt.Sprintf("10.7.1.%d", i)
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			code, msg := poll(qctx, from)
			qcancel()
			if code == http.StatusTooManyRequests && strings.Contains(msg, "in all") {
				t.Logf("ABUSE long polls: refused in all after %d more addresses (limit 12 in all): %s", i, strings.TrimSpace(msg))
				refused = true
				break
			}
			hold(from)
			time.Sleep(200 * time.Millisecond)
		}
		if !refused {
			t.Fatal("no long poll was refused past --max-feed-waiters 12")
		}
		cancel()
	})
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}
