package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// Benchmarks run each operation on the in-process simulator, on it under
// the discrete-chip cost model, on a real swtpm over loopback, and in software with Go's crypto as the baseline, in
// one run so the ratios in docs/performance.md come from the same machine
// state. Compare runs with benchstat.

func benchBackends(b *testing.B, f func(b *testing.B, tp *TPM)) {
	b.Run("backend=sim", func(b *testing.B) { f(b, openSimT(b)) })
	// The simulator as slow as a discrete chip (cost.go): what a deployment
	// sees. Key creation in setup is charged too (RSA keygen: seconds).
	b.Run("backend=sim-discrete", func(b *testing.B) { f(b, openURL(b, "sim?cost=discrete")) })
	b.Run("backend=swtpm", func(b *testing.B) {
		s := startSwtpm(b)
		tp, err := Open(ctx, s.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer tp.Close()
		f(b, tp)
	})
}

func BenchmarkSignP256(b *testing.B) {
	d := sha256.Sum256([]byte("capture"))
	benchBackends(b, func(b *testing.B, tp *TPM) {
		k, err := tp.CreateKey(ctx, ECCP256Sign)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend=software", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for i := 0; i < b.N; i++ {
			if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSignRSA2048(b *testing.B) {
	d := sha256.Sum256([]byte("capture"))
	benchBackends(b, func(b *testing.B, tp *TPM) {
		k, err := tp.CreateKey(ctx, RSA2048Sign)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend=software", func(b *testing.B) {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		for i := 0; i < b.N; i++ {
			if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecryptOAEP(b *testing.B) {
	secret := make([]byte, 32)
	opts := &rsa.OAEPOptions{Hash: crypto.SHA256}
	benchBackends(b, func(b *testing.B, tp *TPM) {
		k, err := tp.CreateKey(ctx, RSA2048Decrypt)
		if err != nil {
			b.Fatal(err)
		}
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), secret, nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := k.Decrypt(nil, ct, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend=software", func(b *testing.B) {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, secret, nil)
		for i := 0; i < b.N; i++ {
			if _, err := k.Decrypt(nil, ct, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSealUnseal(b *testing.B) {
	secret := make([]byte, 32)
	benchBackends(b, func(b *testing.B, tp *TPM) {
		for i := 0; i < b.N; i++ {
			blob, err := tp.Seal(ctx, secret, []int{PCRDebug})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tp.Unseal(ctx, blob); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkQuote(b *testing.B) {
	nonce := make([]byte, 32)
	benchBackends(b, func(b *testing.B, tp *TPM) {
		ak, err := tp.CreateAK(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := tp.Quote(ctx, ak, []int{0, 7, PCRFirmware}, nonce); err != nil {
				b.Fatal(err)
			}
		}
	})
}
