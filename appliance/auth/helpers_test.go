package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

const (
	fingerAuth = "TFA000000001"
	fingerReg  = "TFR000000001"
	irisAuth   = "TIA000000001"
	irisReg    = "TIR000000001"
	faceAuth   = "TCA000000001"
	faceReg    = "TCR000000001"
)

// auditLog is a test Auditor: it keeps every decision and can be made to fail.
type auditLog struct {
	mu       sync.Mutex
	all      []auth.AuditDecision
	lockouts []auth.AuditLockout
	fail     bool
}

func (a *auditLog) Lockout(_ context.Context, l auth.AuditLockout) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lockouts = append(a.lockouts, l)
	return nil
}

func (a *auditLog) Decision(_ context.Context, d auth.AuditDecision) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit log disk full")
	}
	a.all = append(a.all, d)
	return nil
}

func (a *auditLog) last() auth.AuditDecision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.all[len(a.all)-1]
}

func (a *auditLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.all)
}

func (a *auditLog) setFail(b bool) {
	a.mu.Lock()
	a.fail = b
	a.mu.Unlock()
}

type rpKey struct{ id, secret string }

func (k rpKey) String() string { return trustfeed.RPKeyPrefix + k.id + "_" + k.secret }

func newRPKey() (rpKey, trustfeed.RPKey) {
	var id [8]byte
	var sec [32]byte
	rand.Read(id[:])
	rand.Read(sec[:])
	k := rpKey{hex.EncodeToString(id[:]), base64.RawURLEncoding.EncodeToString(sec[:])}
	h := sha256.Sum256([]byte(k.secret))
	return k, trustfeed.RPKey{ID: k.id, SHA256: h[:]}
}

type fixture struct {
	t       testing.TB
	dir     string
	keys    *tpmkey.Keys
	st      *db.Store
	srv     *feedtest.Server
	reg     *truststate.Registry
	sync    *follow.Syncer
	central ed25519.PrivateKey
	recs    *records.Store
	signer  *tpmkey.DecisionSigner
	capv    *captureverify.Verifier
	audit   *auditLog
	h       *auth.Handler
	http    *httptest.Server
	vendor  *agenttest.Vendor
	ag      *agenttest.Agent
	rpKeys  map[string]rpKey
	client  *http.Client // nil: http.DefaultClient (rpcert_test.go sets a TLS one)
}

// newFixture is an appliance's authentication stack on the simulated TPM
// and a real badger store, its trust feed served by a test central: a
// vendor, three devices of the in-process agent, and relying parties
// kiosk-a (demo, fingerprints, iris; receives fullName), kiosk-b (demo
// only, no attributes), kiosk-s (suspended), kiosk-r (revoked).
// fixtureSoftUnwrap makes newFixture's appliance unwrap session keys with
// a TPM-sealed software key (decision 0017) instead of in the TPM.
var fixtureSoftUnwrap bool

