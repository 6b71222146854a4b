package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// tlsCA stands in for central's TLS CA (central/tlsca has its own tests):
// it issues the appliance's server certificate and relying parties'
// client certificates.
type tlsCA struct {
	ca *pki.CA
}

func newTLSCA(t testing.TB) *tlsCA {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := pki.SelfSigned(k, pki.Profile{Subject: pkix.Name{CommonName: "test central TLS root"}, Validity: 365 * 24 * time.Hour}, time.Now().Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCA{ca}
}

// client is a TLS client certificate for kind:id valid from..until.
func (c *tlsCA) client(t testing.TB, kind, id string, from time.Time, life time.Duration) *tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := c.ca.Issue(k.Public(), pki.Profile{Subject: pkix.Name{CommonName: kind + " " + id}, Validity: life,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{tlsx.IdentityURI(kind, id)}}, from)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: k, Leaf: leaf}
}

func (c *tlsCA) httpClient(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.Cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// serveTLS puts the fixture's handler behind a TLS listener that verifies
// client certificates against the CA, as the appliance's does against
// central's TLS root.
func (c *tlsCA) serveTLS(t testing.TB, f *fixture) {
	f.http.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, _ := c.ca.Issue(k.Public(), pki.Profile{Subject: pkix.Name{CommonName: "appliance"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, time.Now())
	srv := httptest.NewUnstartedServer(f.h)
	srv.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{c.ca.Cert}})
	srv.TLS.Certificates = []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: k}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.http = srv
}

// TestRPClientCertificates: with --rp-auth cert+key a relying party needs
// central's client certificate naming it and its own API key; with cert,
// the certificate alone. No certificate, a self-made one, an expired one,
// one for a revoked, suspended or unknown relying party, an appliance's
// certificate, or a key of another party are refused at the handshake or
// the first request, and no decision is made or audited.
func TestRPClientCertificates(t *testing.T) {
	ca := newTLSCA(t)
	now := time.Now()
	good := ca.client(t, "rp", "kiosk-a", now.Add(-time.Minute), time.Hour)
	self := func() *tls.Certificate {
		other := newTLSCA(t)
		return other.client(t, "rp", "kiosk-a", now.Add(-time.Minute), time.Hour)
	}()
	expired := ca.client(t, "rp", "kiosk-a", now.Add(-2*time.Hour), time.Hour)
	revoked := ca.client(t, "rp", "kiosk-r", now.Add(-time.Minute), time.Hour)
	suspended := ca.client(t, "rp", "kiosk-s", now.Add(-time.Minute), time.Hour)
	unknown := ca.client(t, "rp", "kiosk-z", now.Add(-time.Minute), time.Hour)
	appl := ca.client(t, "appliance", "kiosk-a", now.Add(-time.Minute), time.Hour)

	for _, mode := range []string{auth.RPAuthCertKey, auth.RPAuthCert} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, func(c *auth.Config) { c.RPAuth = mode })
			ca.serveTLS(t, f)
			number := f.person("1111222233", "perpetual", asha, nil, nil)
			req := func() map[string]any { return demoReq(number, map[string]string{"fullName": "Asha Rao"}) }
			send := func(cert *tls.Certificate, key string) answer {
				f.client = ca.httpClient(cert)
				return f.post(key, req())
			}
			refused := []struct {
				name   string
				cert   *tls.Certificate
				key    string
				status int // 0: the handshake fails
				msg    string
			}{
				{"no certificate", nil, "kiosk-a", 401, "client certificate from central is required"},
				{"self-made certificate", self, "kiosk-a", 0, ""},
				{"expired certificate", expired, "kiosk-a", 0, ""},
				{"revoked relying party", revoked, "kiosk-r", 403, "revoked"},
				{"suspended relying party", suspended, "kiosk-s", 403, "suspended"},
				{"an appliance's certificate", appl, "kiosk-a", 401, "client certificate from central is required"},
			}
			if mode == auth.RPAuthCertKey {
				refused = append(refused,
					struct {
						name   string
						cert   *tls.Certificate
						key    string
						status int
						msg    string
					}{"another party's API key", good, "kiosk-b", 401, "different relying parties"},
					struct {
						name   string
						cert   *tls.Certificate
						key    string
						status int
						msg    string
					}{"certificate without the API key", good, "", 401, "missing Authorization"})
			} else {
				refused = append(refused, struct {
					name   string
					cert   *tls.Certificate
					key    string
					status int
					msg    string
				}{"unknown relying party", unknown, "", 401, "not known"})
			}
			for _, c := range refused {
				a := send(c.cert, c.key)
				switch {
				case c.status == 0 && a.err == nil:
					t.Errorf("%s: the handshake succeeded (status %d %s)", c.name, a.status, a.body)
				case c.status != 0 && (a.status != c.status || !strings.Contains(string(a.body), c.msg)):
					t.Errorf("%s: %d %s (err %v), want %d %q", c.name, a.status, a.body, a.err, c.status, c.msg)
				}
			}
			if n := f.audit.count(); n != 0 {
				t.Fatalf("%d decisions audited for refused requests", n)
			}
			key := "kiosk-a"
			if mode == auth.RPAuthCert {
				key = ""
			}
			a := send(good, key)
			if a.status != 200 || !a.resp.Decision.AuthStatus || a.resp.Decision.RP != "kiosk-a" {
				t.Fatalf("the relying party's certificate: %d %s", a.status, a.body)
			}
			if f.audit.count() != 1 || f.audit.last().RP != "kiosk-a" {
				t.Fatalf("the decision was not audited for kiosk-a: %+v", f.audit.last())
			}
		})
	}
}

