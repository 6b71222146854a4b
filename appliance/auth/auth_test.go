package auth_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

var asha = map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01", "phone": "+91 98450 00007"}

func wantDecision(t *testing.T, a answer, ok bool, code string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", a.status, a.body)
	}
	d := a.resp.Decision
	if d.AuthStatus != ok {
		t.Fatalf("authStatus %v, want %v (errors %q: %+v)", d.AuthStatus, ok, a.codes(), d.Errors)
	}
	if code != "" && !a.has(code) {
		t.Fatalf("want reason %s, got %q", code, a.codes())
	}
	if ok && (d.AuthToken == "" || len(d.Errors) != 0) {
		t.Fatalf("success without a token or with errors: %+v", d)
	}
	if !ok && (d.AuthToken != "" || d.KYC != nil) {
		t.Fatalf("failure carries a token or kyc: %+v", d)
	}
	// The JWS verifies with the appliance's key and says the same.
	payload, chain, err := auth.VerifyJWS(a.resp.JWS)
	if err != nil {
		t.Fatal(err)
	}
	var signed auth.Decision
	if err := json.Unmarshal(payload, &signed); err != nil {
		t.Fatal(err)
	}
	pb, _ := json.Marshal(signed)
	db, _ := json.Marshal(d)
	if !bytes.Equal(pb, db) || len(chain) == 0 {
		t.Fatalf("decision beside the JWS differs from the signed one:\n%s\n%s", pb, db)
	}
}

