package consoleint

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/internal/browsertest"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// The end-to-end console test runs edgetrust's binaries as real processes
// on loopback (as internal/e2e does): central with its console, an agent
// on swtpm, an appliance following central's feed; the admin revokes the
// device in Chromium.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "edgetrust-console-bin")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/",
			"github.com/edgetrust/edgetrust/central/cmd/edgetrust-central",
			"github.com/edgetrust/edgetrust/agent/cmd/edgetrust-agent",
			"github.com/edgetrust/edgetrust/appliance/cmd/edgetrust-appliance").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building binaries: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	std  bytes.Buffer
	done chan struct{}
}

type stdoutOf struct{ p *proc }

func (w stdoutOf) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.p.std.Write(b)
	return w.p.out.Write(b)
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }
func (p *proc) stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.std.String() }

type world struct {
	t    *testing.T
	bin  string
	vars []string
	pool *x509.CertPool
	http *http.Client
}

func (w *world) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(w.bin, name), args...)
	c.Env = append(os.Environ(), w.vars...)
	return c
}

func (w *world) run(name string, args ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := w.command(ctx, name, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		w.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (w *world) start(name string, args ...string) *proc {
	w.t.Helper()
	c := w.command(context.Background(), name, args...)
	p := &proc{cmd: c, done: make(chan struct{})}
	c.Stdout, c.Stderr = stdoutOf{p}, p
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { c.Wait(); close(p.done) }()
	w.t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		c.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			<-p.done
		}
	})
	return p
}

func waitUntil(t *testing.T, what string, timeout time.Duration, p *proc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		if p != nil {
			select {
			case <-p.done:
				t.Fatalf("%s: the process exited:\n%s", what, p.output())
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.output()
	}
	t.Fatalf("%s: not within %v\n%s", what, timeout, out)
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// trust waits for a PEM root file and adds it to the test client's roots.
func (w *world) trust(path string, p *proc) *x509.Certificate {
	w.t.Helper()
	waitUntil(w.t, "TLS root "+filepath.Base(path), 60*time.Second, p, func() bool { _, err := os.Stat(path); return err == nil })
	time.Sleep(50 * time.Millisecond)
	c := readPEMCert(w.t, path)
	w.pool.AddCert(c)
	return c
}

func (w *world) ok(url string) bool {
	r, err := w.http.Get(url)
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func firstJSON(t *testing.T, p *proc, v any) {
	t.Helper()
	waitUntil(t, "start-up line", 90*time.Second, p, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.stdout()))
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), v) == nil {
				return true
			}
		}
		return false
	})
}

type verdict struct {
	Valid   bool     `json:"valid"`
	Reasons []string `json:"reasons"`
}

