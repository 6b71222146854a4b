package claim169_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
)

// Issue a credential, then decode and verify it as a reader would.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)

	issuer, err := claim169.NewIssuer(priv, &claim169.IssuerOptions{KeyID: []byte("k-2026")})
	if err != nil {
		panic(err)
	}
	text, err := issuer.Issue(&claim169.Claims{
		Issuer:    "https://id.example.org",
		ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IssuedAt:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Identity: claim169.Identity{
			ID:       "3918592438",
			FullName: "Janardhan BS",
			Gender:   claim169.GenderMale,
		},
	})
	if err != nil {
		panic(err)
	}

	// The reader trusts one key, looked up by kid.
	var keys claim169.KeySet
	if err := keys.Add([]byte("k-2026"), pub); err != nil {
		panic(err)
	}
	d := claim169.Decoder{
		Keys: &keys,
		Now:  func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) },
	}
	cred, err := d.Decode(text)
	if err != nil {
		panic(err)
	}
	fmt.Println(cred.Verified, cred.Algorithm, cred.Identity.FullName, cred.Identity.Gender)

	// The same text after expiry.
	d.Now = func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }
	_, err = d.Decode(text)
	var e *claim169.Error
	fmt.Println(errors.Is(err, claim169.ErrExpired), errors.As(err, &e) && e.Stage == claim169.StageTime)
	// Output:
	// true EdDSA Janardhan BS Male
	// true true
}

// Decode one of the idpass test vectors, signed with the RFC 8032 test key.
func ExampleDecoder_Decode() {
	const text = "6BF590B20FFWJWG.FKJ05H7B0XKA8FA9DIWENPEJ/5P$DPQE88EB$CBECP9ERZC04E21DDF3/E96007F3ORAO001KL580 B9%W5*B9C+9%R8646%86HKESED1/DRTC5UA QE$345$CVQEX.DX88WBK0NG8PB4 O/38TL6XDALLKLPQATHO.3ZPJMUAVQFSB1:+B*21V FWMC6SU439YU774475LJ2U5T02$VBSIMLQ3:6J.E1-1STM$4"
	pub := ed25519.PublicKey{
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
		0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
	}
	var keys claim169.KeySet
	keys.Add(nil, pub) // the vector carries no kid

	d := claim169.Decoder{Keys: &keys, Now: func() time.Time { return time.Unix(1760000000, 0) }}
	cred, err := d.Decode(text)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cred.Verified, cred.Issuer, cred.Identity.ID, cred.Identity.FullName)
	// Output: true https://mosip.example.org ID-SIGNED-001 Signed Test Person
}
