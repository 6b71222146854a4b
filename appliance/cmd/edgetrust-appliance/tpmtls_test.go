package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

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

// TestApplianceRenewalClock: with the renewal clock injected, serve's TLS
// set-up renews the TPM-held certificate over mutual TLS at 2/3 of its
// life with a fresh TPM key, while a client connection opened before
// stays up; new handshakes get the new certificate; the expiry gauge
// follows; and past the end with renewals failing nothing is served.
func TestApplianceRenewalClock(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fc, srv, root := startFakeCentral(t)
	state := t.TempDir()
	u, _ := tpmkey.DevSimURL(state)
	keys, err := tpmkey.Open(ctx, u, state, "edge-1", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	plain, _ := centralClient(tlsx.ClientOptions{Roots: []*x509.Certificate{root.Cert}}, nil, 10*time.Second, 0)
	proof, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	first, err := requestCert(ctx, plain, srv.URL, state, "EDGE-1", []string{"127.0.0.1"}, proof, keys)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	slept := make(chan time.Duration, 10)
	wake := make(chan struct{})
	sleep := func(ctx context.Context, d time.Duration) error {
		slept <- d
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
		return nil
	}
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(rootFile, pki.CertPEM(root.Cert), 0o644)
	at, err := setupTLS(ctx, tlsSetup{state: state, central: srv.URL, id: "EDGE-1", caFile: rootFile, names: []string{"127.0.0.1"},
		log: slog.New(slog.DiscardHandler), keys: keys, now: clock, sleep: sleep})
	if err != nil {
		t.Fatal(err)
	}
	gauge := at.expiryGauge(clock)
	conf := at.server.Clone()
	conf.ClientAuth = tls.NoClientCert
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(ln)
	defer hs.Close()
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	var seen []string
	var smu sync.Mutex
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			smu.Lock()
			seen = append(seen, cs.PeerCertificates[0].SerialNumber.String())
			smu.Unlock()
			return nil
		}}}}
	get := func() error {
		rsp, err := client.Get("https://" + ln.Addr().String())
		if err != nil {
			return err
		}
		io.Copy(io.Discard, rsp.Body)
		return rsp.Body.Close()
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	life := first.Leaf.NotAfter.Sub(first.Leaf.NotBefore)
	if d := <-slept; d < life*2/3-time.Hour || d > life*3/4 {
		t.Fatalf("renewal scheduled after %v of a %v certificate, want about 2/3", d, life)
	}
	if g := gaugeValue(t, gauge); g < (29 * 24 * time.Hour).Seconds() {
		t.Fatalf("expiry gauge %v s before renewal", g)
	}
	wake <- struct{}{} // the clock jumps to the renewal time; the renewal runs
	<-slept            // … and schedules the next
	if at.renewer.Renewals() != 1 {
		t.Fatalf("%d renewals", at.renewer.Renewals())
	}
	cur, _ := at.renewer.Current()
	if _, ok := cur.PrivateKey.(*tpm.Key); !ok || pki.SameKey(cur.Leaf.PublicKey, first.Leaf.PublicKey) {
		t.Fatalf("the renewed certificate's key: %T, same as before %v", cur.PrivateKey, pki.SameKey(cur.Leaf.PublicKey, first.Leaf.PublicKey))
	}
	fc.mu.Lock()
	proofs := strings.Join(fc.proofs, ",")
	fc.mu.Unlock()
	if !strings.HasSuffix(proofs, ",mtls:appliance:EDGE-1") {
		t.Fatalf("proofs %s: the renewal was not over mutual TLS with the TPM-held certificate", proofs)
	}
	if err := get(); err != nil { // the connection from before: no new handshake
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	if err := get(); err != nil {
		t.Fatal(err)
	}
	smu.Lock()
	if len(seen) != 2 || seen[0] != first.Leaf.SerialNumber.String() || seen[1] != cur.Leaf.SerialNumber.String() {
		t.Fatalf("handshakes saw %v, want [old new]", seen)
	}
	smu.Unlock()
	// Central stops answering; the clock passes the new certificate's end.
	srv.Close()
	mu.Lock()
	now = cur.Leaf.NotAfter.Add(time.Minute)
	mu.Unlock()
	client.CloseIdleConnections()
	if err := get(); err == nil {
		t.Fatal("a handshake succeeded with only an expired certificate to serve")
	}
	if g := gaugeValue(t, gauge); g != 0 {
		t.Fatalf("expiry gauge %v with no usable certificate, want 0", g)
	}
}

func gaugeValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}
