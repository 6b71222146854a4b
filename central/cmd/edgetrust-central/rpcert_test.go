package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/httpapi"
	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// TestRPCertIssue, against a real central: `rp cert issue` certifies a
// relying party's CSR (its key stays with it) under the TLS intermediate,
// naming the relying party, client-only, at most 30 days; a CSR whose
// signature does not verify, an unknown and a revoked relying party are
// refused with nothing issued; every issuance (and central's own server
// certificate) is in the audit log.
func TestRPCertIssue(t *testing.T) {
	state := t.TempDir()
	url := startServe(t, state)
	admin := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append(args, "--central", url, "--central-root", filepath.Join(state, tlsca.RootFile),
			"--admin-token-file", filepath.Join(state, central.AdminTokenFile)), &out, &errb)
		return out.String(), errb.String(), code
	}
	if _, e, code := admin("rp", "add", "--id", "bank", "--name", "Bank", "--auth-type", "demo"); code != 0 {
		t.Fatalf("rp add: %s", e)
	}
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank"},
		DNSNames: []string{"evil.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := filepath.Join(dir, "bank.csr")
	os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	out := filepath.Join(dir, "bank.pem")
	if _, e, code := admin("rp", "cert", "issue", "--rp", "bank", "--csr", csr, "--out", out); code != 0 {
		t.Fatalf("rp cert issue: %s", e)
	}
	b, _ := os.ReadFile(out)
	chain, err := tlsx.ParseCerts(b)
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain: %d certificates, %v", len(chain), err)
	}
	leaf := chain[0]
	roots, _ := tlsx.ReadRoots(filepath.Join(state, tlsca.RootFile))
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	rp.AddCert(roots[0])
	ip.AddCert(chain[1])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the RP certificate does not chain to central's TLS root for client auth: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("the RP certificate is good for server auth too")
	}
	if who, err := tlsx.IdentityOf(leaf); err != nil || who != (tlsx.Identity{Kind: tlsx.KindRP, ID: "bank"}) {
		t.Fatalf("identity %v %v", who, err)
	}
	if len(leaf.DNSNames) != 0 || !pkiSame(leaf, key) {
		t.Fatalf("the certificate carries the CSR's host names %v or another key", leaf.DNSNames)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > tlsca.RPValidity+time.Minute {
		t.Errorf("life %v", life)
	}
	// --days shortens it.
	if o, e, code := admin("rp", "cert", "issue", "--rp", "bank", "--csr", csr, "--days", "7", "--json"); code != 0 {
		t.Fatalf("--days 7: %s", e)
	} else {
		var r struct{ NotAfter time.Time }
		json.Unmarshal([]byte(o), &r)
		if d := time.Until(r.NotAfter); d > 7*24*time.Hour || d < 6*24*time.Hour {
			t.Errorf("--days 7 gave %v", d)
		}
	}

	// Refusals: nothing issued, nothing audited.
	bad := bytes.Clone(der)
	bad[len(bad)-5] ^= 0xff // the signature
	badFile := filepath.Join(dir, "bad.csr")
	os.WriteFile(badFile, bad, 0o644)
	if _, e, code := admin("rp", "cert", "issue", "--rp", "bank", "--csr", badFile); code == 0 || !strings.Contains(e, "signature") {
		t.Errorf("a CSR with a broken signature: %d %s", code, e)
	}
	var hc = adminHTTP(t, state)
	if code, body := hc.post(url+"/v1/admin/relying-parties/bank/tls-cert", map[string]any{"csr": bad}); code != 400 || !strings.Contains(body, "signature") {
		t.Errorf("central took a CSR with a broken signature: %d %s", code, body)
	}
	for _, c := range []struct {
		body any
		code int
		msg  string
	}{
		{map[string]any{"csr": der, "days": 31}, 400, "days"},
		{map[string]any{"csr": der, "days": -1}, 400, "days"},
		{map[string]any{"csr": der, "name": "x"}, 400, "name"},
		{map[string]any{}, 400, "csr"},
		{map[string]any{"csr": make([]byte, httpapi.MaxRPCSR+1)}, 400, "csr"},
		{map[string]any{"csr": make([]byte, 32<<10)}, 413, ""},
	} {
		if code, body := hc.post(url+"/v1/admin/relying-parties/bank/tls-cert", c.body); code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("body %.60v: %d %s, want %d %q", c.body, code, body, c.code, c.msg)
		}
	}
	if code, body := hc.post(url+"/v1/admin/relying-parties/nobody/tls-cert", map[string]any{"csr": der}); code != 404 {
		t.Errorf("unknown RP over the API: %d %s", code, body)
	}
	if _, e, code := admin("rp", "cert", "issue", "--rp", "nobody", "--csr", csr); code == 0 || !strings.Contains(e, "no relying party nobody") {
		t.Errorf("unknown RP: %d %s", code, e)
	}
	if _, e, code := admin("rp", "revoke", "--id", "bank", "--reason", "key leaked"); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := admin("rp", "cert", "issue", "--rp", "bank", "--csr", csr); code == 0 || !strings.Contains(e, "revoked") {
		t.Errorf("revoked RP: %d %s", code, e)
	}

	o, e, code := admin("audit", "list", "--json")
	if code != 0 {
		t.Fatal(e)
	}
	var rows []struct{ Actor, Action, Subject string }
	if err := json.Unmarshal([]byte(o), &rows); err != nil {
		t.Fatalf("audit list: %v\n%s", err, o)
	}
	n := map[string]int{}
	for _, r := range rows {
		n[r.Action]++
		if r.Action == auditRPCert && (r.Subject != "rp:bank" || !strings.HasPrefix(r.Actor, "admin:")) {
			t.Errorf("audit row %+v", r)
		}
	}
	if n[auditRPCert] != 2 || n[auditServerCert] != 1 {
		t.Fatalf("audit: %d RP certificates (want 2: refusals write nothing), %d server certificates (want 1)", n[auditRPCert], n[auditServerCert])
	}
}

