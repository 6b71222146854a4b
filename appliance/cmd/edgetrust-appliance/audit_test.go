package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/decisionlog"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

const auditTestVID = "5849302716453829"

// auditState makes an enrolled-looking state directory: the appliance id,
// the certificate of a simulated-TPM RSA signing key, and a decision log
// of n decisions with checkpoints every 3 (and on close).
func auditState(t *testing.T, n int) string {
	t.Helper()
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
	state := t.TempDir()
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "EDGE-1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), ca)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := os.WriteFile(filepath.Join(state, tpmkey.SigningCertFile), tpmkey.PEM(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, tpmkey.IDFile), []byte("EDGE-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(state, appliance.DBDir)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := decisionlog.Open(ctx, decisionlog.Config{DB: db, Origin: "appliance/EDGE-1", Signer: key,
		Sealer: records.TPMSealer{TPM: tp}, Every: 3, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := l.Decision(ctx, auth.AuditDecision{Time: time.Now(), RP: "kiosk-a", TransactionID: "txn-1", VID: auditTestVID,
			AuthTypes: []string{"demo"}, Status: i%2 == 0, Reasons: []string{"demo-mismatch"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return state
}

// tamper changes the state directory's database while no appliance runs.
func tamper(t *testing.T, state string, f func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(state, appliance.DBDir)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

func entryKey(seq uint64) []byte    { return binary.BigEndian.AppendUint64([]byte("audit/e/"), seq) }
func checkptKey(size uint64) []byte { return binary.BigEndian.AppendUint64([]byte("audit/c/"), size) }

func runAuditCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"audit"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerifyCommand(t *testing.T) {
	state := auditState(t, 8) // checkpoints at 3, 6 and 8
	code, out, errs := runAuditCmd("verify", "--state", state)
	if code != 0 || !strings.Contains(out, "8 entries, 3 signed checkpoints") || !strings.Contains(out, "OK:") {
		t.Fatalf("clean log: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runAuditCmd("show", "--state", state, "--last", "2")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.HasPrefix(out, "6\t{") || strings.Contains(out, auditTestVID) || strings.Contains(out, "txn-1") {
		t.Fatalf("show --last 2: exit %d\n%s", code, out)
	}

	// The database is locked while the appliance runs.
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(state, appliance.DBDir)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs = runAuditCmd("verify", "--state", state)
	db.Close()
	if code != 1 || !strings.Contains(errs, "stop edgetrust-appliance serve") {
		t.Fatalf("locked database: exit %d: %s", code, errs)
	}

	for _, tc := range []struct {
		name, want string
		f          func(txn *badger.Txn) error
	}{
		{"altered entry", "checkpoint at 6: signed root is not the root", func(txn *badger.Txn) error {
			it, err := txn.Get(entryKey(4))
			if err != nil {
				return err
			}
			v, _ := it.ValueCopy(nil)
			if !bytes.Contains(v, []byte(`"authStatus":true`)) {
				v = bytes.Replace(v, []byte(`"authStatus":false`), []byte(`"authStatus":true`), 1)
			} else {
				v = bytes.Replace(v, []byte(`"authStatus":true`), []byte(`"authStatus":false`), 1)
			}
			return txn.Set(entryKey(4), v)
		}},
		{"deleted entry", "entry 2 is missing", func(txn *badger.Txn) error { return txn.Delete(entryKey(2)) }},
		{"bad checkpoint signature", "checkpoint at 6: audit: checkpoint signature does not verify", func(txn *badger.Txn) error {
			it, err := txn.Get(checkptKey(6))
			if err != nil {
				return err
			}
			var c audit.Checkpoint
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				return err
			}
			c.Signature[len(c.Signature)/2] ^= 0x01
			b, _ := json.Marshal(c)
			return txn.Set(checkptKey(6), b)
		}},
		{"checkpoint re-dated", "checkpoint at 3: audit: checkpoint signature does not verify", func(txn *badger.Txn) error {
			it, err := txn.Get(checkptKey(3))
			if err != nil {
				return err
			}
			var c audit.Checkpoint
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				return err
			}
			c.Time = c.Time.Add(-24 * time.Hour)
			b, _ := json.Marshal(c)
			return txn.Set(checkptKey(3), b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := auditState(t, 8)
			tamper(t, state, tc.f)
			code, out, errs := runAuditCmd("verify", "--state", state)
			if code != 1 || !strings.Contains(out, "PROBLEM: "+tc.want) || !strings.Contains(errs, "does not verify") || strings.Contains(out, "OK:") {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			// --json carries the same problems for machines.
			code, out, _ = runAuditCmd("verify", "--state", state, "--json")
			var rep audit.Report
			if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Fatalf("--json: exit %d\n%s", code, out)
			}
		})
	}

	// No identifier reaches the files.
	filepath.WalkDir(state, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(auditTestVID)) || bytes.Contains(b, []byte("txn-1")) {
				t.Errorf("%s holds an identifier in plaintext", p)
			}
		}
		return nil
	})
}
