package auth_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/delegate"
)

// countingKey counts the TPM signatures made with the decision key.
type countingKey struct {
	crypto.Signer
	n atomic.Int64
}

func (k *countingKey) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	k.n.Add(1)
	return k.Signer.Sign(r, d, o)
}

// TestDelegatedDecisions (decision 0017): with a delegate, decisions are
// ES256 JWS whose critical edgetrust_dc header carries a credential the
// TPM key signed; VerifyJWS accepts them through the credential, the TPM
// signs once for many decisions, and a credential from another key, for
// another appliance, or outside its validity is refused.
func TestDelegatedDecisions(t *testing.T) {
	var tpmKey *countingKey
	var holder *delegate.Holder
	f := newFixture(t, func(c *auth.Config) {
		tpmKey = &countingKey{Signer: c.SigningKey}
		var err error
		if holder, err = delegate.NewHolder(tpmKey, auth.DelegateUse, c.ApplianceID, time.Hour, nil); err != nil {
			t.Fatal(err)
		}
		c.Delegate = holder
	})
	number := f.person("1111222233", "perpetual", asha, nil, nil)
	var jws []string
	for i := 0; i < 20; i++ {
		a := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
		wantDecision(t, a, true, "") // verifies the JWS with auth.VerifyJWS
		jws = append(jws, a.resp.JWS)
	}
	if n := tpmKey.n.Load(); n != 1 {
		t.Fatalf("the TPM key signed %d times for 20 decisions, want 1 (the credential)", n)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws[0], ".")[0])
	var h map[string]any
	json.Unmarshal(hb, &h)
	if h["alg"] != "ES256" || h[auth.DelegateHeader] == nil || h["crit"] == nil {
		t.Fatalf("delegated decision header %s", hb)
	}

	// Forgeries: rebuild the header around other credentials.
	_, cred, _ := holder.Current()
	other, err := delegate.NewHolder(&countingKey{Signer: tpmKey.Signer}, auth.DelegateUse, "EDGE-OTHER", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherCred, _ := other.Current()
	parts := strings.Split(jws[0], ".")
	reheader := func(mut func(h map[string]any)) string {
		var h map[string]any
		json.Unmarshal(hb, &h)
		mut(h)
		b, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "." + parts[2]
	}
	for name, bad := range map[string]string{
		"credential for another appliance": reheader(func(h map[string]any) { h[auth.DelegateHeader] = otherCred }),
		"no crit":                          reheader(func(h map[string]any) { delete(h, "crit") }),
		"RS256 with a credential":          reheader(func(h map[string]any) { h["alg"] = "RS256" }),
		"credential truncated":             reheader(func(h map[string]any) { h[auth.DelegateHeader] = cred[:len(cred)-4] }),
		"payload changed":                  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"authStatus":true,"applianceId":"EDGE-T","responseTime":"`+time.Now().UTC().Format(time.RFC3339)+`"}`)) + "." + parts[2],
	} {
		if _, _, err := auth.VerifyJWS(bad); err == nil {
			t.Errorf("%s: VerifyJWS accepted it", name)
		}
	}
	// A delegate for another appliance is refused at configuration.
	_, cfgErr := auth.New(auth.Config{Trust: f.reg, Records: f.recs, Captures: f.capv, SigningKey: f.signer.Key, Chain: f.signer.Chain,
		Delegate: other, ApplianceID: "EDGE-T", Auditor: f.audit})
	if cfgErr == nil || !strings.Contains(cfgErr.Error(), "delegate") {
		t.Errorf("a delegate for EDGE-OTHER was accepted for EDGE-T: %v", cfgErr)
	}
}

// TestDelegateExpiredAtDecisionTime: a credential is checked at the
// decision's responseTime, so a decision dated outside it is refused.
func TestDelegateExpiredAtDecisionTime(t *testing.T) {
	now := time.Now()
	var holder *delegate.Holder
	f := newFixture(t, func(c *auth.Config) {
		var err error
		if holder, err = delegate.NewHolder(c.SigningKey, auth.DelegateUse, c.ApplianceID, 10*time.Minute, func() time.Time { return now }); err != nil {
			t.Fatal(err)
		}
		c.Delegate = holder
		c.Now = func() time.Time { return now }
	})
	number := f.person("1111222233", "perpetual", asha, nil, nil)
	a := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
	wantDecision(t, a, true, "")
	now = now.Add(20 * time.Minute) // past the credential and the skew, not renewed
	if _, _, err := holder.Current(); err == nil {
		t.Fatal("the holder still signs with an expired credential")
	}
	b := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
	if b.status == 200 {
		t.Fatalf("a decision was signed with an expired delegate: %s", b.body)
	}
}

// TestDelegateOnConfiguredClock: the handler checks its delegate on its
// own clock (Config.Now), the one the appliance made the delegate on, not
// the host's: an appliance whose clock runs a day off still starts and
// signs, and a delegate only valid by the host's clock is refused.
func TestDelegateOnConfiguredClock(t *testing.T) {
	for _, skew := range []time.Duration{24 * time.Hour, -24 * time.Hour} {
		now := func() time.Time { return time.Now().Add(skew) }
		newFixture(t, func(c *auth.Config) {
			h, err := delegate.NewHolder(c.SigningKey, auth.DelegateUse, c.ApplianceID, time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			c.Delegate, c.Now = h, now
		})
	}
	// The converse: a delegate made on the host's clock, a handler a day
	// fast: the credential has expired by the handler's clock.
	f := newFixture(t, nil)
	h, err := delegate.NewHolder(f.signer.Key, auth.DelegateUse, "EDGE-T", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.New(auth.Config{Trust: f.reg, Records: f.recs, Captures: f.capv, SigningKey: f.signer.Key, Chain: f.signer.Chain,
		ApplianceID: "EDGE-T", Auditor: f.audit, RPRate: -1, Delegate: h, Now: func() time.Time { return time.Now().Add(24 * time.Hour) }})
	if err == nil || !strings.Contains(err.Error(), "delegate") {
		t.Fatalf("a delegate expired by the handler's clock was accepted: %v", err)
	}
}
