package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

var ctx = context.Background()

// authServer is the test's stand-in for the auth server (IDA): its key pair
// is what auth captures are encrypted to.
type authServer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	path string
}

func newAuthServer(t testing.TB) *authServer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "IDA-FIR test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := filepath.Join(t.TempDir(), "ida.pem")
	if err := os.WriteFile(p, pki.CertPEM(c), 0o644); err != nil {
		t.Fatal(err)
	}
	return &authServer{key: k, cert: c, path: p}
}

type harness struct {
	t    testing.TB
	svc  *Service
	ida  *authServer
	cl   *client.Client
	ver  *sbi.Verifier
	cfg  Config
	port int
}

func startDev(t testing.TB, state string) *harness {
	t.Helper()
	ida := newAuthServer(t)
	cfg := Config{State: state, TPM: "sim", Dev: true, Devices: DevDevices("T"),
		EncryptionCerts: map[string]string{"*": ida.path}}
	svc, err := Start(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	prov, ftm := svc.CACertificates()
	dr, fr := x509.NewCertPool(), x509.NewCertPool()
	dr.AddCert(prov)
	fr.AddCert(ftm)
	return &harness{t: t, svc: svc, ida: ida, cfg: cfg, port: svc.Port(),
		cl: &client.Client{PortMin: svc.Port(), PortMax: svc.Port()},
		ver: &sbi.Verifier{DeviceRoots: dr, FTMRoots: fr, ISOProfile: true,
			Keys: []sbi.DecryptionKey{{Cert: ida.cert, Key: ida.key}}}}
}

func (h *harness) info(id string) *sbi.InfoResult {
	h.t.Helper()
	entries, _, err := h.cl.Info(ctx, h.port)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range entries {
		res, ps := h.ver.VerifyInfo(&entries[i], i)
		if len(ps) > 0 {
			h.t.Fatalf("device info %d: %v", i, ps)
		}
		if res.Info.DeviceID == id {
			return res
		}
	}
	h.t.Fatalf("no device info for %s", id)
	return nil
}

func authReq(dev string, typ string, count int, subs ...string) *sbi.CaptureRequest {
	return &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "5000", DomainURI: "https://ida.example.org", TransactionID: "txn-" + fmt.Sprint(time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: typ, Count: sbi.NumString(fmt.Sprint(count)), BioSubType: subs,
			RequestedScore: "40", DeviceID: dev, DeviceSubID: "0"}}}
}

func regReq(dev, typ string, subID, count int, exc ...string) *sbi.CaptureRequest {
	return &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", TransactionID: "reg-" + fmt.Sprint(time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: typ, Count: sbi.NumString(fmt.Sprint(count)), Exception: append([]string{}, exc...),
			RequestedScore: "40", DeviceID: dev, DeviceSubID: sbi.NumString(fmt.Sprint(subID))}}}
}

