package central

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// maxRPKeys bounds a relying party's live API keys (rotation needs two).
const maxRPKeys = 8

// updateRP runs f on a relying party and publishes the result.
func (c *Central) updateRP(ctx context.Context, a *Admin, id, action string, detail any, f func(rp *store.RelyingParty) error) (*store.RelyingParty, error) {
	var out store.RelyingParty
	err := c.st.Update(ctx, func(tx store.Tx) error {
		rp, err := tx.RelyingParty(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("relying party", id)
		}
		if err != nil {
			return err
		}
		if err := f(rp); err != nil {
			return err
		}
		rp.Updated = c.now().UTC()
		if err := tx.PutRelyingParty(ctx, rp); err != nil {
			return err
		}
		if err := c.audit(ctx, tx, a.Actor(), action, "relying-party:"+id, detail); err != nil {
			return err
		}
		out = *rp
		return c.publish(ctx, tx, feeds.RPEntry(rp))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AddRPKey makes an API key for a relying party. The key is returned once;
// only the SHA-256 of its secret is stored and published.
func (c *Central) AddRPKey(ctx context.Context, a *Admin, rpID string) (key, keyID string, err error) {
	idb := make([]byte, 8)
	sb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(sb); err != nil {
		return "", "", err
	}
	keyID = hex.EncodeToString(idb)
	secret := hex.EncodeToString(sb)
	sum := sha256.Sum256([]byte(secret))
	_, err = c.updateRP(ctx, a, rpID, "relying-party.key-add", map[string]string{"keyId": keyID}, func(rp *store.RelyingParty) error {
		if rp.Status == trustfeed.Revoked {
			return fail(http.StatusConflict, enrol.CodeNotActive, "relying party %s is revoked", rpID)
		}
		live := 0
		for _, k := range rp.Keys {
			if !k.Revoked {
				live++
			}
		}
		if live >= maxRPKeys {
			return badRequest("relying party %s has %d live keys; revoke one first", rpID, live)
		}
		rp.Keys = append(rp.Keys, store.RPKey{ID: keyID, SHA256: sum[:], Created: c.now().UTC()})
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return trustfeed.RPKeyPrefix + keyID + "_" + secret, keyID, nil
}

// RevokeRPKey revokes one API key of a relying party.
func (c *Central) RevokeRPKey(ctx context.Context, a *Admin, rpID, keyID string) (*store.RelyingParty, error) {
	if _, err := hex.DecodeString(keyID); err != nil || len(keyID) != 16 {
		return nil, badRequest("key id %q: want the 16 hex digits after etr_ in the key", keyID)
	}
	return c.updateRP(ctx, a, rpID, "relying-party.key-revoke", map[string]string{"keyId": keyID}, func(rp *store.RelyingParty) error {
		for i := range rp.Keys {
			if rp.Keys[i].ID == keyID && !rp.Keys[i].Revoked {
				rp.Keys[i].Revoked = true
				return nil
			}
		}
		return notFound("live key of "+rpID, keyID)
	})
}

// SetRelyingPartyStatus suspends, revokes or reinstates a relying party.
func (c *Central) SetRelyingPartyStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*store.RelyingParty, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return c.updateRP(ctx, a, id, statusAction("relying-party", s.Status), map[string]string{"to": s.Status, "reason": s.Reason}, func(rp *store.RelyingParty) error {
		if err := transition("relying party", id, rp.Status, s); err != nil {
			return err
		}
		rp.Status, rp.Reason = s.Status, s.Reason
		return nil
	})
}
