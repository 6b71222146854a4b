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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// TestExpiredApplianceCertRefused: an appliance certificate from central's
// own CA that has expired fails the handshake on an appliance-only route,
// and the API behind it is never reached; the same appliance's current
// certificate gets through.
func TestExpiredApplianceCertRefused(t *testing.T) {
	box, _ := keyring.NewBox()
	then := time.Now().Add(-40 * 24 * time.Hour)
	ca, _, err := tlsca.Open(t.TempDir(), boxSealer{box}, then)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) (*tlsca.ApplianceInfo, error) {
		return &tlsca.ApplianceInfo{Status: "active"}, nil
	}
	var reached atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1); io.WriteString(w, "api") })
	srv := httptest.NewUnstartedServer(routes(api, &tlsca.Server{CA: ca, Appliance: lookup}, lookup, nil))
	sans, _ := tlsca.ParseSANs([]string{"127.0.0.1"})
	sc, err := ca.ServerCert(sans, "c1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{ca.Root()}})
	srv.TLS.Certificates = []tls.Certificate{*sc}
	srv.StartTLS()
	defer srv.Close()
	certAt := func(at time.Time) *tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "EDGE-1"}}, k)
		csr, _ := x509.ParseCertificateRequest(der)
		c, err := ca.IssueClient(csr, tlsx.Identity{Kind: tlsx.KindAppliance, ID: "EDGE-1"}, at)
		if err != nil {
			t.Fatal(err)
		}
		c.PrivateKey = k
		return c
	}
	get := func(c *tls.Certificate) (int, error) {
		cfg, _ := tlsx.ClientConfig(tlsx.ClientOptions{Pin: ca.Fingerprint(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c, nil }})
		r, err := tlsx.HTTPClient(cfg, 10*time.Second, 0).Get(srv.URL + "/v1/feeds/records.EDGE-1")
		if err != nil {
			return 0, err
		}
		r.Body.Close()
		return r.StatusCode, nil
	}
	expired := certAt(then.Add(time.Hour))
	if !time.Now().After(expired.Leaf.NotAfter) {
		t.Fatalf("the test certificate is not expired: %v", expired.Leaf.NotAfter)
	}
	if code, err := get(expired); err == nil || reached.Load() != 0 {
		t.Fatalf("an expired appliance certificate: HTTP %d, API reached %d times", code, reached.Load())
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an expired appliance certificate: %v", err)
	}
	if code, err := get(certAt(time.Now())); err != nil || code != 200 || reached.Load() != 1 {
		t.Fatalf("the current certificate: %d %v", code, err)
	}
}
