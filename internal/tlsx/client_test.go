package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
)

func pinServer(t *testing.T, chain bool, h http.Handler) (*httptest.Server, string, *x509.Certificate) {
	now := time.Now()
	ca := testCA(t, now)
	cert := leaf(t, ca, now, time.Hour, KindCentral, "c1")
	if chain {
		cert.Certificate = append(cert.Certificate, ca.Cert.Raw)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = ServerConfig(ServerOptions{ClientCAs: []*x509.Certificate{ca.Cert}})
	srv.TLS.Certificates = []tls.Certificate{*cert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, Fingerprint(ca.Cert), ca.Cert
}

func TestPinnedClient(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv, pin, root := pinServer(t, true, ok)
	get := func(o ClientOptions) error {
		cfg, err := ClientConfig(o)
		if err != nil {
			return err
		}
		r, err := HTTPClient(cfg, 5*time.Second, 0).Get(srv.URL)
		if err == nil {
			r.Body.Close()
		}
		return err
	}
	var seen *x509.Certificate
	if err := get(ClientOptions{Pin: strings.ToUpper(pin), OnRoot: func(c *x509.Certificate) { seen = c }}); err != nil {
		t.Fatalf("pin only: %v", err)
	}
	if seen == nil || !seen.Equal(root) {
		t.Fatal("OnRoot did not see the pinned root")
	}
	if err := get(ClientOptions{Roots: []*x509.Certificate{root}}); err != nil {
		t.Fatalf("root file: %v", err)
	}
	var pe *PinError
	if err := get(ClientOptions{Pin: strings.Repeat("0", 64)}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "--central-root-sha256") {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := ClientConfig(ClientOptions{Roots: []*x509.Certificate{root}, Pin: strings.Repeat("1", 64)}); !errors.As(err, &pe) {
		t.Fatalf("root file not matching the pin: %v", err)
	}
	if _, err := ClientConfig(ClientOptions{}); err == nil {
		t.Fatal("a client with neither root nor pin")
	}
	if _, err := ParsePin("abc"); err == nil {
		t.Fatal("a short pin parsed")
	}
	// Another CA's root, pinned: the server's chain does not verify.
	otherCA := testCA(t, time.Now())
	if err := get(ClientOptions{Roots: []*x509.Certificate{otherCA.Cert}}); err == nil {
		t.Fatal("verified against another root")
	}
	// The certificate must name the host dialled, an IP address too
	// (crypto/tls leaves ServerName empty for IPs: Transport fills it in).
	now := time.Now()
	ca := testCA(t, now)
	named := leaf(t, ca, now, time.Hour, KindCentral, "c1")
	other := httptest.NewUnstartedServer(ok)
	k := named.PrivateKey
	c, err := ca.Issue(named.Leaf.PublicKey, pki.Profile{Subject: pkix.Name{CommonName: "elsewhere"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"elsewhere.example"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	other.TLS = Base(false)
	other.TLS.Certificates = []tls.Certificate{{Certificate: [][]byte{c.Raw, ca.Cert.Raw}, PrivateKey: k}}
	other.StartTLS()
	defer other.Close()
	ocfg, _ := ClientConfig(ClientOptions{Pin: Fingerprint(ca.Cert)})
	if _, err := HTTPClient(ocfg, 5*time.Second, 0).Get(other.URL); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("a certificate for elsewhere.example accepted for 127.0.0.1: %v", err)
	}
	// A pin-only client against a server that does not send its root.
	srv2, pin2, _ := pinServer(t, false, ok)
	cfg, _ := ClientConfig(ClientOptions{Pin: pin2})
	if _, err := HTTPClient(cfg, 5*time.Second, 0).Get(srv2.URL); !errors.As(err, &pe) {
		t.Fatalf("root not sent: %v", err)
	}
}

func TestGuard(t *testing.T) {
	now := time.Now()
	ca := testCA(t, now)
	refused := errors.New("appliance a2 is suspended")
	g := &Guard{Kind: KindAppliance, ID: func(r *http.Request) string { return r.PathValue("id") },
		Check: func(_ context.Context, id Identity) error {
			if id.ID == "a2" {
				return refused
			}
			return nil
		}}
	mux := http.NewServeMux()
	mux.Handle("/x/{id}", g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = ServerConfig(ServerOptions{ClientCAs: []*x509.Certificate{ca.Cert}})
	srv.TLS.Certificates = []tls.Certificate{*leaf(t, ca, now, time.Hour, KindCentral, "c1")}
	srv.StartTLS()
	defer srv.Close()
	get := func(path string, c *tls.Certificate) int {
		cfg, _ := ClientConfig(ClientOptions{Roots: []*x509.Certificate{ca.Cert}, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c == nil {
				return &tls.Certificate{}, nil
			}
			return c, nil
		}})
		r, err := HTTPClient(cfg, 5*time.Second, 0).Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	a1 := leaf(t, ca, now, time.Hour, KindAppliance, "a1")
	a2 := leaf(t, ca, now, time.Hour, KindAppliance, "a2")
	rp := leaf(t, ca, now, time.Hour, KindRP, "a1")
	for _, c := range []struct {
		path string
		cert *tls.Certificate
		want int
	}{
		{"/x/a1", a1, 200},
		{"/x/a1", nil, 401},
		{"/x/a1", a2, 403},
		{"/x/a1", rp, 403},
		{"/x/a2", a2, 403}, // Check refuses it
	} {
		if got := get(c.path, c.cert); got != c.want {
			t.Errorf("%s: %d, want %d", c.path, got, c.want)
		}
	}
	// Plain HTTP passes (loopback development) unless RequireTLS.
	plain := httptest.NewServer(mux)
	defer plain.Close()
	if r, err := http.Get(plain.URL + "/x/a1"); err != nil || r.StatusCode != 200 {
		t.Fatalf("plain: %v", err)
	}
	g.RequireTLS = true
	if r, err := http.Get(plain.URL + "/x/a1"); err != nil || r.StatusCode != 401 {
		t.Fatalf("plain with RequireTLS: %v %v", err, r.StatusCode)
	}
}
