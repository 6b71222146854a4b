package claim169

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/fxamacker/cbor/v2"
)

// The RFC 8032 TEST 1 key, as in the ed25519-signed vector.
var (
	testEdPriv = ed25519.NewKeyFromSeed([]byte{
		0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
		0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60})
	testEdPub = testEdPriv.Public().(ed25519.PublicKey)
)

// coseParts builds COSE_Sign1 messages by hand, independently of the
// Issuer, so tests can make every kind of malformed or hostile input.
type coseParts struct {
	tag         int           // 18, or -1 for untagged
	outerTag61  bool          // wrap in CWT tag 61
	protected   map[int64]any // nil: empty protected bstr
	unprotected map[int64]any // nil: {}
	payload     []byte        // CWT bytes
	signer      crypto.Signer // nil: empty signature
	sigHook     func([]byte) []byte
}

func (p coseParts) build(t testing.TB) []byte {
	t.Helper()
	prot := []byte{}
	if p.protected != nil {
		prot = mustEnc(t, p.protected)
	}
	unprot := p.unprotected
	if unprot == nil {
		unprot = map[int64]any{}
	}
	sig := []byte{}
	if p.signer != nil {
		tbs := mustEnc(t, []any{"Signature1", prot, []byte{}, p.payload})
		sig = signRaw(t, p.signer, tbs)
	}
	if p.sigHook != nil {
		sig = p.sigHook(sig)
	}
	var v any = []any{prot, unprot, p.payload, sig}
	if p.tag >= 0 {
		v = cbor.Tag{Number: 18, Content: v}
	}
	if p.outerTag61 {
		v = cbor.Tag{Number: 61, Content: v}
	}
	return mustEnc(t, v)
}

func signRaw(t testing.TB, s crypto.Signer, tbs []byte) []byte {
	switch k := s.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, tbs)
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(tbs)
		r, ss, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out
	}
	t.Fatalf("signer %T", s)
	return nil
}

func mustEnc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toText compresses and Base45-encodes COSE bytes like an issuer would.
func toText(t testing.TB, cose []byte) string {
	t.Helper()
	z, err := compress(cose, zlib.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	return base45.EncodeToString(z)
}

func cwtPayload(t testing.TB, mutate func(m map[int64]any)) []byte {
	t.Helper()
	m := map[int64]any{
		1:   "https://issuer.example",
		4:   int64(1800000000),
		6:   int64(1700000000),
		169: map[uint64]any{1: "ID-1", 4: "Test Person"},
	}
	if mutate != nil {
		mutate(m)
	}
	return mustEnc(t, m)
}

func edParts(t testing.TB) coseParts {
	return coseParts{tag: 18, protected: map[int64]any{1: int64(EdDSA)}, payload: cwtPayload(t, nil), signer: testEdPriv}
}

func edKeys(t testing.TB) *KeySet {
	ks := new(KeySet)
	if err := ks.Add(nil, testEdPub); err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestDecodeSignedVariants(t *testing.T) {
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var gotQuery KeyQuery
	resolver := KeyResolverFunc(func(q KeyQuery) (crypto.PublicKey, error) {
		gotQuery = q
		switch string(q.KeyID) {
		case "", "ed", "k-1101":
			return testEdPub, nil
		case "ec":
			return &ecPriv.PublicKey, nil
		}
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, q.KeyID)
	})
	cert := []byte{0x30, 0x82, 0x01, 0x00}
	cases := map[string]func(p *coseParts){
		"plain":           func(p *coseParts) {},
		"untagged":        func(p *coseParts) { p.tag = -1 },
		"tag 61":          func(p *coseParts) { p.outerTag61 = true },
		"kid protected":   func(p *coseParts) { p.protected[4] = []byte("ed") },
		"kid unprotected": func(p *coseParts) { p.unprotected = map[int64]any{4: []byte("k-1101")} },
		"es256":           func(p *coseParts) { p.protected = map[int64]any{1: int64(ES256), 4: []byte("ec")}; p.signer = ecPriv },
		"x5chain single":  func(p *coseParts) { p.unprotected = map[int64]any{33: cert} },
		"x5chain array":   func(p *coseParts) { p.unprotected = map[int64]any{33: []any{cert, cert}} },
		"crit known":      func(p *coseParts) { p.protected[2] = []any{int64(1)} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := edParts(t)
			mutate(&p)
			gotQuery = KeyQuery{}
			c, err := (&Decoder{Keys: resolver, Now: fixedClock}).Decode(toText(t, p.build(t)))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Verified || c.Identity.FullName != "Test Person" {
				t.Fatalf("Verified=%v FullName=%q", c.Verified, c.Identity.FullName)
			}
			if gotQuery.Algorithm != c.Algorithm || !bytes.Equal(gotQuery.KeyID, c.KeyID) {
				t.Fatalf("resolver saw %+v, credential %v %x", gotQuery, c.Algorithm, c.KeyID)
			}
			if strings.HasPrefix(name, "x5chain") && (len(gotQuery.X5Chain) == 0 || !bytes.Equal(gotQuery.X5Chain[0], cert)) {
				t.Fatalf("x5chain not passed to the resolver: %x", gotQuery.X5Chain)
			}
		})
	}
}

