package issuer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/keyring"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

var pass = []byte("correct horse battery staple")

func init() { keyring.WorkFactor = 10 } // fast tests; the format is the same

func TestInitLoad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	m, err := Init(dir, "", "https://id.example", pass, 365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Alg != "EdDSA" || len(m.KIDBytes()) != 8 {
		t.Fatalf("%+v", m)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatal("the key file holds a clear PEM key")
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	k, err := Load(dir, pass)
	if err != nil || k.KID != m.KID {
		t.Fatalf("load: %v", err)
	}
	if _, err := Load(dir, []byte("wrong passphrase!!")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Init(dir, "", "", pass, time.Hour, now); err == nil {
		t.Fatal("Init replaced an existing key")
	}
	if _, err := Init(t.TempDir(), "", "", []byte("short"), time.Hour, now); err == nil {
		t.Fatal("short passphrase accepted")
	}
	es, err := Init(t.TempDir(), "ES256", "", pass, time.Hour, now)
	if err != nil || es.Alg != "ES256" {
		t.Fatalf("ES256: %v", err)
	}
	if _, err := Init(t.TempDir(), "RS256", "", pass, time.Hour, now); err == nil {
		t.Fatal("RS256 accepted")
	}
}

type env struct {
	key      *Key
	is       *claim169.Issuer
	listPriv ed25519.PrivateKey
	v        *trust.Verifier
	out      string
}

func setup(t *testing.T) *env {
	dir := t.TempDir()
	now := time.Now()
	if _, err := Init(dir, "", "https://id.example", pass, 365*24*time.Hour, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	k, err := Load(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	is, err := claim169.NewIssuer(k.Signer, &claim169.IssuerOptions{KeyID: k.KIDBytes()})
	if err != nil {
		t.Fatal(err)
	}
	lp, lpriv, _ := ed25519.GenerateKey(rand.Reader)
	listKeys := map[string]ed25519.PublicKey{trust.KeyID(lp): lp}
	pub, _ := PublicKey(dir)
	tlFile, err := TrustList(lpriv, []Meta{k.Meta}, []crypto.PublicKey{pub}, nil, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := trust.ParseTrustList(tlFile, listKeys)
	if err != nil {
		t.Fatal(err)
	}
	v := &trust.Verifier{RejectStale: true}
	if err := v.SetTrustList(tl); err != nil {
		t.Fatal(err)
	}
	rlFile, _ := RevocationList(lpriv, []trust.Revocation{{ID: "revoked-person"}}, 24*time.Hour, now)
	rl, err := trust.ParseRevocationList(rlFile, listKeys)
	if err != nil {
		t.Fatal(err)
	}
	v.SetRevocationList(rl)
	return &env{key: k, is: is, listPriv: lpriv, v: v, out: t.TempDir()}
}

func TestBatchFormats(t *testing.T) {
	for _, tc := range []struct{ format, input string }{
		{"json", `{"claim169":{"id":"p1","fullName":"One Person"},"subject":"s1"}`},
		{"jsonl", "{\"claim169\":{\"id\":\"p1\",\"fullName\":\"One\"}}\n\n{\"claim169\":{\"id\":\"p2\",\"fullName\":\"Two\",\"gender\":2}}\n"},
		{"csv", "id,fullName,gender,dateOfBirth,expiresAt\np1,One Person,1,19800101,\np2,\"Two, Person\",2,19900202,2099-01-01T00:00:00Z\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			e := setup(t)
			var progress bytes.Buffer
			s, err := Issue(context.Background(), e.is, strings.NewReader(tc.input), tc.format,
				Options{OutDir: e.out, PNG: true, Issuer: "https://id.example", Validity: time.Hour, Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(e.out, "*.txt"))
			if len(files) != s.Issued || s.Issued == 0 {
				t.Fatalf("%d files for %d credentials", len(files), s.Issued)
			}
			for _, f := range files {
				text, _ := os.ReadFile(f)
				r := e.v.Verify(strings.TrimSpace(string(text)))
				if !r.Valid {
					t.Fatalf("%s does not verify: %s", f, r.Reason())
				}
			}
			if !strings.Contains(progress.String(), "/s") {
				t.Fatalf("no progress shown: %q", progress.String())
			}
		})
	}
}

func TestBatchRefusesBadRecords(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct{ format, input, want string }{
		{"jsonl", "{\"claim169\":{\"id\":\"ok\"}}\n{\"claim169\":{\"fulName\":\"typo\"}}\n", "line 2"},
		{"csv", "id,gender\nx,male\n", "gender must be a number"},
		{"csv", "id,expiresAt\nx,tomorrow\n", "expiresAt"},
		{"xml", "<a/>", "want json, jsonl or csv"},
	} {
		_, err := Issue(context.Background(), e.is, strings.NewReader(tc.input), tc.format, Options{OutDir: e.out})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want it to mention %q", tc.format, tc.input, err, tc.want)
		}
	}
}

func TestRevokedCredential(t *testing.T) {
	e := setup(t)
	c := &claim169.Claims{Issuer: "https://id.example", IssuedAt: time.Now(), Identity: claim169.Identity{ID: "revoked-person"}}
	text, _ := e.is.Issue(c)
	if r := e.v.Verify(text); r.Valid || !errors.Is(r.Err, trust.ErrRevoked) {
		t.Fatalf("revoked credential: %s", r.Reason())
	}
}

// An independent decoder reads the QR PNGs we write: zbarimg --raw gives
// back the exact text.
func TestZbarimgReadsIssuedPNG(t *testing.T) {
	testtool.Need(t, "apt-get install zbar-tools", "zbarimg")
	e := setup(t)
	in := `{"claim169":{"id":"3918592438","fullName":"Janardhan BS","dateOfBirth":"19840401","gender":1,"address":"New City, METRO LINE, PA","email":"janardhan@example.com","phone":"+919876543210","nationality":"IN"}}`
	if _, err := Issue(context.Background(), e.is, strings.NewReader(in), "json", Options{OutDir: e.out, PNG: true, Issuer: e.key.Issuer, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
	pngs, _ := filepath.Glob(filepath.Join(e.out, "*.png"))
	if len(pngs) != 1 {
		t.Fatalf("%d PNGs", len(pngs))
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", pngs[0]).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	want, _ := os.ReadFile(strings.TrimSuffix(pngs[0], ".png") + ".txt")
	if strings.TrimSpace(string(out)) != strings.TrimSpace(string(want)) {
		t.Fatalf("zbarimg read %q, we wrote %q", out, want)
	}
	if r := e.v.Verify(strings.TrimSpace(string(out))); !r.Valid {
		t.Fatalf("zbarimg's text does not verify: %s", r.Reason())
	}
}

// Issuance input is strict: a credential is signed over what the file
// says, exactly, or the batch stops at the line that is not.
func TestBatchRefusesAmbiguousInput(t *testing.T) {
	e := setup(t)
	huge := strings.Repeat("a", MaxRecord+1)
	for _, tc := range []struct{ format, input, want string }{
		{"json", `{"claim169":{"id":"p1"},"subject":"a","subject":"b"}`, "given twice"},
		{"json", `{"claim169":{"id":"p1","id":"p2"}}`, "given twice"},
		{"json", `{"claim169":{"id":"p1"}} {"claim169":{"id":"p2"}}`, "after the JSON document"},
		{"json", `{"claim169":{"id":"p1"},"Subject":"a"}`, "unknown member"},
		{"jsonl", "{\"claim169\":{\"id\":\"ok\"}}\n{\"claim169\":{\"id\":\"p\xff\"}}\n", "line 2"},
		{"jsonl", "{\"claim169\":{\"id\":\"ok\"}}\n{\"claim169\":{\"fullName\":\"A\",\"fullName\":\"B\"}}\n", "given twice"},
		{"jsonl", `{"claim169":{"id":"` + huge + `"}}`, "longer than"},
		{"csv", "id,fullName,fullName\np1,A,B\n", "given twice"},
		{"csv", "id,fullName\np1,Jos\xe9\n", "fullName is not UTF-8"},
		{"csv", "id,fullName\np1,\"" + huge + "\"\n", "larger than"},
	} {
		_, err := Issue(context.Background(), e.is, strings.NewReader(tc.input), tc.format, Options{OutDir: e.out})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %.60q: error %v, want it to mention %q", tc.format, tc.input, err, tc.want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(e.out, "*.txt")); len(files) > 1 {
		// Only the good first lines of the JSONL cases may have been issued.
		for _, f := range files {
			if strings.Contains(f, "p2") || strings.Contains(f, "p1") {
				t.Errorf("an ambiguous record was issued: %s", f)
			}
		}
	}
}
