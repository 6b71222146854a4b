package claim169

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/base45"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// TestPixelpassDecodesWhatWeIssue: MOSIP's own JS codec reads every QR we
// issue — each vector's claims re-issued at every compression setting,
// with Ed25519 and ES256, plus photo-sized payloads — and inflates exactly
// the COSE bytes we signed. Before compress chose a fixed-Huffman block
// over a stored one, pixelpass threw on most of them ("input.subarray is
// not a function").
func TestPixelpassDecodesWhatWeIssue(t *testing.T) {
	dir, _ := filepath.Abs("testdata/pixelpass")
	node := testtool.Node(t, dir, "@mosip/pixelpass", "npm ci --ignore-scripts --prefix claim169/testdata/pixelpass")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	var texts []string
	var want [][]byte
	var stored int
	issue := func(is *Issuer, c *Claims) {
		t.Helper()
		signed, err := is.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		z, err := compress(signed, is.level)
		if err != nil {
			t.Fatal(err)
		}
		if storedFirst(z) {
			stored++
		}
		texts = append(texts, base45.EncodeToString(z))
		want = append(want, signed)
	}
	for _, v := range loadVectors(t) {
		c, err := v.decoder(t, true).Decode(v.QRData)
		if err != nil {
			continue // the vectors that must fail to decode
		}
		for _, level := range []int{0, -1, 1, 6, 9} {
			for _, key := range []crypto.Signer{ed, ec} {
				is, err := NewIssuer(key, &IssuerOptions{CompressionLevel: level})
				if err != nil {
					t.Fatal(err)
				}
				issue(is, &c.Claims)
			}
		}
	}
	// Photo-sized payloads: random bytes do not compress at all.
	for _, n := range []int{0, 100, 700, 1500} {
		photo := make([]byte, n)
		rand.Read(photo)
		is, _ := NewIssuer(ed, nil)
		issue(is, &Claims{Identity: Identity{ID: "3918592438", FullName: "Janardhan BS", Photo: photo}})
	}
	if len(texts) < 20 {
		t.Fatalf("only %d QR texts issued; the vectors did not load", len(texts))
	}
	if stored != 0 {
		t.Errorf("%d of %d streams open with a stored block", stored, len(texts))
	}
	cmd := exec.Command(node, "decode.js")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(texts, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node decode.js: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("pixelpass answered %d lines for %d QR texts", len(lines), len(texts))
	}
	for i, l := range lines {
		got, ok := strings.CutPrefix(l, "ok ")
		if !ok {
			t.Errorf("QR %d (%d chars): pixelpass: %s", i, len(texts[i]), l)
			continue
		}
		if b, _ := hex.DecodeString(got); !bytes.Equal(b, want[i]) {
			t.Errorf("QR %d: pixelpass inflated other bytes than we signed", i)
		}
	}
	t.Logf("pixelpass decoded %d QR texts", len(texts))
}