func pkiSame(c *x509.Certificate, k *ecdsa.PrivateKey) bool {
	p, ok := c.PublicKey.(*ecdsa.PublicKey)
	return ok && p.Equal(&k.PublicKey)
}

type adminHC struct {
	t     *testing.T
	token string
	hc    *http.Client
}

// adminHTTP is a raw admin client (central's root trusted, the admin
// token), for requests the CLI would refuse to send.
func adminHTTP(t *testing.T, state string) *adminHC {
	roots, err := tlsx.ReadRoots(filepath.Join(state, tlsca.RootFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsx.ClientConfig(tlsx.ClientOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := os.ReadFile(filepath.Join(state, central.AdminTokenFile))
	return &adminHC{t: t, token: strings.TrimSpace(string(tok)), hc: tlsx.HTTPClient(cfg, 10*time.Second, 0)}
}

func (a *adminHC) post(u string, v any) (int, string) {
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", u, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	rsp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer rsp.Body.Close()
	body, _ := io.ReadAll(rsp.Body)
	return rsp.StatusCode, string(body)
}

// TestRPCertRevoke, against a real central: `rp cert revoke` revokes one
// certificate by its serial (as rp cert issue printed it, in any case or
// with colons), audited; the trust feed's entry for the party lists the
// serial while the party stays active with its other certificate; an
// unknown serial, a second revocation, a missing reason and a malformed
// serial are refused and change nothing.
func TestRPCertRevoke(t *testing.T) {
	state := t.TempDir()
	url := startServe(t, state)
	admin := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append(args, "--central", url, "--central-root", filepath.Join(state, tlsca.RootFile),
			"--admin-token-file", filepath.Join(state, central.AdminTokenFile)), &out, &errb)
		return out.String(), errb.String(), code
	}
	if _, e, code := admin("rp", "add", "--id", "bank", "--name", "Bank", "--auth-type", "demo"); code != 0 {
		t.Fatalf("rp add: %s", e)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bank"}}, key)
	csr := filepath.Join(t.TempDir(), "bank.csr")
	os.WriteFile(csr, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	serial := func() string {
		o, e, code := admin("rp", "cert", "issue", "--rp", "bank", "--csr", csr, "--json")
		if code != 0 {
			t.Fatalf("rp cert issue: %s", e)
		}
		var r struct{ Serial string }
		json.Unmarshal([]byte(o), &r)
		return r.Serial
	}
	leaked, kept := serial(), serial()
	// As openssl x509 -serial prints it: upper case; with colons too.
	var pasted strings.Builder
	for i, c := range strings.ToUpper(leaked) {
		if i > 0 && i%2 == 0 {
			pasted.WriteByte(':')
		}
		pasted.WriteRune(c)
	}
	if o, e, code := admin("rp", "cert", "revoke", "--rp", "bank", "--serial", pasted.String(), "--reason", "key copied to a laptop"); code != 0 ||
		!strings.Contains(o, "revoked") || !strings.Contains(o, "unchanged") {
		t.Fatalf("rp cert revoke: %d %s %s", code, o, e)
	}
	hc := adminHTTP(t, state)
	for _, c := range []struct {
		body any
		code int
		msg  string
	}{
		{map[string]any{"serial": leaked, "reason": "again"}, 409, "was revoked"},
		{map[string]any{"serial": "abcdef0123", "reason": "unknown"}, 404, "abcdef0123"},
		{map[string]any{"serial": kept}, 400, "reason"},
		{map[string]any{"serial": "xyz", "reason": "r"}, 400, "serial"},
		{map[string]any{"serial": strings.Repeat("1", 41), "reason": "r"}, 400, "serial"},
		{map[string]any{"serial": kept, "reason": "r", "extra": 1}, 400, "request body"},
	} {
		if code, body := hc.post(url+"/v1/admin/relying-parties/bank/tls-cert/revoke", c.body); code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("revoke %v: %d %s, want %d %q", c.body, code, body, c.code, c.msg)
		}
	}
	if code, body := hc.post(url+"/v1/admin/relying-parties/nobody/tls-cert/revoke", map[string]any{"serial": kept, "reason": "r"}); code != 404 {
		t.Errorf("unknown party: %d %s", code, body)
	}
	if _, e, code := admin("rp", "cert", "revoke", "--rp", "bank", "--serial", kept); code != 2 || !strings.Contains(e, "--reason") {
		t.Errorf("without --reason: %d %s", code, e)
	}

	// The trust feed's last entry for bank: active, the leaked serial only.
	rsp, err := hc.hc.Get(url + "/v1/feeds/trust")
	if err != nil {
		t.Fatal(err)
	}
	var batch struct{ Entries [][]byte }
	err = json.NewDecoder(rsp.Body).Decode(&batch)
	rsp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var last *trustfeed.RelyingParty
	for _, b := range batch.Entries {
		var e struct {
			Kind string
			Data json.RawMessage
		}
		json.Unmarshal(b, &e)
		if e.Kind != trustfeed.KindRP {
			continue
		}
		v, err := trustfeed.Decode(e.Kind, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if rp := v.(*trustfeed.RelyingParty); rp.ID == "bank" {
			last = rp
		}
	}
	if last == nil || last.Status != trustfeed.Active || len(last.RevokedCerts) != 1 || !last.RevokedCert(leaked) || last.RevokedCert(kept) {
		t.Fatalf("bank's last trust-feed entry: %+v", last)
	}
	o, e, code := admin("audit", "list", "--subject", "relying-party:bank", "--json")
	if code != 0 {
		t.Fatal(e)
	}
	if n := strings.Count(o, "relying-party.cert-revoke"); n != 1 || !strings.Contains(o, leaked) {
		t.Fatalf("%d cert-revoke audit rows:\n%s", n, o)
	}
}
