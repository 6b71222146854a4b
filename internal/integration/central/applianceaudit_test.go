package centralint

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/decisionlog"
	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// The appliance's decision log, uploaded by its own uploader to central.

func auditEvents(t *testing.T, h *harness) []store.AuditEvent {
	var out []store.AuditEvent
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(ctx, store.AuditFilter{Subject: "appliance:EDGE-1"})
		return err
	})
	return out
}

func countCheckpoints(es []store.AuditEvent) int {
	n := 0
	for _, e := range es {
		if e.Action == "appliance.audit-checkpoint" {
			n++
		}
	}
	return n
}

func TestApplianceAuditUpload(t *testing.T) {
	h := newHarness(t)
	ta := enrolTestAppliance(t, h, "EDGE-1")
	a, sign := ta.tpm, ta.sign
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(t.TempDir(), "db")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dl, err := decisionlog.Open(ctx, decisionlog.Config{DB: db, Origin: "appliance/EDGE-1", Signer: sign,
		Sealer: records.TPMSealer{TPM: a.tpm}, Every: 4, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	for i := 0; i < 10; i++ {
		if err := dl.Decision(ctx, auth.AuditDecision{Time: time.Now(), RP: "kiosk-a", TransactionID: "txn", VID: "2389475610293847",
			AuthTypes: []string{"demo"}, Status: i%2 == 0, Reasons: []string{"demo-mismatch"}}); err != nil {
			t.Fatal(err)
		}
	}
	up := &decisionlog.Uploader{Log: dl, Central: h.srv.URL, Appliance: "EDGE-1"}
	size, err := up.Once(ctx)
	if err != nil || size != 8 { // checkpoints at 4 and 8; 9 and 10 wait for the next one
		t.Fatalf("upload: size %d, %v", size, err)
	}
	if _, err := dl.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if size, err = up.Once(ctx); err != nil || size != 10 {
		t.Fatalf("second upload: size %d, %v", size, err)
	}
	// Central's copy has the appliance's roots.
	root, err := h.st.FeedRoot(ctx, central.ApplianceAuditFeed("EDGE-1"), 10)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := dl.Audit().Root(10)
	if !bytes.Equal(root, want) {
		t.Fatal("central's root of the uploaded log differs from the appliance's")
	}
	if n := countCheckpoints(auditEvents(t, h)); n != 2 { // one upload to 8, one to 10
		t.Fatalf("%d checkpoint events in central's audit, want 2", n)
	}
	// The uploaded entries never carry the VID.
	recs, _, _ := h.st.ReadFeed(ctx, central.ApplianceAuditFeed("EDGE-1"), 0, 100)
	for _, r := range recs {
		if bytes.Contains(r.Body, []byte("2389475610293847")) || bytes.Contains(r.Body, []byte(`"txn"`)) {
			t.Fatalf("identifier in an uploaded entry: %s", r.Body)
		}
	}
	// The audit feed is not served.
	if _, err := h.c.Batch(ctx, central.ApplianceAuditFeed("EDGE-1"), 0, 10); err == nil {
		t.Fatal("an appliance's audit log is served as a feed")
	}

	cp, _ := dl.Checkpoint(ctx)
	entry := func(i uint64) []byte { e, _ := dl.Audit().Entry(i); return e }
	post := func(u audit.Upload) (int, string) {
		b, _ := json.Marshal(u)
		r, err := http.Post(h.srv.URL+"/v1/appliances/EDGE-1/audit", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		s, _ := json.Marshal(m)
		return r.StatusCode, string(s)
	}
	before := h.snapshot()
	// A replay of an old upload: 409 with the size to resume from.
	if code, body := post(audit.Upload{Origin: "appliance/EDGE-1", From: 9, Entries: [][]byte{entry(9)}, Checkpoint: *cp}); code != http.StatusConflict || !strings.Contains(body, `"size":10`) {
		t.Fatalf("replay: %d %s", code, body)
	}
	// Entries that do not give the signed root.
	for i := 0; i < 2; i++ {
		dl.Decision(ctx, auth.AuditDecision{RP: "kiosk-a", VID: "2389475610293847", Status: true})
	}
	cp2, _ := dl.Checkpoint(ctx)
	forged := audit.Upload{Origin: "appliance/EDGE-1", From: 10, Entries: [][]byte{entry(10), []byte(`{"v":1,"authStatus":true}`)}, Checkpoint: *cp2}
	if code, body := post(forged); code != http.StatusBadRequest || !strings.Contains(body, "signed root") {
		t.Fatalf("altered entry: %d %s", code, body)
	}
	// A checkpoint signed by another key.
	other, _ := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	bad := *cp2
	c2, _ := audit.Open(db, "appliance/EDGE-1")
	signedByOther, err := c2.Sign(ctx, other, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad.Signature = signedByOther.Signature
	if code, body := post(audit.Upload{Origin: "appliance/EDGE-1", From: 10, Entries: [][]byte{entry(10), entry(11)}, Checkpoint: bad}); code != http.StatusBadRequest || !strings.Contains(body, "not signed") {
		t.Fatalf("foreign signature: %d %s", code, body)
	}
	if after := h.snapshot(); after != before {
		t.Fatal("a refused upload changed central's state")
	}
	if root, _ := h.st.FeedRoot(ctx, central.ApplianceAuditFeed("EDGE-1"), 11); root != nil {
		t.Fatal("refused entries were stored")
	}
	// A revoked appliance's uploads are refused.
	if _, err := h.c.SetApplianceStatus(ctx, h.admin, "EDGE-1", central.StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Once(ctx); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("upload from a revoked appliance: %v", err)
	}
	var ce *decisionlog.ConflictError
	if errors.As(err, &ce) {
		t.Fatal("revocation reported as a conflict")
	}
}
