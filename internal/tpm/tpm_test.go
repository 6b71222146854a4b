package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

var ctx = context.Background()

func TestOpenRejectsUnknownURLs(t *testing.T) {
	for _, u := range []string{"", "tcp://x", "swtpm://", "swtpm://127.0.0.1", "sim?seed=abc"} {
		if _, err := Open(ctx, u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	_, err := Open(ctx, "swtpm://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "swtpm") {
		t.Errorf("unreachable swtpm: want an error naming swtpm, got %v", err)
	}
}

func TestSimIsSharedAndRefcounted(t *testing.T) {
	a := openSimT(t)
	b, err := Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	// A second handle on the shared simulator can load the first one's key.
	k2, err := b.LoadKey(ctx, k.Blob())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// a still works after b closed.
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatalf("sign after other handle closed: %v", err)
	}
	_ = k2
	if _, err := Open(ctx, "sim?seed=7"); err == nil {
		t.Fatal("opening the simulator with another seed while it runs should fail")
	}
}

func TestSign(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		msg := []byte("edgetrust capture")
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			hh := h.New()
			hh.Write(msg)
			d := hh.Sum(nil)

			ec, err := tp.CreateKey(ctx, ECCP256Sign)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := ec.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), d, sig) {
				t.Fatalf("ECDSA %v signature does not verify", h)
			}
			d2 := append([]byte{}, d...)
			d2[0] ^= 1
			if ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), d2, sig) {
				t.Fatal("ECDSA signature verifies for another digest")
			}
			ec.Close()

			rk, err := tp.CreateKey(ctx, RSA2048Sign)
			if err != nil {
				t.Fatal(err)
			}
			pub := rk.Public().(*rsa.PublicKey)
			if pub.N.BitLen() != 2048 {
				t.Fatalf("RSA key has %d bits", pub.N.BitLen())
			}
			sig, err = rk.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
				t.Fatalf("PKCS#1 v1.5 %v: %v", h, err)
			}
			sig, err = rk.Sign(rand.Reader, d, &rsa.PSSOptions{Hash: h, SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
				t.Fatalf("PSS %v: %v", h, err)
			}
			rk.Close()
		}
	})
}

func TestSignRefusals(t *testing.T) {
	tp := openSimT(t)
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	d1 := make([]byte, 20)
	if _, err := k.Sign(nil, d1, crypto.SHA1); err == nil {
		t.Error("SHA-1 signing was allowed")
	}
	if _, err := k.Sign(nil, make([]byte, 31), crypto.SHA256); err == nil {
		t.Error("short digest was signed")
	}
	dk, err := tp.CreateKey(ctx, RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dk.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Error("a decryption key signed")
	}
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ak.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Error("a restricted attestation key signed outside data")
	}
}

func TestDecrypt(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		k, err := tp.CreateKey(ctx, RSA2048Decrypt)
		if err != nil {
			t.Fatal(err)
		}
		other, err := tp.CreateKey(ctx, RSA2048Decrypt)
		if err != nil {
			t.Fatal(err)
		}
		secret := make([]byte, 32)
		rand.Read(secret)
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		opts := &rsa.OAEPOptions{Hash: crypto.SHA256}
		got, err := k.Decrypt(nil, ct, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatal("decrypted secret differs")
		}
		if _, err := other.Decrypt(nil, ct, opts); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("ciphertext for another key: want ErrDecrypt, got %v", err)
		}
		if _, err := k.Decrypt(nil, ct[:100], opts); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("short ciphertext: want ErrDecrypt, got %v", err)
		}
		//lint:ignore SA1019 checking that the deprecated scheme is refused
		if _, err := k.Decrypt(nil, ct, &rsa.PKCS1v15DecryptOptions{}); err == nil {
			t.Fatal("PKCS#1 v1.5 decryption was allowed")
		}
		if _, err := k.Decrypt(nil, ct, nil); err == nil {
			t.Fatal("nil options (PKCS#1 v1.5 in crypto/rsa) were allowed")
		}
		if _, err := k.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("x")}); err == nil {
			t.Fatal("a label was silently accepted")
		}
	})
}

func TestKeyBlobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "device.key")
	digest := sha256.Sum256([]byte("hello"))

	tp, err := Open(ctx, "sim?seed=42")
	if err != nil {
		t.Fatal(err)
	}
	k, err := tp.LoadOrCreateKey(ctx, path, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	pub1 := k.Public().(*rsa.PublicKey)
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}

	// The simulator is stopped and started again: only the seed persists.
	tp, err = Open(ctx, "sim?seed=42")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	k, err = tp.LoadOrCreateKey(ctx, path, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	if !pub1.Equal(k.Public()) {
		t.Fatal("reloaded key has another public key: a new key was created")
	}
	sig, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub1, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.LoadOrCreateKey(ctx, path, ECCP256Sign); err == nil {
		t.Fatal("a blob of another kind was accepted")
	}
}

