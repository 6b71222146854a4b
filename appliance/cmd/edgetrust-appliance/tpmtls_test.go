package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// startFakeCentral is central's TLS CA behind an mTLS listener (the
// network boundary to central; central/tlsca has its own tests).
func startFakeCentral(t *testing.T) (*fakeCentral, *httptest.Server, *pki.CA) {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, err := pki.SelfSigned(rk, pki.Profile{Subject: pkix.Name{CommonName: "test TLS root"}, Validity: 365 * 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sc, _ := root.Issue(sk.Public(), pki.Profile{Subject: pkix.Name{CommonName: "central"}, Validity: time.Hour,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, time.Now())
	fc := &fakeCentral{ca: root}
	srv := httptest.NewUnstartedServer(fc)
	srv.TLS = tlsx.ServerConfig(tlsx.ServerOptions{ClientCAs: []*x509.Certificate{root.Cert}})
	srv.TLS.Certificates = []tls.Certificate{{Certificate: [][]byte{sc.Raw, root.Cert.Raw}, PrivateKey: sk}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return fc, srv, root
}

// TestTPMTLSKey: an appliance whose state holds the software TLS key of
// an older version moves to a TPM key on its next renewal and deletes the
// file; the key is then a TPM key with the non-exportable attributes,
// serve's TLS set-up loads it, a handshake with it succeeds, and no PEM
// private key is left anywhere under the state directory.
func TestTPMTLSKey(t *testing.T) {
	ctx := t.Context()
	_, srv, root := startFakeCentral(t)
	state := t.TempDir()
	u, err := tpmkey.DevSimURL(state)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tpmkey.Open(ctx, u, state, "edge-1", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	trust := tlsx.ClientOptions{Roots: []*x509.Certificate{root.Cert}}
	plain, err := centralClient(trust, nil, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // the fake central checks only that a signature is there

	// An older version: a software key file.
	old, err := requestCert(ctx, plain, srv.URL, state, "EDGE-1", []string{"127.0.0.1"}, proof, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, soft, err := loadApplianceCert(ctx, state, keys); err != nil || !soft {
		t.Fatalf("the older version's software key: soft=%v %v", soft, err)
	}

	// The next renewal (over mutual TLS with the old certificate) makes the key in the TPM.
	r := &tlsx.Renewer{Name: "appliance", Log: slog.New(slog.DiscardHandler)}
	if err := r.Set(old); err != nil {
		t.Fatal(err)
	}
	mtls, _ := centralClient(trust, r, 10*time.Second, 0)
	renewed, err := requestCert(ctx, mtls, srv.URL, state, "EDGE-1", []string{"127.0.0.1"}, nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(state, keyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the software key file survived the move to the TPM: %v", err)
	}
	tk, ok := renewed.PrivateKey.(*tpm.Key)
	if !ok {
		t.Fatalf("the renewed certificate's key is %T, not a TPM key", renewed.PrivateKey)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](tk.PublicArea())
	if err != nil {
		t.Fatal(err)
	}
	if a := pub.ObjectAttributes; !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		t.Fatalf("TLS key attributes %+v: exportable", a)
	}
	loaded, soft, err := loadApplianceCert(ctx, state, keys)
	if err != nil || soft || !loaded.Leaf.Equal(renewed.Leaf) {
		t.Fatalf("reload after the move: soft=%v %v", soft, err)
	}
	if _, ok := loaded.PrivateKey.(*tpm.Key); !ok {
		t.Fatalf("reloaded key is %T", loaded.PrivateKey)
	}

	// serve's TLS set-up with the TPM: the TPM key's certificate is served.
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(rootFile, pki.CertPEM(root.Cert), 0o644)
	at, err := setupTLS(ctx, tlsSetup{state: state, central: srv.URL, id: "EDGE-1", caFile: rootFile, names: []string{"127.0.0.1"},
		log: slog.New(slog.DiscardHandler), keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if at.renewer == nil {
		t.Fatal("setupTLS fell back to a self-signed certificate")
	}
	conf := at.server.Clone()
	conf.ClientAuth = tls.NoClientCert
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("handshake with the TPM-held server key: %v", err)
	}
	if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(renewed.Leaf) {
		t.Fatal("the server presented another certificate than the TPM key's")
	}
	c.Close()

	// Before enrolment the self-signed certificate's key is a TPM key too.
	self, err := selfSigned(ctx, state, []string{"127.0.0.1"}, time.Now(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := self.PrivateKey.(*tpm.Key); !ok {
		t.Fatalf("self-signed key is %T", self.PrivateKey)
	}
	again, err := selfSigned(ctx, state, []string{"127.0.0.1"}, time.Now(), keys)
	if err != nil || !again.Leaf.Equal(self.Leaf) {
		t.Fatalf("the TPM self-signed certificate changed across restarts: %v", err)
	}
	noPEMPrivateKey(t, state)
}

func noPEMPrivateKey(t *testing.T, dir string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
			t.Errorf("%s holds a PEM private key", strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if n == 0 {
		t.Fatal("the state directory is empty: nothing checked")
	}
}
