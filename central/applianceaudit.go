package central

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// ApplianceAuditFeed is where central keeps an appliance's uploaded
// decision log: a feed (never served: Batch serves an allow-list) whose
// entries are the log's entries byte for byte, so its Merkle roots are the
// appliance's.
func ApplianceAuditFeed(applianceID string) string { return "audit." + applianceID }

// ReceiveApplianceAudit takes an upload of an appliance's decision log:
// entries after the size central holds and a checkpoint at their end,
// signed by the appliance's TPM key that central certified. The entries are
// stored only if the root central recomputes over everything it holds
// equals the signed root; a checkpoint event goes to central's audit log in
// the same transaction. A from other than central's size is a conflict
// whose answer carries the size to resume from.
func (c *Central) ReceiveApplianceAudit(ctx context.Context, applianceID string, body io.Reader) (*audit.UploadAck, error) {
	up, err := audit.DecodeUpload(body)
	if errors.Is(err, audit.ErrUploadTooLarge) {
		return nil, fail(http.StatusRequestEntityTooLarge, enrol.CodeBadRequest, "%v", err)
	}
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if up.Origin != "appliance/"+applianceID {
		return nil, badRequest("the upload's origin %q is not appliance/%s", up.Origin, applianceID)
	}
	var ack audit.UploadAck
	err = c.st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Appliance(ctx, applianceID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", applianceID)
		}
		if err != nil {
			return err
		}
		if a.Status != trustfeed.Active {
			return fail(http.StatusForbidden, enrol.CodeNotActive, "appliance %s is %s; its audit uploads are refused", applianceID, a.Status)
		}
		cert, err := x509.ParseCertificate(a.SigningCert)
		if err != nil {
			return fail(http.StatusForbidden, enrol.CodeNotActive, "appliance %s has no signing certificate; enrol it again", applianceID)
		}
		if err := audit.VerifyCheckpoint(cert.PublicKey, &up.Checkpoint); err != nil {
			return fail(http.StatusBadRequest, enrol.CodeBadRequest, "the checkpoint is not signed by appliance %s's certified key", applianceID)
		}
		name := ApplianceAuditFeed(applianceID)
		head, err := tx.FeedHead(ctx, name)
		if err != nil {
			return err
		}
		if head.Size != up.From {
			ack.Size = head.Size
			return errConflictSize
		}
		leaves := make([][]byte, len(up.Entries))
		recs := make([]store.FeedRecord, len(up.Entries))
		for i, e := range up.Entries {
			leaves[i] = feed.LeafHash(e)
			recs[i] = store.FeedRecord{Seq: head.Size + uint64(i) + 1, Body: e}
		}
		next, roots, err := head.Append(leaves...)
		if err != nil {
			return err
		}
		if !bytes.Equal(roots[len(roots)-1], up.Checkpoint.Root) {
			return fail(http.StatusBadRequest, enrol.CodeBadRequest, "the entries do not produce the signed root: the log was altered or entries are missing")
		}
		for i := range recs {
			recs[i].Root = roots[i]
		}
		if err := tx.PutFeed(ctx, name, recs, next); err != nil {
			return err
		}
		ack.Size = next.Size
		_, err = store.AppendAudit(ctx, tx, store.AuditEvent{Time: c.now(), Actor: "appliance:" + applianceID,
			Action: "appliance.audit-checkpoint", Subject: "appliance:" + applianceID,
			Detail: fmt.Appendf(nil, `{"size":%d,"root":"%s","entries":%d}`, next.Size, hex.EncodeToString(up.Checkpoint.Root), len(up.Entries))})
		return err
	})
	if errors.Is(err, errConflictSize) {
		return &ack, &enrol.Error{Status: http.StatusConflict, Code: codeAuditConflict,
			Message: fmt.Sprintf("central holds %d entries of this log; upload from there", ack.Size)}
	}
	if err != nil {
		return nil, err
	}
	return &ack, nil
}

// codeAuditConflict: the upload does not start where central's copy ends.
const codeAuditConflict = "audit_size_conflict"

var errConflictSize = errors.New("central: audit upload does not start at the stored size")