func newFixture(t testing.TB, tune func(*auth.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, dir: t.TempDir(), audit: &auditLog{}, rpKeys: map[string]rpKey{}}
	var err error
	if f.keys, err = tpmkey.Open(ctx, "sim", f.dir, "test-appliance", time.Now(), fixtureSoftUnwrap); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.keys.Close() })
	if f.st, err = db.Open(filepath.Join(f.dir, "db"), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	if f.reg, err = truststate.Open(f.st, nil); err != nil {
		t.Fatal(err)
	}
	if f.srv, err = feedtest.New(truststate.FeedName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	if f.sync, err = follow.New(follow.Config{Central: f.srv.URL(), Feed: truststate.FeedName, Keys: f.srv.Keys()}, f.reg); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.central = priv
	sealer := records.TPMSealer{TPM: f.keys.TPM}
	if f.recs, err = records.Open(ctx, f.st.DB, sealer, recordfeed.Verifier{Keys: []ed25519.PublicKey{pub}}); err != nil {
		t.Fatal(err)
	}
	if f.signer, err = f.keys.DecisionSigner(ctx, f.dir, "test-appliance", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.vendor = agenttest.NewVendor(t, "v1")
	f.ag = agenttest.Start(t, f.vendor, filepath.Join(f.dir, tpmkey.CertFile), agenttest.AllDevices()...)
	f.feed(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "Vendor One", Status: trustfeed.Active, CACert: f.vendor.Cert.Raw})
	for _, d := range []string{fingerAuth, fingerReg, irisAuth, irisReg, faceAuth, faceReg} {
		f.device(d, trustfeed.Active)
	}
	f.addRP("kiosk-a", trustfeed.Active, []string{recordfeed.AuthDemo, recordfeed.AuthFinger, recordfeed.AuthIris}, []string{"fullName"})
	f.addRP("kiosk-b", trustfeed.Active, []string{recordfeed.AuthDemo}, nil)
	f.addRP("kiosk-s", trustfeed.Suspended, []string{recordfeed.AuthDemo}, nil)
	f.addRP("kiosk-r", trustfeed.Revoked, []string{recordfeed.AuthDemo}, nil)
	f.capv = &captureverify.Verifier{Trust: f.reg, Keys: []sbi.DecryptionKey{f.keys.DecryptionKey()}}
	cfg := auth.Config{Trust: f.reg, Records: f.recs, Captures: f.capv,
		SigningKey: f.signer.Key, Chain: f.signer.Chain, ApplianceID: "EDGE-T", Auditor: f.audit, RPRate: -1,
		// The fixture serves plain httptest: API keys alone unless a test
		// chooses a certificate mode (rpcert_test.go).
		RPAuth: auth.RPAuthKey}
	if tune != nil {
		tune(&cfg)
	}
	if f.h, err = auth.New(cfg); err != nil {
		t.Fatal(err)
	}
	f.http = httptest.NewServer(f.h)
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) feed(kind string, data ...any) {
	f.t.Helper()
	if _, err := f.srv.Append(kind, data...); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.sync.Poll(context.Background(), 0); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) device(serial, status string) {
	f.t.Helper()
	f.feed(trustfeed.KindDevice, trustfeed.Device{Serial: serial, VendorID: "v1", Status: status,
		DeviceCertSHA256: sbi.Thumbprint(f.ag.DeviceCert(f.t, serial)), FTMCertSHA256: sbi.Thumbprint(f.ag.FTMCert(f.t, serial))})
}

func (f *fixture) addRP(id, status string, authTypes, attrs []string) {
	k, fk := newRPKey()
	f.rpKeys[id] = k
	f.feed(trustfeed.KindRP, trustfeed.RelyingParty{ID: id, Name: id, Status: status, AuthTypes: authTypes, Attributes: attrs, Keys: []trustfeed.RPKey{fk}})
}

// person makes, signs and stores a record for a fresh VID of kind.
func (f *fixture) person(uin, kind string, demo map[string]string, bio []recordfeed.Biometric, mod func(*recordfeed.Record)) string {
	f.t.Helper()
	number, err := vid.Generate()
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute)
	r := &recordfeed.Record{Version: recordfeed.Version, UIN: uin, VID: number, VIDKind: kind, VIDIssued: now, Issued: now,
		Demographics: demo, Biometrics: bio, TokenSeed: seedOf(uin)}
	if kind != "perpetual" {
		r.VIDExpires = now.Add(30 * time.Minute)
	}
	if mod != nil {
		mod(r)
	}
	b, err := r.Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.recs.Put(number, b, recordfeed.Sign(f.central, b)); err != nil {
		f.t.Fatal(err)
	}
	return number
}

// present puts synthetic person seed's fingers on both emulated finger
// sensors; an UNKNOWN bioSubType captures finger.
func (f *fixture) present(seed uint64, finger string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.ag.Present(ctx, seed, finger, fingerReg, fingerAuth); err != nil {
		f.t.Fatal(err)
	}
}

