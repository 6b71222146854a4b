package captureverify_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

const (
	fingerAuth = "TFA000000001"
	fingerReg  = "TFR000000001"
	irisAuth   = "TIA000000001" // never enrolled
)

type fixture struct {
	t      testing.TB
	srv    *feedtest.Server
	reg    *truststate.Registry
	sync   *follow.Syncer
	keys   *tpmkey.Keys
	vendor *agenttest.Vendor
	ag     *agenttest.Agent
	v      *captureverify.Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	keys, err := tpmkey.Open(context.Background(), "sim", dir, "test-appliance", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	f := &fixture{t: t, keys: keys, vendor: agenttest.NewVendor(t, "v1")}
	f.ag = agenttest.Start(t, f.vendor, filepath.Join(dir, tpmkey.CertFile))
	if f.srv, err = feedtest.New(truststate.FeedName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	st, err := db.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if f.reg, err = truststate.Open(st, nil); err != nil {
		t.Fatal(err)
	}
	if f.sync, err = follow.New(follow.Config{Central: f.srv.URL(), Feed: truststate.FeedName, Keys: f.srv.Keys()}, f.reg); err != nil {
		t.Fatal(err)
	}
	f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "Vendor One", Status: trustfeed.Active, CACert: f.vendor.Cert.Raw})
	f.enrol(fingerAuth, trustfeed.Active)
	f.enrol(fingerReg, trustfeed.Active)
	f.v = &captureverify.Verifier{Trust: f.reg, Keys: []sbi.DecryptionKey{keys.DecryptionKey()}}
	return f
}

// feed appends to central's feed and syncs.
func (f *fixture) feed(kind string, data ...any) {
	f.t.Helper()
	if _, err := f.srv.Append(kind, data...); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.sync.Poll(context.Background(), 0); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) enrol(id, status string) {
	f.t.Helper()
	f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: id, VendorID: "v1", Status: status,
		DeviceCertSHA256: sbi.Thumbprint(f.ag.DeviceCert(f.t, id)), FTMCertSHA256: sbi.Thumbprint(f.ag.FTMCert(f.t, id))})
}