// TestRPCertIndependentClients: curl --cacert --cert --key and openssl
// s_client -cert -key, given the CA's root and a relying party's
// certificate, complete the handshake and an authentication with the
// appliance's handler behind its TLS listener configuration; without a
// certificate curl is refused (401), with a self-made one at the
// handshake.
func TestRPCertIndependentClients(t *testing.T) {
	curl, openssl := tool(t, "curl"), tool(t, "openssl")
	ca := newTLSCA(t)
	f := newFixture(t, func(c *auth.Config) { c.RPAuth = auth.RPAuthCertKey })
	ca.serveTLS(t, f)
	number := f.person("1111222233", "perpetual", asha, nil, nil)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	root := write("root.pem", pki.CertPEM(ca.ca.Cert))
	pair := func(name string, c *tls.Certificate) (string, string) {
		kb, _ := pki.KeyPEM(c.PrivateKey.(*ecdsa.PrivateKey))
		return write(name+".pem", pki.CertPEM(c.Leaf)), write(name+".key", kb)
	}
	certFile, keyFile := pair("rp", ca.client(t, "rp", "kiosk-a", time.Now().Add(-time.Minute), time.Hour))
	selfFile, selfKey := pair("self", newTLSCA(t).client(t, "rp", "kiosk-a", time.Now().Add(-time.Minute), time.Hour))
	body, _ := json.Marshal(demoReq(number, map[string]string{"fullName": "Asha Rao"}))
	curlAuth := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "--cacert", root, "-H", "Content-Type: application/json",
			"-H", "Authorization: Bearer " + f.rpKeys["kiosk-a"].String(), "--data-binary", string(body), f.http.URL + "/v1/auth"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := curlAuth("--cert", certFile, "--key", keyFile); err != nil || !strings.Contains(out, `"authStatus":true`) {
		t.Fatalf("curl --cert: %v\n%s", err, out)
	}
	if out, err := curlAuth(); err == nil || !strings.Contains(out, "client certificate from central is required") {
		t.Fatalf("curl without a client certificate: %v\n%s", err, out)
	}
	if out, err := curlAuth("--cert", selfFile, "--key", selfKey); err == nil || strings.Contains(out, "authStatus") {
		t.Fatalf("curl with a self-made certificate: %v\n%s", err, out)
	}
	body2, _ := json.Marshal(demoReq(number, map[string]string{"fullName": "Asha Rao"}))
	req := "POST /v1/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer " +
		f.rpKeys["kiosk-a"].String() + "\r\nContent-Length: " + strconv.Itoa(len(body2)) + "\r\n\r\n" + string(body2)
	sc := exec.Command(openssl, "s_client", "-connect", strings.TrimPrefix(f.http.URL, "https://"), "-CAfile", root, "-verify_return_error",
		"-cert", certFile, "-key", keyFile, "-tls1_3", "-brief", "-ign_eof")
	sc.Stdin = strings.NewReader(req)
	out, err := sc.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TLSv1.3") || !strings.Contains(string(out), `"authStatus":true`) {
		t.Fatalf("openssl s_client -cert: %v\n%s", err, out)
	}
	if n := f.audit.count(); n != 2 {
		t.Fatalf("%d decisions audited, want 2 (curl and s_client with the certificate)", n)
	}
}

// tool finds an independent client; missing, it skips the test, or fails
// it when EDGETRUST_REQUIRE_TOOLS is set (CI).
func tool(t *testing.T, name string) string {
	t.Helper()
	return testtool.Need(t, "scripts/install-deps.sh", name)
}
