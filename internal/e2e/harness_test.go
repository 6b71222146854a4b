package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
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

	"github.com/edgetrust/edgetrust/internal/tlsx"
)

var bin string // directory with the freshly built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgetrust-e2e-bin")
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/edgetrust/edgetrust/central/cmd/edgetrust-central",
		"github.com/edgetrust/edgetrust/agent/cmd/edgetrust-agent",
		"github.com/edgetrust/edgetrust/appliance/cmd/edgetrust-appliance")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.Exit(1)
	}
	bin = dir
	// Every request the tests make goes over TLS, verified against the
	// roots the daemons wrote (central's TLS root, an appliance's
	// self-signed certificate): trustFile adds them.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := &tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS13, ServerName: host, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { return verifyTrusted(cs, host) }}}
		return d.DialContext(ctx, network, addr)
	}
	http.DefaultTransport = tr
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is the environment every command gets.
type env struct {
	t    *testing.T
	vars []string
}

func (e *env) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	c.Env = append(os.Environ(), e.vars...)
	return c
}

// run runs a command to completion and returns its stdout; it fails the
// test on a non-zero exit, showing stderr.
func (e *env) run(name string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := e.cmd(ctx, name, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		e.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// proc is a background process with its output kept for failure reports.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr
	stdout bytes.Buffer
	done   chan struct{}
}

type stdoutWriter struct{ p *proc }

func (w stdoutWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.p.stdout.Write(b)
	w.p.mu.Unlock()
	return w.p.Write(b)
}

func (p *proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (e *env) start(name string, args ...string) *proc {
	e.t.Helper()
	c := e.cmd(context.Background(), name, args...)
	p := &proc{cmd: c, done: make(chan struct{})}
	c.Stdout, c.Stderr = stdoutWriter{p}, p
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { c.Wait(); close(p.done) }()
	e.t.Cleanup(func() { p.stop(syscall.SIGTERM) })
	return p
}

func (p *proc) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, p *proc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		if p != nil && !p.alive() {
			t.Fatalf("%s: the process exited:\n%s", what, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.Output()
	}
	t.Fatalf("%s: not within %v\n%s", what, timeout, out)
}

var trusted struct {
	mu   sync.Mutex
	pool *x509.CertPool
}

// trustFile waits for a PEM file of roots and trusts them from then on.
func trustFile(t *testing.T, path string, p *proc) {
	t.Helper()
	waitFor(t, "TLS root "+filepath.Base(path), 60*time.Second, p, func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	time.Sleep(50 * time.Millisecond) // written whole (rename), but give a slow disk its moment
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	trusted.mu.Lock()
	defer trusted.mu.Unlock()
	if trusted.pool == nil {
		trusted.pool = x509.NewCertPool()
	}
	if !trusted.pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificates", path)
	}
}

// verifyTrusted is the tests' certificate check: the chain must verify to
// a trusted root for the name dialled.
func verifyTrusted(cs tls.ConnectionState, host string) error {
	trusted.mu.Lock()
	pool := trusted.pool
	trusted.mu.Unlock()
	if pool == nil || len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("e2e: no trusted roots yet")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: pool, Intermediates: inter})
	return err
}

// rootPin is the SHA-256 of central's TLS root, for --central-root-sha256.
func rootPin(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "tls", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parsePEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return tlsx.Fingerprint(c)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpOK(url string) bool {
	r, err := http.Get(url)
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

func postJSON(t *testing.T, url string, v any, out any) int {
	t.Helper()
	b, _ := json.Marshal(v)
	r, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("POST %s: %d %s", url, r.StatusCode, body)
		}
	}
	return r.StatusCode
}

// firstLineJSON waits for a process's first stdout line that is a JSON object.
func firstJSONLine(t *testing.T, p *proc, v any) {
	t.Helper()
	waitFor(t, "start-up line", 90*time.Second, p, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.Stdout()))
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), v) == nil {
				return true
			}
		}
		return false
	})
}

func parsePEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// rpClient makes relying party rp a key of its own, has central certify
// its CSR (edgetrust-central rp cert issue) and returns a client that
// presents the certificate, verifying servers as every test request does.
func rpClient(t *testing.T, e *env, root, rp string) *http.Client {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: rp}}, k)
	if err != nil {
		t.Fatal(err)
	}
	csr, crt := filepath.Join(root, rp+".csr"), filepath.Join(root, rp+"-cert.pem")
	if err := os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run("edgetrust-central", "rp", "cert", "issue", "--rp", rp, "--csr", csr, "--out", crt)
	b, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	var chain [][]byte
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		chain = append(chain, blk.Bytes)
	}
	if len(chain) == 0 {
		t.Fatalf("rp cert issue wrote no certificate to %s", crt)
	}
	cert := tls.Certificate{Certificate: chain, PrivateKey: k}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := &tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS13, ServerName: host, InsecureSkipVerify: true,
			Certificates:     []tls.Certificate{cert},
			VerifyConnection: func(cs tls.ConnectionState) error { return verifyTrusted(cs, host) }}}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}
