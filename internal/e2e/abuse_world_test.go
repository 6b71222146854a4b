package e2e

// Shared set-up of the abuse and load tests (issue #14): central and an
// appliance as real processes on loopback, two relying parties, and the
// flood, latency and memory helpers. Short forms run in make test; the
// full counts and durations need EDGETRUST_FAULTS=full.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// abuseFull says whether the full counts run (EDGETRUST_FAULTS=full).
func abuseFull() bool { return os.Getenv("EDGETRUST_FAULTS") == "full" }

// floodTime is how long each flood lasts: 5 s, 60 s in full.
func floodTime() time.Duration {
	if abuseFull() {
		return 60 * time.Second
	}
	return 5 * time.Second
}

type abuseWorld struct {
	*world
	root        string
	feedKey     string
	rpKeys      map[string]string
	adminToken  string
	pState2     string // a second appliance, enrolled during a flood
	centralPort int
}

// newAbuseWorld starts central (badger, --trust-proxy so tests can speak
// as many client addresses, extra flags appended) and an enrolled
// appliance following it, with relying parties kiosk-a and kiosk-b.
func newAbuseWorld(t *testing.T, centralFlags, applianceFlags []string) *abuseWorld {
	root := t.TempDir()
	w := &abuseWorld{world: &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), pState: filepath.Join(root, "appliance")},
		root: root, rpKeys: map[string]string{}, pState2: filepath.Join(root, "appliance-2")}
	ek1 := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--show-ek"))
	ek2 := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState2, "--tpm", "sim", "--show-ek"))
	os.MkdirAll(w.cState, 0o700)
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(ek1+"\n"+ek2+"\n"), 0o644)
	w.centralPort = freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", w.centralPort)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", w.centralPort), "--ek-allow", allow, "--trust-proxy"}
	for _, f := range centralFlags { // {port} is central's port
		w.centralArgs = append(w.centralArgs, strings.ReplaceAll(f, "{port}", strconv.Itoa(w.centralPort)))
	}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))
	tok, err := os.ReadFile(filepath.Join(w.cState, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	w.adminToken = strings.TrimSpace(string(tok))
	pin := rootPin(t, w.cState)
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--central", w.centralURL, "--token", atok,
		"--id", "EDGE-1", "--central-root-sha256", pin)
	w.feedKey = filepath.Join(root, "feed-key.pem")
	os.WriteFile(w.feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	for _, rp := range []string{"kiosk-a", "kiosk-b"} {
		w.run("edgetrust-central", "rp", "add", "--id", rp, "--name", rp, "--auth-type", "demo")
		w.rpKeys[rp] = strings.TrimSpace(w.run("edgetrust-central", "rp", "key", "add", "--id", rp))
	}
	aport := freePort(t)
	w.applianceURL = fmt.Sprintf("https://127.0.0.1:%d", aport)
	w.applianceArgs = append([]string{"serve", "--state", w.pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", w.centralURL, "--feed-key", w.feedKey, "--poll-wait", "2s",
		// API keys alone: the brute-force and flood tests aim at the key
		// check, the fallback an operator enables explicitly.
		"--rp-auth", "key"}, applianceFlags...)
	w.startAppliance()
	waitFor(t, "the relying parties reach the appliance", 30*time.Second, w.appliance, func() bool {
		return w.authStatus(http.DefaultClient, "kiosk-b") == http.StatusOK
	})
	return w
}

// authBody is a demographic authentication of a VID nobody holds: a
// decision (authStatus false, vid-unknown) that costs what a real one does
// short of matching.
func authBody() []byte {
	b, _ := json.Marshal(map[string]any{"transactionId": fmt.Sprintf("abuse-%d", time.Now().UnixNano()),
		"individualId": "4000000000000000", "individualIdType": "VID", "consent": true,
		"requestedAuth": map[string]bool{"demo": true}, "demographics": map[string]string{"fullName": "Nobody"}, "matchMode": "exact"})
	return b
}

// authStatus sends one POST /v1/auth as rp and returns the status.
func (w *abuseWorld) authStatus(c *http.Client, rp string) int {
	req, _ := http.NewRequest(http.MethodPost, w.applianceURL+"/v1/auth", bytes.NewReader(authBody()))
	req.Header.Set("Authorization", "Bearer "+w.rpKeys[rp])
	req.Header.Set("Content-Type", "application/json")
	return status(c, req)
}

// central builds a request to central as client address from (central
// runs with --trust-proxy), with the admin token when admin is set.
func (w *abuseWorld) centralReq(method, path, from string, admin bool, body []byte) *http.Request {
	req, _ := http.NewRequest(method, w.centralURL+path, bytes.NewReader(body))
	req.Header.Set("X-Forwarded-For", from)
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.Header.Set("Authorization", "Bearer "+w.adminToken)
	}
	return req
}

// status sends req and returns the status code (0 on a transport error),
// reading and closing the body so the connection is reused.
func status(c *http.Client, req *http.Request) int {
	r, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// floodClient is a client of its own connection pool, as a flooder has.
func floodClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// counts is a tally of status codes.
type counts struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *counts) add(code int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int]int{}
	}
	c.m[code]++
	c.mu.Unlock()
}

func (c *counts) get(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[code]
}

func (c *counts) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []int
	for k := range c.m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%d×%d ", c.m[k], k)
	}
	return strings.TrimSpace(b.String())
}

// floodResult is what a flood and the legitimate client beside it saw.
type floodResult struct {
	flood, legit counts
	latencies    []time.Duration // the legitimate client's
	rssBefore    map[string]int  // kB by process name
	rssPeak      map[string]int
}

// p99 of the legitimate client's latencies.
func (r *floodResult) p99() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[(len(l)*99+99)/100-1]
}

// runFlood runs workers goroutines sending flood() back to back for d
// while one legitimate client sends legit() every interval, and samples
// the RSS of procs every 250 ms.
func runFlood(d time.Duration, workers int, flood func(c *http.Client) int, interval time.Duration, legit func(c *http.Client) int, procs map[string]*proc) *floodResult {
	res := &floodResult{rssBefore: map[string]int{}, rssPeak: map[string]int{}}
	for n, p := range procs {
		res.rssBefore[n] = rssKB(p.cmd.Process.Pid)
		res.rssPeak[n] = res.rssBefore[n]
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	fc := floodClient(workers)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				res.flood.add(flood(fc))
			}
		})
	}
	lc := floodClient(1)
	var mu sync.Mutex
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for ctx.Err() == nil {
			start := time.Now()
			code := legit(lc)
			el := time.Since(start)
			res.legit.add(code)
			mu.Lock()
			res.latencies = append(res.latencies, el)
			mu.Unlock()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				for n, p := range procs {
					res.rssPeak[n] = max(res.rssPeak[n], rssKB(p.cmd.Process.Pid))
				}
				mu.Unlock()
			}
		}
	})
	wg.Wait()
	fc.CloseIdleConnections()
	lc.CloseIdleConnections()
	return res
}

// rssKB is a process's resident set (VmRSS) in kB, 0 if unreadable.
func rssKB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// metric sums the samples of one metric family on a /metrics page.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var sum float64
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}
