package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
)

// listenInRange binds a free port in the SBI range, starting at a random
// offset and skipping ports other processes hold.
func listenInRange(t *testing.T) net.Listener {
	t.Helper()
	n := sbi.PortMax - sbi.PortMin + 1
	r, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		t.Fatal(err)
	}
	start := int(r.Int64())
	for i := 0; i < n; i++ {
		port := sbi.PortMin + (start+i)%n
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return l
		}
	}
	t.Skip("no free port in 4501-4600")
	return nil
}

func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

type pki struct {
	pool    *x509.CertPool
	device  sbi.Identity
	encCert *x509.Certificate
	encKey  *rsa.PrivateKey
}

var (
	pkiOnce sync.Once
	testPKI *pki
)

func getPKI(t *testing.T) *pki {
	pkiOnce.Do(func() {
		mk := func(cn string, pub, parentKey any, parent *x509.Certificate, ca bool) *x509.Certificate {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
				BasicConstraintsValid: true, IsCA: ca, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment}
			if parent == nil {
				parent = tmpl
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
			if err != nil {
				panic(err)
			}
			c, _ := x509.ParseCertificate(der)
			return c
		}
		rootKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		devKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		encKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		root := mk("root", rootKey.Public(), rootKey, nil, true)
		p := &pki{pool: x509.NewCertPool(), encKey: encKey}
		p.pool.AddCert(root)
		p.device = sbi.Identity{Signer: devKey, Chain: []*x509.Certificate{mk("device", devKey.Public(), rootKey, root, false)}}
		p.encCert = mk("ida", encKey.Public(), rootKey, root, false)
		testPKI = p
	})
	return testPKI
}

// fakeDevice is a minimal SBI service built on sbi.Builder.
type fakeDevice struct {
	b       *sbi.Builder
	typ     string
	enc     *x509.Certificate
	iso     []byte
	frames  [][]byte
	methods chan string
}