func (h *harness) capture(req *sbi.CaptureRequest) (*sbi.CaptureResult, []byte) {
	h.t.Helper()
	sent := time.Now()
	var raw []byte
	var err error
	if req.Purpose == sbi.PurposeAuth {
		_, raw, err = h.cl.Capture(ctx, h.port, req)
	} else {
		_, raw, err = h.cl.RCapture(ctx, h.port, req)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	res, ps := h.ver.VerifyCapture(raw, sbi.Expect{Request: req, Device: h.info(req.Bio[0].DeviceID), Sent: sent.Add(-time.Second), Received: time.Now().Add(time.Second)})
	if len(ps) > 0 {
		h.t.Fatalf("capture does not verify: %v\n%s", ps, raw)
	}
	return res, raw
}

func TestDiscoveryAndInfoVerify(t *testing.T) {
	h := startDev(t, t.TempDir())
	found, err := h.cl.Discover(ctx, sbi.TypeAny)
	if err != nil || len(found) != 1 || found[0].Port != h.port {
		t.Fatalf("discover: %v %+v", err, found)
	}
	if len(found[0].Devices) != 6 {
		t.Fatalf("%d devices discovered, want 6", len(found[0].Devices))
	}
	for i := range found[0].Devices {
		if _, ps := h.ver.VerifyDiscovery(&found[0].Devices[i], h.port, i); len(ps) > 0 {
			t.Fatalf("discovery %d: %v", i, ps)
		}
	}
	iris, _ := h.cl.Discover(ctx, sbi.TypeIris)
	if len(iris) != 1 || len(iris[0].Devices) != 2 {
		t.Fatalf("type filter: %+v", iris)
	}
	for _, d := range h.svc.Devices() {
		res := h.info(d.ID())
		if res.Info.DeviceStatus != sbi.StatusReady || !res.Signed {
			t.Fatalf("%s: status %s signed %v", d.ID(), res.Info.DeviceStatus, res.Signed)
		}
	}
}

func TestAuthCaptureDecryptsToISORecord(t *testing.T) {
	h := startDev(t, t.TempDir())
	res, raw := h.capture(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
	if len(res.Segments) != 1 {
		t.Fatalf("%d segments", len(res.Segments))
	}
	// Decrypt independently of the verifier with the auth server's key.
	resp, _ := sbi.ParseCaptureResponse(raw)
	j, _ := sbi.ParseJWS(resp.Biometrics[0].Data)
	d, _ := sbi.ParseCaptureData(j.Payload)
	isoRec, err := sbi.DecryptBioValue(h.ida.key, d.BioValue, *resp.Biometrics[0].SessionKey, d.Timestamp, d.TransactionID)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := iso.Parse(isoRec)
	if err != nil || rec.Modality != iso.Finger {
		t.Fatalf("decrypted bioValue is not a finger record: %v", err)
	}
	chain, _ := sbi.NewHashChain("")
	if got := chain.Next(isoRec); got != resp.Biometrics[0].Hash {
		t.Fatalf("hash chain does not recompute: %s vs %s", got, resp.Biometrics[0].Hash)
	}
	if bytes.Contains(raw, isoRec[:32]) {
		t.Fatal("ISO bytes appear in clear in the auth response")
	}
}

func TestOneTPMSignaturePerBiometric(t *testing.T) {
	h := startDev(t, t.TempDir())
	h.capture(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN")) // warms the digital-ID cache
	for _, n := range []int{1, 2, 3} {
		subs := []string{"Left IndexFinger", "Left MiddleFinger", "Left RingFinger"}[:n]
		before := testutil.ToFloat64(mTPMSigns)
		resp, raw, err := h.cl.Capture(ctx, h.port, authReq("TFA000000001", sbi.TypeFinger, n, subs...))
		if err != nil || len(resp.Biometrics) != n || !resp.Biometrics[0].Error.OK() {
			t.Fatalf("capture of %d: %v %s", n, err, raw)
		}
		if got := testutil.ToFloat64(mTPMSigns) - before; got != float64(n) {
			t.Fatalf("%v TPM signatures for %d biometrics, want exactly %d", got, n, n)
		}
	}
}

func TestRegistrationCaptures(t *testing.T) {
	h := startDev(t, t.TempDir())
	res, raw := h.capture(regReq("TFR000000001", sbi.TypeFinger, 1, 4))
	if len(res.Segments) != 4 || res.Segments[0].Data.BioSubType != "Left IndexFinger" {
		t.Fatalf("slap: %d segments", len(res.Segments))
	}
	resp, _ := sbi.ParseCaptureResponse(raw)
	// Chain a second call (thumbs, one missing) to the first.
	req := regReq("TFR000000001", sbi.TypeFinger, 3, 1, "Left Thumb")
	req.Bio[0].PreviousHash = resp.Biometrics[3].Hash
	res, _ = h.capture(req)
	if len(res.Segments) != 1 || res.Segments[0].Data.BioSubType != "Right Thumb" {
		t.Fatalf("thumbs with exception: %+v", res.Segments[0].Data)
	}
	res, _ = h.capture(regReq("TIR000000001", sbi.TypeIris, 3, 2))
	if len(res.Segments) != 2 {
		t.Fatal("double iris")
	}
	h.capture(regReq("TCR000000001", sbi.TypeFace, 0, 1))
	h.capture(authReq("TIA000000001", sbi.TypeIris, 1, "UNKNOWN"))
	h.capture(authReq("TCA000000001", sbi.TypeFace, 1))
}

func TestStream(t *testing.T) {
	h := startDev(t, t.TempDir())
	fr, err := h.cl.Stream(ctx, h.port, &sbi.StreamRequest{DeviceID: "TFR000000001", DeviceSubID: "1", Timeout: "3000"})
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	for i := 0; i < 3; i++ {
		f, err := fr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(f) < 100 || f[0] != 0xFF || f[1] != 0xD8 {
			t.Fatalf("frame %d is not a JPEG", i)
		}
	}
	if st := h.svc.Device("TFR000000001").Status(); st != sbi.StatusBusy {
		t.Fatalf("status during stream %q, want Busy", st)
	}
	// Stream is for registration devices only.
	fr2, err := h.cl.Stream(ctx, h.port, &sbi.StreamRequest{DeviceID: "TFA000000001", DeviceSubID: "0"})
	if err == nil {
		fr2.Close()
		t.Fatal("stream on an auth device was served")
	}
}

func rawCall(t *testing.T, port int, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var c struct {
		Biometrics []struct{ Error sbi.Error } `json:"biometrics"`
	}
	if json.Unmarshal(b, &c) == nil && len(c.Biometrics) > 0 {
		return string(c.Biometrics[0].Error.Code)
	}
	var l []struct{ Error sbi.Error }
	if json.Unmarshal(b, &l) == nil && len(l) > 0 {
		return string(l[0].Error.Code)
	}
	var s struct{ Error sbi.Error }
	if json.Unmarshal(b, &s) == nil {
		return string(s.Error.Code)
	}
	t.Fatalf("not an SBI error answer: %s", b)
	return ""
}

func TestBadInput(t *testing.T) {
	h := startDev(t, t.TempDir())
	good := func(mut func(r *sbi.CaptureRequest)) string {
		r := authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN")
		mut(r)
		b, _ := json.Marshal(r)
		return string(b)
	}
	cases := []struct {
		name, method, path, body, code string
	}{
		{"oversized body", "CAPTURE", "/capture", `{"x":"` + strings.Repeat("a", MaxBody) + `"}`, sbi.CodeMalformedRequest},
		{"invalid JSON", "CAPTURE", "/capture", `{"env":`, sbi.CodeMalformedRequest},
		{"wrong env", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Env = sbi.EnvProduction }), sbi.CodeEnvMismatch},
		{"bad transactionId", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.TransactionID = "x!" }), sbi.CodeInvalidTransactionID},
		{"long transactionId", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.TransactionID = strings.Repeat("a", 60) }), sbi.CodeInvalidTransactionID},
		{"count 11", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Bio[0].Count = "11" }), sbi.CodeCountNotSupported},
		{"wrong purpose", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Purpose = sbi.PurposeRegistration }), sbi.CodePurposeMismatch},
		{"rcapture on auth device", "RCAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Purpose = sbi.PurposeRegistration }), sbi.CodePurposeMismatch},
		{"wrong type", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Bio[0].Type = sbi.TypeIris }), sbi.CodeTypeMismatch},
		{"unknown device", "CAPTURE", "/capture", good(func(r *sbi.CaptureRequest) { r.Bio[0].DeviceID = "nope" }), sbi.CodeDeviceNotFound},
		{"wrong path", "CAPTURE", "/info", good(func(*sbi.CaptureRequest) {}), sbi.CodeMalformedRequest},
		{"bad discovery type", "MOSIPDISC", "/device", `{"type":"Palm"}`, sbi.CodeInvalidType},
		{"missing timeout", "CAPTURE", "/capture", strings.Replace(good(func(*sbi.CaptureRequest) {}), `"timeout"`, `"timeoutXXX"`, 1), sbi.CodeMalformedRequest},
		{"missing specVersion", "CAPTURE", "/capture", strings.Replace(good(func(*sbi.CaptureRequest) {}), `"specVersion"`, `"specVersionXXX"`, 1), sbi.CodeMalformedRequest},
		{"rcapture missing deviceSubId", "RCAPTURE", "/capture", func() string {
			b, _ := json.Marshal(regReq("TFR000000001", sbi.TypeFinger, 1, 4))
			return strings.Replace(string(b), `"deviceSubId"`, `"deviceSubIdXXX"`, 1)
		}(), sbi.CodeMalformedRequest},
		{"iris count 3", "CAPTURE", "/capture", func() string {
			r := authReq("TIA000000001", sbi.TypeIris, 3, "UNKNOWN", "UNKNOWN", "UNKNOWN")
			b, _ := json.Marshal(r)
			return string(b)
		}(), sbi.CodeCountNotSupported},
		{"face count 2", "CAPTURE", "/capture", func() string {
			r := authReq("TCA000000001", sbi.TypeFace, 2)
			b, _ := json.Marshal(r)
			return string(b)
		}(), sbi.CodeCountNotSupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := rawCall(t, h.port, c.method, c.path, c.body)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if got := errCode(t, b); got != c.code {
				t.Fatalf("error %s, want %s: %s", got, c.code, b)
			}
		})
	}
	status, b := rawCall(t, h.port, "DELETE", "/capture", "")
	if status != http.StatusMethodNotAllowed || errCode(t, b) == "0" {
		t.Fatalf("unknown verb: %d %s", status, b)
	}
	status, _ = rawCall(t, h.port, "OPTIONS", "/capture", "")
	if status != http.StatusOK {
		t.Fatalf("CORS preflight: %d", status)
	}
	// The device survived all that.
	h.capture(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
}