// enrolFingers captures person seed's left slap (registration) and returns
// MCC templates of the four fingers, as central makes them.
func (f *fixture) enrolFingers(seed uint64) []recordfeed.Biometric {
	f.t.Helper()
	f.present(seed, "Left IndexFinger")
	req := agenttest.RegRequest(fingerReg, sbi.TypeFinger, 1, 4)
	raw := f.ag.Capture(f.t, req)
	p, err := captureverify.ParseCapture(req.TransactionID, raw)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.capv.Verify(p)
	if err != nil || !res.Valid {
		f.t.Fatalf("registration capture: %v %q", err, res.Reasons)
	}
	fp := match.NewFingerprint()
	var out []recordfeed.Biometric
	for _, s := range res.Samples {
		tp, err := fp.Extract(s.ISO)
		if err != nil {
			f.t.Fatalf("%s: %v", s.BioSubType, err)
		}
		b, _ := tp.MarshalBinary()
		out = append(out, recordfeed.Biometric{Type: sbi.TypeFinger, SubType: s.BioSubType, Format: recordfeed.TemplateMCC, Data: b})
	}
	if len(out) != 4 {
		f.t.Fatalf("%d templates from a 4-finger slap", len(out))
	}
	return out
}

// authCapture captures a fresh auth sample on dev for txn.
func (f *fixture) authCapture(dev, typ, txn string) json.RawMessage {
	f.t.Helper()
	req := agenttest.AuthRequest(dev, typ, 1)
	req.TransactionID = txn
	return f.ag.Capture(f.t, req)
}

type answer struct {
	status int
	body   []byte
	resp   auth.Response
	err    error // the request failed (the TLS handshake was refused)
}

func (a answer) has(code string) bool {
	for _, e := range a.resp.Decision.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

func (a answer) codes() []string {
	var out []string
	for _, e := range a.resp.Decision.Errors {
		out = append(out, e.Code)
	}
	return out
}

var txnC atomic.Int64

func txnID() string { return fmt.Sprintf("t-%d-%d", time.Now().UnixNano()%1e9, txnC.Add(1)) }

// post sends body with the relying party's key ("" for none; a key
// string starting "etr_" or "raw:" is sent as is).
func (f *fixture) post(key string, body any) answer {
	f.t.Helper()
	var b []byte
	switch x := body.(type) {
	case []byte:
		b = x
	default:
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/v1/auth", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	switch {
	case key == "":
	case strings.HasPrefix(key, "raw:"):
		req.Header.Set("Authorization", strings.TrimPrefix(key, "raw:"))
	case strings.HasPrefix(key, "etr_"):
		req.Header.Set("Authorization", "Bearer "+key)
	default:
		req.Header.Set("Authorization", "Bearer "+f.rpKeys[key].String())
	}
	hc := http.DefaultClient
	if f.client != nil {
		hc = f.client
	}
	resp, err := hc.Do(req)
	if err != nil {
		if f.client == nil {
			f.t.Fatal(err)
		}
		return answer{err: err} // a refused handshake
	}
	defer resp.Body.Close()
	var a answer
	a.status = resp.StatusCode
	buf := new(bytes.Buffer)
	buf.ReadFrom(resp.Body)
	a.body = buf.Bytes()
	if a.status == http.StatusOK {
		if err := json.Unmarshal(a.body, &a.resp); err != nil {
			f.t.Fatalf("answer does not decode: %v: %s", err, a.body)
		}
	}
	return a
}

func demoReq(number string, demo map[string]string) map[string]any {
	return map[string]any{"transactionId": txnID(), "individualId": number, "individualIdType": "VID", "consent": true,
		"requestedAuth": map[string]bool{"demo": true}, "demographics": demo, "matchMode": "exact"}
}

func bioReq(number, txn string, capture json.RawMessage) map[string]any {
	return map[string]any{"transactionId": txn, "individualId": number, "individualIdType": "VID", "consent": true,
		"requestedAuth": map[string]bool{"bio": true}, "biometrics": capture}
}

// seedOf is a test person's token seed (central draws it at random).
func seedOf(uin string) []byte {
	h := sha256.Sum256([]byte("token seed " + uin))
	return h[:]
}