func newFakeDevice(t *testing.T, typ, purpose string) (*fakeDevice, int) {
	t.Helper()
	p := getPKI(t)
	l := listenInRange(t)
	port := portOf(l)
	iso, err := os.ReadFile(filepath.Join("..", "testdata", "auth_left_index.iso"))
	if err != nil {
		t.Fatal(err)
	}
	jpeg, err := os.ReadFile(filepath.Join("..", "testdata", "frame.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDevice{typ: typ, enc: p.encCert, iso: iso, frames: [][]byte{jpeg, append([]byte{0xFF, 0xD8}, "second"...)}, methods: make(chan string, 16)}
	d.b = &sbi.Builder{DeviceKey: p.device, Device: sbi.Device{
		DeviceID: "1", DeviceCode: "code-1", Certification: sbi.CertL0, ServiceVersion: "1.0", Firmware: "1.0",
		Env: sbi.EnvDeveloper, Purpose: purpose, SubIDs: []int{0}, Port: port,
		DigitalID: sbi.DigitalID{SerialNo: "SN1", Make: "m", Model: "x", Type: typ, DeviceSubType: "Single",
			DeviceProvider: "p", DeviceProviderID: "pid"},
	}}
	srv := httptest.NewUnstartedServer(d)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return d, port
}

func (d *fakeDevice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case d.methods <- r.Method:
	default:
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, sbi.MaxRequestSize))
	m, _ := sbi.CanonicalMethod(r.Method)
	var out any
	switch m {
	case sbi.MethodDiscover:
		req, err := sbi.ParseDiscoverRequest(body)
		if err != nil {
			out = sbi.ErrorList(sbi.NewError(sbi.CodeInvalidType))
			break
		}
		if !req.Matches(d.typ) {
			out = []sbi.Discovery{}
			break
		}
		disc, _ := d.b.Discovery(sbi.StatusReady)
		out = []sbi.Discovery{disc}
	case sbi.MethodInfo:
		e, _ := d.b.Info(sbi.StatusReady)
		out = []sbi.InfoEntry{e}
	case sbi.MethodCapture, sbi.MethodRCapture:
		purpose := sbi.PurposeAuth
		if m == sbi.MethodRCapture {
			purpose = sbi.PurposeRegistration
		}
		req, err := sbi.ParseCaptureRequest(body)
		if err != nil {
			out = sbi.ErrorCapture(purpose, "", sbi.NewError(sbi.CodeMalformedRequest))
			break
		}
		if e := sbi.ValidateCaptureRequest(purpose, req); !e.OK() {
			out = sbi.ErrorCapture(purpose, req.SpecVersion, e)
			break
		}
		var segs []sbi.Segment
		for _, s := range sbi.Segments(purpose, &req.Bio[0]) {
			segs = append(segs, sbi.Segment{SubType: s, ISO: d.iso, Quality: 55})
		}
		out, _ = d.b.Capture(req, segs, d.enc)
	case sbi.MethodStream:
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=--BoundaryString")
		w.WriteHeader(200)
		for _, f := range d.frames {
			fmt.Fprintf(w, "--BoundaryString\r\nAccess-Control-Allow-Origin:*\r\nContent-Type:image/jpeg\r\nContent-Length:%d\r\n\r\n", len(f))
			w.Write(f)
			w.Write([]byte("\r\n\r\n"))
			w.(http.Flusher).Flush()
		}
		return
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func TestDiscoverParallel(t *testing.T) {
	_, p1 := newFakeDevice(t, sbi.TypeFinger, sbi.PurposeAuth)
	d2, p2 := newFakeDevice(t, sbi.TypeFace, sbi.PurposeRegistration)

	// A port that accepts but never answers must not stall the scan.
	hang := listenInRange(t)
	defer hang.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	// A port that answers garbage is skipped.
	junk := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	junk.Listener.Close()
	junk.Listener = listenInRange(t)
	junk.Start()
	defer junk.Close()

	c := &Client{ProbeTimeout: 800 * time.Millisecond, App: "edgetrust-test"}
	start := time.Now()
	found, err := c.Discover(context.Background(), sbi.TypeAny)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("discovery took %v", elapsed)
	}
	got := map[int]sbi.Discovery{}
	for _, f := range found {
		if f.Port == portOf(hang) || f.Port == portOf(junk.Listener) {
			t.Errorf("port %d should have been skipped", f.Port)
		}
		got[f.Port] = f.Devices[0]
	}
	for _, p := range []int{p1, p2} {
		d, ok := got[p]
		if !ok {
			t.Fatalf("device on port %d not found (found %d ports)", p, len(found))
		}
		if d.CallbackID != sbi.CallbackID(p) || !d.Error.OK() {
			t.Errorf("port %d: %+v", p, d)
		}
	}
	if m := <-d2.methods; m != sbi.MethodDiscover {
		t.Errorf("method %s", m)
	}

	// Type filter: only the face device answers with a device.
	found, err = c.Discover(context.Background(), sbi.TypeFace)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if f.Port == p1 {
			t.Error("finger device answered a Face discovery")
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Discover(ctx, sbi.TypeAny); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled discovery: %v", err)
	}
}

func TestInfoCaptureRoundTrip(t *testing.T) {
	p := getPKI(t)
	_, port := newFakeDevice(t, sbi.TypeFinger, sbi.PurposeAuth)
	c := &Client{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	v := &sbi.Verifier{DeviceRoots: p.pool, Keys: []sbi.DecryptionKey{{Cert: p.encCert, Key: p.encKey}}}
	infos, raw, err := c.Info(ctx, port)
	if err != nil || len(infos) != 1 || len(raw) == 0 {
		t.Fatalf("info: %v", err)
	}
	dev, ps := v.VerifyInfo(&infos[0], 0)
	if len(ps) != 0 {
		t.Fatalf("info problems: %v", ps.Err())
	}

	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion, Timeout: "5000",
		DomainURI: "https://ida", TransactionID: "tx-1234",
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "2", BioSubType: []string{"UNKNOWN", "UNKNOWN"}, RequestedScore: "40", DeviceID: "1", DeviceSubID: "0"}}}
	sent := time.Now()
	resp, raw, err := c.Capture(ctx, port, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Biometrics) != 2 || len(raw) == 0 {
		t.Fatalf("entries %d", len(resp.Biometrics))
	}
	res, ps := v.VerifyCapture(raw, sbi.Expect{Request: req, Device: dev, Sent: sent, Received: time.Now()})
	if len(ps) != 0 {
		t.Fatalf("capture problems: %v", ps.Err())
	}
	if len(res.Segments[1].ISO) == 0 {
		t.Error("no plaintext")
	}

	// A bad request gets the device's error answer, parsed.
	req.TransactionID = "x"
	resp, _, err = c.Capture(ctx, port, req)
	if err != nil || resp.Biometrics[0].Error.Code != sbi.CodeInvalidTransactionID {
		t.Fatalf("bad tx: %+v %v", resp, err)
	}

	// RCAPTURE uses its own method on /capture.
	rreq := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion, TransactionID: "tx-5678",
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", Exception: []string{}, RequestedScore: "40", DeviceID: "1", DeviceSubID: "0"}}}
	resp, raw, err = c.RCapture(ctx, port, rreq)
	if err != nil || len(resp.Biometrics) != 1 {
		t.Fatal(err)
	}
	if _, ps := v.VerifyCapture(raw, sbi.Expect{Request: rreq, Device: dev}); len(ps) != 0 {
		t.Fatalf("rcapture problems: %v", ps.Err())
	}
}