func (f *fixture) verify(v *captureverify.Verifier, txn string, req *sbi.CaptureRequest, raw []byte) *captureverify.Result {
	f.t.Helper()
	body := captureverify.Request{TransactionID: txn, Response: raw}
	if req != nil {
		body.Request, _ = json.Marshal(req)
	}
	b, _ := json.Marshal(body)
	p, err := captureverify.ParseRequest(b)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := v.Verify(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func wantValid(t testing.TB, r *captureverify.Result) {
	t.Helper()
	if !r.Valid || len(r.Reasons) != 0 {
		t.Fatalf("want valid, got reasons %q", r.Reasons)
	}
}

func wantReason(t testing.TB, r *captureverify.Result, code string) {
	t.Helper()
	if r.Valid {
		t.Fatalf("want invalid with %s, got valid", code)
	}
	if !slices.Contains(r.Codes, code) {
		t.Fatalf("want reason %s, got %q", code, r.Reasons)
	}
	for _, s := range r.Reasons {
		if !strings.HasPrefix(s, strings.SplitN(s, ":", 2)[0]+": ") {
			t.Fatalf("reason %q is not code: message", s)
		}
	}
}

func TestVerifyRealCaptures(t *testing.T) {
	f := newFixture(t)
	authReq := agenttest.AuthRequest(fingerAuth, sbi.TypeFinger, 1)
	auth := f.ag.Capture(t, authReq)

	t.Run("valid auth capture, full request", func(t *testing.T) {
		r := f.verify(f.v, authReq.TransactionID, authReq, auth)
		wantValid(t, r)
		d := r.Device
		if d == nil || d.Serial != fingerAuth || d.Vendor != "v1" || d.Status != trustfeed.Active || d.VendorStatus != trustfeed.Active || d.Type != sbi.TypeFinger {
			t.Fatalf("device %+v", d)
		}
		if r.Stale || r.Trust.Size == 0 || r.Trust.AgeSeconds < 0 || r.Purpose != sbi.PurposeAuth {
			t.Fatalf("trust %+v stale %v", r.Trust, r.Stale)
		}
	})
	t.Run("valid auth capture, transactionId only", func(t *testing.T) {
		wantValid(t, f.verify(f.v, authReq.TransactionID, nil, auth))
	})
	t.Run("valid registration capture", func(t *testing.T) {
		req := agenttest.RegRequest(fingerReg, sbi.TypeFinger, 1, 4)
		raw := f.ag.Capture(t, req)
		wantValid(t, f.verify(f.v, req.TransactionID, req, raw))
		wantValid(t, f.verify(f.v, req.TransactionID, nil, raw))
	})
	t.Run("hash chain continued from a previous capture", func(t *testing.T) {
		var first sbi.CaptureResponse
		json.Unmarshal(auth, &first)
		req := agenttest.AuthRequest(fingerAuth, sbi.TypeFinger, 1)
		req.Bio[0].PreviousHash = first.Biometrics[0].Hash
		raw := f.ag.Capture(t, req)
		wantValid(t, f.verify(f.v, req.TransactionID, req, raw))
		// Without the request and without previousHash the chain does not start where it should.
		wantReason(t, f.verify(f.v, req.TransactionID, nil, raw), string(sbi.CheckHash))
		body, _ := json.Marshal(captureverify.Request{TransactionID: req.TransactionID, PreviousHash: first.Biometrics[0].Hash, Response: raw})
		p, err := captureverify.ParseRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := f.v.Verify(p)
		wantValid(t, r)
	})
	t.Run("no decryption key: hash chain not verified, never passed", func(t *testing.T) {
		v := &captureverify.Verifier{Trust: f.reg}
		r := f.verify(v, authReq.TransactionID, authReq, auth)
		t.Logf("%q", r.Reasons)
		wantReason(t, r, captureverify.ReasonHashUnverified)
		if !strings.Contains(strings.Join(r.Reasons, "\n"), "--tpm") {
			t.Fatalf("reason does not say how to fix it: %q", r.Reasons)
		}
		if slices.Contains(r.Codes, string(sbi.CheckThumbprint)) {
			t.Fatalf("reported twice: %q", r.Reasons)
		}
	})
	t.Run("wrong transactionId", func(t *testing.T) {
		wantReason(t, f.verify(f.v, "txn-someone-else", nil, auth), string(sbi.CheckTransactionID))
	})
	t.Run("tampered signature", func(t *testing.T) {
		var resp map[string]any
		json.Unmarshal(auth, &resp)
		e := resp["biometrics"].([]any)[0].(map[string]any)
		data := e["data"].(string)
		i := strings.LastIndexByte(data, '.') + 10
		c := byte('A')
		if data[i] == 'A' {
			c = 'B'
		}
		e["data"] = data[:i] + string(c) + data[i+1:]
		raw, _ := json.Marshal(resp)
		wantReason(t, f.verify(f.v, authReq.TransactionID, authReq, raw), string(sbi.CheckSignature))
	})
	t.Run("tampered payload", func(t *testing.T) {
		var resp map[string]any
		json.Unmarshal(auth, &resp)
		e := resp["biometrics"].([]any)[0].(map[string]any)
		e["hash"] = strings.Repeat("0", 64)
		raw, _ := json.Marshal(resp)
		wantReason(t, f.verify(f.v, authReq.TransactionID, authReq, raw), string(sbi.CheckHash))
	})
	t.Run("unknown device", func(t *testing.T) {
		req := agenttest.AuthRequest(irisAuth, sbi.TypeIris, 1)
		r := f.verify(f.v, req.TransactionID, req, f.ag.Capture(t, req))
		wantReason(t, r, captureverify.ReasonNotEnrolled)
		if r.Device == nil || r.Device.Serial != irisAuth || r.Device.Status != "unknown" {
			t.Fatalf("device %+v", r.Device)
		}
	})
	t.Run("stale capture", func(t *testing.T) {
		v := &captureverify.Verifier{Trust: f.reg, Keys: f.v.Keys, Now: func() time.Time { return time.Now().Add(3 * time.Minute) }, MaxStaleness: time.Hour}
		wantReason(t, f.verify(v, authReq.TransactionID, authReq, auth), string(sbi.CheckSkew))
	})
	t.Run("stale trust data: reject and warn", func(t *testing.T) {
		later := func() time.Time { return time.Now().Add(11 * time.Minute) }
		v := &captureverify.Verifier{Trust: f.reg, Keys: f.v.Keys, Now: later, MaxAge: time.Hour}
		r := f.verify(v, authReq.TransactionID, authReq, auth)
		wantReason(t, r, captureverify.ReasonStale)
		if !r.Stale || len(r.Reasons) != 1 {
			t.Fatalf("stale %v reasons %q", r.Stale, r.Reasons)
		}
		v = &captureverify.Verifier{Trust: f.reg, Keys: f.v.Keys, Now: later, MaxAge: time.Hour, StalePolicy: captureverify.StaleWarn}
		r = f.verify(v, authReq.TransactionID, authReq, auth)
		wantValid(t, r)
		if !r.Stale || len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], captureverify.ReasonStale) {
			t.Fatalf("warn policy: stale %v warnings %q", r.Stale, r.Warnings)
		}
	})
	t.Run("device revoked", func(t *testing.T) {
		f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: fingerAuth, VendorID: "v1", Status: trustfeed.Revoked, Reason: "lost"})
		r := f.verify(f.v, authReq.TransactionID, authReq, auth)
		wantReason(t, r, captureverify.ReasonDeviceRevoked)
		if r.Device.Status != trustfeed.Revoked || !strings.Contains(strings.Join(r.Reasons, ""), "(lost)") {
			t.Fatalf("%+v %q", r.Device, r.Reasons)
		}
		f.enrol(fingerAuth, trustfeed.Active)
		wantValid(t, f.verify(f.v, authReq.TransactionID, authReq, auth))
	})
	t.Run("device suspended", func(t *testing.T) {
		f.enrol(fingerAuth, trustfeed.Suspended)
		wantReason(t, f.verify(f.v, authReq.TransactionID, authReq, auth), captureverify.ReasonDeviceSusp)
		f.enrol(fingerAuth, trustfeed.Active)
	})
	t.Run("device quarantined by attestation", func(t *testing.T) {
		f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: fingerAuth, VendorID: "v1", Status: trustfeed.Suspended,
			Reason:           "attestation-failed: unknown-firmware",
			DeviceCertSHA256: sbi.Thumbprint(f.ag.DeviceCert(t, fingerAuth)), FTMCertSHA256: sbi.Thumbprint(f.ag.FTMCert(t, fingerAuth))})
		r := f.verify(f.v, authReq.TransactionID, authReq, auth)
		wantReason(t, r, captureverify.ReasonQuarantined)
		if !strings.Contains(strings.Join(r.Reasons, " "), "attestation-failed: unknown-firmware") {
			t.Fatalf("reasons %q do not say why", r.Reasons)
		}
		f.enrol(fingerAuth, trustfeed.Active)
		wantValid(t, f.verify(f.v, authReq.TransactionID, authReq, auth))
	})
	t.Run("vendor revoked", func(t *testing.T) {
		f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Revoked})
		r := f.verify(f.v, authReq.TransactionID, authReq, auth)
		t.Logf("%q", r.Reasons)
		wantReason(t, r, captureverify.ReasonVendorRevoked)
		wantReason(t, r, string(sbi.CheckChain)) // its CA is no longer a trust anchor
		if r.Device.VendorStatus != trustfeed.Revoked {
			t.Fatalf("%+v", r.Device)
		}
		f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active})
		wantValid(t, f.verify(f.v, authReq.TransactionID, authReq, auth))
	})
	t.Run("vendor suspended then reinstated", func(t *testing.T) {
		f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Suspended})
		wantReason(t, f.verify(f.v, authReq.TransactionID, authReq, auth), captureverify.ReasonVendorSusp)
		f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active})
		wantValid(t, f.verify(f.v, authReq.TransactionID, authReq, auth))
	})
	t.Run("device enrolled under another vendor", func(t *testing.T) {
		other := agenttest.NewVendor(t, "v2")
		f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v2", Status: trustfeed.Active, CACert: other.Cert.Raw})
		f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: fingerAuth, VendorID: "v2", Status: trustfeed.Active})
		wantReason(t, f.verify(f.v, authReq.TransactionID, authReq, auth), captureverify.ReasonVendorChain)
		f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: fingerAuth, VendorID: "v1", Status: trustfeed.Active})
		wantValid(t, f.verify(f.v, authReq.TransactionID, authReq, auth))
	})
	t.Run("rotated-out key", func(t *testing.T) {
		if _, err := f.ag.Svc.RotateKey(context.Background(), fingerAuth); err != nil {
			t.Fatal(err)
		}
		// Central learns the new certificate.
		f.enrol(fingerAuth, trustfeed.Active)
		r := f.verify(f.v, authReq.TransactionID, authReq, auth)
		t.Logf("%q", r.Reasons)
		wantReason(t, r, captureverify.ReasonKeyRotated)
		req := agenttest.AuthRequest(fingerAuth, sbi.TypeFinger, 1)
		wantValid(t, f.verify(f.v, req.TransactionID, req, f.ag.Capture(t, req)))
	})
	t.Run("reasons carry no biometric data", func(t *testing.T) {
		var resp sbi.CaptureResponse
		json.Unmarshal(auth, &resp)
		j, _ := sbi.ParseJWS(resp.Biometrics[0].Data)
		d, _ := sbi.ParseCaptureData(j.Payload)
		v := &captureverify.Verifier{Trust: f.reg}
		r := f.verify(v, "txn-x-1", nil, auth)
		out, _ := json.Marshal(r)
		for _, secret := range []string{d.BioValue[:40], *resp.Biometrics[0].SessionKey} {
			if strings.Contains(string(out), secret) {
				t.Fatal("an answer contains biometric or key material")
			}
		}
	})
}

