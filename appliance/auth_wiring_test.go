package appliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

type memAuditor struct {
	mu  sync.Mutex
	n   int
	env appliance.AuditEnv
}

func (m *memAuditor) Decision(context.Context, auth.AuditDecision) error {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	return nil
}

func writePEM(t *testing.T, path string, pub ed25519.PublicKey) {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

// The appliance follows its records feed beside the trust feed, opens the
// batches sealed to its TPM key, and answers POST /v1/auth with a decision
// signed by its TPM key and handed to the auditor.
func TestAuthWiring(t *testing.T) {
	dir := t.TempDir()
	trustSrv, err := feedtest.New(truststate.FeedName)
	if err != nil {
		t.Fatal(err)
	}
	defer trustSrv.Close()
	recSrv, err := feedtest.New(recordfeed.FeedName("EDGE-A"))
	if err != nil {
		t.Fatal(err)
	}
	defer recSrv.Close()
	trustSrv.Also(recSrv)
	keys := t.TempDir()
	os.WriteFile(filepath.Join(keys, "trust.pem"), trustSrv.PublicKeyPEM(), 0o644)
	os.WriteFile(filepath.Join(keys, "records.pem"), recSrv.PublicKeyPEM(), 0o644)
	pub, central, _ := ed25519.GenerateKey(rand.Reader)
	writePEM(t, filepath.Join(keys, "central.pem"), pub)

	aud := &memAuditor{}
	cfg := appliance.Config{State: dir, Listen: "127.0.0.1:0", Central: trustSrv.URL(), TPM: "sim", ID: "EDGE-A", RPAuth: auth.RPAuthKey, // plain HTTP

		FeedKeys: []string{filepath.Join(keys, "trust.pem"), filepath.Join(keys, "records.pem"), filepath.Join(keys, "central.pem")}}
	opts := appliance.Options{Logger: newLogger(&syncBuf{}),
		Sync: follow.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MinInterval: 20 * time.Millisecond},
		NewAuditor: func(env appliance.AuditEnv) (auth.Auditor, error) {
			aud.env = env
			return aud, nil
		}}
	a, err := appliance.Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if st := a.Status(); !st.Auth.Enabled || st.ApplianceID != "EDGE-A" || st.Auth.RecordsSync == nil {
		t.Fatalf("status %+v", st.Auth)
	}
	if aud.env.DB == nil || aud.env.TPM == nil || aud.env.Signer == nil || !aud.env.Signer.SelfIssued || aud.env.ApplianceID != "EDGE-A" {
		t.Fatalf("audit env %+v", aud.env)
	}

	// Central: a relying party on the trust feed, a record sealed to the
	// appliance's encryption certificate on its records feed.
	secret := strings.Repeat("s", 40)
	h := sha256.Sum256([]byte(secret))
	trustSrv.Append(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk", Status: trustfeed.Active, AuthTypes: []string{recordfeed.AuthDemo},
		Attributes: []string{"fullName"}, Keys: []trustfeed.RPKey{{ID: "0123456789abcdef", SHA256: h[:]}}})
	b, _ := os.ReadFile(filepath.Join(dir, tpmkey.CertFile))
	blk, _ := pem.Decode(b)
	cert, _ := x509.ParseCertificate(blk.Bytes)
	number, _ := vid.Generate()
	now := time.Now()
	rec := &recordfeed.Record{Version: recordfeed.Version, UIN: "4242424242", VID: number, VIDKind: "perpetual", VIDIssued: now, Issued: now,
		Demographics: map[string]string{"fullName": "Asha Rao"}, TokenSeed: bytes.Repeat([]byte{9}, recordfeed.TokenSeedLen)}
	rb, _ := rec.Marshal()
	sealed, err := recordfeed.Seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: &recordfeed.Signed{Record: rb, Sig: recordfeed.Sign(central, rb)}}}}, "EDGE-A", cert)
	if err != nil {
		t.Fatal(err)
	}
	recSrv.Append(recordfeed.Kind, sealed)

	post := func() (int, auth.Response) {
		body, _ := json.Marshal(map[string]any{"transactionId": "wire-1", "individualId": number, "consent": true,
			"requestedAuth": map[string]bool{"demo": true}, "demographics": map[string]string{"fullName": "asha rao"}})
		req, _ := http.NewRequest(http.MethodPost, a.URL()+"/v1/auth", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer etr_0123456789abcdef_"+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r auth.Response
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &r)
		return resp.StatusCode, r
	}
	waitFor(t, 10*time.Second, "record and relying party synced", func() bool {
		code, r := post()
		return code == http.StatusOK && r.Decision.AuthStatus
	})
	_, r := post()
	payload, chain, err := auth.VerifyJWS(r.JWS)
	if err != nil || !bytes.Contains(payload, []byte(`"authStatus":true`)) || r.Decision.KYC["fullName"] != "Asha Rao" {
		t.Fatalf("JWS %v %s", err, payload)
	}
	signing, _ := os.ReadFile(filepath.Join(dir, tpmkey.SelfSigningCertFile))
	if blk, _ := pem.Decode(signing); blk == nil || !bytes.Equal(blk.Bytes, chain[0].Raw) {
		t.Fatal("the decision is not signed with the appliance's decision key")
	}
	if st := a.Status(); st.Auth.RecordsApplied != 1 {
		t.Fatalf("records applied %d", st.Auth.RecordsApplied)
	}
	aud.mu.Lock()
	n := aud.n
	aud.mu.Unlock()
	if n < 2 {
		t.Fatalf("%d decisions audited", n)
	}
}

// Without an auditor no decision is made: POST /v1/auth answers 503.
func TestAuthNeedsAnAuditor(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	writePEM(t, keyFile, pub)
	a, err := appliance.Start(context.Background(), appliance.Config{State: dir, Listen: "127.0.0.1:0", TPM: "sim", ID: "EDGE-B", FeedKeys: []string{keyFile}},
		appliance.Options{Logger: newLogger(&syncBuf{})})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	resp, err := http.Post(a.URL()+"/v1/auth", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "audit") {
		t.Fatalf("HTTP %d %s", resp.StatusCode, body)
	}
	if st := a.Status(); st.Auth.Enabled || !strings.Contains(st.Auth.Disabled, "audit") {
		t.Fatalf("status %+v", st.Auth)
	}
}