func TestStream(t *testing.T) {
	d, port := newFakeDevice(t, sbi.TypeFace, sbi.PurposeRegistration)
	c := &Client{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fr, err := c.Stream(ctx, port, &sbi.StreamRequest{DeviceID: "1", DeviceSubID: "0", Timeout: "1000"})
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	for i, want := range d.frames {
		got, err := fr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) || !IsJPEG(got) {
			t.Errorf("frame %d differs", i)
		}
	}
	if _, err := fr.Next(); err == nil {
		t.Error("read past the end")
	}
}

func TestStreamRefused(t *testing.T) {
	for _, body := range []string{`{"error":{"errorCode":"202","errorInfo":"No Device Connected."}}`, `{"errorCode":"601","errorInfo":"no stream"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		}))
		port := portOf(srv.Listener)
		_, err := (&Client{}).Stream(context.Background(), port, &sbi.StreamRequest{})
		var se sbi.Error
		if !errors.As(err, &se) || !sbi.ValidErrorCode(string(se.Code)) {
			t.Errorf("%s: %v", body, err)
		}
		srv.Close()
	}
}

func TestFrameReader(t *testing.T) {
	ok := "--BoundaryString\r\nContent-Type:image/jpeg\r\nContent-Length:4\r\n\r\n\xff\xd8ab\r\n\r\n" +
		"\r\n--BoundaryString\r\ncontent-length: 3\r\n\r\n\r\n\xff\xd8c\r\n--BoundaryString--\r\n"
	fr := NewFrameReader(strings.NewReader(ok))
	f1, err1 := fr.Next()
	f2, err2 := fr.Next()
	_, err3 := fr.Next()
	if err1 != nil || err2 != nil || string(f1) != "\xff\xd8ab" || string(f2) != "\xff\xd8c" || err3 != io.EOF {
		t.Fatalf("%q %v %q %v %v", f1, err1, f2, err2, err3)
	}
	for name, in := range map[string]string{
		"no length":   "--b\r\nContent-Type:image/jpeg\r\n\r\n\xff\xd8",
		"bad length":  "--b\r\nContent-Length:-1\r\n\r\n",
		"huge length": fmt.Sprintf("--b\r\nContent-Length:%d\r\n\r\n", MaxFrameSize+1),
		"long line":   "--b\r\n" + strings.Repeat("x", 5000) + "\r\n",
		"no colon":    "--b\r\nnonsense\r\n\r\n",
		"junk lines":  strings.Repeat("\r\n", 100),
		"truncated":   "--b\r\nContent-Length:10\r\n\r\n\xff\xd8",
	} {
		if _, err := NewFrameReader(strings.NewReader(in)).Next(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("--BoundaryString\r\nContent-Type:image/jpeg\r\nContent-Length:4\r\n\r\n\xff\xd8ab\r\n\r\n--BoundaryString--\r\n"))
	f.Add([]byte("Content-Length:2\r\n\r\n\xff\xd8"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bytes.NewReader(b))
		for i := 0; i < 64; i++ {
			frame, err := fr.Next()
			if err != nil {
				return
			}
			if len(frame) > MaxFrameSize {
				t.Fatal("frame over limit")
			}
		}
	})
}