func TestKeyBlobFromAnotherTPMFails(t *testing.T) {
	tp, err := Open(ctx, "sim?seed=1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	blob := k.Blob()
	tp.Close()
	tp2 := openSimT(t) // random seed: another TPM
	if _, err := tp2.LoadKey(ctx, blob); err == nil {
		t.Fatal("a blob from another TPM loaded")
	}
	bad := append([]byte{}, blob...)
	bad[len(bad)-1] ^= 0xff
	if _, err := tp2.LoadKey(ctx, bad[:len(bad)-3]); err == nil {
		t.Fatal("a truncated blob loaded")
	}
}

func TestPersistentHandle(t *testing.T) {
	tp := openSimT(t)
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	const h = 0x81000100
	if err := tp.Persist(ctx, k, h); err != nil {
		t.Fatal(err)
	}
	k.Close()
	p, err := tp.LoadPersistent(ctx, h, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(*ecdsa.PublicKey).Equal(p.Public()) {
		t.Fatal("persistent key differs")
	}
	d := sha256.Sum256([]byte("p"))
	sig, err := p.Sign(nil, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("persistent key sign: %v", err)
	}
	if _, err := tp.LoadPersistent(ctx, h, RSA2048Sign); err == nil {
		t.Fatal("persistent key of another kind accepted")
	}
	if err := tp.EvictPersistent(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.LoadPersistent(ctx, h, ECCP256Sign); err == nil {
		t.Fatal("evicted key still loads")
	}
	if err := tp.Persist(ctx, k, 0x80000001); err == nil {
		t.Fatal("a transient handle was accepted as persistent")
	}
}

func TestSealUnseal(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		secret := []byte("record master key, 32 bytes long")
		blob, err := tp.Seal(ctx, secret, []int{PCRDebug, 23})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(blob, secret) {
			t.Fatal("sealed blob contains the secret in clear")
		}
		got, err := tp.Unseal(ctx, blob)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatal("unsealed secret differs")
		}
		if _, err := tp.Measure(ctx, PCRDebug, []byte("something changed")); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Unseal(ctx, blob); !errors.Is(err, ErrPolicy) {
			t.Fatalf("unseal after PCR extend: want ErrPolicy, got %v", err)
		}
		// Without PCRs the secret is bound to the TPM alone.
		blob2, err := tp.Seal(ctx, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tp.Unseal(ctx, blob2); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("unseal without PCRs: %v", err)
		}
	})
}

func TestSealRefusals(t *testing.T) {
	tp := openSimT(t)
	if _, err := tp.Seal(ctx, make([]byte, MaxSealSize+1), nil); err == nil {
		t.Error("oversized secret sealed")
	}
	if _, err := tp.Seal(ctx, nil, nil); err == nil {
		t.Error("empty secret sealed")
	}
	if _, err := tp.Seal(ctx, []byte("x"), []int{24}); err == nil {
		t.Error("PCR 24 accepted")
	}
	blob, err := tp.Seal(ctx, []byte("x"), []int{PCRDebug})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, []byte("ETPMSEAL1"), blob[:len(blob)-1], append(append([]byte{}, blob...), 0)} {
		if _, err := tp.Unseal(ctx, b); err == nil {
			t.Errorf("malformed sealed blob (%d bytes) unsealed", len(b))
		}
	}
}

func TestPCRs(t *testing.T) {
	tp := openSimT(t)
	before, err := tp.ReadPCRs(ctx, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, PCRDebug})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 11 {
		t.Fatalf("read %d PCRs, want 11", len(before))
	}
	d, err := tp.Measure(ctx, PCRDebug, []byte("firmware 1.2"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := tp.ReadPCRs(ctx, []int{PCRDebug})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(before[PCRDebug])
	h.Write(d)
	if !bytes.Equal(after[PCRDebug], h.Sum(nil)) {
		t.Fatal("PCR value after extend is not SHA-256(old || digest)")
	}
	if err := tp.ExtendPCR(ctx, 3, []byte("short")); err == nil {
		t.Error("short digest extended")
	}
	if err := tp.ExtendPCR(ctx, -1, make([]byte, 32)); err == nil {
		t.Error("PCR -1 accepted")
	}
}

func TestQuote(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		ak, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nonce := []byte("fresh nonce from central 0123456")
		pcrs := []int{0, 7, PCRFirmware, PCRDebug}
		q, err := tp.Quote(ctx, ak, pcrs, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyQuote(ak.Public(), q, nonce); err != nil {
			t.Fatalf("good quote: %v", err)
		}
		if err := VerifyQuote(ak.Public(), q, []byte("another nonce")); !errors.Is(err, ErrNonceMismatch) {
			t.Fatalf("wrong nonce: want ErrNonceMismatch, got %v", err)
		}
		forged := *q
		forged.PCRs = map[int][]byte{}
		for k, v := range q.PCRs {
			forged.PCRs[k] = v
		}
		forged.PCRs[PCRFirmware] = make([]byte, 32)
		forged.PCRs[PCRFirmware][0] = 1
		if err := VerifyQuote(ak.Public(), &forged, nonce); !errors.Is(err, ErrPCRMismatch) {
			t.Fatalf("forged PCR values: want ErrPCRMismatch, got %v", err)
		}
		ak2, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyQuote(ak2.Public(), q, nonce); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("other AK: want ErrBadSignature, got %v", err)
		}
		bad := *q
		bad.Attest = append([]byte{}, q.Attest...)
		bad.Attest[len(bad.Attest)-1] ^= 1
		if err := VerifyQuote(ak.Public(), &bad, nonce); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("tampered attest: want ErrBadSignature, got %v", err)
		}
	})
}

