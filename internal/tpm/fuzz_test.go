package tpm

import (
	"testing"
)

// Key and sealed blobs come from files an attacker with disk access may
// have edited: their parsers must fail cleanly on any input.
func FuzzDecodeBlob(f *testing.F) {
	tp := openSimT(f)
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Blob())
	f.Add([]byte(blobMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, pub, priv, err := decodeBlob(b)
		if err != nil {
			return
		}
		if pub == nil || priv == nil || kind == 0 {
			t.Fatal("decoded blob without parts")
		}
		// What decodes must re-encode to the same bytes.
		if got := encodeBlob(kind, *pub, *priv); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeSealed(f *testing.F) {
	tp := openSimT(f)
	s, err := tp.Seal(ctx, []byte("secret"), []int{PCRDebug})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s)
	f.Add([]byte(sealMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcrs, _, _, err := decodeSealed(b)
		if err != nil {
			return
		}
		if len(pcrs) > NumPCRs {
			t.Fatal("too many PCRs accepted")
		}
	})
}