func TestDemographicAuth(t *testing.T) {
	f := newFixture(t, nil)
	number := f.person("1111222233", "perpetual", asha, nil, nil)

	t.Run("success with token ID and only the allowed attributes", func(t *testing.T) {
		a := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "  asha RAO ", "dateOfBirth": "1990-04-01"}))
		wantDecision(t, a, true, "")
		d := a.resp.Decision
		if len(d.AuthToken) != tokenidLen || strings.Trim(d.AuthToken, "0123456789") != "" {
			t.Fatalf("token %q is not 36 digits", d.AuthToken)
		}
		if len(d.KYC) != 1 || d.KYC["fullName"] != "Asha Rao" {
			t.Fatalf("kyc %v: kiosk-a may receive fullName only", d.KYC)
		}
		if d.RP != "kiosk-a" || d.ApplianceID != "EDGE-T" || d.TransactionID == "" {
			t.Fatalf("decision %+v", d)
		}
		if strings.Contains(string(a.body), number) || strings.Contains(string(a.body), "1111222233") {
			t.Fatal("the answer carries the VID or the UIN")
		}
		ad := f.audit.last()
		if !ad.Status || ad.RP != "kiosk-a" || ad.VID != number || !slices.Equal(ad.AuthTypes, []string{recordfeed.AuthDemo}) || ad.TransactionID != d.TransactionID {
			t.Fatalf("audit %+v", ad)
		}
		again := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
		wantDecision(t, again, true, "")
		if again.resp.Decision.AuthToken != d.AuthToken {
			t.Fatal("the token ID of one person at one relying party changed")
		}
		b := f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
		wantDecision(t, b, true, "")
		if b.resp.Decision.AuthToken == d.AuthToken || b.resp.Decision.KYC != nil {
			t.Fatalf("kiosk-b: token %q (kiosk-a's %q), kyc %v", b.resp.Decision.AuthToken, d.AuthToken, b.resp.Decision.KYC)
		}
		other := f.person("9999888877", "perpetual", asha, nil, nil)
		if o := f.post("kiosk-a", demoReq(other, map[string]string{"fullName": "Asha Rao"})); o.resp.Decision.AuthToken == d.AuthToken {
			t.Fatal("two people share a token ID")
		}
	})
	t.Run("the same person's other VID gives the same token", func(t *testing.T) {
		v2 := f.person("1111222233", "temporary", asha, nil, nil)
		a1 := f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"}))
		a2 := f.post("kiosk-a", demoReq(v2, map[string]string{"fullName": "Asha Rao"}))
		wantDecision(t, a2, true, "")
		if a1.resp.Decision.AuthToken != a2.resp.Decision.AuthToken {
			t.Fatal("token differs between two VIDs of one UIN")
		}
	})
	t.Run("wrong demographics", func(t *testing.T) {
		a := f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1991-04-01"}))
		wantDecision(t, a, false, auth.CodeDemoMismatch)
		if ad := f.audit.last(); ad.Status || !slices.Equal(ad.Reasons, []string{auth.CodeDemoMismatch}) {
			t.Fatalf("audit %+v", ad)
		}
		wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha"})), false, auth.CodeDemoMismatch)
		wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"nickname": "Ash"})), false, auth.CodeDemoAttribute)
	})
	t.Run("partial match", func(t *testing.T) {
		r := demoReq(number, map[string]string{"fullName": "Dr. Rao Asha Kumari"})
		wantDecision(t, f.post("kiosk-b", r), false, auth.CodeDemoMismatch)
		r = demoReq(number, map[string]string{"fullName": "Dr. Rao Asha Kumari"})
		r["matchMode"] = "partial"
		wantDecision(t, f.post("kiosk-b", r), true, "")
	})
	t.Run("consent", func(t *testing.T) {
		r := demoReq(number, map[string]string{"fullName": "Asha Rao"})
		r["consent"] = false
		wantDecision(t, f.post("kiosk-b", r), false, auth.CodeConsent)
	})
	t.Run("locked auth type", func(t *testing.T) {
		locked := f.person("2222333344", "perpetual", asha, nil, func(r *recordfeed.Record) { r.Locked = []string{recordfeed.AuthDemo} })
		wantDecision(t, f.post("kiosk-b", demoReq(locked, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeLocked)
	})
	t.Run("one-time VID works once", func(t *testing.T) {
		once := f.person("3333444455", "one-time", asha, nil, nil)
		wantDecision(t, f.post("kiosk-b", demoReq(once, map[string]string{"fullName": "Asha Rao"})), true, "")
		wantDecision(t, f.post("kiosk-b", demoReq(once, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeVIDUsed)
	})
	t.Run("one-time VID under concurrent use succeeds exactly once", func(t *testing.T) {
		once := f.person("3333444466", "one-time", asha, nil, nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Go(func() {
				a := f.post("kiosk-b", demoReq(once, map[string]string{"fullName": "Asha Rao"}))
				mu.Lock()
				defer mu.Unlock()
				if a.resp.Decision.AuthStatus {
					ok++
				} else if !a.has(auth.CodeVIDUsed) {
					t.Errorf("concurrent use refused with %q", a.codes())
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d successes of a one-time VID", ok)
		}
	})
	t.Run("expired temporary VID", func(t *testing.T) {
		old := f.person("4444555566", "temporary", asha, nil, func(r *recordfeed.Record) {
			r.VIDIssued, r.VIDExpires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		})
		wantDecision(t, f.post("kiosk-b", demoReq(old, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeVIDExpired)
	})
	t.Run("unknown and invalid VIDs", func(t *testing.T) {
		n, _ := vid.Generate()
		wantDecision(t, f.post("kiosk-b", demoReq(n, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeVIDUnknown)
		bad := number[:15] + string('0'+(number[15]-'0'+1)%10)
		wantDecision(t, f.post("kiosk-b", demoReq(bad, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeVIDInvalid)
	})
	t.Run("a capture without entries", func(t *testing.T) {
		a := f.post("kiosk-a", bioReq(number, "txn-bio-1", json.RawMessage(`{"biometrics":[]}`)))
		// A capture with no entries declares no bioType: refused as such.
		wantDecision(t, a, false, auth.CodeCapturePrefix+"input")
	})
	t.Run("relying party authentication", func(t *testing.T) {
		r := demoReq(number, map[string]string{"fullName": "Asha Rao"})
		for name, key := range map[string]string{
			"no key":        "",
			"not bearer":    "raw:Basic " + f.rpKeys["kiosk-a"].String(),
			"malformed":     "etr_nothex_short",
			"wrong secret":  trustfeed.RPKeyPrefix + f.rpKeys["kiosk-a"].id + "_" + strings.Repeat("x", 43),
			"unknown id":    trustfeed.RPKeyPrefix + "0123456789abcdef_" + f.rpKeys["kiosk-a"].secret,
			"other rp's id": trustfeed.RPKeyPrefix + f.rpKeys["kiosk-b"].id + "_" + f.rpKeys["kiosk-a"].secret,
		} {
			a := f.post(key, r)
			if a.status != http.StatusUnauthorized || !strings.Contains(string(a.body), "error") {
				t.Errorf("%s: HTTP %d %s", name, a.status, a.body)
			}
			if strings.Contains(string(a.body), f.rpKeys["kiosk-a"].secret) {
				t.Errorf("%s: the answer echoes the secret", name)
			}
		}
		for _, rp := range []string{"kiosk-s", "kiosk-r"} {
			if a := f.post(rp, r); a.status != http.StatusForbidden || !strings.Contains(string(a.body), rp) {
				t.Errorf("%s: HTTP %d %s", rp, a.status, a.body)
			}
		}
		// Suspending a relying party at central takes effect with the feed.
		k, fk := newRPKey()
		f.rpKeys["kiosk-c"] = k
		f.feed(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-c", Status: trustfeed.Active, AuthTypes: []string{recordfeed.AuthDemo}, Keys: []trustfeed.RPKey{fk}})
		wantDecision(t, f.post("kiosk-c", r), true, "")
		f.feed(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-c", Status: trustfeed.Suspended, AuthTypes: []string{recordfeed.AuthDemo}, Keys: []trustfeed.RPKey{fk}})
		if a := f.post("kiosk-c", r); a.status != http.StatusForbidden {
			t.Fatalf("suspended: HTTP %d", a.status)
		}
		// An entry without keys leaves it without keys.
		f.feed(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-c", Status: trustfeed.Active, AuthTypes: []string{recordfeed.AuthDemo}})
		if a := f.post("kiosk-c", r); a.status != http.StatusUnauthorized {
			t.Fatalf("key removed: HTTP %d", a.status)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for name, body := range map[string]any{
			"not json":        []byte("{"),
			"no transaction":  map[string]any{"individualId": number, "consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": asha},
			"bad transaction": map[string]any{"transactionId": "a b", "individualId": number, "consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": asha},
			"uin":             map[string]any{"transactionId": "t-1234", "individualId": number, "individualIdType": "UIN", "consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": asha},
			"nothing asked":   map[string]any{"transactionId": "t-1234", "individualId": number, "consent": true, "demographics": asha},
			"demo without":    map[string]any{"transactionId": "t-1234", "individualId": number, "consent": true, "requestedAuth": map[string]bool{"demo": true}},
			"bio without":     map[string]any{"transactionId": "t-1234", "individualId": number, "consent": true, "requestedAuth": map[string]bool{"bio": true}},
			"match mode":      map[string]any{"transactionId": "t-1234", "individualId": number, "consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": asha, "matchMode": "fuzzy"},
			"long value":      map[string]any{"transactionId": "t-1234", "individualId": number, "consent": true, "requestedAuth": map[string]bool{"demo": true}, "demographics": map[string]string{"fullName": strings.Repeat("a", 2000)}},
		} {
			a := f.post("kiosk-a", body)
			if a.status != http.StatusBadRequest {
				t.Errorf("%s: HTTP %d %s", name, a.status, a.body)
			}
			if strings.Contains(string(a.body), number) {
				t.Errorf("%s: the error echoes the VID", name)
			}
		}
		many := map[string]string{}
		for i := range 17 {
			many[string(rune('a'+i))] = "x"
		}
		if a := f.post("kiosk-a", demoReq(number, many)); a.status != http.StatusBadRequest {
			t.Errorf("17 attributes: HTTP %d", a.status)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		r := demoReq(number, map[string]string{"fullName": "Asha Rao"})
		r["padding"] = strings.Repeat("x", auth.MaxBody)
		if a := f.post("kiosk-a", r); a.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("HTTP %d %s", a.status, a.body)
		}
	})
	t.Run("audit failure fails closed and does not take the use", func(t *testing.T) {
		once := f.person("5555666677", "one-time", asha, nil, nil)
		f.audit.setFail(true)
		a := f.post("kiosk-b", demoReq(once, map[string]string{"fullName": "Asha Rao"}))
		f.audit.setFail(false)
		if a.status != http.StatusServiceUnavailable || !strings.Contains(string(a.body), "audit") {
			t.Fatalf("HTTP %d %s", a.status, a.body)
		}
		wantDecision(t, f.post("kiosk-b", demoReq(once, map[string]string{"fullName": "Asha Rao"})), true, "")
	})
	t.Run("tampered record", func(t *testing.T) {
		before := recordKeys(t, f)
		victim := f.person("6666777788", "perpetual", asha, nil, nil)
		var key []byte
		for k := range recordKeys(t, f) {
			if !before[k] {
				key = []byte(k)
			}
		}
		if key == nil {
			t.Fatal("the new record's key was not found")
		}
		err := f.st.DB.Update(func(txn *badger.Txn) error {
			it, err := txn.Get(key)
			if err != nil {
				return err
			}
			v, _ := it.ValueCopy(nil)
			v[len(v)/2] ^= 0x01
			return txn.Set(key, v)
		})
		if err != nil {
			t.Fatal(err)
		}
		wantDecision(t, f.post("kiosk-b", demoReq(victim, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeTampered)
	})
	// No decision let a VID or UIN into an error message.
	for _, d := range f.audit.all {
		for _, r := range d.Reasons {
			if strings.Contains(r, number) {
				t.Fatal("a reason code carries the VID")
			}
		}
	}
}

const tokenidLen = 36

func recordKeys(t *testing.T, f *fixture) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	f.st.DB.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte("rec/r/")
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out[string(it.Item().KeyCopy(nil))] = true
		}
		return nil
	})
	return out
}

func TestLockout(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.LockoutFailures, c.LockoutDuration = 3, 700*time.Millisecond })
	number := f.person("7777888899", "perpetual", asha, nil, nil)
	wrong := map[string]string{"fullName": "Someone Else"}
	for range 3 {
		wantDecision(t, f.post("kiosk-b", demoReq(number, wrong)), false, auth.CodeDemoMismatch)
	}
	// Locked out: even the right answer is refused, and says so.
	wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"})), false, auth.CodeLockedOut)
	// Other VIDs are not affected.
	other := f.person("7777888800", "perpetual", asha, nil, nil)
	wantDecision(t, f.post("kiosk-b", demoReq(other, map[string]string{"fullName": "Asha Rao"})), true, "")
	time.Sleep(800 * time.Millisecond)
	wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"})), true, "")
	// A success clears the count: two failures do not lock.
	for range 2 {
		wantDecision(t, f.post("kiosk-b", demoReq(number, wrong)), false, auth.CodeDemoMismatch)
	}
	wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"})), true, "")
	for range 2 {
		wantDecision(t, f.post("kiosk-b", demoReq(number, wrong)), false, auth.CodeDemoMismatch)
	}
	wantDecision(t, f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"})), true, "")
}

func TestRPRateLimit(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.RPRate, c.RPBurst = 1, 3 })
	number := f.person("8888999900", "perpetual", asha, nil, nil)
	limited := 0
	for range 6 {
		if a := f.post("kiosk-b", demoReq(number, map[string]string{"fullName": "Asha Rao"})); a.status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 2 {
		t.Fatalf("%d of 6 rapid requests limited with a burst of 3", limited)
	}
	// Another relying party has its own bucket.
	wantDecision(t, f.post("kiosk-a", demoReq(number, map[string]string{"fullName": "Asha Rao"})), true, "")
}

func TestBiometricAuth(t *testing.T) {
	f := newFixture(t, nil)
	seven := f.enrolFingers(7)
	number := f.person("1212343456", "perpetual", asha, seven, nil)
	eight := f.enrolFingers(8)
	binod := f.person("5656787890", "perpetual", map[string]string{"fullName": "Binod Kumar"}, eight, nil)

	bio := func(rp, number string, prep func(txn string, raw json.RawMessage) (string, json.RawMessage)) answer {
		txn := txnID()
		raw := f.authCapture(fingerAuth, sbi.TypeFinger, txn)
		if prep != nil {
			txn, raw = prep(txn, raw)
		}
		return f.post(rp, bioReq(number, txn, raw))
	}
	t.Run("the enrolled finger matches", func(t *testing.T) {
		f.present(7, "Left IndexFinger")
		a := bio("kiosk-a", number, nil)
		wantDecision(t, a, true, "")
		if d := f.audit.last(); d.Device != fingerAuth || !slices.Equal(d.AuthTypes, []string{recordfeed.AuthFinger}) {
			t.Fatalf("audit %+v", d)
		}
		f.present(8, "Left MiddleFinger")
		wantDecision(t, bio("kiosk-a", binod, nil), true, "")
	})
	t.Run("a capture authenticates once", func(t *testing.T) {
		f.present(7, "Left IndexFinger")
		txn := txnID()
		raw := f.authCapture(fingerAuth, sbi.TypeFinger, txn)
		wantDecision(t, f.post("kiosk-a", bioReq(number, txn, raw)), true, "")
		// The same capture again, even by the same relying party and for
		// the same transaction, is a replay.
		wantDecision(t, f.post("kiosk-a", bioReq(number, txn, raw)), false, auth.CodeReplayed)
	})
	t.Run("demo and bio together", func(t *testing.T) {
		f.present(7, "Left RingFinger")
		txn := txnID()
		r := bioReq(number, txn, f.authCapture(fingerAuth, sbi.TypeFinger, txn))
		r["requestedAuth"] = map[string]bool{"bio": true, "demo": true}
		r["demographics"] = map[string]string{"dateOfBirth": "1990-04-01"}
		a := f.post("kiosk-a", r)
		wantDecision(t, a, true, "")
		if d := f.audit.last(); !slices.Equal(d.AuthTypes, []string{recordfeed.AuthDemo, recordfeed.AuthFinger}) {
			t.Fatalf("audit auth types %v", d.AuthTypes)
		}
	})
	t.Run("a finger not enrolled does not match", func(t *testing.T) {
		f.present(7, "Right IndexFinger")
		wantDecision(t, bio("kiosk-a", number, nil), false, auth.CodeBioMismatch)
	})
	t.Run("another person's finger does not match", func(t *testing.T) {
		f.present(8, "Left IndexFinger")
		wantDecision(t, bio("kiosk-a", number, nil), false, auth.CodeBioMismatch)
	})
	t.Run("relying party not allowed fingerprints", func(t *testing.T) {
		f.present(7, "Left IndexFinger")
		wantDecision(t, bio("kiosk-b", number, nil), false, auth.CodeAuthType)
	})
	t.Run("capture for another transaction", func(t *testing.T) {
		f.present(7, "Left IndexFinger")
		a := bio("kiosk-a", number, func(_ string, raw json.RawMessage) (string, json.RawMessage) { return txnID(), raw })
		wantDecision(t, a, false, auth.CodeCapturePrefix+string(sbi.CheckTransactionID))
	})
	t.Run("iris against a record with no iris template, never a pass", func(t *testing.T) {
		txn := txnID()
		raw := f.authCapture(irisAuth, sbi.TypeIris, txn)
		wantDecision(t, f.post("kiosk-a", bioReq(number, txn, raw)), false, auth.CodeNoTemplate)
	})
	t.Run("locked fingerprints", func(t *testing.T) {
		locked := f.person("1212343457", "perpetual", asha, seven, func(r *recordfeed.Record) { r.Locked = []string{recordfeed.AuthFinger} })
		f.present(7, "Left IndexFinger")
		wantDecision(t, bio("kiosk-a", locked, nil), false, auth.CodeLocked)
		wantDecision(t, f.post("kiosk-a", demoReq(locked, map[string]string{"fullName": "Asha Rao"})), true, "")
	})
	t.Run("capture from a revoked device", func(t *testing.T) {
		f.present(7, "Left IndexFinger")
		f.device(fingerAuth, trustfeed.Revoked)
		a := bio("kiosk-a", number, nil)
		f.device(fingerAuth, trustfeed.Active)
		wantDecision(t, a, false, "device-revoked")
		if d := f.audit.last(); d.Device != fingerAuth || d.Status {
			t.Fatalf("audit %+v", d)
		}
		wantDecision(t, bio("kiosk-a", number, nil), true, "")
	})
}
