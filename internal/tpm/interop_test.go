package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/edgetrust/edgetrust/internal/tpm/swtpmtest"
)

// tpm2Tools runs tpm2-tools commands against a swtpm. Without a resource
// manager every tool leaves its objects loaded, so each is followed by
// tpm2_flushcontext -t, as a resource manager would do.
type tpm2Tools struct {
	t    *testing.T
	tcti string
	dir  string
}

func needTPM2Tools(t *testing.T, s *swtpmtest.Swtpm) *tpm2Tools {
	t.Helper()
	if _, err := exec.LookPath("tpm2_sign"); err != nil {
		if requireSwtpm() {
			t.Fatal("tpm2-tools is not installed but EDGETRUST_REQUIRE_SWTPM=1: apt-get install tpm2-tools")
		}
		t.Skip("tpm2-tools not installed (apt-get install tpm2-tools); skipping the interop test")
	}
	return &tpm2Tools{t: t, tcti: s.TCTI, dir: t.TempDir()}
}

func (x *tpm2Tools) run(args ...string) string {
	x.t.Helper()
	out, err := x.try(args...)
	if err != nil {
		x.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (x *tpm2Tools) try(args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = x.dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+x.tcti)
	out, err := cmd.CombinedOutput()
	fl := exec.Command("tpm2_flushcontext", "-t")
	fl.Env = cmd.Env
	if o, ferr := fl.CombinedOutput(); ferr != nil {
		x.t.Fatalf("tpm2_flushcontext -t: %v\n%s", ferr, o)
	}
	return string(out), err
}

func (x *tpm2Tools) path(name string) string { return filepath.Join(x.dir, name) }

func (x *tpm2Tools) write(name string, b []byte) {
	if err := os.WriteFile(x.path(name), b, 0o600); err != nil {
		x.t.Fatal(err)
	}
}

func pemPublic(t *testing.T, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// A signature made through this package verifies with tpm2_verifysignature.
func TestInteropGoSignsTPM2ToolsVerifies(t *testing.T) {
	s := startSwtpm(t)
	x := needTPM2Tools(t, s)
	msg := []byte("signed by edgetrust through go-tpm")
	d := sha256.Sum256(msg)

	tp := openURL(t, s.URL)
	ec, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	ecSig, err := ec.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := tp.CreateKey(ctx, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	rsaSig, err := rk.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// swtpm serves one client at a time: hand it over to tpm2-tools.
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}

	x.write("msg", msg)
	x.write("ec.pem", pemPublic(t, ec.Public()))
	x.write("ec.sig", ecSig)
	x.write("rsa.pem", pemPublic(t, rk.Public()))
	x.write("rsa.sig", rsaSig)

	x.run("tpm2_loadexternal", "-C", "o", "-G", "ecc", "-u", "ec.pem", "-c", "ec.ctx", "-Q")
	x.run("tpm2_verifysignature", "-c", "ec.ctx", "-g", "sha256", "-m", "msg", "-s", "ec.sig", "-f", "ecdsa", "-t", "ec.tk")
	x.run("tpm2_loadexternal", "-C", "o", "-G", "rsa", "-u", "rsa.pem", "-c", "rsa.ctx", "-Q")
	x.run("tpm2_verifysignature", "-c", "rsa.ctx", "-g", "sha256", "-m", "msg", "-s", "rsa.sig", "-f", "rsassa", "-t", "rsa.tk")

	// And tpm2-tools does reject a signature over other bytes.
	x.write("other", []byte("not what was signed"))
	if out, err := x.try("tpm2_verifysignature", "-c", "rsa.ctx", "-g", "sha256", "-m", "other", "-s", "rsa.sig", "-f", "rsassa", "-t", "bad.tk"); err == nil {
		t.Fatalf("tpm2_verifysignature accepted a signature over other bytes:\n%s", out)
	}
}

// A signature made with tpm2_sign verifies in Go.
func TestInteropTPM2ToolsSignsGoVerifies(t *testing.T) {
	s := startSwtpm(t)
	x := needTPM2Tools(t, s)
	msg := []byte("signed by tpm2-tools")
	x.write("msg", msg)
	d := sha256.Sum256(msg)

	x.run("tpm2_createprimary", "-C", "o", "-c", "prim.ctx", "-Q")
	for _, alg := range []string{"ecc256:ecdsa-sha256", "rsa2048:rsassa-sha256"} {
		name := strings.SplitN(alg, ":", 2)[0]
		x.run("tpm2_create", "-C", "prim.ctx", "-G", alg, "-u", name+".pub", "-r", name+".priv", "-Q")
		x.run("tpm2_load", "-C", "prim.ctx", "-u", name+".pub", "-r", name+".priv", "-c", name+".ctx", "-Q")
		x.run("tpm2_sign", "-c", name+".ctx", "-g", "sha256", "-f", "plain", "-o", name+".sig", "msg")
		x.run("tpm2_readpublic", "-c", name+".ctx", "-f", "pem", "-o", name+".pem", "-Q")

		pemBytes, err := os.ReadFile(x.path(name + ".pem"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(pemBytes)
		if blk == nil {
			t.Fatalf("%s: tpm2_readpublic wrote no PEM", name)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := os.ReadFile(x.path(name + ".sig"))
		if err != nil {
			t.Fatal(err)
		}
		switch p := pub.(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(p, d[:], sig) {
				t.Fatal("tpm2_sign ECDSA signature does not verify in Go")
			}
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], sig); err != nil {
				t.Fatalf("tpm2_sign RSASSA signature does not verify in Go: %v", err)
			}
		default:
			t.Fatalf("unexpected key type %T", pub)
		}
	}
}

// Objects left loaded by a crashed earlier client are flushed at Open, so
// the new client is not starved of the TPM's few object slots.
func TestOpenFlushesStaleHandles(t *testing.T) {
	s := startSwtpm(t)
	a := openURL(t, s.URL)
	for i := 0; i < 3; i++ { // fill every object slot and "crash"
		err := a.do(ctx, func(tp transport.TPM) error {
			_, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tp)
			return err
		})
		if err != nil {
			t.Fatalf("filling slot %d: %v", i, err)
		}
	}
	a.c.retryTransport.inner.(*tcpTransport).Close() // gone without cleaning up

	b := openURL(t, s.URL)
	k, err := b.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatalf("after a crashed client, CreateKey: %v", err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}
