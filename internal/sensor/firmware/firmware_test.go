package firmware

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

func TestParseVersion(t *testing.T) {
	cases := map[string]Version{
		"1.0.0":                {1, 0, 0},
		"V2.1":                 {2, 1, 0},
		"R503_v1.4.2 build 7":  {1, 4, 2},
		"10":                   {10, 0, 0},
		"1.2.":                 {1, 2, 0},
		"fw 3.4.5.6":           {3, 4, 5},
		"GROW-2023 rev":        {2023, 0, 0},
		"R503 2023 fw 2.0":     {2, 0, 0},
		"4294967295.0.1":       {4294967295, 0, 1},
		"  7.08.009\x00\x00  ": {7, 8, 9},
	}
	for in, want := range cases {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "beta", "4294967296.1", strings.Repeat("1", 65)} {
		if v, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
}

func TestCompare(t *testing.T) {
	order := []Version{{0, 0, 0}, {0, 0, 1}, {0, 9, 9}, {1, 0, 0}, {1, 2, 3}, {1, 10, 0}, {2, 0, 0}}
	for i := range order {
		for j := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := order[i].Compare(order[j]); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

func report() Report {
	return Report{
		Firmware: "1.4.2",
		ProdInfo: &proto.ProdInfo{Model: "R503", Batch: "B001", Serial: "SN000042", HWMajor: 1, HWMinor: 2,
			SensorType: "CAP", SensorWidth: 192, SensorHeight: 192, TemplateSize: 1536, DatabaseSize: 200},
		SystemID: 9, LibrarySize: 200,
	}
}

func TestMeasurementIsStableAndSensitive(t *testing.T) {
	m := Measure(report())
	if !bytes.HasPrefix(m.Event, []byte(measurementTag+"\x00")) {
		t.Fatal("event lacks the domain tag")
	}
	if m.Digest != sha256.Sum256(m.Event) {
		t.Fatal("digest is not SHA-256 of the event")
	}
	// Pinned: a change in the encoding changes every deployed PCR value.
	const golden = "bdc6b830b11339a6f64f055c3b9bf6082b9d4921840f8e2c514c369793d547ba"
	if m.Hex() != golden {
		t.Fatalf("measurement %s, want %s", m.Hex(), golden)
	}
	if Measure(report()).Digest != m.Digest {
		t.Fatal("measurement not deterministic")
	}
	for name, change := range map[string]func(*Report){
		"firmware":     func(r *Report) { r.Firmware = "1.4.3" },
		"serial":       func(r *Report) { r.ProdInfo.Serial = "SN000043" },
		"hw version":   func(r *Report) { r.ProdInfo.HWMinor = 3 },
		"no prod info": func(r *Report) { r.ProdInfo = nil },
		"system id":    func(r *Report) { r.SystemID = 10 },
		// Field boundaries are length-prefixed: moving a byte between
		// fields must change the digest.
		"shifted": func(r *Report) { r.ProdInfo.Model, r.ProdInfo.Batch = "R50", "3B001" },
	} {
		r := report()
		p := *r.ProdInfo
		r.ProdInfo = &p
		change(&r)
		if Measure(r).Digest == m.Digest {
			t.Errorf("%s: digest did not change", name)
		}
	}
}

type fakeTPM struct {
	idx    int
	digest []byte
	err    error
}

func (f *fakeTPM) ExtendPCR(_ context.Context, idx int, d []byte) error {
	f.idx, f.digest = idx, append([]byte(nil), d...)
	return f.err
}

func TestExtend(t *testing.T) {
	m := Measure(report())
	tpm := &fakeTPM{}
	if err := m.Extend(context.Background(), tpm, SuggestedPCR); err != nil {
		t.Fatal(err)
	}
	if tpm.idx != 14 || !bytes.Equal(tpm.digest, m.Digest[:]) || len(tpm.digest) != 32 {
		t.Fatalf("extended PCR %d with % X", tpm.idx, tpm.digest)
	}
	if err := m.Extend(context.Background(), tpm, 24); err == nil {
		t.Error("PCR 24 accepted")
	}
	boom := errors.New("TPM_RC_LOCALITY")
	if err := m.Extend(context.Background(), &fakeTPM{err: boom}, 23); !errors.Is(err, boom) {
		t.Errorf("TPM error lost: %v", err)
	}
	if err := m.Extend(context.Background(), nil, 23); err == nil {
		t.Error("nil extender accepted")
	}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "minversion.json")
	s := &FileStore{Path: path}
	if v, err := s.MinVersion(ctx); err != nil || !v.IsZero() {
		t.Fatalf("missing file: %v %v", v, err)
	}
	if err := s.RaiseMinVersion(ctx, Version{1, 2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RaiseMinVersion(ctx, Version{1, 1, 9}); !errors.Is(err, ErrRollback) {
		t.Fatalf("lowering the pin: %v", err)
	}
	if v, _ := (&FileStore{Path: path}).MinVersion(ctx); v != (Version{1, 2, 0}) {
		t.Fatalf("pin after a refused rollback: %v", v)
	}
	data, _ := os.ReadFile(path)
	if strings.TrimSpace(string(data)) != `{"min_version":"1.2.0"}` {
		t.Fatalf("file content %q", data)
	}
	os.WriteFile(path, []byte("{garbage"), 0o600)
	if _, err := s.MinVersion(ctx); err == nil {
		t.Fatal("corrupt pin file accepted")
	}
	if err := s.RaiseMinVersion(ctx, Version{9, 9, 9}); err == nil {
		t.Fatal("raised a corrupt pin")
	}
}

type errStore struct{}

func (errStore) MinVersion(context.Context) (Version, error) {
	return Version{}, errors.New("NV read failed")
}
func (errStore) RaiseMinVersion(context.Context, Version) error { return nil }

func TestCheckMinimum(t *testing.T) {
	ctx := context.Background()
	pinned := &FileStore{Path: filepath.Join(t.TempDir(), "pin")}
	pinned.RaiseMinVersion(ctx, Version{1, 2, 0})
	empty := &FileStore{Path: filepath.Join(t.TempDir(), "none")}
	cases := []struct {
		store    MinVersionStore
		reported string
		err      error
	}{
		{nil, "", nil},
		{empty, "", nil},
		{empty, "0.0.1", nil},
		{pinned, "1.2.0", nil},
		{pinned, "V1.10", nil},
		{pinned, "1.1.9", ErrTooOld},
		{pinned, "", ErrUnknownVersion},
		{pinned, "unknown", ErrUnknownVersion},
	}
	for _, c := range cases {
		_, err := CheckMinimum(ctx, c.store, c.reported)
		if (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
			t.Errorf("CheckMinimum(%q) = %v, want %v", c.reported, err, c.err)
		}
	}
	if _, err := CheckMinimum(ctx, errStore{}, "9.9.9"); err == nil {
		t.Error("a store that cannot be read must fail closed")
	}
}

// ---- manifests ----

var image1 = []byte("firmware image bytes \x00\x01\x02")

func manifest(model, version string, img []byte) Manifest {
	sum := sha256.Sum256(img)
	return Manifest{Model: model, Version: version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(img))}
}

func keys(t *testing.T) map[string]crypto.Signer {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return map[string]crypto.Signer{AlgEd25519: ed, AlgES256: ec}
}

func TestManifestSignVerify(t *testing.T) {
	for alg, key := range keys(t) {
		signed, err := Sign(manifest("R503", "1.5.0", image1), key)
		if err != nil {
			t.Fatal(err)
		}
		m, v, err := Verify(signed, bytes.NewReader(image1), key.Public(), Policy{Model: "R503", Min: Version{1, 2, 0}, Current: Version{1, 4, 2}})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if m.Model != "R503" || v != (Version{1, 5, 0}) {
			t.Fatalf("%s: %+v %v", alg, m, v)
		}
	}
}

func TestManifestRejects(t *testing.T) {
	ks := keys(t)
	ed, ec := ks[AlgEd25519], ks[AlgES256]
	pol := Policy{Model: "R503", Min: Version{1, 2, 0}, Current: Version{1, 4, 0}}
	sign := func(m Manifest, k crypto.Signer) []byte {
		b, err := Sign(m, k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := sign(manifest("R503", "1.5.0", image1), ed)
	tamper := func(f func(*Signed)) []byte {
		var s Signed
		json.Unmarshal(good, &s)
		f(&s)
		b, _ := json.Marshal(s)
		return b
	}
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		name   string
		signed []byte
		img    []byte
		key    crypto.PublicKey
		pol    Policy
		err    error
	}{
		{"payload edited", tamper(func(s *Signed) { s.Payload = bytes.Replace(s.Payload, []byte("1.5.0"), []byte("9.5.0"), 1) }), image1, ed.Public(), pol, ErrSignature},
		{"signature edited", tamper(func(s *Signed) { s.Signature[0] ^= 1 }), image1, ed.Public(), pol, ErrSignature},
		{"other vendor", good, image1, otherEd.Public(), pol, ErrSignature},
		{"alg confusion", tamper(func(s *Signed) { s.Alg = AlgES256 }), image1, ed.Public(), pol, ErrSignature},
		{"ES256 manifest, Ed25519 key", sign(manifest("R503", "1.5.0", image1), ec), image1, ed.Public(), pol, ErrSignature},
		{"other model", sign(manifest("R307", "1.5.0", image1), ed), image1, ed.Public(), pol, ErrModel},
		{"no model in policy", good, image1, ed.Public(), Policy{}, ErrModel},
		{"below pin", sign(manifest("R503", "1.1.0", image1), ed), image1, ed.Public(), pol, ErrRollback},
		{"below running", sign(manifest("R503", "1.3.0", image1), ed), image1, ed.Public(), pol, ErrRollback},
		{"image edited", good, append([]byte("X"), image1[1:]...), ed.Public(), pol, ErrImage},
		{"image longer", good, append(image1, 0), ed.Public(), pol, ErrImage},
		{"bad sha256", sign(Manifest{Model: "R503", Version: "1.5.0", SHA256: "zz", Size: 3}, ed), image1, ed.Public(), pol, ErrManifest},
		{"no version", sign(Manifest{Model: "R503", Version: "beta", SHA256: manifest("", "", image1).SHA256, Size: int64(len(image1))}, ed), image1, ed.Public(), pol, ErrManifest},
		{"unknown field", []byte(`{"payload":"e30=","alg":"Ed25519","signature":"","x":1}`), image1, ed.Public(), pol, ErrManifest},
		{"huge", bytes.Repeat([]byte(" "), MaxManifestSize+1), image1, ed.Public(), pol, ErrManifest},
		{"P-384 key", good, image1, p384.Public(), pol, ErrKey},
	}
	for _, c := range cases {
		_, _, err := Verify(c.signed, bytes.NewReader(c.img), c.key, c.pol)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
}

func TestES256RawSignature(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload, _ := json.Marshal(manifest("R503", "2.0.0", image1))
	h := sha256.Sum256(append([]byte(SignedPrefix), payload...))
	r, s, _ := ecdsa.Sign(rand.Reader, ec, h[:])
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	signed, _ := json.Marshal(Signed{Payload: payload, Alg: AlgES256, Signature: raw})
	if _, _, err := Verify(signed, bytes.NewReader(image1), &ec.PublicKey, Policy{Model: "R503"}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyParsing(t *testing.T) {
	for alg, k := range keys(t) {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		pub, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil {
			t.Fatalf("%s public: %v", alg, err)
		}
		if a, _ := algFor(pub); a != alg {
			t.Fatalf("%s parsed as %s", alg, a)
		}
		der, _ = x509.MarshalPKCS8PrivateKey(k)
		if _, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			t.Fatalf("%s private: %v", alg, err)
		}
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); !errors.Is(err, ErrKey) {
		t.Fatalf("RSA key: %v", err)
	}
	if _, err := ParsePublicKey([]byte("not pem")); !errors.Is(err, ErrKey) {
		t.Fatalf("garbage key: %v", err)
	}
}

// A signed manifest reads the same to the verifier and to anything else
// that reads it: a "version" given twice inside a valid signature, or a
// second "payload" outside it, is refused before anything is installed.
func TestManifestStrictJSON(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	m := manifest("R503", "1.5.0", image1)
	payload := []byte(`{"model":"R503","version":"1.1.0","version":"1.5.0","sha256":"` + m.SHA256 + `","size":` + strconv.Itoa(len(image1)) + `}`)
	sig := ed25519.Sign(ed, append([]byte(SignedPrefix), payload...))
	signed, _ := json.Marshal(Signed{Payload: payload, Alg: AlgEd25519, Signature: sig})
	pol := Policy{Model: "R503", Min: Version{1, 0, 0}}
	if _, _, err := Verify(signed, bytes.NewReader(image1), ed.Public(), pol); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate version inside the signature: %v", err)
	}
	good, _ := Sign(m, ed)
	twice := bytes.Replace(good, []byte(`"alg"`), []byte(`"alg": "ES256", "alg"`), 1)
	if _, _, err := Verify(twice, bytes.NewReader(image1), ed.Public(), pol); !errors.Is(err, ErrManifest) {
		t.Errorf("alg twice: %v", err)
	}
	if _, _, err := Verify(append(bytes.Clone(good), "{}"...), bytes.NewReader(image1), ed.Public(), pol); !errors.Is(err, ErrManifest) {
		t.Errorf("trailing document: %v", err)
	}
	if _, _, err := Verify(good, bytes.NewReader(image1), ed.Public(), pol); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
}

// The anti-rollback pin is one value: a file naming two is refused (fail
// closed), not read as the last.
func TestFileStoreStrict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "minversion.json")
	os.WriteFile(path, []byte(`{"min_version":"9.0.0","min_version":"1.0.0"}`), 0o600)
	if v, err := (&FileStore{Path: path}).MinVersion(context.Background()); err == nil {
		t.Fatalf("duplicate pin read as %v", v)
	}
}