func (w *world) captureAndVerify(agentPort int, applianceURL, dev string) verdict {
	w.t.Helper()
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "5000", DomainURI: "https://ida.example.org", TransactionID: fmt.Sprintf("con-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: dev, DeviceSubID: "0"}}}
	_, raw, err := (&client.Client{}).Capture(context.Background(), agentPort, req)
	if err != nil {
		w.t.Fatal(err)
	}
	rb, _ := json.Marshal(req)
	body, _ := json.Marshal(map[string]any{"transactionId": req.TransactionID, "request": json.RawMessage(rb), "response": json.RawMessage(raw)})
	r, err := w.http.Post(applianceURL+"/v1/captures/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Body.Close()
	var v verdict
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil || r.StatusCode != 200 {
		w.t.Fatalf("verify: HTTP %d %v", r.StatusCode, err)
	}
	return v
}

func TestConsoleRevokeReachesAppliance(t *testing.T) {
	browsertest.Chromium(t) // skips (or fails in CI) before the slow part without Chromium
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &world{t: t, bin: binaries(t), vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=console e2e passphrase 0123456789"}, pool: x509.NewCertPool()}
	w.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.pool}}}
	cState, aState, pState := filepath.Join(root, "central"), filepath.Join(root, "agent"), filepath.Join(root, "appliance")

	ek := strings.TrimSpace(w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", aState, "--show-ek"))
	applEK := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", pState, "--tpm", "sim", "--show-ek"))
	os.MkdirAll(cState, 0o700)
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(strings.Fields(ek)[0]+"\n"+applEK+"\n"), 0o644)

	// The first admin's one-time code, minted before serve opens the store.
	code := strings.Fields(w.run("edgetrust-central", "admin", "init", "--console", "--state", cState))[0]

	port := freePort(t)
	centralURL := fmt.Sprintf("https://127.0.0.1:%d", port)
	origin := fmt.Sprintf("https://localhost:%d", port)
	central := w.start("edgetrust-central", "serve", "--state", cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ek-allow", allow,
		"--console-origin", origin)
	croot := w.trust(filepath.Join(cState, "tls", "root.pem"), central)
	waitUntil(t, "central up", 60*time.Second, central, func() bool { return w.ok(centralURL + "/healthz") })
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(cState, "tls", "root.pem"))
	pin := tlsx.Fingerprint(croot)

	w.run("edgetrust-central", "vendor", "add", "--id", "EDGETRUST.SBI", "--name", "edgetrust")
	tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--vendor", "EDGETRUST.SBI"))
	w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", aState, "--central", centralURL, "--token", tok, "--central-root-sha256", pin)
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", pState, "--tpm", "sim", "--central", centralURL, "--token", atok, "--id", "EDGE-1", "--central-root-sha256", pin)
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", cState)), 0o644)
	encCert := filepath.Join(root, "appliance.pem")
	os.WriteFile(encCert, []byte(w.run("edgetrust-appliance", "cert", "--state", pState, "--tpm", "sim")), 0o644)
	aport := freePort(t)
	applianceURL := fmt.Sprintf("https://127.0.0.1:%d", aport)
	appliance := w.start("edgetrust-appliance", "serve", "--state", pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", centralURL, "--feed-key", feedKey, "--poll-wait", "2s", "--max-staleness", "30s")
	w.trust(filepath.Join(pState, "tls", "api-root.pem"), appliance)
	waitUntil(t, "appliance up", 60*time.Second, appliance, func() bool { return w.ok(applianceURL + "/healthz") })
	agent := w.start("edgetrust-agent", "serve", "--dev", "--tpm", sw.URL, "--state", aState, "--encryption-cert", encCert)
	var info struct{ Port int }
	firstJSON(t, agent, &info)

	const finger = "ETFA000000001"
	waitUntil(t, "a fresh capture verifies", 30*time.Second, appliance, func() bool { return w.captureAndVerify(info.Port, applianceURL, finger).Valid })

	// The admin registers a passkey and revokes the device in the console.
	bctx := browsertest.New(t, browsertest.Options{Trust: []*x509.Certificate{croot}, Timeout: 4 * time.Minute})
	if _, err := browsertest.VirtualAuthenticator(bctx); err != nil {
		t.Fatal(err)
	}
	run(t, bctx, chromedp.Navigate(origin+"/console/register"),
		chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.SendKeys(chromedp.CSS("#name"), "Ana Admin"),
		chromedp.Click(chromedp.CSS(`#register button[type=submit]`)))
	waitPath(t, bctx, "/console/")
	run(t, bctx, chromedp.Navigate(origin+"/console/devices?q=ETFA"),
		chromedp.Click(chromedp.CSS(`a[href="/console/devices/`+finger+`"]`)))
	waitPath(t, bctx, "/console/devices/"+finger)
	run(t, bctx, chromedp.Click(chromedp.CSS(`.actions a[href*="status=revoked"]`)))
	waitPath(t, bctx, "/console/change")
	start := time.Now()
	run(t, bctx, chromedp.SendKeys(chromedp.CSS("#reason"), "console e2e: stolen"), chromedp.Click(chromedp.CSS("button.danger")))
	waitPath(t, bctx, "/console/propagation")
	seq, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector("p.big").textContent.match(/#(\d+)/)||[])[1]||""`))
	if err != nil || seq == "" {
		t.Fatalf("propagation page names no checkpoint: %v", err)
	}

	// The appliance rejects the device's next capture.
	waitUntil(t, "the appliance rejects the revoked device", 15*time.Second, appliance, func() bool {
		v := w.captureAndVerify(info.Port, applianceURL, finger)
		return !v.Valid && strings.Contains(strings.Join(v.Reasons, " "), "device-revoked")
	})
	t.Logf("console revoke → appliance rejects: %v", time.Since(start).Round(time.Millisecond))

	// The propagation view (refreshing itself) shows the appliance at the
	// new checkpoint.
	deadline := time.Now().Add(30 * time.Second)
	for {
		txt, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("live").textContent`))
		if err == nil && strings.Contains(txt, "1 of 1") && strings.Contains(txt, "EDGE-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("propagation view never showed EDGE-1 at #%s: %q %v\n%s", seq, txt, err, central.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("console revoke → propagation view shows 1 of 1 at #%s: %v", seq, time.Since(start).Round(time.Millisecond))
}