type negCase struct {
	name     string
	text     func(t *testing.T) string
	dec      func(d *Decoder)
	stage    Stage
	sentinel error
}

func TestDecodeRejects(t *testing.T) {
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	built := func(mutate func(p *coseParts)) func(t *testing.T) string {
		return func(t *testing.T) string {
			p := edParts(t)
			mutate(&p)
			return toText(t, p.build(t))
		}
	}
	rawText := func(b []byte) func(t *testing.T) string {
		return func(t *testing.T) string { return toText(t, b) }
	}
	cases := []negCase{
		// Signatures and keys.
		{name: "tampered payload", text: built(func(p *coseParts) {
			// Signed over the original payload, shipped with another name.
			tbs := mustEnc(t, []any{"Signature1", mustEnc(t, p.protected), []byte{}, p.payload})
			sig := ed25519.Sign(testEdPriv, tbs)
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{1: "ID-1", 4: "Evil Person"} })
			p.signer = nil
			p.sigHook = func([]byte) []byte { return sig }
		}), stage: StageSignature, sentinel: ErrBadSignature},
		{name: "tampered signature", text: built(func(p *coseParts) {
			p.sigHook = func(s []byte) []byte { s[10] ^= 1; return s }
		}), stage: StageSignature, sentinel: ErrBadSignature},
		{name: "tampered protected header", text: built(func(p *coseParts) {
			tbs := mustEnc(t, []any{"Signature1", mustEnc(t, p.protected), []byte{}, p.payload})
			sig := ed25519.Sign(testEdPriv, tbs)
			p.protected[4] = []byte("added-later")
			p.signer = nil
			p.sigHook = func([]byte) []byte { return sig }
		}), dec: func(d *Decoder) {
			d.Keys = KeyResolverFunc(func(KeyQuery) (crypto.PublicKey, error) { return testEdPub, nil })
		}, stage: StageSignature, sentinel: ErrBadSignature},
		{name: "wrong key", text: built(func(*coseParts) {}), dec: func(d *Decoder) {
			ks := new(KeySet)
			ks.Add(nil, otherPub)
			d.Keys = ks
		}, stage: StageSignature, sentinel: ErrBadSignature},
		{name: "wrong key even with AllowUnverified", text: built(func(*coseParts) {}), dec: func(d *Decoder) {
			ks := new(KeySet)
			ks.Add(nil, otherPub)
			d.Keys, d.AllowUnverified = ks, true
		}, stage: StageSignature, sentinel: ErrBadSignature},
		{name: "unknown kid", text: built(func(p *coseParts) { p.protected[4] = []byte("nope") }),
			stage: StageSignature, sentinel: ErrUnknownKey},
		{name: "resolver returns nil", text: built(func(*coseParts) {}), dec: func(d *Decoder) {
			d.Keys = KeyResolverFunc(func(KeyQuery) (crypto.PublicKey, error) { return nil, nil })
		}, stage: StageSignature, sentinel: ErrUnknownKey},
		{name: "no key resolver", text: built(func(*coseParts) {}), dec: func(d *Decoder) { d.Keys = nil },
			stage: StageSignature, sentinel: ErrNoKeys},
		{name: "empty signature", text: built(func(p *coseParts) { p.signer = nil }),
			stage: StageSignature, sentinel: ErrUnsigned},
		{name: "empty protected header", text: built(func(p *coseParts) { p.protected = nil }),
			stage: StageSignature, sentinel: ErrUnsigned},
		{name: "alg only unprotected", text: built(func(p *coseParts) {
			p.protected = nil
			p.unprotected = map[int64]any{1: int64(EdDSA)}
		}), stage: StageSignature, sentinel: ErrUnsigned},
		{name: "alg says ES256, key is Ed25519", text: built(func(p *coseParts) { p.protected[1] = int64(ES256) }),
			stage: StageSignature, sentinel: ErrAlgorithmMismatch},
		{name: "alg says EdDSA, key is P-256", text: built(func(p *coseParts) {}), dec: func(d *Decoder) {
			d.Keys = KeyResolverFunc(func(KeyQuery) (crypto.PublicKey, error) { return &ecPriv.PublicKey, nil })
		}, stage: StageSignature, sentinel: ErrAlgorithmMismatch},
		{name: "unsupported alg ES384", text: built(func(p *coseParts) { p.protected[1] = int64(-35) }),
			stage: StageSignature, sentinel: ErrUnsupportedAlgorithm},
		{name: "text alg", text: built(func(p *coseParts) { p.protected[1] = "EdDSA" }),
			stage: StageCOSE, sentinel: ErrMalformed},
		{name: "ES256 DER signature", text: built(func(p *coseParts) {
			p.protected = map[int64]any{1: int64(ES256)}
			p.signer = nil
			tbs := mustEnc(t, []any{"Signature1", mustEnc(t, p.protected), []byte{}, p.payload})
			h := sha256.Sum256(tbs)
			der, _ := ecdsa.SignASN1(rand.Reader, ecPriv, h[:])
			p.sigHook = func([]byte) []byte { return der }
		}), dec: func(d *Decoder) {
			d.Keys = KeyResolverFunc(func(KeyQuery) (crypto.PublicKey, error) { return &ecPriv.PublicKey, nil })
		}, stage: StageSignature, sentinel: ErrBadSignature},
		{name: "weak resolved key", text: built(func(*coseParts) {}), dec: func(d *Decoder) {
			d.Keys = KeyResolverFunc(func(KeyQuery) (crypto.PublicKey, error) { return ed25519.PublicKey(make([]byte, 32)), nil })
		}, stage: StageSignature, sentinel: ErrWeakKey},

		// COSE structure.
		{name: "alg in both buckets", text: built(func(p *coseParts) { p.unprotected = map[int64]any{1: int64(EdDSA)} }),
			stage: StageCOSE, sentinel: ErrMalformed},
		{name: "unknown crit", text: built(func(p *coseParts) { p.protected[2] = []any{int64(99)} }),
			stage: StageCOSE, sentinel: ErrUnsupported},
		{name: "crit unprotected", text: built(func(p *coseParts) { p.unprotected = map[int64]any{2: []any{int64(1)}} }),
			stage: StageCOSE, sentinel: ErrMalformed},
		{name: "COSE_Sign tag 98", text: rawText([]byte{0xd8, 0x62, 0x80}), stage: StageCOSE, sentinel: ErrUnsupported},
		{name: "tag 61 around untagged", text: rawText(append([]byte{0xd8, 0x3d}, 0x84, 0x40, 0xa0, 0x40, 0x40)),
			stage: StageCOSE, sentinel: ErrMalformed},
		{name: "three-element Sign1", text: rawText([]byte{0xd2, 0x83, 0x40, 0xa0, 0x40}), stage: StageCOSE, sentinel: ErrMalformed},
		{name: "detached payload", text: rawText([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0xf6, 0x40}), stage: StageCOSE, sentinel: ErrMalformed},
		{name: "trailing bytes after COSE", text: func(t *testing.T) string {
			return toText(t, append(edParts(t).build(t), 0x00))
		}, stage: StageCOSE, sentinel: ErrMalformed},
		{name: "indefinite-length array", text: rawText([]byte{0xd2, 0x9f, 0x40, 0xa0, 0x40, 0x40, 0xff}), stage: StageCOSE, sentinel: ErrMalformed},
		{name: "huge x5chain", text: built(func(p *coseParts) { p.unprotected = map[int64]any{33: make([]byte, 17<<10)} }),
			dec: func(d *Decoder) { d.MaxTextLen = 100000 }, stage: StageCOSE, sentinel: ErrTooLarge},

		// CWT and claim 169 (signed correctly, so only the content is wrong).
		{name: "duplicate CWT key", text: built(func(p *coseParts) {
			p.payload = dupKeyMap(t, 4, mustEnc(t, int64(1800000000)), mustEnc(t, int64(1900000000)), nil)
		}), stage: StageCWT, sentinel: ErrMalformed},
		{name: "duplicate claim 169 key", text: built(func(p *coseParts) {
			id := dupKeyMap(t, 4, mustEnc(t, "A"), mustEnc(t, "B"), nil)
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = cbor.RawMessage(id) })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "text key in claim 169", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[any]any{"4": "X"} })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "gender as text", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{9: "1"} })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "claim 169 as bstr (spec 3.2.1 style)", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = mustEnc(t, map[uint64]any{4: "X"}) })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "photo as text", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{16: "ffd8"} })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "biometric without data", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{62: []any{map[uint64]any{1: 0}}} })
		}), stage: StageClaim169, sentinel: ErrMalformed},
		{name: "missing claim 169", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { delete(m, 169) })
		}), stage: StageClaim169, sentinel: ErrNoClaim169},
		{name: "exp as float", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[4] = 1.8e9 })
		}), stage: StageCWT, sentinel: ErrMalformed},
		{name: "iss as bytes", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[1] = []byte("x") })
		}), stage: StageCWT, sentinel: ErrMalformed},
		{name: "too deep", text: built(func(p *coseParts) {
			var v any = int64(1)
			for range MaxCBORDepth + 2 {
				v = []any{v}
			}
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{30: v} })
		}), stage: StageCWT, sentinel: ErrMalformed},
		{name: "too many array items", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{30: make([]int, MaxCBORArray+1)} })
		}), stage: StageCWT, sentinel: ErrMalformed},
		{name: "too many map pairs", text: built(func(p *coseParts) {
			id := map[uint64]any{}
			for i := range MaxCBORMapPairs + 1 {
				id[uint64(100+i)] = 0
			}
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = id })
		}), stage: StageCWT, sentinel: ErrMalformed},

		// Time (fixed clock 1760000000).
		{name: "expired", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[4] = int64(1759999999) })
		}), stage: StageTime, sentinel: ErrExpired},
		{name: "expired exactly now", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[4] = int64(1760000000) })
		}), stage: StageTime, sentinel: ErrExpired},
		{name: "expired beyond skew", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[4] = int64(1760000000 - 301) })
		}), dec: func(d *Decoder) { d.Skew = 300 * time.Second }, stage: StageTime, sentinel: ErrExpired},
		{name: "not yet valid", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[5] = int64(1760000001) })
		}), stage: StageTime, sentinel: ErrNotYetValid},
		{name: "issued in the future", text: built(func(p *coseParts) {
			p.payload = cwtPayload(t, func(m map[int64]any) { m[6] = int64(1760000001) })
		}), stage: StageTime, sentinel: ErrIssuedInFuture},

		// Size limits.
		{name: "text too long", text: func(*testing.T) string { return strings.Repeat("0", DefaultMaxTextLen+1) },
			stage: StageInput, sentinel: ErrTooLarge},
		{name: "text over custom limit", text: built(func(*coseParts) {}), dec: func(d *Decoder) { d.MaxTextLen = 50 },
			stage: StageInput, sentinel: ErrTooLarge},
		{name: "inflated over custom limit", text: built(func(*coseParts) {}), dec: func(d *Decoder) { d.MaxDecompressed = 100 },
			stage: StageDecompress, sentinel: ErrTooLarge},
		{name: "zlib bomb", text: func(t *testing.T) string { return bombText(t, false) },
			stage: StageDecompress, sentinel: ErrTooLarge},
		{name: "brotli bomb", text: func(t *testing.T) string { return bombText(t, true) },
			stage: StageDecompress, sentinel: ErrTooLarge},

		// Compression framing.
		{name: "zlib trailing data", text: func(t *testing.T) string {
			z, _ := compress(edParts(t).build(t), zlib.DefaultCompression)
			return base45.EncodeToString(append(z, 0))
		}, stage: StageDecompress, sentinel: ErrMalformed},
		{name: "zlib bad checksum", text: func(t *testing.T) string {
			z, _ := compress(edParts(t).build(t), zlib.DefaultCompression)
			z[len(z)-1] ^= 1
			return base45.EncodeToString(z)
		}, stage: StageDecompress, sentinel: ErrMalformed},
		{name: "brotli when ZlibOnly", text: func(t *testing.T) string {
			return base45.EncodeToString(brotliBytes(t, edParts(t).build(t), 22))
		}, dec: func(d *Decoder) { d.ZlibOnly = true }, stage: StageDecompress, sentinel: ErrMalformed},
		{name: "uncompressed COSE", text: func(t *testing.T) string { return base45.EncodeToString(edParts(t).build(t)) },
			stage: StageDecompress, sentinel: ErrMalformed},
		{name: "empty text", text: func(*testing.T) string { return "" }, stage: StageInput, sentinel: ErrMalformed},
		{name: "nil *KeySet", text: built(func(*coseParts) {}), dec: func(d *Decoder) { d.Keys = (*KeySet)(nil) },
			stage: StageSignature, sentinel: ErrUnknownKey},
		{name: "lowercase base45", text: func(t *testing.T) string { return strings.ToLower(toText(t, edParts(t).build(t))) },
			stage: StageBase45, sentinel: ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{Keys: edKeys(t), Now: fixedClock}
			if tc.dec != nil {
				tc.dec(d)
			}
			c, err := d.Decode(tc.text(t))
			if err == nil {
				t.Fatalf("decoded: %+v", c)
			}
			if c != nil {
				t.Fatal("credential returned with an error")
			}
			assertErr(t, err, tc.stage, tc.sentinel)
			t.Log(err)
			if msg := err.Error(); !strings.HasPrefix(msg, "claim169: "+tc.stage.String()+": ") {
				t.Fatalf("message %q does not name the stage", msg)
			}
		})
	}
}