func TestStatusesThroughControlSocket(t *testing.T) {
	state := t.TempDir()
	h := startDev(t, state)
	dev := "TFA000000001"
	body, _ := json.Marshal(authReq(dev, sbi.TypeFinger, 1, "UNKNOWN"))

	if _, err := Control(ctx, state, ControlRequest{Op: "set-status", Device: dev, Status: sbi.StatusNotReady}); err != nil {
		t.Fatal(err)
	}
	if _, b := rawCall(t, h.port, "CAPTURE", "/capture", string(body)); errCode(t, b) != sbi.CodeNotReady {
		t.Fatalf("Not Ready capture: %s", b)
	}
	entries, _, _ := h.cl.Info(ctx, h.port)
	if res, ps := h.ver.VerifyInfo(&entries[0], 0); len(ps) > 0 || res.Info.DeviceStatus != sbi.StatusNotReady || entries[0].Error.OK() {
		t.Fatalf("Not Ready info: %v %+v", ps, entries[0].Error)
	}
	Control(ctx, state, ControlRequest{Op: "set-status", Device: dev, Status: sbi.StatusReady})

	if _, err := Control(ctx, state, ControlRequest{Op: "hold-busy", Device: dev, Millis: 2000}); err != nil {
		t.Fatal(err)
	}
	if _, b := rawCall(t, h.port, "CAPTURE", "/capture", string(body)); errCode(t, b) != sbi.CodeBusy {
		t.Fatalf("Busy capture: %s", b)
	}
	if st := h.svc.Device(dev).Status(); st != sbi.StatusBusy {
		t.Fatalf("status %s, want Busy", st)
	}
	time.Sleep(2100 * time.Millisecond)

	Control(ctx, state, ControlRequest{Op: "set-status", Device: dev, Status: sbi.StatusNotRegistered})
	if _, b := rawCall(t, h.port, "CAPTURE", "/capture", string(body)); errCode(t, b) != sbi.CodeNotRegistered {
		t.Fatalf("Not Registered capture: %s", b)
	}
	found, _ := h.cl.Discover(ctx, sbi.TypeFinger)
	for _, d := range found[0].Devices {
		if d.DeviceStatus == sbi.StatusNotRegistered && (d.DeviceID != "" || d.Purpose != "" || d.Error.OK()) {
			t.Fatalf("Not Registered discovery must blank deviceId and purpose: %+v", d)
		}
	}
	Control(ctx, state, ControlRequest{Op: "set-status", Device: dev, Status: sbi.StatusReady})

	no := false
	if _, err := Control(ctx, state, ControlRequest{Op: "finger", Device: dev, Present: &no}); err != nil {
		t.Fatal(err)
	}
	r := authReq(dev, sbi.TypeFinger, 1, "UNKNOWN")
	r.Timeout = "500"
	b, _ := json.Marshal(r)
	start := time.Now()
	if _, out := rawCall(t, h.port, "CAPTURE", "/capture", string(b)); errCode(t, out) != sbi.CodeNoBiometric {
		t.Fatalf("no finger: %s", out)
	}
	if time.Since(start) < 450*time.Millisecond {
		t.Fatal("no-finger capture answered before its timeout")
	}
	if _, err := Control(ctx, state, ControlRequest{Op: "nonsense", Device: dev}); err == nil {
		t.Fatal("unknown control op accepted")
	}
}