// FuzzVerify runs arbitrary capture answers through the whole verifier
// (with an empty trust registry): nothing may panic, and nothing unverified
// may be valid.
func FuzzVerify(f *testing.F) {
	st, err := db.Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	reg, err := truststate.Open(st, nil)
	if err != nil {
		f.Fatal(err)
	}
	v := &captureverify.Verifier{Trust: reg}
	f.Add([]byte(`{"biometrics":[{"specVersion":"0.9.5","data":"eyJhbGciOiJSUzI1NiIsIng1YyI6WyJNSUlCIl19.eyJiaW9UeXBlIjoiRmluZ2VyIiwicHVycG9zZSI6IkF1dGgiLCJkaWdpdGFsSWQiOiJhLmIuYyJ9.c2ln","hash":"00","thumbprint":"AB","sessionKey":"x"}]}`))
	f.Add([]byte(`{"biometrics":[]}`))
	f.Fuzz(func(t *testing.T, resp []byte) {
		b, _ := json.Marshal(map[string]any{"transactionId": "txn-fuzz-1", "response": json.RawMessage(resp)})
		p, err := captureverify.ParseRequest(b)
		if err != nil {
			return
		}
		r, err := v.Verify(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid {
			t.Fatal("a capture verified against an empty trust registry")
		}
	})
}