// dupKeyMap encodes a CWT-like map with key k twice (fxamacker refuses to
// produce one, so it is written by hand).
func dupKeyMap(t testing.TB, k byte, v1, v2 []byte, _ any) []byte {
	out := []byte{0xa3, k}
	out = append(out, v1...)
	out = append(out, k)
	out = append(out, v2...)
	out = append(out, 0x18, 0xa9, 0xa1, 0x04, 0x61, 'X')
	return out
}

func brotliBytes(t testing.TB, src []byte, lgwin int) []byte {
	return brotliQ(t, src, lgwin, 11)
}

func brotliQ(t testing.TB, src []byte, lgwin, quality int) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: quality, LGWin: lgwin})
	if _, err := w.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombText is a valid COSE prefix followed by 2 MiB of zeros, small
// enough compressed to fit a QR code. Built once: compressing 2 MiB is the
// slow part of these tests, especially under -race.
func bombText(t testing.TB, useBrotli bool) string {
	bombs.once.Do(func() {
		big := append(edParts(t).build(t), make([]byte, 2<<20)...)
		z, err := compress(big, zlib.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		bombs.zlib = base45.EncodeToString(z)
		bombs.brotli = base45.EncodeToString(brotliQ(t, big, 24, 5))
	})
	if useBrotli {
		return bombs.brotli
	}
	return bombs.zlib
}

var bombs struct {
	once         sync.Once
	zlib, brotli string
}

// A bomb must fail after about MaxDecompressed bytes of work, not after
// inflating megabytes.
func TestDecompressionBombIsCheap(t *testing.T) {
	for _, useBrotli := range []bool{false, true} {
		text := bombText(t, useBrotli)
		if len(text) > DefaultMaxTextLen {
			t.Fatalf("bomb text is %d chars; it must fit a QR code to be a fair test", len(text))
		}
		d := &Decoder{Keys: edKeys(t), Now: fixedClock}
		d.Decode(text) // warm pools
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := d.Decode(text)
		runtime.ReadMemStats(&after)
		assertErr(t, err, StageDecompress, ErrTooLarge)
		// Brotli may size its ring buffer from the stream header (up to
		// 16 MiB for lgwin 24); it stays well below what inflating would cost.
		limit := uint64(1 << 20)
		if useBrotli {
			limit = 8 << 20
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		if alloc > limit {
			t.Errorf("brotli=%v: bomb allocated %d bytes", useBrotli, alloc)
		}
		t.Logf("brotli=%v: %d-char bomb rejected after %d bytes allocated", useBrotli, len(text), alloc)
	}
}

// The limit is inclusive: exactly max bytes inflate, one more fails.
func TestDecompressLimitBoundary(t *testing.T) {
	const max = 1000
	for _, n := range []int{max - 1, max, max + 1} {
		data := make([]byte, n)
		rand.Read(data)
		z, _ := compress(data, zlib.BestSpeed)
		b := brotliBytes(t, data, 16)
		for _, src := range [][]byte{z, b} {
			out, _, err := decompress(nil, src, max, false)
			switch {
			case n <= max && (err != nil || !bytes.Equal(out, data)):
				t.Errorf("n=%d: %v", n, err)
			case n > max && !errors.Is(err, ErrTooLarge):
				t.Errorf("n=%d: err = %v, want ErrTooLarge", n, err)
			}
		}
	}
}

func TestDecodeBrotli(t *testing.T) {
	for _, lgwin := range []int{10, 16, 22, 24} {
		text := base45.EncodeToString(brotliBytes(t, edParts(t).build(t), lgwin))
		c, err := (&Decoder{Keys: edKeys(t), Now: fixedClock}).Decode(text)
		if err != nil {
			t.Fatalf("lgwin %d: %v", lgwin, err)
		}
		if c.Compression != Brotli || !c.Verified {
			t.Fatalf("Compression=%v Verified=%v", c.Compression, c.Verified)
		}
	}
}

func TestSkewAccepts(t *testing.T) {
	for _, tc := range []struct {
		claim int64
		value int64
	}{
		{4, 1760000000 - 299}, // expired 299 s ago
		{5, 1760000000 + 300}, // valid in 300 s
		{6, 1760000000 + 300}, // issued 300 s ahead
		{4, 1760000001},       // expires in 1 s, no skew needed
	} {
		p := edParts(t)
		p.payload = cwtPayload(t, func(m map[int64]any) { m[tc.claim] = tc.value })
		d := &Decoder{Keys: edKeys(t), Now: fixedClock, Skew: 300 * time.Second}
		if _, err := d.Decode(toText(t, p.build(t))); err != nil {
			t.Errorf("claim %d = %d: %v", tc.claim, tc.value, err)
		}
	}
}

func TestAllowUnverified(t *testing.T) {
	cases := map[string]func(p *coseParts, d *Decoder){
		"unsigned":        func(p *coseParts, d *Decoder) { p.signer = nil },
		"unknown kid":     func(p *coseParts, d *Decoder) { p.protected[4] = []byte("nope") },
		"no resolver":     func(p *coseParts, d *Decoder) { d.Keys = nil },
		"unsupported alg": func(p *coseParts, d *Decoder) { p.protected[1] = int64(-35) },
	}
	for name, mutate := range cases {
		p := edParts(t)
		d := &Decoder{Keys: edKeys(t), Now: fixedClock, AllowUnverified: true}
		mutate(&p, d)
		c, err := d.Decode(toText(t, p.build(t)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Verified {
			t.Errorf("%s: Verified = true", name)
		}
	}
	// Time checks still apply to unverified credentials.
	p := edParts(t)
	p.payload = cwtPayload(t, func(m map[int64]any) { m[4] = int64(1) })
	_, err := (&Decoder{AllowUnverified: true, Now: fixedClock}).Decode(toText(t, p.build(t)))
	assertErr(t, err, StageTime, ErrExpired)
}

func TestEncrypt0Rejects(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	signed := edParts(t).build(t)
	good, err := sealEncrypt0(key, nil, signed)
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: the good one decodes.
	d := &Decoder{Keys: edKeys(t), Now: fixedClock, DecryptionKeys: DecryptionKeyResolverFunc(func(KeyQuery) ([]byte, error) { return key, nil })}
	if c, err := d.Decode(toText(t, good)); err != nil || !c.Encrypted || !c.Verified {
		t.Fatalf("good Encrypt0: %v", err)
	}
	// Re-encode good with changes.
	var arr []cbor.RawMessage
	if err := cbor.Unmarshal(good[1:], &arr); err != nil {
		t.Fatal(err)
	}
	rebuild := func(prot, unprot, ct []byte) []byte {
		return append([]byte{0xd0}, mustEnc(t, []cbor.RawMessage{prot, unprot, ct})...)
	}
	var ct []byte
	cbor.Unmarshal(arr[2], &ct)
	flipped := append([]byte(nil), ct...)
	flipped[0] ^= 1
	wrongKey := make([]byte, 32)
	cases := []struct {
		name     string
		cose     []byte
		key      []byte
		stage    Stage
		sentinel error
	}{
		{"wrong key", good, wrongKey, StageDecrypt, ErrDecrypt},
		{"key size mismatch", good, key[:16], StageDecrypt, ErrAlgorithmMismatch},
		{"tampered ciphertext", rebuild(arr[0], arr[1], mustEnc(t, flipped)), key, StageDecrypt, ErrDecrypt},
		{"tampered protected", rebuild(mustEnc(t, mustEnc(t, map[int64]any{1: int64(A256GCM), 4: []byte("x")})), arr[1], arr[2]), key, StageDecrypt, ErrDecrypt},
		{"short IV", rebuild(arr[0], mustEnc(t, map[int64]any{5: make([]byte, 8)}), arr[2]), key, StageDecrypt, ErrMalformed},
		{"no IV", rebuild(arr[0], mustEnc(t, map[int64]any{}), arr[2]), key, StageDecrypt, ErrMalformed},
		{"alg unsupported", rebuild(mustEnc(t, mustEnc(t, map[int64]any{1: int64(24)})), arr[1], arr[2]), key, StageDecrypt, ErrUnsupportedAlgorithm},
		{"nested Encrypt0", mustSeal(t, key, good), key, StageCOSE, ErrUnsupported},
		{"bare CWT without AllowUnverified", mustSeal(t, key, cwtPayload(t, nil)), key, StageSignature, ErrUnsigned},
	}
	for _, tc := range cases {
		d := &Decoder{Keys: edKeys(t), Now: fixedClock, DecryptionKeys: DecryptionKeyResolverFunc(func(KeyQuery) ([]byte, error) { return tc.key, nil })}
		_, err := d.Decode(toText(t, tc.cose))
		t.Run(tc.name, func(t *testing.T) { assertErr(t, err, tc.stage, tc.sentinel) })
	}
}

func mustSeal(t testing.TB, key, pt []byte) []byte {
	b, err := sealEncrypt0(key, nil, pt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every small-order point must be refused, in every encoding: both sign
// bits and the non-canonical y+p forms. The table is checked against the
// curve with math/big rather than trusted.
func TestWeakEd25519Keys(t *testing.T) {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	// Order-8 points have y^2 = (-1 + sqrt(1+d)) / d.
	s := new(big.Int).ModSqrt(new(big.Int).Add(big.NewInt(1), d), p)
	y2 := new(big.Int).Sub(s, big.NewInt(1))
	y2.Mul(y2, new(big.Int).ModInverse(d, p)).Mod(y2, p)
	y8 := new(big.Int).ModSqrt(y2, p)
	want := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(p, big.NewInt(1)), y8, new(big.Int).Sub(p, y8)}
	for _, y := range want {
		for _, enc := range []*big.Int{y, new(big.Int).Add(y, p)} {
			if enc.BitLen() > 255 {
				continue
			}
			le := make([]byte, 32)
			enc.FillBytes(le)
			for i := range 16 {
				le[i], le[31-i] = le[31-i], le[i]
			}
			for _, sign := range []byte{0, 0x80} {
				k := append([]byte(nil), le...)
				k[31] |= sign
				var ks KeySet
				if err := ks.Add(nil, ed25519.PublicKey(k)); !errors.Is(err, ErrWeakKey) {
					t.Errorf("key %x accepted (err %v)", k, err)
				}
			}
		}
	}
	var ks KeySet
	if err := ks.Add(nil, testEdPub); err != nil {
		t.Fatalf("RFC 8032 key refused: %v", err)
	}
	if err := ks.Add(nil, ed25519.PublicKey(make([]byte, 31))); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("31-byte key: %v", err)
	}
}

func TestKeySetExactKID(t *testing.T) {
	var ks KeySet
	ks.Add([]byte("a"), testEdPub)
	for _, kid := range [][]byte{nil, []byte("A"), []byte("a\x00"), []byte("")} {
		if _, err := ks.ResolveKey(KeyQuery{KeyID: kid}); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	if k, err := ks.ResolveKey(KeyQuery{KeyID: []byte("a")}); err != nil || !k.(ed25519.PublicKey).Equal(testEdPub) {
		t.Fatalf("kid a: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	v := loadVectors(t)["bad-base45"]
	_, err := (&Decoder{Keys: edKeys(t)}).Decode(v.QRData)
	if got := err.Error(); !strings.Contains(got, "'!' is not in the Base45 alphabet") || !strings.Contains(got, "byte 4") {
		t.Errorf("message %q does not say what and where", got)
	}
	p := edParts(t)
	p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = map[uint64]any{9: "1"} })
	_, err = (&Decoder{Keys: edKeys(t), Now: fixedClock}).Decode(toText(t, p.build(t)))
	if got := err.Error(); !strings.Contains(got, "key 9 (gender): want unsigned integer, got text string") {
		t.Errorf("message %q does not name the key and types", got)
	}
}

// The {1: alg} fast path must agree with the general map decode.
func TestProtectedAlgFastPath(t *testing.T) {
	for v := int64(-24); v < 24; v++ {
		fast, err := parseHeaders(mustEnc(t, map[int64]any{1: v}), []byte{0xa0})
		if err != nil {
			t.Fatal(err)
		}
		// Adding kid forces the general path.
		slow, err := parseHeaders(mustEnc(t, map[int64]any{1: v, 4: []byte{}}), []byte{0xa0})
		if err != nil {
			t.Fatal(err)
		}
		if !fast.hasAlg || fast.alg != Algorithm(v) || slow.alg != fast.alg {
			t.Fatalf("alg %d: fast %v, slow %v", v, fast.alg, slow.alg)
		}
	}
}

func TestSigStructure(t *testing.T) {
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536} {
		prot := bytes.Repeat([]byte{0xa0}, n%300)
		payload := bytes.Repeat([]byte{7}, n)
		want := mustEnc(t, []any{"Signature1", prot, []byte{}, payload})
		if got := sigStructure(prot, payload); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: hand-built Sig_structure differs from fxamacker's", n)
		}
	}
}
