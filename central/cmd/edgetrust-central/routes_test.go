package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

type boxSealer struct{ b *keyring.Box }

func (s boxSealer) Seal(p []byte) ([]byte, error) { return s.b.Seal(p) }
func (s boxSealer) Open(p []byte) ([]byte, error) { return s.b.Open(p, 1<<16) }

// TestApplianceRoutesNeedTheirCertificate: over TLS an appliance's records
// feed and decision-log upload need that appliance's certificate from
// central's TLS CA, and the appliance must be active: a suspended or
// revoked one is refused on its next request, and the API behind is never
// reached. Other routes need no client certificate.
func TestApplianceRoutesNeedTheirCertificate(t *testing.T) {
	box, _ := keyring.NewBox()
	ca, _, err := tlsca.Open(t.TempDir(), boxSealer{box}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	status := map[string]string{"EDGE-1": "active", "EDGE-2": "active"}
	setStatus := func(id, s string) { mu.Lock(); status[id] = s; mu.Unlock() }
	lookup := func(_ context.Context, id string) (*tlsca.ApplianceInfo, error) {
		mu.Lock()
		defer mu.Unlock()
		s, ok := status[id]
		if !ok {
			return nil, tlsca.ErrUnknownAppliance
		}
		return &tlsca.ApplianceInfo{Status: s}, nil
	}
	var reachedN atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reachedN.Add(1); io.WriteString(w, "api") })
	srv := httptest.NewUnstartedServer(routes(api, &tlsca.Server{CA: ca, Appliance: lookup}, lookup, nil))
	sans, _ := tlsca.ParseSANs([]string{"127.0.0.1"})
	sc, _ := ca.ServerCert(sans, "c1", time.Now())
	srv.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{ca.Root()}})
	srv.TLS.Certificates = []tls.Certificate{*sc} // httptest would install its own otherwise
	srv.StartTLS()
	defer srv.Close()
	certFor := func(id string) *tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, k)
		csr, _ := x509.ParseCertificateRequest(der)
		c, err := ca.IssueClient(csr, tlsx.Identity{Kind: tlsx.KindAppliance, ID: id}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.PrivateKey = k
		return c
	}
	e1, e2 := certFor("EDGE-1"), certFor("EDGE-2")
	do := func(method, path string, c *tls.Certificate) int {
		cfg, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: ca.Fingerprint(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c == nil {
				return &tls.Certificate{}, nil
			}
			return c, nil
		}})
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		r, err := tlsx.HTTPClient(cfg, 10*time.Second, 0).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	for _, c := range []struct {
		method, path string
		cert         *tls.Certificate
		want         int
		reaches      bool
	}{
		{"GET", "/v1/feeds/records.EDGE-1?after=0", e1, 200, true},
		{"POST", "/v1/appliances/EDGE-1/audit", e1, 200, true},
		{"GET", "/v1/feeds/records.EDGE-1", nil, 401, false},
		{"GET", "/v1/feeds/records.EDGE-1", e2, 403, false},
		{"POST", "/v1/appliances/EDGE-1/audit", e2, 403, false},
		{"GET", "/v1/feeds/trust", nil, 200, true},
		{"GET", "/healthz", nil, 200, true},
	} {
		before := reachedN.Load()
		got := do(c.method, c.path, c.cert)
		if reached := reachedN.Load(); got != c.want || (reached > before) != c.reaches {
			t.Errorf("%s %s: %d (API reached %v), want %d (%v)", c.method, c.path, got, reached > before, c.want, c.reaches)
		}
	}
	// A long poll open when the appliance is suspended is cut.
	recheckEvery = 50 * time.Millisecond
	defer func() { recheckEvery = 2 * time.Second }()
	cut := make(chan time.Duration, 1)
	poll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			cut <- time.Since(start)
		case <-time.After(10 * time.Second):
			cut <- -1
		}
	})
	psrv := httptest.NewUnstartedServer(routes(poll, &tlsca.Server{CA: ca, Appliance: lookup}, lookup, nil))
	psrv.TLS = srv.TLS.Clone()
	psrv.StartTLS()
	defer psrv.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		setStatus("EDGE-2", "suspended")
	}()
	cfg, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: ca.Fingerprint(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return e2, nil }})
	if r, err := tlsx.HTTPClient(cfg, 15*time.Second, 0).Get(psrv.URL + "/v1/feeds/records.EDGE-2?wait=60s"); err == nil {
		r.Body.Close()
	}
	if d := <-cut; d < 0 || d > 3*time.Second {
		t.Errorf("the long poll of a suspended appliance ran %v", d)
	}

	for _, s := range []string{"suspended", "revoked"} {
		setStatus("EDGE-1", s)
		before := reachedN.Load()
		if got := do("GET", "/v1/feeds/records.EDGE-1", e1); got != 403 || reachedN.Load() != before {
			t.Errorf("%s appliance: %d, API reached %v", s, got, reachedN.Load() > before)
		}
	}
}

