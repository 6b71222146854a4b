package claim169

import (
	"compress/zlib"
	"crypto/ed25519"
	"testing"
)

// BenchmarkVerifyPipeline decodes the idpass ed25519-signed vector end to
// end: Base45, inflate, COSE parse, Ed25519 verify, CWT, claim 169, time.
// Compare with BenchmarkEd25519VerifyBare, the signature check alone.
func BenchmarkVerifyPipeline(b *testing.B) {
	v := loadVectors(b)["ed25519-signed"]
	d := v.decoder(b, false)
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.Decode(v.QRData)
		if err != nil || !c.Verified {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519VerifyBare is ed25519.Verify of the same signature over
// the same Sig_structure as BenchmarkVerifyPipeline.
func BenchmarkEd25519VerifyBare(b *testing.B) {
	v := loadVectors(b)["ed25519-signed"]
	s, err := parseSign1(coseBytes(b, v.QRData)[1:])
	if err != nil {
		b.Fatal(err)
	}
	tbs, err := encMode.Marshal([]any{"Signature1", s.hdr.protContent, []byte{}, s.payload})
	if err != nil {
		b.Fatal(err)
	}
	pub := ed25519.PublicKey(mustHex(b, v.SigningKey.PublicKeyHex))
	if !ed25519.Verify(pub, tbs, s.signature) {
		b.Fatal("bare verify failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, tbs, s.signature) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkIssueEd25519 issues the ed25519-signed vector's claims to QR
// text (CBOR, COSE_Sign1, zlib, Base45) with default options.
func BenchmarkIssueEd25519(b *testing.B) { benchIssue(b, nil) }

// BenchmarkIssueEd25519Zlib6 is the same at zlib.DefaultCompression, the
// reference implementation's level.
func BenchmarkIssueEd25519Zlib6(b *testing.B) {
	benchIssue(b, &IssuerOptions{CompressionLevel: zlib.DefaultCompression})
}

func benchIssue(b *testing.B, opts *IssuerOptions) {
	v := loadVectors(b)["ed25519-signed"]
	c, err := v.decoder(b, false).Decode(v.QRData)
	if err != nil {
		b.Fatal(err)
	}
	is, err := NewIssuer(ed25519.NewKeyFromSeed(mustHex(b, v.SigningKey.PrivateKeyHex)), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Issue(&c.Claims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519SignBare is ed25519.Sign over the same Sig_structure as
// BenchmarkIssueEd25519 signs: the floor issuance is measured against.
func BenchmarkEd25519SignBare(b *testing.B) {
	v := loadVectors(b)["ed25519-signed"]
	s, err := parseSign1(coseBytes(b, v.QRData)[1:])
	if err != nil {
		b.Fatal(err)
	}
	tbs := sigStructure(s.hdr.protContent, s.payload)
	priv := ed25519.NewKeyFromSeed(mustHex(b, v.SigningKey.PrivateKeyHex))
	b.ReportAllocs()
	for b.Loop() {
		if sig := ed25519.Sign(priv, tbs); len(sig) != ed25519.SignatureSize {
			b.Fatal("short signature")
		}
	}
}
