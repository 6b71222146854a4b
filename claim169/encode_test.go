package claim169

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// coseBytes returns the decompressed COSE bytes of QR text.
func coseBytes(t testing.TB, text string) []byte {
	t.Helper()
	z, err := base45.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := decompress(nil, z, DefaultMaxDecompressed, true)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The ed25519-signed vector was made by the Rust reference implementation;
// re-encoding its claims must give the same COSE bytes (Ed25519 is
// deterministic, so this checks CBOR and COSE encoding byte for byte).
func TestReproduceEd25519Vector(t *testing.T) {
	v := loadVectors(t)["ed25519-signed"]
	want := coseBytes(t, v.QRData)
	c, err := v.decoder(t, false).Decode(v.QRData)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(mustHex(t, v.SigningKey.PrivateKeyHex))
	is, err := NewIssuer(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := is.Sign(&c.Claims)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("COSE bytes differ:\n got %x\nwant %x", got, want)
	}
	// The unsigned vectors share the encoder: their payloads must match too.
	for name, v := range loadVectors(t) {
		if vectorTable[name].stage != 0 && vectorTable[name].stage != StageTime || vectorTable[name].encrypted {
			continue
		}
		s, err := parseSign1(coseBytes(t, v.QRData)[1:])
		if err != nil {
			t.Fatal(name, err)
		}
		var cl Claims
		if err := cl.UnmarshalCBOR(s.payload); err != nil {
			t.Fatal(name, err)
		}
		re, err := cl.MarshalCBOR()
		if err != nil {
			t.Fatal(name, err)
		}
		if !bytes.Equal(re, s.payload) {
			t.Errorf("%s: re-encoded CWT differs:\n got %x\nwant %x", name, re, s.payload)
		}
	}
}

func testClaims() *Claims {
	return &Claims{
		Issuer:    "https://issuer.example",
		Subject:   "3918592438",
		ExpiresAt: time.Unix(1800000000, 0),
		NotBefore: time.Unix(1700000000, 0),
		IssuedAt:  time.Unix(1700000000, 0),
		Identity: Identity{
			ID:                 "3918592438",
			Version:            "1.0",
			Language:           "eng",
			FullName:           "Janardhan BS",
			DateOfBirth:        "19840118",
			Gender:             GenderMale,
			Address:            "New House\nNear Metro Line\nBengaluru, KA",
			Email:              "janardhan@example.com",
			Phone:              "+919876543210",
			Nationality:        "IN",
			MaritalStatus:      MaritalMarried,
			BestQualityFingers: []FingerPosition{FingerRightThumb, FingerLeftIndex},
			SecondaryFullName:  "جاناردان",
			SecondaryLanguage:  "ara",
			LegalStatus:        "Refugee",
			CountryOfIssuance:  "IN",
			Face: []Biometric{{
				Data:      []byte{0x52, 0x49, 0x46, 0x46, 1, 2, 3},
				Format:    new(FormatImage),
				SubFormat: new(ImageWEBP),
				Issuer:    "vendor",
			}},
			RightThumb: []Biometric{{Data: []byte("FIR\x00"), Format: new(FormatTemplate), SubFormat: new(TemplateISO19794)}},
		},
	}
}

func TestIssueDecodeRoundTrip(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	aes128 := make([]byte, 16)
	aes256 := make([]byte, 32)
	rand.Read(aes128)
	rand.Read(aes256)
	cases := []struct {
		name   string
		signer crypto.Signer
		alg    Algorithm
		opts   IssuerOptions
	}{
		{"ed25519", edPriv, EdDSA, IssuerOptions{}},
		{"ed25519-kid", edPriv, EdDSA, IssuerOptions{KeyID: []byte("k-1101")}},
		{"es256", ecPriv, ES256, IssuerOptions{KeyID: []byte{1, 2}}},
		{"es256-opaque-signer", opaqueSigner{ecPriv}, ES256, IssuerOptions{}},
		{"ed25519-opaque-signer", opaqueSigner{edPriv}, EdDSA, IssuerOptions{}},
		{"a128gcm", edPriv, EdDSA, IssuerOptions{EncryptionKey: aes128, EncryptionKeyID: []byte("e1")}},
		{"a256gcm-es256", ecPriv, ES256, IssuerOptions{EncryptionKey: aes256}},
		{"best-speed", edPriv, EdDSA, IssuerOptions{CompressionLevel: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is, err := NewIssuer(tc.signer, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if is.Algorithm() != tc.alg {
				t.Fatalf("Algorithm = %v, want %v", is.Algorithm(), tc.alg)
			}
			in := testClaims()
			text, err := is.Issue(in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Trim(text, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:") != "" {
				t.Fatalf("text has non-Base45 characters: %q", text)
			}
			ks := new(KeySet)
			if err := ks.Add(tc.opts.KeyID, tc.signer.Public()); err != nil {
				t.Fatal(err)
			}
			d := &Decoder{Keys: ks, Now: fixedClock}
			var gotKID []byte
			if tc.opts.EncryptionKey != nil {
				d.DecryptionKeys = DecryptionKeyResolverFunc(func(q KeyQuery) ([]byte, error) {
					gotKID = q.KeyID
					return tc.opts.EncryptionKey, nil
				})
			}
			c, err := d.Decode(text)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Verified || c.Algorithm != tc.alg || !bytes.Equal(c.KeyID, tc.opts.KeyID) {
				t.Fatalf("Verified=%v Algorithm=%v KeyID=%x", c.Verified, c.Algorithm, c.KeyID)
			}
			if c.Encrypted != (tc.opts.EncryptionKey != nil) || !bytes.Equal(gotKID, tc.opts.EncryptionKeyID) {
				t.Fatalf("Encrypted=%v, encryption kid %q", c.Encrypted, gotKID)
			}
			if !reflect.DeepEqual(&c.Claims, normalize(in)) {
				t.Fatalf("claims differ:\n got %+v\nwant %+v", c.Claims, *in)
			}
			// Without the AES key, an encrypted credential cannot be read.
			if tc.opts.EncryptionKey != nil {
				d.DecryptionKeys = nil
				_, err := d.Decode(text)
				assertErr(t, err, StageDecrypt, ErrNoKeys)
			}
		})
	}
}

// normalize puts times in UTC, as decoding does.
func normalize(c *Claims) *Claims {
	out := *c
	out.ExpiresAt = out.ExpiresAt.UTC()
	out.NotBefore = out.NotBefore.UTC()
	out.IssuedAt = out.IssuedAt.UTC()
	return &out
}

// opaqueSigner hides the concrete key type, like an HSM-backed signer.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

// COSE wants ES256 signatures as fixed-width r||s, not the DER that
// crypto.Signer returns; check each one with ecdsa.Verify directly.
func TestES256SignatureIsRawRS(t *testing.T) {
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is, err := NewIssuer(opaqueSigner{ecPriv}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b, err := is.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseSign1(b[1:])
		if err != nil {
			t.Fatal(err)
		}
		if len(s.signature) != 64 {
			t.Fatalf("signature is %d bytes, want 64", len(s.signature))
		}
		tbs, _ := encMode.Marshal([]any{"Signature1", s.hdr.protContent, []byte{}, s.payload})
		h := sha256.Sum256(tbs)
		r := new(big.Int).SetBytes(s.signature[:32])
		ss := new(big.Int).SetBytes(s.signature[32:])
		if !ecdsa.Verify(&ecPriv.PublicKey, h[:], r, ss) {
			t.Fatal("r||s does not verify over the Sig_structure")
		}
	}
}

func TestUnknownKeysRoundTrip(t *testing.T) {
	in := testClaims()
	in.Identity.Unknown = map[uint64][]byte{
		30:  mustEnc(t, "reserved"),
		70:  {0x43, 1, 2, 3},
		99:  {0xf5},
		120: {0xa1, 0x01, 0x82, 0x01, 0x02}, // nested map, not deterministic-checked
	}
	in.Identity.Face[0].Unknown = map[uint64][]byte{9: {0x01}}
	in.Unknown = map[int64][]byte{-70000: {0x61, 'x'}, 7: {0x41, 0}}
	b, err := in.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var out Claims
	if err := out.UnmarshalCBOR(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&out, normalize(in)) {
		t.Fatalf("round trip lost data:\n got %+v\nwant %+v", out, *in)
	}
	again, _ := out.MarshalCBOR()
	if !bytes.Equal(again, b) {
		t.Fatal("second encoding differs")
	}
}

func TestMarshalRejectsBadInput(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is, _ := NewIssuer(priv, nil)
	cases := map[string]func(c *Claims){
		"invalid utf8":        func(c *Claims) { c.Identity.FullName = "\xff" },
		"negative gender":     func(c *Claims) { c.Identity.Gender = -1 },
		"biometric no data":   func(c *Claims) { c.Identity.Face[0].Data = nil },
		"unknown shadows key": func(c *Claims) { c.Identity.Unknown = map[uint64][]byte{4: mustEnc(t, "x")} },
		"unknown not cbor":    func(c *Claims) { c.Identity.Unknown = map[uint64][]byte{30: {0x62, 'a'}} },
		"unknown two items":   func(c *Claims) { c.Identity.Unknown = map[uint64][]byte{30: {0x01, 0x02}} },
		"cwt shadows exp":     func(c *Claims) { c.Unknown = map[int64][]byte{4: {0x01}} },
		"exp before 1970":     func(c *Claims) { c.ExpiresAt = time.Unix(-1, 0) },
	}
	for name, mutate := range cases {
		c := testClaims()
		mutate(c)
		_, err := is.Issue(c)
		var e *Error
		if !errors.As(err, &e) || e.Stage != StageEncode {
			t.Errorf("%s: err = %v, want StageEncode error", name, err)
		}
	}
}

func TestIssueTooLarge(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is, _ := NewIssuer(priv, nil)
	c := testClaims()
	c.Identity.Photo = make([]byte, 4000)
	rand.Read(c.Identity.Photo) // incompressible
	_, err := is.Issue(c)
	assertErr(t, err, StageEncode, ErrTooLarge)
}

func TestNewIssuerRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, f := range map[string]func() error{
		"p384":        func() error { _, err := NewIssuer(p384, nil); return err },
		"aes 24":      func() error { _, err := NewIssuer(ed, &IssuerOptions{EncryptionKey: make([]byte, 24)}); return err },
		"zlib level":  func() error { _, err := NewIssuer(ed, &IssuerOptions{CompressionLevel: 11}); return err },
		"nil signer":  func() error { _, err := NewIssuer(nil, nil); return err },
		"weak ed key": func() error { _, err := NewIssuer(weakSigner{}, nil); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: NewIssuer succeeded", name)
		}
	}
}

type weakSigner struct{}

func (weakSigner) Public() crypto.PublicKey { return ed25519.PublicKey(make([]byte, 32)) }
func (weakSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return make([]byte, 64), nil
}

// The claim 169 map must be written in ascending key order with biometrics
// as arrays, and the CWT map in order 1, 2, 4, 5, 6, 169.
func TestDeterministicOrder(t *testing.T) {
	b, err := testClaims().MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var pairs []struct {
		K int64
		V cbor.RawMessage
	}
	dec := cbor.NewDecoder(bytes.NewReader(b[1:]))
	for range b[0] & 0x1f {
		var p struct {
			K int64
			V cbor.RawMessage
		}
		if err := dec.Decode(&p.K); err != nil {
			t.Fatal(err)
		}
		if err := dec.Decode(&p.V); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	var keys []int64
	for _, p := range pairs {
		keys = append(keys, p.K)
	}
	if !reflect.DeepEqual(keys, []int64{1, 2, 4, 5, 6, 169}) {
		t.Fatalf("CWT keys in order %v", keys)
	}
	id := pairs[5].V
	var m map[uint64]cbor.RawMessage
	if err := cbor.Unmarshal(id, &m); err != nil {
		t.Fatal(err)
	}
	// Re-encode sorted and compare: any order difference changes bytes.
	sorted, _ := encMode.Marshal(m)
	if !bytes.Equal(sorted, id) {
		t.Fatal("claim 169 map is not in core deterministic order")
	}
	if major(m[uint64(Face)]) != majorArray {
		t.Fatal("face not written as an array")
	}
}

// What we issue, the COSE_Sign1 written by hand, verifies with go-cose, an
// independent COSE implementation, for both algorithms and with a key id.
func TestIssuedSign1VerifiesWithGoCOSE(t *testing.T) {
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg  cose.Algorithm
		key  crypto.Signer
		opts *IssuerOptions
	}{
		{cose.AlgorithmES256, ecPriv, nil},
		{cose.AlgorithmEdDSA, edPriv, nil},
		{cose.AlgorithmEdDSA, edPriv, &IssuerOptions{KeyID: []byte("kid-1")}},
	} {
		is, err := NewIssuer(tc.key, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := is.Sign(testClaims())
		if err != nil {
			t.Fatal(err)
		}
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(b); err != nil {
			t.Fatalf("%v: go-cose cannot parse what we issue: %v", tc.alg, err)
		}
		v, err := cose.NewVerifier(tc.alg, tc.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := msg.Verify(nil, v); err != nil {
			t.Fatalf("%v: go-cose does not verify what we issue: %v", tc.alg, err)
		}
		if tc.opts != nil {
			if kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte); string(kid) != "kid-1" {
				t.Fatalf("kid %q", kid)
			}
		}
		var again Claims
		if err := again.UnmarshalCBOR(msg.Payload); err != nil || again.Identity.FullName != testClaims().Identity.FullName {
			t.Fatalf("payload: %v %+v", err, again.Identity)
		}
	}
}
