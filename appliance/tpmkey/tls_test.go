package tpmkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/internal/tpm/swtpmtest"
)

// TestTLSKeyInTPM, on the simulator and on swtpm: a fresh TLS key is
// made in the TPM with the non-exportable attributes, a CA certifies it,
// a TLS 1.3 handshake with it succeeds both as server and as client, the
// saved blob loads again as the same key, and nothing under the state
// directory is a PEM private key.
func TestTLSKeyInTPM(t *testing.T) {
	t.Run("sim", func(t *testing.T) {
		dir := t.TempDir()
		u, err := DevSimURL(dir)
		if err != nil {
			t.Fatal(err)
		}
		tlsKeyInTPM(t, u, dir)
	})
	t.Run("swtpm", func(t *testing.T) {
		s := swtpmtest.Start(t) // skips without swtpm unless EDGETRUST_REQUIRE_SWTPM=1
		tlsKeyInTPM(t, s.URL, t.TempDir())
	})
}

func tlsKeyInTPM(t *testing.T, tpmURL, dir string) {
	ctx := context.Background()
	k, err := Open(ctx, tpmURL, dir, "edge-tls", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.TLSKey(ctx, dir, TLSKeyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a TLS key before one was made: %v", err)
	}
	key, err := k.NewTLSKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if key.Kind() != tpm.ECCP256Sign {
		t.Fatalf("TLS key kind %s", key.Kind())
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](key.PublicArea())
	if err != nil {
		t.Fatal(err)
	}
	a := pub.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || a.Decrypt || !a.SignEncrypt {
		t.Fatalf("TLS key attributes %+v: want fixedTPM|fixedParent|sensitiveDataOrigin, signing only", a)
	}
	if ek, ok := key.Public().(*ecdsa.PublicKey); !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("TLS key is %T, want ECDSA P-256", key.Public())
	}
	if err := SaveTLSKey(dir, TLSKeyFile, key); err != nil {
		t.Fatal(err)
	}
	again, err := k.TLSKey(ctx, dir, TLSKeyFile)
	if err != nil || !pki.SameKey(again.Public(), key.Public()) {
		t.Fatalf("the saved TLS key does not load as the same key: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, TLSKeyFile)); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("TLS key blob mode: %v", fi)
	}

	// A CA (software; central's in production) certifies the TPM key.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := pki.SelfSigned(caKey, pki.Profile{Subject: pkix.Name{CommonName: "test TLS root"}, Validity: 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(again.Public(), pki.Profile{Subject: pkix.Name{CommonName: "appliance edge-tls"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: again, Leaf: leaf}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			served <- err
			return
		}
		if n := len(tc.ConnectionState().PeerCertificates); n != 1 {
			served <- errors.New("no client certificate")
			return
		}
		_, err = tc.Write([]byte("ok"))
		served <- err
	}()
	// The client presents the same TPM key: the appliance's calls to central.
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatalf("TLS handshake with the TPM key: %v", err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if err := <-served; err != nil || string(b) != "ok" {
		t.Fatalf("server side: %v %q", err, b)
	}
	if st := c.ConnectionState(); st.Version != tls.VersionTLS13 || !st.PeerCertificates[0].Equal(leaf) {
		t.Fatal("the handshake did not present the TPM key's certificate over TLS 1.3")
	}
	noPEMPrivateKey(t, dir)
}

// noPEMPrivateKey fails if any file under dir holds a PEM private key.
func noPEMPrivateKey(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
			t.Errorf("%s holds a PEM private key", p)
		}
		return nil
	})
}
