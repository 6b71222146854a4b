package sbi

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests; test certificates are valid
// 2024-2030 except the expired one.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

type testPKI struct {
	deviceRoot, ftmRoot   *x509.Certificate
	devicePool, ftmPool   *x509.CertPool
	device, ftm           Identity // device chain is [leaf, intermediate]
	expired, rogue        Identity // expired device leaf; leaf under an untrusted CA
	encCert, otherEncCert *x509.Certificate
	encKey, otherEncKey   *rsa.PrivateKey
	deviceKey             *rsa.PrivateKey
}

var (
	pkiOnce sync.Once
	pki     *testPKI
)

func newKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial int64

func newCert(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, ca bool, from, to time.Time) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"EdgeTrust Test"}},
		NotBefore:             from,
		NotAfter:              to,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		p := &testPKI{}
		rootKey, interKey, ftmRootKey, ftmKey, rogueKey := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
		p.deviceKey, p.encKey, p.otherEncKey = newKey(t), newKey(t), newKey(t)

		p.deviceRoot = newCert(t, "Device Root", rootKey.Public(), nil, rootKey, true, from, to)
		inter := newCert(t, "Device Intermediate", interKey.Public(), p.deviceRoot, rootKey, true, from, to)
		leaf := newCert(t, "Device", p.deviceKey.Public(), inter, interKey, false, from, to)
		p.device = Identity{Signer: p.deviceKey, Chain: []*x509.Certificate{leaf, inter}}

		expiredLeaf := newCert(t, "Device old", p.deviceKey.Public(), inter, interKey,
			false, from, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
		p.expired = Identity{Signer: p.deviceKey, Chain: []*x509.Certificate{expiredLeaf, inter}}

		p.ftmRoot = newCert(t, "FTM Root", ftmRootKey.Public(), nil, ftmRootKey, true, from, to)
		chip := newCert(t, "FTM chip", ftmKey.Public(), p.ftmRoot, ftmRootKey, false, from, to)
		p.ftm = Identity{Signer: ftmKey, Chain: []*x509.Certificate{chip}}

		rogueRoot := newCert(t, "Rogue Root", rogueKey.Public(), nil, rogueKey, true, from, to)
		rogueLeaf := newCert(t, "Device", p.deviceKey.Public(), rogueRoot, rogueKey, false, from, to)
		p.rogue = Identity{Signer: p.deviceKey, Chain: []*x509.Certificate{rogueLeaf}}

		p.encCert = newCert(t, "IDA-FIR", p.encKey.Public(), p.deviceRoot, rootKey, false, from, to)
		p.otherEncCert = newCert(t, "Other IDA", p.otherEncKey.Public(), p.deviceRoot, rootKey, false, from, to)

		p.devicePool = x509.NewCertPool()
		p.devicePool.AddCert(p.deviceRoot)
		p.ftmPool = x509.NewCertPool()
		p.ftmPool.AddCert(p.ftmRoot)
		pki = p
	})
	if pki == nil {
		t.Fatal("test PKI setup failed")
	}
	return pki
}

// opaqueSigner hides the concrete key type, as a TPM-backed signer would.
type opaqueSigner struct{ k *rsa.PrivateKey }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

// opaqueDecrypter hides the concrete key type, as a TPM key would.
type opaqueDecrypter struct{ k *rsa.PrivateKey }

func (o opaqueDecrypter) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueDecrypter) Decrypt(r io.Reader, c []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return o.k.Decrypt(r, c, opts)
}

func readISO(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testDevice(typ, purpose, cert string) Device {
	sub := map[string]string{TypeFinger: "Slap", TypeIris: "Double", TypeFace: "Full face"}[typ]
	return Device{
		DeviceID:       "dev-1",
		DeviceCode:     "b692b595-3523-slap-99fc-bd76e35f290f",
		Certification:  cert,
		ServiceVersion: "0.9.5",
		Firmware:       "1.0.0",
		Env:            EnvDeveloper,
		Purpose:        purpose,
		SubIDs:         []int{0, 1, 2, 3},
		Port:           4501,
		DigitalID: DigitalID{
			SerialNo: "SN0123456789AB", Make: "EdgeTrust", Model: "ET-1", Type: typ,
			DeviceSubType: sub, DeviceProvider: "EdgeTrust Ltd", DeviceProviderID: "EDGETRUST.SBI",
		},
	}
}

func newBuilder(p *testPKI, typ, purpose, cert string) *Builder {
	return &Builder{Device: testDevice(typ, purpose, cert), DeviceKey: p.device, FTMKey: p.ftm, Now: fixedClock}
}

func newVerifier(p *testPKI) *Verifier {
	return &Verifier{
		DeviceRoots: p.devicePool,
		FTMRoots:    p.ftmPool,
		Keys:        []DecryptionKey{{Cert: p.encCert, Key: opaqueDecrypter{p.encKey}}},
		Now:         fixedClock,
		ISOProfile:  true,
	}
}

func authRequest(typ string, count int, subs ...string) *CaptureRequest {
	return &CaptureRequest{
		Env: EnvDeveloper, Purpose: PurposeAuth, SpecVersion: SpecVersion, Timeout: "10000",
		CaptureTime: "2025-03-01T11:59:59.123Z", DomainURI: "https://ida.example.org",
		TransactionID: "a1b2c3d4-tx",
		Bio: []BioRequest{{
			Type: typ, Count: NumString(itoa(count)), BioSubType: subs, RequestedScore: "40",
			DeviceID: "dev-1", DeviceSubID: "0",
		}},
	}
}

func regRequest(typ string, subID, count int, exc ...string) *CaptureRequest {
	if exc == nil {
		exc = []string{}
	}
	return &CaptureRequest{
		Env: EnvDeveloper, Purpose: PurposeRegistration, SpecVersion: SpecVersion, Timeout: "10000",
		CaptureTime: "2025-03-01T11:59:59", TransactionID: "0b6c7f1e-9d1a-4c8e-8f00-123456789abc",
		Bio: []BioRequest{{
			Type: typ, Count: NumString(itoa(count)), Exception: exc, RequestedScore: "60",
			DeviceID: "dev-1", DeviceSubID: NumString(itoa(subID)),
		}},
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// resign decodes a JWS payload, lets mutate change it, and signs it again.
func resign(t testing.TB, id Identity, jws string, mutate func(m map[string]any)) string {
	t.Helper()
	j, err := ParseJWS(jws)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j.Payload, &m); err != nil {
		t.Fatal(err)
	}
	mutate(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := id.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checks lists the distinct checks of ps, for failure messages.
func checks(ps Problems) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Error())
	}
	return strings.Join(s, "\n")
}

// only asserts ps is exactly the given (check, segment) set, in any order.
func only(t *testing.T, ps Problems, want ...Problem) {
	t.Helper()
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), checks(ps))
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			if p.Check == w.Check && p.Segment == w.Segment {
				found = true
			}
		}
		if !found {
			t.Fatalf("missing %s at segment %d in:\n%s", w.Check, w.Segment, checks(ps))
		}
	}
}
