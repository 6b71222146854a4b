package claim169

import (
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The one decoding mode every CBOR byte of a credential goes through keeps
// its strict options (issue #19): duplicate keys refused, lengths definite,
// text UTF-8, nesting and counts bounded. A change here is a change of
// what a verifier accepts, so it must be deliberate.
func TestDecModeIsStrict(t *testing.T) {
	o := decMode.DecOptions()
	for name, ok := range map[string]bool{
		"DupMapKeyEnforcedAPF":        o.DupMapKey == cbor.DupMapKeyEnforcedAPF,
		"IndefLengthForbidden":        o.IndefLength == cbor.IndefLengthForbidden,
		"UTF8RejectInvalid":           o.UTF8 == cbor.UTF8RejectInvalid,
		"MaxNestedLevels":             o.MaxNestedLevels == MaxCBORDepth,
		"MaxArrayElements":            o.MaxArrayElements == MaxCBORArray,
		"MaxMapPairs":                 o.MaxMapPairs == MaxCBORMapPairs,
		"ByteStringToStringForbidden": o.ByteStringToString == cbor.ByteStringToStringForbidden,
	} {
		if !ok {
			t.Errorf("decMode lost %s: %+v", name, o)
		}
	}
}

// A duplicated key is refused wherever it is, with an error that says so,
// even when the two keys are spelt differently on the wire (4 as 0x04 and
// as 0x18 0x04: the same integer, a different byte string). A reader that
// keeps the first and one that keeps the last would otherwise see two
// people in one signed credential.
func TestDuplicateKeysRefused(t *testing.T) {
	name := func(s string) []byte { return mustEnc(t, s) }
	claim169 := func(pairs ...[]byte) []byte {
		out := []byte{0xa0 | byte(len(pairs)/2)}
		for _, p := range pairs {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		what  string
		parts func(p *coseParts)
		stage Stage
	}{
		{"fullName twice in claim 169", func(p *coseParts) {
			id := claim169([]byte{0x01}, name("ID-1"), []byte{0x04}, name("Test Person"), []byte{0x04}, name("Evil Person"))
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = cbor.RawMessage(id) })
		}, StageClaim169},
		{"fullName twice, non-canonical key", func(p *coseParts) {
			id := claim169([]byte{0x01}, name("ID-1"), []byte{0x04}, name("Test Person"), []byte{0x18, 0x04}, name("Evil Person"))
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = cbor.RawMessage(id) })
		}, StageClaim169},
		{"id twice in claim 169", func(p *coseParts) {
			id := claim169([]byte{0x01}, name("ID-1"), []byte{0x01}, name("ID-2"))
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = cbor.RawMessage(id) })
		}, StageClaim169},
		{"face entry with data twice", func(p *coseParts) {
			bio := []byte{0x81, 0xa2, 0x00, 0x41, 0x01, 0x00, 0x41, 0x02} // [{0: h'01', 0: h'02'}]
			id := claim169([]byte{0x01}, name("ID-1"), []byte{0x18, 62}, bio)
			p.payload = cwtPayload(t, func(m map[int64]any) { m[169] = cbor.RawMessage(id) })
		}, StageClaim169},
		{"exp twice in the CWT", func(p *coseParts) {
			p.payload = dupKeyMap(t, 4, mustEnc(t, int64(1800000000)), mustEnc(t, int64(1900000000)), nil)
		}, StageCWT},
		{"a text-keyed claim twice in the CWT (ignored, but not twice)", func(p *coseParts) {
			// {"x": 1, "x": 2, 169: {4: "X"}}
			p.payload = []byte{0xa3, 0x61, 'x', 0x01, 0x61, 'x', 0x02, 0x18, 0xa9, 0xa1, 0x04, 0x61, 'X'}
		}, StageCWT},
		{"iat twice in the CWT, once non-canonical", func(p *coseParts) {
			// {6: 1, 0x18 0x06: 2, 169: {4: "X"}}
			p.payload = []byte{0xa3, 0x06, 0x01, 0x18, 0x06, 0x02, 0x18, 0xa9, 0xa1, 0x04, 0x61, 'X'}
		}, StageCWT},
		// Built by dupProtected below, signed over the duplicated bytes.
		{"alg twice in the protected header", func(*coseParts) {}, StageCOSE},
	} {
		t.Run(tc.what, func(t *testing.T) {
			p := edParts(t)
			tc.parts(&p)
			var raw []byte
			if tc.stage == StageCOSE {
				raw = dupProtected(t, p)
			} else {
				raw = p.build(t)
			}
			d := &Decoder{Keys: edKeys(t), Now: fixedClock}
			c, err := d.Decode(toText(t, raw))
			if err == nil || c != nil {
				t.Fatalf("decoded: %+v", c)
			}
			assertErr(t, err, tc.stage, ErrMalformed)
			if !strings.Contains(err.Error(), "duplicate") {
				t.Fatalf("error does not say duplicate: %v", err)
			}
			if strings.Contains(err.Error(), "Evil") || strings.Contains(err.Error(), "Test Person") {
				t.Fatalf("error quotes a value: %v", err)
			}
			t.Log(err)
		})
	}
}

// dupProtected builds p with a protected header {1: EdDSA, 1: ES256},
// correctly signed over those bytes.
func dupProtected(t *testing.T, p coseParts) []byte {
	prot := append([]byte{0xa2, 0x01}, mustEnc(t, int64(EdDSA))...)
	prot = append(append(prot, 0x01), mustEnc(t, int64(-7))...)
	tbs := mustEnc(t, []any{"Signature1", prot, []byte{}, p.payload})
	sig := signRaw(t, testEdPriv, tbs)
	return mustEnc(t, cbor.Tag{Number: 18, Content: []any{prot, map[int64]any{}, p.payload, sig}})
}
