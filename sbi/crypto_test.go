package sbi

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Spec digest §4.4 worked example.
func TestHashChainWorkedExample(t *testing.T) {
	c, err := NewHashChain("")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Current(); got != "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" {
		t.Fatalf("seed %s", got)
	}
	h1 := c.Next(unhex(t, "4649520030323000"))
	if h1 != "3C997DDAEBD6E5A8814EC253A8B913A63DBFC0A77246FEFE55512296E94E8904" {
		t.Fatalf("hash1 %s", h1)
	}
	h2 := c.Next(unhex(t, "010203"))
	if h2 != "33BD1D7A632FB977E9B5BA7275FB3F6A81E4D93BA9A7C29858A8901885AD0810" {
		t.Fatalf("hash2 %s", h2)
	}
	// Passing the last hash as previousHash continues the chain (§9 check 26),
	// in either hex case.
	for _, prev := range []string{h1, strings.ToLower(h1)} {
		c2, err := NewHashChain(prev)
		if err != nil {
			t.Fatal(err)
		}
		if got := c2.Next(unhex(t, "010203")); got != h2 {
			t.Errorf("continued chain %s", got)
		}
	}
	// Explicit SHA-256("") seed equals the empty seed.
	c3, _ := NewHashChain("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	if c3.Next(unhex(t, "4649520030323000")) != h1 {
		t.Error("explicit seed differs from empty seed")
	}
}

func TestHashChainRejects(t *testing.T) {
	for _, p := range []string{"abc", strings.Repeat("G", 64), strings.Repeat("A", 63), strings.Repeat("A", 66)} {
		if _, err := NewHashChain(p); !errors.Is(err, ErrPreviousHash) {
			t.Errorf("%q: %v", p, err)
		}
	}
	c, _ := NewHashChain("")
	if c.Skip("zz") {
		t.Error("Skip accepted bad hex")
	}
}

// Spec digest §5 worked vectors.
func TestDeriveIVAADWorkedExample(t *testing.T) {
	iv, aad, err := DeriveIVAAD("2024-01-15T10:20:30Z", "abcd-1234")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(aad)); got != "2D30312D313554505259561D0B01036E" {
		t.Errorf("AAD %s", got)
	}
	if got := strings.ToUpper(hex.EncodeToString(iv)); got != "313554505259561D0B01036E" {
		t.Errorf("IV %s", got)
	}
	iv, aad, err = DeriveIVAAD("2024-01-15T10:20:30Z", "0123456789abcdef0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(aad)); got != "4C52524954536400020906050C040863" {
		t.Errorf("long AAD %s", got)
	}
	if got := strings.ToUpper(hex.EncodeToString(iv)); got != "54536400020906050C040863" {
		t.Errorf("long IV %s", got)
	}
	if _, _, err := DeriveIVAAD("short", "tx"); !errors.Is(err, ErrDerivation) {
		t.Errorf("short input: %v", err)
	}
}

func TestSealWorkedExample(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	ct, err := sealBioValue(key, unhex(t, "4649520030323000"), "2024-01-15T10:20:30Z", "abcd-1234")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(ct)); got != "9DA62461CCB6A3B5653E7D5A4F3FAE10E37D67941022DC0B" {
		t.Errorf("C %s", got)
	}
	if got := b64.EncodeToString(ct); got != "naYkYcy2o7VlPn1aTz-uEON9Z5QQItwL" {
		t.Errorf("bioValue %s", got)
	}
	pt, err := openBioValue(key, ct, "2024-01-15T10:20:30Z", "abcd-1234")
	if err != nil || !bytes.Equal(pt, unhex(t, "4649520030323000")) {
		t.Errorf("open: %x %v", pt, err)
	}
}

func TestBioValueRoundTrip(t *testing.T) {
	p := getPKI(t)
	iso := readISO(t, "auth_left_index.iso")
	ts, tx := "2025-03-01T12:00:00Z", "tx-0001"
	bv, sk, err := EncryptBioValue(p.encCert, iso, ts, tx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(bv+sk, "=+/") {
		t.Error("not unpadded base64url")
	}
	got, err := DecryptBioValue(opaqueDecrypter{p.encKey}, bv, sk, ts, tx)
	if err != nil || !bytes.Equal(got, iso) {
		t.Fatalf("round trip: %v", err)
	}
	// The session key is OAEP with SHA-256 and MGF1-SHA-256: it unwraps with
	// those parameters to 32 bytes and not with the SunJCE MGF1-SHA-1 default.
	wrapped, _ := b64.DecodeString(sk)
	k, err := p.encKey.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
	if err != nil || len(k) != 32 {
		t.Fatalf("OAEP-SHA256/MGF1-SHA256 unwrap: %d bytes, %v", len(k), err)
	}
	if _, err := p.encKey.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}); err == nil {
		t.Error("unwrapped with MGF1-SHA1")
	}
	// Two encryptions use different session keys.
	bv2, sk2, _ := EncryptBioValue(p.encCert, iso, ts, tx)
	if bv2 == bv || sk2 == sk {
		t.Error("session key reused")
	}

	cases := []struct {
		name           string
		dec            crypto.Decrypter
		bv, sk, ts, tx string
		want           error
	}{
		{"other key", p.otherEncKey, bv, sk, ts, tx, ErrSessionKey},
		{"other timestamp", p.encKey, bv, sk, "2025-03-01T12:00:01Z", tx, ErrDecrypt},
		{"other transaction", p.encKey, bv, sk, ts, "tx-0002", ErrDecrypt},
		{"tampered", p.encKey, flipFirst(bv), sk, ts, tx, ErrDecrypt},
		{"bad base64 key", p.encKey, bv, "!!", ts, tx, ErrSessionKey},
		{"padded bioValue", p.encKey, bv + "=", sk, ts, tx, ErrDecrypt},
	}
	for _, c := range cases {
		if _, err := DecryptBioValue(c.dec, c.bv, c.sk, c.ts, c.tx); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
	// A wrapped key of the wrong length is refused.
	short, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &p.encKey.PublicKey, make([]byte, 16), nil)
	if _, err := DecryptBioValue(p.encKey, bv, b64.EncodeToString(short), ts, tx); !errors.Is(err, ErrSessionKey) {
		t.Errorf("16-byte session key: %v", err)
	}
}

func TestThumbprint(t *testing.T) {
	p := getPKI(t)
	tp := Thumbprint(p.encCert)
	if !regexp.MustCompile(`^[A-Z0-9]{64}$`).MatchString(tp) {
		t.Fatalf("thumbprint %q", tp)
	}
	d := sha256.Sum256(p.encCert.Raw)
	if !strings.EqualFold(tp, hex.EncodeToString(d[:])) {
		t.Error("thumbprint is not SHA-256 of the DER")
	}
	if Thumbprint(p.otherEncCert) == tp {
		t.Error("thumbprints collide")
	}
}

// flipFirst changes the first character of a base64url string.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
