package sbi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignJWSHeaderAndInterop(t *testing.T) {
	p := getPKI(t)
	// Odd spacing, key order and non-ASCII must survive byte for byte.
	payload := []byte(`{"z":1,  "a":"é\u00e9","n":[1,2]}`)
	id := Identity{Signer: opaqueSigner{p.deviceKey}, Chain: p.device.Chain}
	s, err := id.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || strings.ContainsAny(s, "=+/") {
		t.Fatalf("not compact unpadded base64url: %q", s)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	want := `{"alg":"RS256","typ":"JWT","x5c":["` +
		base64.StdEncoding.EncodeToString(p.device.Chain[0].Raw) + `","` +
		base64.StdEncoding.EncodeToString(p.device.Chain[1].Raw) + `"]}`
	if string(hdr) != want {
		t.Errorf("header\n got %s\nwant %s", hdr, want)
	}
	// Independent RS256 check over the ASCII signing input.
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&p.deviceKey.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("RS256 signature does not verify independently: %v", err)
	}
	j, err := ParseJWS(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(j.Payload) != string(payload) {
		t.Errorf("payload changed: %s", j.Payload)
	}
	if j.Header.Alg != "RS256" || j.Header.Typ != "JWT" || len(j.Chain) != 2 || !j.Leaf().Equal(p.device.Chain[0]) {
		t.Errorf("parsed header %+v", j.Header)
	}
	if err := j.VerifySignature(); err != nil {
		t.Error(err)
	}
	if _, err := j.VerifyChain(p.devicePool, testNow); err != nil {
		t.Errorf("chain with intermediate from x5c: %v", err)
	}
	if err := j.CheckValidity(testNow); err != nil {
		t.Error(err)
	}
}

// hand-made JWS signed by key with an arbitrary header, for negative cases.
func handJWS(t testing.TB, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(header))
	pl := base64.RawURLEncoding.EncodeToString([]byte(payload))
	d := sha256.Sum256([]byte(h + "." + pl))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + pl + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestParseJWSRejects(t *testing.T) {
	p := getPKI(t)
	leaf := base64.StdEncoding.EncodeToString(p.device.Chain[0].Raw)
	urlLeaf := base64.RawURLEncoding.EncodeToString(p.device.Chain[0].Raw)
	good := handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["`+leaf+`"]}`, `{}`)
	if _, err := ParseJWS(good); err != nil {
		t.Fatalf("hand-made JWS without typ: %v", err)
	}
	parts := strings.Split(good, ".")
	many := `["` + strings.Repeat(leaf+`","`, MaxX5C) + leaf + `"]`
	cases := []struct {
		name, jws string
		want      error
	}{
		{"two parts", parts[0] + "." + parts[1], ErrJWSFormat},
		{"four parts", good + ".x", ErrJWSFormat},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrJWSFormat},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], ErrJWSFormat},
		{"std base64 payload", parts[0] + ".e30=." + parts[2], ErrJWSFormat},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], ErrJWSFormat},
		{"alg none", handJWS(t, p.deviceKey, `{"alg":"none","x5c":["`+leaf+`"]}`, `{}`), ErrAlgorithm},
		{"alg HS256", handJWS(t, p.deviceKey, `{"alg":"HS256","x5c":["`+leaf+`"]}`, `{}`), ErrAlgorithm},
		{"alg PS256", handJWS(t, p.deviceKey, `{"alg":"PS256","x5c":["`+leaf+`"]}`, `{}`), ErrAlgorithm},
		{"no x5c", handJWS(t, p.deviceKey, `{"alg":"RS256"}`, `{}`), ErrX5C},
		{"x5c string", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":"`+leaf+`"}`, `{}`), ErrX5C},
		{"x5c url-safe", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["`+urlLeaf+`"]}`, `{}`), ErrX5C},
		{"x5c empty", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":[]}`, `{}`), ErrX5C},
		{"x5c too many", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":`+many+`}`, `{}`), ErrX5C},
		{"x5c garbage", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["AAAA"]}`, `{}`), ErrX5C},
		{"x5c huge", handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["`+strings.Repeat("A", 4*MaxCertSize)+`"]}`, `{}`), ErrX5C},
		{"b64 false", handJWS(t, p.deviceKey, `{"alg":"RS256","b64":false,"crit":["b64"],"x5c":["`+leaf+`"]}`, `{}`), ErrJWSFormat},
		{"too large", strings.Repeat("A", MaxJWSSize+1), ErrTooLarge},
	}
	for _, c := range cases {
		if _, err := ParseJWS(c.jws); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestVerifySignatureRejects(t *testing.T) {
	p := getPKI(t)
	s, _ := p.device.Sign([]byte(`{"a":1}`))
	other, _ := p.device.Sign([]byte(`{"a":2}`))
	parts, op := strings.Split(s, "."), strings.Split(other, ".")
	for name, jws := range map[string]string{
		"swapped payload":   parts[0] + "." + op[1] + "." + parts[2],
		"swapped signature": parts[0] + "." + parts[1] + "." + op[2],
		// Leaf in x5c is not the signer: rogue leaf has the device key, so use the FTM chip instead.
		"foreign leaf": handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":["`+base64.StdEncoding.EncodeToString(p.ftm.Chain[0].Raw)+`"]}`, `{}`),
	} {
		j, err := ParseJWS(jws)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := j.VerifySignature(); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyChainAndValidity(t *testing.T) {
	p := getPKI(t)
	parse := func(id Identity) *JWS {
		s, err := id.Sign([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		j, err := ParseJWS(s)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := parse(p.rogue)
	if _, err := j.VerifyChain(p.devicePool, testNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("rogue: %v", err)
	}
	if _, err := parse(p.device).VerifyChain(p.ftmPool, testNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("wrong pool: %v", err)
	}
	if _, err := parse(p.device).VerifyChain(nil, testNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("nil pool: %v", err)
	}
	// Leaf without its intermediate does not chain.
	s, _ := SignJWS(p.deviceKey, p.device.Chain[:1], []byte(`{}`))
	jl, _ := ParseJWS(s)
	if _, err := jl.VerifyChain(p.devicePool, testNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("missing intermediate: %v", err)
	}
	ex := parse(p.expired)
	if err := ex.CheckValidity(testNow); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := ex.VerifyChain(p.devicePool, testNow); err != nil {
		t.Errorf("expired leaf should still chain (reported once, as validity): %v", err)
	}
	if err := parse(p.device).CheckValidity(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("not yet valid: %v", err)
	}
}

func TestSignJWSRejectsKeys(t *testing.T) {
	p := getPKI(t)
	if _, err := SignJWS(p.encKey, p.device.Chain, []byte(`{}`)); !errors.Is(err, ErrKey) {
		t.Errorf("signer/leaf mismatch: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := SignJWS(ec, p.device.Chain, []byte(`{}`)); !errors.Is(err, ErrKey) {
		t.Errorf("ECDSA signer: %v", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallCert := newCert(t, "small", small.Public(), nil, small, false, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	if _, err := SignJWS(small, []*x509.Certificate{smallCert}, []byte(`{}`)); !errors.Is(err, ErrKey) {
		t.Errorf("1024-bit key: %v", err)
	}
	if _, err := SignJWS(p.deviceKey, nil, []byte(`{}`)); !errors.Is(err, ErrKey) {
		t.Errorf("no chain: %v", err)
	}
}

func TestUnsignedForm(t *testing.T) {
	d := DigitalID{SerialNo: "1", Make: "m", Model: "x", Type: TypeFace, DeviceSubType: "Full face",
		DeviceProvider: "p", DeviceProviderID: "pid", DateTime: "2025-03-01T12:00:00Z"}
	u, err := d.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil {
		t.Fatal(err)
	}
	var back DigitalID
	if err := json.Unmarshal(raw, &back); err != nil || back != d {
		t.Fatalf("unsigned round trip: %+v %v", back, err)
	}
	got, jws, err := DecodeDigitalID(u)
	if err != nil || jws != nil || *got != d {
		t.Fatalf("DecodeDigitalID: %+v %v %v", got, jws, err)
	}
	if len(got.Check()) != 0 {
		t.Errorf("valid ID has problems: %v", got.Check())
	}
	if len(u)%4 != 0 {
		if _, err := DecodeUnsigned(u + strings.Repeat("=", 4-len(u)%4)); err != nil {
			t.Errorf("padded unsigned form rejected: %v", err)
		}
	}
	for _, bad := range []string{u + "===", "a.b", "!!!", "a=b"} {
		if _, err := DecodeUnsigned(bad); !errors.Is(err, ErrUnsignedForm) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDigitalIDCheck(t *testing.T) {
	d := DigitalID{Type: TypeIris, DeviceSubType: "Slap", DateTime: "2025-03-01T12:00:00.000Z"}
	errs := d.Check()
	// 5 empty fields, a bad pair, and milliseconds.
	if len(errs) != 7 {
		t.Fatalf("got %d: %v", len(errs), errs)
	}
	if !errors.Is(errs[len(errs)-1], ErrMilliseconds) {
		t.Errorf("last error %v", errs[len(errs)-1])
	}
}

func TestPeek(t *testing.T) {
	p := getPKI(t)
	s, err := p.device.Sign([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := PeekHeader(s)
	if err != nil || h.Alg != "RS256" || h.Typ != "JWT" || len(h.Chain) != 2 || !h.Chain[0].Equal(p.device.Chain[0]) {
		t.Fatalf("PeekHeader: %+v, %v", h, err)
	}
	if b, err := PeekPayload(s); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("PeekPayload: %q, %v", b, err)
	}
	// Any alg is read (ParseJWS refuses it), the x5c rules still hold.
	leaf := base64.StdEncoding.EncodeToString(p.device.Chain[0].Raw)
	ps256 := handJWS(t, p.deviceKey, `{"alg":"PS256","x5c":["`+leaf+`"]}`, `{}`)
	if h, err := PeekHeader(ps256); err != nil || h.Alg != "PS256" || len(h.Chain) != 1 {
		t.Fatalf("PS256: %+v, %v", h, err)
	}
	if _, err := ParseJWS(ps256); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("ParseJWS PS256: %v", err)
	}
	for name, c := range map[string]struct {
		jws  string
		want error
	}{
		"no x5c":    {handJWS(t, p.deviceKey, `{"alg":"RS256"}`, `{}`), ErrX5C},
		"crit":      {handJWS(t, p.deviceKey, `{"alg":"RS256","crit":["x"],"x5c":["`+leaf+`"]}`, `{}`), ErrJWSFormat},
		"two parts": {"a.b", ErrJWSFormat},
		"too large": {strings.Repeat("a", MaxJWSSize+1), ErrTooLarge},
	} {
		if _, err := PeekHeader(c.jws); !errors.Is(err, c.want) {
			t.Errorf("%s: PeekHeader %v, want %v", name, err, c.want)
		}
	}
	if _, err := PeekPayload("e30.e30=.e30"); !errors.Is(err, ErrJWSFormat) {
		t.Errorf("padded payload: %v", err)
	}
}

// TestVerifySignatureOnce: a signature that verified is remembered by its
// bytes; a different signature over the same input, or the same signature
// under another header (another key), is verified afresh and refused.
func TestVerifySignatureOnce(t *testing.T) {
	p := getPKI(t)
	id := Identity{Signer: opaqueSigner{p.deviceKey}, Chain: p.device.Chain}
	s, err := id.Sign([]byte(`{"serialNo":"once"}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		j, err := ParseJWS(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.verifySignatureOnce(); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
	j, _ := ParseJWS(s)
	k := sha256.New()
	k.Write([]byte(j.input))
	k.Write([]byte{0})
	k.Write(j.sig)
	var key [32]byte
	k.Sum(key[:0])
	if !verifiedSigs.has(key) {
		t.Fatal("a verified signature was not remembered")
	}
	// Same input, another signature: not remembered, verified, refused.
	parts := strings.Split(s, ".")
	bad := []byte(parts[2])
	bad[10] ^= 1
	if bad[10] == '.' || bad[10] == '=' {
		bad[10] = 'A'
	}
	jb, err := ParseJWS(parts[0] + "." + parts[1] + "." + string(bad))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := jb.verifySignatureOnce(); !errors.Is(err, ErrSignature) {
			t.Fatalf("pass %d: tampered signature: %v", i, err)
		}
	}
	// The good signature under another device's header (its key).
	other := p.ftm
	so, err := other.Sign([]byte(`{"serialNo":"once"}`))
	if err != nil {
		t.Fatal(err)
	}
	jo, err := ParseJWS(strings.Split(so, ".")[0] + "." + parts[1] + "." + parts[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := jo.verifySignatureOnce(); !errors.Is(err, ErrSignature) {
		t.Fatalf("signature moved under another key's header: %v", err)
	}
}

// TestDecodeDigitalIDCached: the cached decoding equals DecodeDigitalID's, and
// what a caller does to its copy does not reach the next caller.
func TestDecodeDigitalIDCached(t *testing.T) {
	p := getPKI(t)
	payload, _ := json.Marshal(DigitalID{SerialNo: "CACHE1", Make: "m", Model: "x", Type: TypeFinger, DeviceSubType: "Single",
		DeviceProvider: "p", DeviceProviderID: "p1", DateTime: "2026-12-08T00:00:00.000Z"})
	s, err := p.ftm.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	want, wj, err := DecodeDigitalID(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, j, err := decodeDigitalIDCached(s)
		if err != nil {
			t.Fatal(err)
		}
		if *d != *want || string(j.Payload) != string(wj.Payload) || j.input != wj.input || string(j.sig) != string(wj.sig) ||
			len(j.Chain) != len(wj.Chain) || !j.Chain[0].Equal(wj.Chain[0]) || len(j.Header.X5C) != len(wj.Header.X5C) {
			t.Fatalf("pass %d: cached decoding differs", i)
		}
		if err := j.VerifySignature(); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
		// Scribble on the copy.
		d.SerialNo, j.Payload[0], j.Chain[0], j.Header.X5C[0] = "EVIL", 'X', nil, "evil"
	}
	if _, _, err := decodeDigitalIDCached("not.a.jws"); err == nil {
		t.Fatal("a malformed digital ID decoded")
	}
}
