package tlsx

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testCA(t *testing.T, now time.Time) *pki.CA {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "test TLS CA"}, Validity: 10 * 365 * 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func leaf(t testing.TB, ca *pki.CA, now time.Time, life time.Duration, kind, id string) *tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := ca.Issue(k.Public(), pki.Profile{Subject: pkix.Name{CommonName: id}, Validity: life,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, URIs: []*url.URL{IdentityURI(kind, id)}}, now)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

func TestRenewalSchedule(t *testing.T) {
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	ca := testCA(t, start)
	life := 90 * 24 * time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var sleeps []time.Duration
	issued, failures := 0, 0
	done := make(chan struct{})
	r := &Renewer{Name: "test", Now: clk.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			clk.add(d)
			return ctx.Err()
		},
		Issue: func(ctx context.Context) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			// The third renewal fails twice before it succeeds.
			if issued == 3 && failures < 2 {
				failures++
				return nil, errors.New("central unreachable")
			}
			issued++
			if issued == 6 {
				close(done)
				cancel()
			}
			return leaf(t, ca, clk.Now(), life, KindCentral, "c1"), nil
		}}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	<-r.Stopped()
	mu.Lock()
	defer mu.Unlock()
	// Renewal sleeps: due at 2/3..2/3+0.05 of the life of the certificate
	// issued just before; failures add back-off sleeps of 1 s, 2 s.
	var due []time.Duration
	var backoff []time.Duration
	for _, d := range sleeps {
		if d < time.Hour {
			backoff = append(backoff, d)
		} else {
			due = append(due, d)
		}
	}
	if len(due) < 5 {
		t.Fatalf("only %d renewal waits: %v", len(due), sleeps)
	}
	lo, hi := time.Duration(float64(life)*2/3), time.Duration(float64(life)*(2.0/3+0.05))
	for i, d := range due[:5] {
		if d < lo-time.Second || d > hi+time.Second {
			t.Errorf("renewal %d after %v, want between %v and %v of a %v life", i, d, lo, hi, life)
		}
	}
	if fmt.Sprint(backoff) != "[1s 2s]" {
		t.Errorf("back-off sleeps %v, want [1s 2s]", backoff)
	}
	if r.Renewals() != 5 {
		t.Errorf("%d renewals, want 5", r.Renewals())
	}
}

func TestNeverServesExpired(t *testing.T) {
	now := time.Now()
	clk := &clock{t: now}
	ca := testCA(t, now)
	r := &Renewer{Name: "test", Now: clk.Now}
	if err := r.Set(leaf(t, ca, now, time.Hour, KindAppliance, "a1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetCertificate(nil); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour)
	if _, err := r.GetCertificate(nil); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired certificate served: %v", err)
	}
	if err := r.Set(leaf(t, ca, now.Add(-2*time.Hour), time.Hour, KindAppliance, "a1")); !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired certificate was installed: %v", err)
	}
}

// TestRolloverWhileConnected: a client keeps its connection across a
// renewal; new handshakes see the new certificate; an expired server
// certificate fails the handshake rather than being served.
func TestRolloverWhileConnected(t *testing.T) {
	now := time.Now()
	clk := &clock{t: now}
	ca := testCA(t, now)
	r := &Renewer{Name: "server", Now: clk.Now}
	first := leaf(t, ca, now, time.Hour, KindCentral, "c1")
	if err := r.Set(first); err != nil {
		t.Fatal(err)
	}
	// Not httptest's StartTLS: it installs a certificate of its own.
	scfg := Base(false)
	scfg.GetCertificate = r.GetCertificate
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { fmt.Fprint(w, "ok") })}
	go hs.Serve(ln)
	defer hs.Close()
	url := "https://" + ln.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	var seen []string
	cfg := Base(false)
	cfg.RootCAs = roots
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		seen = append(seen, cs.PeerCertificates[0].SerialNumber.String())
		return nil
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	second := leaf(t, ca, now, 2*time.Hour, KindCentral, "c1")
	if err := r.Set(second); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil { // same connection, no new handshake
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	if err := get(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != first.Leaf.SerialNumber.String() || seen[1] != second.Leaf.SerialNumber.String() {
		t.Fatalf("handshakes saw %v, want [%v %v]", seen, first.Leaf.SerialNumber, second.Leaf.SerialNumber)
	}
	clk.add(3 * time.Hour)
	client.CloseIdleConnections()
	if err := get(); err == nil {
		t.Fatal("a handshake succeeded with only an expired certificate to serve")
	}
}

func TestTLS12OnlyWithAEAD(t *testing.T) {
	now := time.Now()
	ca := testCA(t, now)
	cert := leaf(t, ca, now, time.Hour, KindCentral, "c1")
	for _, allow12 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		srv.TLS = Base(allow12)
		srv.TLS.Certificates = []tls.Certificate{*cert}
		srv.StartTLS()
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		dial := func(c *tls.Config) error {
			c.RootCAs = roots
			conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), c)
			if err == nil {
				conn.Close()
			}
			return err
		}
		tls12 := &tls.Config{MaxVersion: tls.VersionTLS12}
		if err := dial(tls12); (err == nil) != allow12 {
			t.Errorf("allowTLS12=%v: TLS 1.2 handshake error %v", allow12, err)
		}
		cbc := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}
		if err := dial(cbc); err == nil {
			t.Errorf("allowTLS12=%v: a CBC suite was accepted", allow12)
		}
		if err := dial(&tls.Config{}); err != nil {
			t.Errorf("TLS 1.3: %v", err)
		}
		srv.Close()
	}
}

func TestIdentity(t *testing.T) {
	now := time.Now()
	ca := testCA(t, now)
	c := leaf(t, ca, now, time.Hour, KindRP, "bank-7")
	id, err := IdentityOf(c.Leaf)
	if err != nil || id != (Identity{KindRP, "bank-7"}) || id.String() != "rp:bank-7" {
		t.Fatalf("%v %v", id, err)
	}
	c.Leaf.URIs = nil
	if _, err := IdentityOf(c.Leaf); !errors.Is(err, ErrNoIdentity) {
		t.Fatal(err)
	}
	c.Leaf.URIs = []*url.URL{IdentityURI(KindRP, "a"), IdentityURI(KindAdmin, "b")}
	if _, err := IdentityOf(c.Leaf); err == nil {
		t.Fatal("two identities accepted")
	}
	if _, _, err := PeerIdentity(&tls.ConnectionState{}); !errors.Is(err, ErrNoIdentity) {
		t.Fatal(err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr        string
		plain, flag bool
		ok          bool
		want        string
	}{
		{"0.0.0.0:8443", false, false, true, ""},
		{"0.0.0.0:8443", true, false, false, "serve TLS (the default), or pass --insecure-http-loopback"},
		{"127.0.0.1:8443", true, false, false, "pass --insecure-http-loopback"},
		{"127.0.0.1:8443", true, true, true, ""},
		{"[::1]:8443", true, true, true, ""},
		{"localhost:1", true, true, true, ""},
		{":8443", true, true, false, "allows only a loopback address"},
		{"10.0.0.5:8443", true, true, false, "allows only a loopback address"},
	} {
		err := CheckListen(c.addr, c.plain, c.flag, "--insecure-http-loopback")
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s plain=%v flag=%v: %v", c.addr, c.plain, c.flag, err)
		}
	}
}
