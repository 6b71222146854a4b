package truststate

import (
	"crypto/sha256"
	"testing"

	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

func rpKey(id, secret string) trustfeed.RPKey {
	h := sha256.Sum256([]byte(secret))
	return trustfeed.RPKey{ID: id, SHA256: h[:]}
}

func TestRelyingParties(t *testing.T) {
	e := newEnv(t)
	e.append(trustfeed.KindRP,
		trustfeed.RelyingParty{ID: "kiosk-a", Status: trustfeed.Active, AuthTypes: []string{"demo", "bio-Finger"}, Attributes: []string{"fullName"},
			Keys: []trustfeed.RPKey{rpKey("00000000000000a1", "secret-a1"), rpKey("00000000000000a2", "secret-a2")}},
		trustfeed.RelyingParty{ID: "kiosk-b", Status: trustfeed.Active, AuthTypes: []string{"demo"}, Keys: []trustfeed.RPKey{rpKey("00000000000000b1", "secret-b1")}})
	e.pollAll()
	check := func(keyID, wantRP string) *RPRecord {
		t.Helper()
		rp, k := e.reg.Snapshot().RPByKeyID(keyID)
		if wantRP == "" {
			if rp != nil {
				t.Fatalf("key %s: found %s", keyID, rp.ID)
			}
			return nil
		}
		if rp == nil || rp.ID != wantRP || k.ID != keyID {
			t.Fatalf("key %s: got %v, want %s", keyID, rp, wantRP)
		}
		return rp
	}
	a := check("00000000000000a2", "kiosk-a")
	if !a.AllowsAuthType("bio-Finger") || a.AllowsAuthType("bio-Iris") || !a.AllowsAttribute("fullName") || a.AllowsAttribute("phone") || a.Seq != 1 {
		t.Fatalf("kiosk-a policy %+v", a)
	}
	_, k := e.reg.Snapshot().RPByKeyID("00000000000000a1")
	if !trustfeed.RPKeyMatches("secret-a1", *k) || trustfeed.RPKeyMatches("secret-a2", *k) {
		t.Fatal("key hashes not kept")
	}
	check("00000000000000b1", "kiosk-b")
	check("00000000000000c1", "")

	// Each entry is the complete state: a key left out is gone, a status
	// change without keys leaves none.
	e.append(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-a", Status: trustfeed.Active, AuthTypes: []string{"demo"},
		Keys: []trustfeed.RPKey{rpKey("00000000000000a2", "secret-a2")}})
	e.append(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-b", Status: trustfeed.Suspended})
	e.pollAll()
	check("00000000000000a1", "")
	if a := check("00000000000000a2", "kiosk-a"); a.AllowsAuthType("bio-Finger") {
		t.Fatal("old policy kept")
	}
	check("00000000000000b1", "")
	if b := e.reg.RelyingParty("kiosk-b"); b == nil || b.Status != trustfeed.Suspended {
		t.Fatalf("kiosk-b %+v", b)
	}

	// A key id claimed by two relying parties is answered for neither.
	e.append(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-c", Status: trustfeed.Active, Keys: []trustfeed.RPKey{rpKey("00000000000000a2", "x")}})
	e.pollAll()
	check("00000000000000a2", "")

	// The state survives a restart.
	e.close()
	e.open(follow.Config{})
	if e.reg.RelyingParty("kiosk-b") == nil || len(e.reg.Snapshot().RPs) != 3 {
		t.Fatalf("after reopen: %v", e.reg.Snapshot().RPs)
	}
	check("00000000000000a2", "")
	e.append(trustfeed.KindRP, trustfeed.RelyingParty{ID: "kiosk-c", Status: trustfeed.Revoked})
	e.pollAll()
	if a := check("00000000000000a2", "kiosk-a"); a == nil {
		t.Fatal("kiosk-a lost its key")
	}
}