// TestIndependentClients: openssl s_client and curl, given only central's
// root, complete a TLS 1.3 handshake and a request; TLS 1.2 and 1.1 are
// refused at the handshake.
func TestIndependentClients(t *testing.T) {
	openssl, curl := tool(t, "openssl"), tool(t, "curl")
	state := t.TempDir()
	url := startServe(t, state)
	addr := strings.TrimPrefix(url, "https://")
	root := filepath.Join(state, tlsca.RootFile)
	sclient := func(args ...string) (string, error) {
		cmd := exec.Command(openssl, append([]string{"s_client", "-connect", addr, "-servername", "localhost", "-CAfile", root, "-verify_return_error", "-brief"}, args...)...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := sclient("-tls1_3"); err != nil || !strings.Contains(out, "TLSv1.3") {
		t.Fatalf("openssl s_client -tls1_3: %v\n%s", err, out)
	}
	for _, v := range []string{"-tls1_2", "-tls1_1"} {
		if out, err := sclient(v); err == nil {
			t.Errorf("openssl s_client %s completed a handshake:\n%s", v, out)
		}
	}
	out, err := exec.Command(curl, "-sS", "--fail", "--cacert", root, url+"/healthz").CombinedOutput()
	if err != nil {
		t.Fatalf("curl --cacert: %v\n%s", err, out)
	}
	if out, err := exec.Command(curl, "-sS", "--fail", url+"/healthz").CombinedOutput(); err == nil {
		t.Fatalf("curl trusted central without its root:\n%s", out)
	}
	if out, err := exec.Command(curl, "-sS", "--fail", "--cacert", root, "--tls-max", "1.2", url+"/healthz").CombinedOutput(); err == nil {
		t.Fatalf("curl over TLS 1.2 succeeded:\n%s", out)
	}
}

// TestServerCertRenews: with central's clock moved on, its server
// certificate is re-issued by its TLS CA at 2/3 of its 30 days (+ jitter),
// again and again, and each new one verifies against the same root.
func TestServerCertRenews(t *testing.T) {
	box, _ := keyring.NewBox()
	start := time.Now()
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ca, _, err := tlsca.Open(t.TempDir(), boxSealer{box}, start)
	if err != nil {
		t.Fatal(err)
	}
	sans, _ := tlsca.ParseSANs([]string{"localhost"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sleeps []time.Duration
	done := make(chan struct{})
	r := &tlsx.Renewer{Name: "central server", Issue: serverIssuer(Config{}, ca, sans, "c1", clock), Now: clock,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			now = now.Add(d)
			n := len(sleeps)
			mu.Unlock()
			if n == 4 {
				close(done)
				<-ctx.Done()
			}
			return ctx.Err()
		}}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	pool := x509.NewCertPool()
	pool.AddCert(ca.Root())
	mu.Lock()
	sleeps, at := append([]time.Duration(nil), sleeps...), now
	mu.Unlock()
	lo, hi := tlsca.ServerValidity*2/3, tlsca.ServerValidity*2/3+tlsca.ServerValidity/20+time.Minute
	for i, d := range sleeps[:3] {
		if d < lo-2*time.Minute || d > hi {
			t.Errorf("renewal %d after %v, want %v–%v", i, d, lo, hi)
		}
	}
	if r.Renewals() != 3 {
		t.Fatalf("%d renewals, want 3", r.Renewals())
	}
	c, err := r.Current()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool, Intermediates: interPool(c), CurrentTime: at}); err != nil {
		t.Fatalf("the renewed certificate does not verify at %v: %v", at, err)
	}
	if !c.Leaf.NotBefore.After(start.Add(50 * 24 * time.Hour)) {
		t.Fatalf("the current certificate starts %v: not renewed", c.Leaf.NotBefore)
	}
}

func interPool(c *tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		x, _ := x509.ParseCertificate(der)
		p.AddCert(x)
	}
	return p
}
