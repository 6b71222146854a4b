package issuer

import (
	"crypto"
	"time"

	"github.com/edgetrust/edgetrust/claim169/trust"
)

// TrustList builds the trust list for the given issuer keys, valid for
// validity from now, signed by listSigner (an Ed25519 key verifiers already
// trust: central's list and feed key). pubs[i] is the public key of metas[i].
func TrustList(listSigner crypto.Signer, metas []Meta, pubs []crypto.PublicKey, revokedKIDs map[string]bool, validity time.Duration, now time.Time) ([]byte, error) {
	tl := &trust.TrustList{IssuedAt: now.UTC().Truncate(time.Second), NextUpdate: now.Add(validity).UTC().Truncate(time.Second)}
	for i, m := range metas {
		k, err := trust.NewIssuerKey(m.KIDBytes(), pubs[i], m.Issuer, m.NotBefore, m.NotAfter)
		if err != nil {
			return nil, err
		}
		if revokedKIDs[m.KID] {
			k.Status = trust.StatusRevoked
		}
		tl.Keys = append(tl.Keys, k)
	}
	return trust.SignTrustList(listSigner, tl)
}

// RevocationList builds the signed credential revocation list.
func RevocationList(listSigner crypto.Signer, revoked []trust.Revocation, validity time.Duration, now time.Time) ([]byte, error) {
	rl := &trust.RevocationList{IssuedAt: now.UTC().Truncate(time.Second), NextUpdate: now.Add(validity).UTC().Truncate(time.Second), Revoked: revoked}
	if rl.Revoked == nil {
		rl.Revoked = []trust.Revocation{}
	}
	return trust.SignRevocationList(listSigner, rl)
}
