package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

const testVID = "2389475610293847"

func TestDecisionLog(t *testing.T) {
	ctx := context.Background()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: db, Origin: "appliance/EDGE-1", Signer: key, Sealer: records.TPMSealer{TPM: tp}, Every: 3, Interval: time.Hour}
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := auth.AuditDecision{Time: time.Now(), RP: "kiosk-a", TransactionID: "txn-secret-1", VID: testVID,
		AuthTypes: []string{"bio-Finger"}, Status: true, Device: "ETFA000000001"}
	for i := 0; i < 7; i++ {
		if err := l.Decision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil { // signs 7
		t.Fatal(err)
	}
	cps, _ := l.Audit().Checkpoints()
	if len(cps) != 3 || cps[2].Size != 7 {
		t.Fatalf("checkpoints %+v, want at 3, 6 and 7 (on close)", cps)
	}
	var e0, e1 Entry
	b0, _ := l.Audit().Entry(0)
	b1, _ := l.Audit().Entry(1)
	json.Unmarshal(b0, &e0)
	json.Unmarshal(b1, &e1)
	if e0.VIDHash == "" || e0.VIDHash != e1.VIDHash || e0.RP != "kiosk-a" || !e0.Status || e0.Device != "ETFA000000001" {
		t.Fatalf("entry %s", b0)
	}
	rep, err := Verify(db, cfg.Origin, key.Public())
	if err != nil || !rep.OK() || rep.Entries != 7 || rep.Checkpoints != 3 {
		t.Fatalf("clean log: %+v %v", rep, err)
	}
	// Tampering with a stored entry is found.
	db.Update(func(txn *badger.Txn) error {
		return txn.Set(append([]byte("audit/e/"), 0, 0, 0, 0, 0, 0, 0, 1), bytes.Replace(b1, []byte(`"authStatus":true`), []byte(`"authStatus":false`), 1))
	})
	if rep, _ = Verify(db, cfg.Origin, key.Public()); rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "not the root") {
		t.Fatalf("altered entry: %+v", rep)
	}
	db.Close()
	// Neither the VID nor the transaction id is anywhere in the files.
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(testVID)) || bytes.Contains(b, []byte("txn-secret-1")) {
				t.Errorf("%s holds an identifier in plaintext", p)
			}
		}
		return nil
	})
}

// TestLockoutEntries: a lock-out of API-key checks is an entry of its own
// kind in the same hash-chained log, under the same signed checkpoints.
func TestLockoutEntries(t *testing.T) {
	ctx := context.Background()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(t.TempDir(), "db")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := Config{DB: db, Origin: "appliance/EDGE-1", Signer: key, Sealer: records.TPMSealer{TPM: tp}, Every: 2, Interval: time.Hour}
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var la auth.LockoutAuditor = l
	if err := la.Lockout(ctx, auth.AuditLockout{Time: time.Now(), Subject: "key:0123456789abcdef", Failures: 10, RetryAfter: 5}); err != nil {
		t.Fatal(err)
	}
	if err := l.Decision(ctx, auth.AuditDecision{Time: time.Now(), RP: "kiosk-a", TransactionID: "t", VID: testVID}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := l.Audit().Entry(0)
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.Kind != KindLockout || e.Subject != "key:0123456789abcdef" || e.Failures != 10 || e.RetryAfter != 5 || e.VIDHash != "" {
		t.Fatalf("lock-out entry %s: %v", b, err)
	}
	if rep, err := Verify(db, cfg.Origin, key.Public()); err != nil || !rep.OK() || rep.Entries != 2 {
		t.Fatalf("log with a lock-out: %+v %v", rep, err)
	}
}
