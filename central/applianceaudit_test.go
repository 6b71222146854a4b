package central

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// enrolledAppliance enrols EDGE-1 and returns its TPM and signing key.
func enrolledAppliance(t *testing.T, h *harness) (*agentTPM, *tpm.Key) {
	t.Helper()
	ta := enrolTestAppliance(t, h, "EDGE-1")
	return ta.tpm, ta.sign
}

func auditEvents(t *testing.T, h *harness) []store.AuditEvent {
	var out []store.AuditEvent
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(ctx, store.AuditFilter{Subject: "appliance:EDGE-1"})
		return err
	})
	return out
}

// auditUpload signs a checkpoint over n test entries after from (entries
// before from are e(0..from-1)) with key, as appliance origin.
func auditUpload(t *testing.T, key crypto.Signer, origin string, from, n int) audit.Upload {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := audit.Open(db, origin)
	if err != nil {
		t.Fatal(err)
	}
	up := audit.Upload{Origin: origin, From: uint64(from)}
	for i := 0; i < from+n; i++ {
		e := fmt.Appendf(nil, `{"v":1,"rp":"kiosk-a","n":%d}`, i)
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
		if i >= from {
			up.Entries = append(up.Entries, e)
		}
	}
	cp, err := l.Sign(ctx, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	up.Checkpoint = *cp
	return up
}

func postAudit(t *testing.T, h *harness, id string, body []byte) (int, map[string]json.RawMessage) {
	t.Helper()
	r, err := http.Post(h.srv.URL+"/v1/appliances/"+id+"/audit", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var m map[string]json.RawMessage
	json.NewDecoder(r.Body).Decode(&m)
	return r.StatusCode, m
}

func TestApplianceAuditRefusals(t *testing.T) {
	h := newHarness(t)
	_, sign := enrolledAppliance(t, h)
	stored := func(id string) uint64 {
		t.Helper()
		_, n, err := h.st.ReadFeed(ctx, ApplianceAuditFeed(id), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := h.snapshot()
	good := auditUpload(t, sign, "appliance/EDGE-1", 0, 3)
	goodJSON, _ := json.Marshal(good)

	// An appliance central does not know, even with a well-signed upload.
	other := auditUpload(t, sign, "appliance/EDGE-9", 0, 3)
	b, _ := json.Marshal(other)
	if code, m := postAudit(t, h, "EDGE-9", b); code != http.StatusNotFound || !strings.Contains(string(m["error"]), "not_found") {
		t.Fatalf("unknown appliance: %d %s", code, m["error"])
	}
	// EDGE-1's upload posted as another appliance's (the origin is signed).
	if code, m := postAudit(t, h, "EDGE-2", goodJSON); code != http.StatusBadRequest || !strings.Contains(string(m["error"]), "origin") {
		t.Fatalf("origin of another appliance: %d %s", code, m["error"])
	}
	// Malformed and oversized bodies.
	if code, _ := postAudit(t, h, "EDGE-1", []byte(`{"origin":"appliance/EDGE-1","from":0,"entries":[],"extra":1}`)); code != http.StatusBadRequest {
		t.Fatalf("malformed upload: %d", code)
	}
	huge := append(append([]byte(`{"origin":"`), bytes.Repeat([]byte("a"), audit.MaxUploadBytes)...), `"}`...)
	if code, _ := postAudit(t, h, "EDGE-1", huge); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d", code)
	}
	// Starting past central's end (central holds 0).
	ahead := auditUpload(t, sign, "appliance/EDGE-1", 2, 1)
	b, _ = json.Marshal(ahead)
	code, m := postAudit(t, h, "EDGE-1", b)
	var e struct{ Code string }
	json.Unmarshal(m["error"], &e)
	if code != http.StatusConflict || string(m["size"]) != "0" || e.Code != codeAuditConflict {
		t.Fatalf("upload ahead of central: %d %v", code, m)
	}
	if h.snapshot() != before || stored("EDGE-1") != 0 || stored("EDGE-9") != 0 {
		t.Fatal("a refused upload changed central's state")
	}

	// The good one is taken; the Go API answers a replay with the size.
	ack, err := h.c.ReceiveApplianceAudit(ctx, "EDGE-1", bytes.NewReader(goodJSON))
	if err != nil || ack.Size != 3 || stored("EDGE-1") != 3 {
		t.Fatalf("good upload: %+v %v", ack, err)
	}
	ack, err = h.c.ReceiveApplianceAudit(ctx, "EDGE-1", bytes.NewReader(goodJSON))
	var ee *enrol.Error
	if !errors.As(err, &ee) || ee.Status != http.StatusConflict || ack == nil || ack.Size != 3 {
		t.Fatalf("replay: %+v %v", ack, err)
	}
	// The next upload continues from 3; its checkpoint event names size and
	// root, never entry contents.
	next := auditUpload(t, sign, "appliance/EDGE-1", 3, 2)
	b, _ = json.Marshal(next)
	if code, m := postAudit(t, h, "EDGE-1", b); code != http.StatusOK || string(m["size"]) != "5" {
		t.Fatalf("continuation: %d %v", code, m)
	}
	evs := auditEvents(t, h)
	last := evs[len(evs)-1]
	if last.Action != "appliance.audit-checkpoint" || !strings.Contains(string(last.Detail), hex.EncodeToString(next.Checkpoint.Root)) ||
		strings.Contains(string(last.Detail), "kiosk-a") {
		t.Fatalf("checkpoint event: %+v", last)
	}
	// The stored copy is byte for byte the appliance's.
	recs, _, _ := h.st.ReadFeed(ctx, ApplianceAuditFeed("EDGE-1"), 0, 10)
	if len(recs) != 5 || !bytes.Equal(recs[3].Body, next.Entries[0]) || !bytes.Equal(recs[0].Body, good.Entries[0]) {
		t.Fatalf("stored entries: %d", len(recs))
	}
}
