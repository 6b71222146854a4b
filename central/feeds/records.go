package feeds

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// Records feeds: one per appliance, each entry a batch of record puts and
// VID deletions sealed to that appliance's TPM encryption key.

// DefaultGroup is the records group of people and appliances that name
// none.
const DefaultGroup = "default"

// ApplianceGroup is the records group an appliance follows.
func ApplianceGroup(a *store.Appliance) string {
	if a.Group == "" {
		return DefaultGroup
	}
	return a.Group
}

// GroupAppliances are the appliances of a group that follow its records:
// active and suspended ones (revoked appliances get nothing more).
func GroupAppliances(ctx context.Context, tx store.Tx, group, only string) ([]*store.Appliance, error) {
	all, err := tx.Appliances(ctx)
	if err != nil {
		return nil, err
	}
	var out []*store.Appliance
	for i := range all {
		ap := &all[i]
		if ap.Status == trustfeed.Revoked || ApplianceGroup(ap) != group || len(ap.EncryptionCert) == 0 || (only != "" && ap.ID != only) {
			continue
		}
		out = append(out, ap)
	}
	return out, nil
}

// Sealed batches travel as feed entries, whose canonical bytes are at most
// feed.MaxEntrySize: the entry holds the sealed batch's JSON, in which the
// ciphertext of the batch's JSON is base64. sealedOverhead covers the rest
// (entry envelope, appliance id, thumbprint, an RSA-4096 wrapped key,
// nonce, field names); MaxBatchPlain is what is left for the JSON of a
// batch.
const (
	sealedOverhead = 1536
	MaxBatchPlain  = (feed.MaxEntrySize-sealedOverhead)/4*3 - 16 // GCM tag
)

// EmptyBatch is the JSON of a batch without operations: OpSize(op) plus
// its length must fit MaxBatchPlain.
const EmptyBatch = `{"ops":[]}`

// OpSize is an operation's share of a batch's JSON.
func OpSize(op recordfeed.Op) (int, error) {
	b, err := json.Marshal(op)
	return len(b) + 1, err // and a comma
}

// PackOps splits ops into batches of at most recordfeed.MaxOps operations
// whose JSON fits MaxBatchPlain.
func PackOps(ops []recordfeed.Op) ([][]recordfeed.Op, error) {
	var out [][]recordfeed.Op
	start, size := 0, len(EmptyBatch)
	for i, op := range ops {
		n, err := OpSize(op)
		if err != nil {
			return nil, err
		}
		if n+len(EmptyBatch) > MaxBatchPlain {
			return nil, fmt.Errorf("central/feeds: one records-feed operation of %d bytes cannot fit a feed entry", n)
		}
		if i > start && (size+n > MaxBatchPlain || i-start == recordfeed.MaxOps) {
			out = append(out, ops[start:i])
			start, size = i, len(EmptyBatch)
		}
		size += n
	}
	if start < len(ops) {
		out = append(out, ops[start:])
	}
	return out, nil
}

// AppendSealed seals ops to ap, in batches that each fit one feed entry
// (PackOps), and appends them to its records feed.
func AppendSealed(ctx context.Context, tx store.Tx, ap *store.Appliance, ops []recordfeed.Op, now time.Time) error {
	cert, err := x509.ParseCertificate(ap.EncryptionCert)
	if err != nil {
		return fmt.Errorf("central/feeds: appliance %s encryption certificate: %w", ap.ID, err)
	}
	batches, err := PackOps(ops)
	if err != nil {
		return err
	}
	entries := make([]store.NewEntry, 0, len(batches))
	for _, b := range batches {
		s, err := recordfeed.Seal(&recordfeed.Batch{Ops: b}, ap.ID, cert)
		if err != nil {
			return err
		}
		entries = append(entries, store.NewEntry{Kind: recordfeed.Kind, Data: s})
	}
	_, err = store.AppendFeed(ctx, tx, recordfeed.FeedName(ap.ID), now, entries...)
	return err
}
