package auth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// BenchmarkTLSHandshake is full TLS 1.3 handshakes per second (no
// resumption: each one signs a CertificateVerify with the server key)
// against a listener whose key is software ECDSA P-256, a TPM key on the
// simulator, or a TPM key on the simulator under the discrete-chip cost
// model (internal/tpm/cost.go). Report ratios, not absolute figures.
func BenchmarkTLSHandshake(b *testing.B) {
	for _, kind := range []string{"software", "tpm-sim", "tpm-sim-discrete"} {
		b.Run("key="+kind, func(b *testing.B) {
			var key crypto.Signer
			switch kind {
			case "software":
				key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			default:
				u := "sim"
				if kind == "tpm-sim-discrete" {
					u = "sim?cost=discrete"
				}
				t, err := tpm.Open(context.Background(), u)
				if err != nil {
					b.Fatal(err)
				}
				defer t.Close()
				k, err := t.CreateKey(context.Background(), tpm.ECCP256Sign)
				if err != nil {
					b.Fatal(err)
				}
				key = k
			}
			ca := newTLSCA(b)
			leaf, err := ca.ca.Issue(key.Public(), pki.Profile{Subject: pkix.Name{CommonName: "appliance"}, Validity: time.Hour,
				KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true,
				Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}})
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { c.(*tls.Conn).Handshake(); c.Close() }()
				}
			}()
			pool := x509.NewCertPool()
			pool.AddCert(ca.ca.Cert)
			cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
					if err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkAuthTransport is demographic POST /v1/auth (delegated signing)
// over real sockets: loopback plain HTTP with the API key, against mutual
// TLS with a relying party's client certificate and the API key
// (--rp-auth cert+key), both with kept-alive connections, and mutual TLS
// with a new connection (full handshake) per request.
func BenchmarkAuthTransport(b *testing.B) {
	tune := func(mode string) func(*auth.Config) {
		return func(c *auth.Config) {
			c.MaxInFlight, c.RPAuth = 64, mode
			c.Delegate = mustDelegate(b, c)
		}
	}
	plain := newFixture(b, tune(auth.RPAuthKey))
	mtls := newFixture(b, tune(auth.RPAuthCertKey))
	ca := newTLSCA(b)
	ca.serveTLS(b, mtls)
	cert := ca.client(b, "rp", "kiosk-b", time.Now().Add(-time.Minute), time.Hour)
	for _, c := range []struct {
		name   string
		f      *fixture
		client func() *http.Client
	}{
		{"plain-http-loopback", plain, func() *http.Client {
			return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		}},
		{"mtls-keepalive", mtls, func() *http.Client {
			hc := ca.httpClient(cert)
			hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			return hc
		}},
		{"mtls-new-connection", mtls, func() *http.Client {
			hc := ca.httpClient(cert)
			hc.Transport.(*http.Transport).DisableKeepAlives = true
			return hc
		}},
	} {
		b.Run("transport="+c.name, func(b *testing.B) {
			number := c.f.person("1111222233", "perpetual", asha, nil, nil)
			body, _ := json.Marshal(demoReq(number, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01"}))
			key := "Bearer " + c.f.rpKeys["kiosk-b"].String()
			hc := c.client()
			url := c.f.http.URL + "/v1/auth"
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Authorization", key)
					req.Header.Set("Content-Type", "application/json")
					rsp, err := hc.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					out, _ := io.ReadAll(rsp.Body)
					rsp.Body.Close()
					if rsp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"authStatus":true`)) {
						b.Fatalf("HTTP %d %s", rsp.StatusCode, out)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auth/s")
		})
	}
}
