package claim169

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/base45"
	"github.com/fxamacker/cbor/v2"
)

// Seeds for every stage, taken from the idpass vectors in testdata.
type seeds struct {
	texts, compressed, cose, cwt, identity [][]byte
}

func loadSeeds(f *testing.F) seeds {
	var s seeds
	for _, v := range loadVectors(f) {
		s.texts = append(s.texts, []byte(v.QRData))
		z, err := base45.DecodeString(v.QRData)
		if err != nil {
			continue
		}
		s.compressed = append(s.compressed, z)
		raw, _, err := decompress(nil, z, DefaultMaxDecompressed, false)
		if err != nil {
			continue
		}
		s.cose = append(s.cose, raw)
		kind, body, err := unwrapCOSE(raw, false)
		if err != nil || kind != kindSign1 {
			continue
		}
		s1, err := parseSign1(body)
		if err != nil {
			continue
		}
		s.cwt = append(s.cwt, s1.payload)
		var c Claims
		if c.UnmarshalCBOR(s1.payload) == nil {
			id, err := c.Identity.MarshalCBOR()
			if err == nil {
				s.identity = append(s.identity, id)
			}
		}
	}
	return s
}

func fuzzDecoder(t testing.TB) *Decoder {
	ks := new(KeySet)
	ks.Add(nil, testEdPub)
	key := mustHex(t, "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f")
	return &Decoder{
		Keys:            ks,
		AllowUnverified: true,
		Now:             fixedClock,
		DecryptionKeys:  DecryptionKeyResolverFunc(func(KeyQuery) ([]byte, error) { return key, nil }),
	}
}

// FuzzDecode runs the whole pipeline. Whatever decodes must re-encode and
// decode to the same claims, and have a JSON view.
func FuzzDecode(f *testing.F) {
	for _, s := range loadSeeds(f).texts {
		f.Add(string(s))
	}
	d := fuzzDecoder(f)
	f.Fuzz(func(t *testing.T, text string) {
		c, err := d.Decode(text)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		checkClaimsRoundTrip(t, &c.Claims)
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("JSON: %v", err)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, s := range loadSeeds(f).compressed {
		f.Add(s)
	}
	const max = 4096
	f.Fuzz(func(t *testing.T, b []byte) {
		out, kind, err := decompress(nil, b, max, false)
		if err != nil {
			return
		}
		if len(out) > max {
			t.Fatalf("%d bytes out, limit %d", len(out), max)
		}
		if kind == Zlib != isZlib(b) {
			t.Fatalf("kind %v for header % x", kind, b[:2])
		}
	})
}

// FuzzCOSE feeds the COSE layer (Encrypt0, Sign1, headers, verification)
// and everything after it.
func FuzzCOSE(f *testing.F) {
	for _, s := range loadSeeds(f).cose {
		f.Add(s)
	}
	d := fuzzDecoder(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Credential
		if err := d.decodeCOSE(&c, b); err != nil {
			return
		}
		// Only the RFC 8032 key, for credentials without a kid, is
		// trusted: anything else verifying would be a forgery.
		if c.Verified && (c.Algorithm != EdDSA || len(c.KeyID) != 0) {
			t.Fatalf("verified with alg %v kid %x", c.Algorithm, c.KeyID)
		}
		checkClaimsRoundTrip(t, &c.Claims)
	})
}

func FuzzCWT(f *testing.F) {
	for _, s := range loadSeeds(f).cwt {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Claims
		if err := c.UnmarshalCBOR(b); err != nil {
			return
		}
		checkClaimsRoundTrip(t, &c)
	})
}

func FuzzClaim169(f *testing.F) {
	for _, s := range loadSeeds(f).identity {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var id Identity
		if err := id.UnmarshalCBOR(b); err != nil {
			return
		}
		enc, err := id.MarshalCBOR()
		if err != nil {
			t.Fatalf("decoded identity does not re-encode: %v", err)
		}
		var again Identity
		if err := again.UnmarshalCBOR(enc); err != nil {
			t.Fatalf("re-encoded identity does not decode: %v", err)
		}
		if !reflect.DeepEqual(&id, &again) {
			t.Fatalf("round trip changed the identity:\n%+v\n%+v", id, again)
		}
		if enc2, _ := again.MarshalCBOR(); !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
		if _, err := id.MarshalJSON(); err != nil {
			t.Fatalf("JSON: %v", err)
		}
	})
}

func checkClaimsRoundTrip(t *testing.T, c *Claims) {
	t.Helper()
	enc, err := c.MarshalCBOR()
	if err != nil {
		t.Fatalf("decoded claims do not re-encode: %v", err)
	}
	var again Claims
	if err := again.UnmarshalCBOR(enc); err != nil {
		t.Fatalf("re-encoded claims do not decode: %v", err)
	}
	if !reflect.DeepEqual(c, &again) {
		t.Fatalf("round trip changed the claims:\n%+v\n%+v", *c, again)
	}
}

// FuzzMapPairs checks the hand-walked map and array splitting against
// fxamacker's decoder with the same options: whatever fxamacker decodes
// into a map, mapPairs splits into the same values under the same keys,
// and a map with a repeated key is refused by both. (mapPairs accepts
// more: it leaves UTF-8 inside values to the value's own decoder.)
func FuzzMapPairs(f *testing.F) {
	s := loadSeeds(f)
	for _, b := range append(s.cwt, s.identity...) {
		f.Add(b)
	}
	f.Add([]byte{0xa2, 0x01, 0x01, 0x18, 0x01, 0x02}) // {1: 1, 1: 2}, the second key non-canonical
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[any]cbor.RawMessage
		refErr := decMode.Unmarshal(b, &m)
		pairs, err := mapPairs("", b)
		// fxamacker decodes CBOR null and undefined into a nil map without
		// an error (Go's zero value); mapPairs refuses them as not a map,
		// which is what a Claim 169 decoder must do
		// (testdata/fuzz/FuzzMapPairs/d648bb6e12a71535 is null, 0xf6).
		if refErr == nil && m != nil && err != nil {
			t.Fatalf("fxamacker decodes the map, mapPairs refuses it: %v", err)
		}
		if err != nil {
			return
		}
		keys := map[any]bool{}
		for _, p := range pairs {
			var k any
			if err := decMode.Unmarshal(p[0], &k); err != nil {
				return // a key fxamacker refuses (it refused the map too)
			}
			if _, ok := k.(int64); !ok {
				if _, ok := k.(string); !ok {
					return // keys of other types are the callers' to refuse
				}
			}
			if keys[k] {
				if refErr == nil {
					t.Fatalf("fxamacker accepted a repeated key %v", k)
				}
				return
			}
			keys[k] = true
			if refErr == nil && !bytes.Equal(m[k], p[1]) {
				t.Fatalf("key %v: mapPairs %x, fxamacker %x", k, p[1], m[k])
			}
		}
		if refErr == nil && len(keys) != len(m) {
			t.Fatalf("%d pairs, fxamacker %d", len(keys), len(m))
		}
	})
}
