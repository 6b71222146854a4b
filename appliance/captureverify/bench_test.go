package captureverify_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
)

// benchBody is a verification request body for one fresh capture.
func benchBody(b *testing.B, f *fixture, req *sbi.CaptureRequest) []byte {
	raw := f.ag.Capture(b, req)
	body, _ := json.Marshal(captureverify.Request{TransactionID: req.TransactionID, Response: raw})
	return body
}

// run verifies body b.N times on all cores (parse + verify, as the API
// handler does), failing on any result other than want.
func run(b *testing.B, v *captureverify.Verifier, body []byte, want bool) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := captureverify.ParseRequest(body)
			if err != nil {
				b.Error(err)
				return
			}
			r, err := v.Verify(p)
			if err != nil || r.Valid != want {
				b.Errorf("valid %v, want %v: %q %v", r.Valid, want, r.Reasons, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	// CPU time per verification, robust to other load on the machine:
	// 2 cores give 2e6/cpu-µs verifications per second.
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerify measures capture verification at the appliance with real
// agent captures (one finger, TPM-signed, RS256): the trust registry's
// checks plus every sbi check. The sub-benchmarks separate the cost of
// unwrapping the bioValue session key (RSA-OAEP), which auth captures need
// for the hash chain and which no signature check can avoid.
//
//	go test -run '^$' -bench BenchmarkVerify -benchtime 3s ./appliance/captureverify/
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	const long = time.Hour // captures are reused for the whole run

	// Bodies are made once, before timing.
	reg := agenttest.RegRequest(fingerReg, sbi.TypeFinger, 1, 1)
	reg.Bio[0].Exception = []string{"Left MiddleFinger", "Left RingFinger", "Left LittleFinger"}
	regBody := benchBody(b, f, reg)
	auth := agenttest.AuthRequest(fingerAuth, sbi.TypeFinger, 1)
	authBody := benchBody(b, f, auth)
	// An auth capture encrypted to a software RSA key (no TPM round trip),
	// from a second agent with its own device.
	soft, softCert := softKey(b)
	p := filepath.Join(b.TempDir(), "soft.pem")
	os.WriteFile(p, pki.CertPEM(softCert), 0o644)
	dc := agenttest.Devices()[0]
	dc.ID = "TFS000000001"
	sf := *f
	sf.ag = agenttest.Start(b, f.vendor, p, dc)
	sf.enrol(dc.ID, "active")
	softReq := agenttest.AuthRequest(dc.ID, sbi.TypeFinger, 1)
	softBody := benchBody(b, &sf, softReq)

	b.Run("registration-finger-1", func(b *testing.B) {
		// RCAPTURE of one finger: signatures, chains, registry, hash chain over the plain ISO record.
		run(b, &captureverify.Verifier{Trust: f.reg, MaxAge: long}, regBody, true)
	})
	b.Run("auth-finger-1-no-key", func(b *testing.B) {
		// Everything but the session-key unwrap (the answer is invalid:
		// hash-not-verified): the signature- and chain-bound part.
		run(b, &captureverify.Verifier{Trust: f.reg, MaxAge: long}, authBody, false)
	})
	b.Run("auth-finger-1-software-oaep", func(b *testing.B) {
		run(b, &captureverify.Verifier{Trust: f.reg, MaxAge: long, Keys: []sbi.DecryptionKey{{Cert: softCert, Key: soft}}}, softBody, true)
	})
	b.Run("auth-finger-1-tpm-sim-oaep", func(b *testing.B) {
		run(b, &captureverify.Verifier{Trust: f.reg, MaxAge: long, Keys: f.v.Keys}, authBody, true)
	})
}

func softKey(b *testing.B) (*rsa.PrivateKey, *x509.Certificate) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "software key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return k, c
}

// BenchmarkOAEPBare is the RSA-2048 private operation an auth capture's
// session-key unwrap costs (RSA-OAEP-SHA256 of a 32-byte key, software
// key): the floor for auth-finger-1-software-oaep minus
// auth-finger-1-no-key. Compare CPU time in the same run.
func BenchmarkOAEPBare(b *testing.B) {
	k, _ := softKey(b)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, make([]byte, 32), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