func TestKeyRotationAndRestart(t *testing.T) {
	state := t.TempDir()
	h := startDev(t, state)
	dev := "TFA000000001"
	before := h.info(dev).Leaf
	if _, err := Control(ctx, state, ControlRequest{Op: "rotate-key", Device: dev}); err != nil {
		t.Fatal(err)
	}
	after := h.info(dev).Leaf
	if before.Equal(after) || after.PublicKey.(*rsa.PublicKey).Equal(before.PublicKey) {
		t.Fatal("rotation kept the old certificate or key")
	}
	if after.NotBefore.Before(before.NotBefore) {
		t.Fatal("new certificate starts before the old one")
	}
	if after.Subject.CommonName != before.Subject.CommonName {
		t.Fatal("rotation changed the device identity")
	}
	h.capture(authReq(dev, sbi.TypeFinger, 1, "UNKNOWN"))
	h.svc.Close()

	// A restart on the same TPM and state loads the rotated key, not a new one.
	seeded := t.TempDir()
	u, _ := DevTPMURL(seeded)
	cfg := Config{State: seeded, TPM: u, Dev: true, Devices: DevDevices("R")}
	s1, err := Start(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c1 := s1.Device("RFA000000001").deviceCrt
	s1.Close()
	s2, err := Start(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !s2.Device("RFA000000001").deviceCrt.Equal(c1) {
		t.Fatal("restart made a new device certificate")
	}
}

// A synthetic person presented to the emulated sensors: the registration
// slap and a later auth capture are impressions of the same fingers, so the
// auth finger matches its enrolled template and not the person's other
// fingers.
func TestSyntheticPersonMatches(t *testing.T) {
	state := t.TempDir()
	h := startDev(t, state)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	yes, person := true, uint64(7)
	for _, dev := range []string{"TFR000000001", "TFA000000001"} {
		if _, err := Control(cctx, state, ControlRequest{Op: "present", Device: dev, Present: &yes, Person: &person, Finger: "Left MiddleFinger"}); err != nil {
			t.Fatal(err)
		}
	}
	// The iris camera takes the same person (issue #18): its capture is
	// now a synthetic eye (640 × 480), not MOSIP's 401 × 301 sample.
	if _, err := Control(cctx, state, ControlRequest{Op: "present", Device: "TIA000000001", Present: &yes, Person: &person}); err != nil {
		t.Fatalf("presenting a synthetic person to an iris camera: %v", err)
	}
	eye, _ := h.capture(authReq("TIA000000001", sbi.TypeIris, 1, "UNKNOWN"))
	if img, _, err := isoimage.DecodeIris(eye.Segments[0].ISO); err != nil || img.Rect.Dx() != irissynth.Width || img.Rect.Dy() != irissynth.Height {
		t.Fatalf("iris capture of a presented person: %v", err)
	}
	reg, _ := h.capture(regReq("TFR000000001", sbi.TypeFinger, 1, 4))
	auth, _ := h.capture(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
	fp := match.NewFingerprint()
	probe, err := fp.Extract(auth.Segments[0].ISO)
	if err != nil {
		t.Fatal(err)
	}
	thr := fp.Threshold(1e-4)
	for _, s := range reg.Segments {
		cand, err := fp.Extract(s.ISO)
		if err != nil {
			t.Fatalf("%s: %v", s.Data.BioSubType, err)
		}
		score := fp.Score(probe, cand)
		t.Logf("%s: score %.3f (threshold %.3f at FMR 1e-4)", s.Data.BioSubType, score, thr)
		if want := s.Data.BioSubType == "Left MiddleFinger"; (score >= thr) != want {
			t.Errorf("%s: score %.3f, threshold %.3f, want match=%v", s.Data.BioSubType, score, thr, want)
		}
	}
}
