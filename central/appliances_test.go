package central

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// testAppliance is an appliance enrolled with central and its TPM keys.
type testAppliance struct {
	id   string
	tpm  *agentTPM
	dec  *tpm.Key
	sign *tpm.Key
}

func enrolTestAppliance(t *testing.T, h *harness, id string) *testAppliance {
	t.Helper()
	a := newAgentTPM(t)
	h.allow(a)
	enc, err := a.tpm.CreateKey(ctx, tpm.RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenAppliance, Appliance: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.prover().EnrolAppliance(ctx, h.client, tr.Token, id, enc, sign, nil); err != nil {
		t.Fatal(err)
	}
	return &testAppliance{id: id, tpm: a, dec: enc, sign: sign}
}

// ops reads an appliance's records feed from seq after, opens every batch
// with its TPM key and checks every record's signature.
func (ta *testAppliance) ops(t *testing.T, h *harness, after uint64) ([]recordfeed.Op, []*recordfeed.Record) {
	t.Helper()
	b, err := h.c.Batch(ctx, recordfeed.FeedName(ta.id), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert := ta.cert(t, h)
	ver := recordfeed.Verifier{Keys: []ed25519.PublicKey{h.c.FeedPublicKey()}}
	var ops []recordfeed.Op
	var recs []*recordfeed.Record
	for _, raw := range b.Entries {
		e, err := feed.DecodeEntry(raw)
		if err != nil || e.Kind != recordfeed.Kind {
			t.Fatalf("records feed entry: %v %q", err, e.Kind)
		}
		s, err := recordfeed.DecodeSealed(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := recordfeed.Open(s, ta.id, cert, ta.dec)
		if err != nil {
			t.Fatalf("%s cannot open its own batch: %v", ta.id, err)
		}
		for _, op := range batch.Ops {
			ops = append(ops, op)
			if op.Put != nil {
				if err := ver.Verify(op.Put.Record, op.Put.Sig); err != nil {
					t.Fatal(err)
				}
				r, err := recordfeed.Unmarshal(op.Put.Record)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
		}
	}
	return ops, recs
}

func (ta *testAppliance) cert(t *testing.T, h *harness) *x509.Certificate {
	t.Helper()
	var ap *store.Appliance
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		ap, err = tx.Appliance(ctx, ta.id)
		return err
	})
	c, err := x509.ParseCertificate(ap.EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func feedSize(t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	_, size, err := h.st.ReadFeed(ctx, name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func TestRelyingPartyKeysOnTheTrustFeed(t *testing.T) {
	h := newHarness(t)
	if _, err := h.c.AddRelyingParty(ctx, h.admin, "kiosk", "Kiosk", []string{"fullName"}, nil); err == nil {
		t.Fatal("a relying party without auth types")
	}
	if _, err := h.c.AddRelyingParty(ctx, h.admin, "kiosk", "Kiosk", []string{"fullName"}, []string{"demo", "bio-Finger"}); err != nil {
		t.Fatal(err)
	}
	key, keyID, err := h.c.AddRPKey(ctx, h.admin, "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := trustfeed.ParseRPKey(key)
	if !ok || id != keyID {
		t.Fatalf("key %q does not parse", key)
	}
	last := func() *trustfeed.RelyingParty {
		entries := h.follower().sync(t, h)
		for i := len(entries) - 1; i >= 0; i-- {
			if v, err := trustfeed.Decode(entries[i].Kind, entries[i].Data); err == nil {
				if rp, ok := v.(*trustfeed.RelyingParty); ok {
					return rp
				}
			}
		}
		t.Fatal("no relying-party entry on the trust feed")
		return nil
	}
	rp := last()
	if rp.ID != "kiosk" || len(rp.Keys) != 1 || !trustfeed.RPKeyMatches(secret, rp.Keys[0]) || strings.Join(rp.AuthTypes, ",") != "demo,bio-Finger" {
		t.Fatalf("rp entry: %+v", rp)
	}
	sum := sha256.Sum256([]byte(secret))
	var stored *store.RelyingParty
	h.st.View(ctx, func(tx store.Tx) error { stored, _ = tx.RelyingParty(ctx, "kiosk"); return nil })
	if raw, _ := json.Marshal(stored); bytes.Contains(raw, []byte(secret)) || !bytes.Equal(stored.Keys[0].SHA256, sum[:]) {
		t.Fatal("the key secret is stored, or its hash is not")
	}
	if _, err := h.c.RevokeRPKey(ctx, h.admin, "kiosk", keyID); err != nil {
		t.Fatal(err)
	}
	if rp := last(); len(rp.Keys) != 0 {
		t.Fatalf("revoked key still published: %+v", rp.Keys)
	}
	if _, err := h.c.SetRelyingPartyStatus(ctx, h.admin, "kiosk", StatusChange{Status: trustfeed.Suspended, Reason: "audit"}); err != nil {
		t.Fatal(err)
	}
	if rp := last(); rp.Status != trustfeed.Suspended {
		t.Fatalf("suspension not published: %+v", rp)
	}
}