func TestCertify(t *testing.T) {
	tp := openSimT(t)
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tp.CreateKey(ctx, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("enrolment nonce")
	proof, err := tp.Certify(ctx, key, ak, nonce)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := VerifyCertify(ak.Public(), proof, key.PublicArea(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*rsa.PublicKey).Equal(pub) {
		t.Fatal("certified public key differs")
	}
	other, err := tp.CreateKey(ctx, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCertify(ak.Public(), proof, other.PublicArea(), nonce); !errors.Is(err, ErrNameMismatch) {
		t.Fatalf("proof for another key: want ErrNameMismatch, got %v", err)
	}
	if _, err := VerifyCertify(ak.Public(), proof, key.PublicArea(), []byte("old")); !errors.Is(err, ErrNonceMismatch) {
		t.Fatalf("replayed proof: want ErrNonceMismatch, got %v", err)
	}
	// A public area that claims to be a software key (not fixedTPM) cannot
	// match the certified Name, and if it did it would be refused.
	pa, _ := tpm2.Unmarshal[tpm2.TPMTPublic](key.PublicArea())
	pa.ObjectAttributes.FixedTPM = false
	if _, err := VerifyCertify(ak.Public(), proof, tpm2.Marshal(*pa), nonce); err == nil {
		t.Fatal("software-key public area accepted")
	}
	// A quote is not a certify proof.
	q, err := tp.Quote(ctx, ak, []int{0}, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCertify(ak.Public(), &q.Attestation, key.PublicArea(), nonce); !errors.Is(err, ErrWrongAttest) {
		t.Fatalf("quote as certify: want ErrWrongAttest, got %v", err)
	}
}

func TestCredentialActivation(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		ek, err := tp.EndorsementKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ak, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		name, _, err := AKName(ak.PublicArea())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(name, ak.Name()) {
			t.Fatal("AKName differs from the TPM's Name")
		}
		secret := []byte("0123456789abcdef0123456789abcdef")
		blob, enc, err := MakeCredential(ek.PublicArea(), name, secret)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.ActivateCredential(ctx, ak, blob, enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatal("activated secret differs")
		}
		// A credential bound to another AK's Name cannot be activated with this AK.
		ak2, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blob2, enc2, err := MakeCredential(ek.PublicArea(), ak2.Name(), secret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.ActivateCredential(ctx, ak, blob2, enc2); err == nil {
			t.Fatal("credential for another AK was activated")
		}
		if _, _, err := AKName(ek.PublicArea()); err == nil {
			t.Fatal("an EK was accepted as an AK")
		}
	})
}

func TestCredentialForAnotherEK(t *testing.T) {
	tp := openSimT(t)
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// An EK public area from another TPM: a fresh RSA key in the EK template.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := tpm2.RSAEKTemplate
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: other.N.Bytes()})
	blob, enc, err := MakeCredential(tpm2.Marshal(tmpl), ak.Name(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.ActivateCredential(ctx, ak, blob, enc); err == nil {
		t.Fatal("credential for another TPM's EK was activated")
	}
}

func TestConcurrentUse(t *testing.T) {
	tp := openSimT(t)
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := sha256.Sum256([]byte{byte(i)})
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				errs <- err
				return
			}
			if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
				errs <- errors.New("bad signature under concurrency")
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestContextCancellation(t *testing.T) {
	tp := openSimT(t)
	k, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	d := sha256.Sum256([]byte("x"))
	if _, err := k.SignContext(c, d[:], crypto.SHA256); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if _, err := tp.CreateKey(c, ECCP256Sign); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestErrorsNameTheResponseCode(t *testing.T) {
	tp := openSimT(t)
	_, err := tp.LoadPersistent(ctx, 0x81000999, ECCP256Sign)
	var te *Error
	if !errors.As(err, &te) || te.RC == 0 {
		t.Fatalf("want *Error with a response code, got %v", err)
	}
	if !errors.Is(err, tpm2.TPMRCHandle) {
		t.Fatalf("want TPM_RC_HANDLE, got %v", err)
	}
	if !strings.Contains(err.Error(), "0x") || !strings.Contains(err.Error(), "HANDLE") {
		t.Fatalf("message does not name the code: %q", err)
	}
}
