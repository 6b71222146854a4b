package feeds

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
)

// Batches are cut by count (recordfeed.MaxOps) and by size: every sealed
// batch fits one feed entry, even sealed to an RSA-4096 key under a
// 64-character appliance id.
func TestPackOpsFitFeedEntries(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	id := strings.Repeat("E", 64)

	deletes := make([]recordfeed.Op, recordfeed.MaxOps+1)
	for i := range deletes {
		deletes[i] = recordfeed.Op{Delete: fmt.Sprintf("%016d", i)}
	}
	var ops []recordfeed.Op
	for i := range 60 {
		n := []int{100, 2000, 9000, 20000, MaxBatchPlain*3/4 - 200}[i%5]
		ops = append(ops, recordfeed.Op{Put: &recordfeed.Signed{Record: bytes.Repeat([]byte{byte(i)}, n), Sig: make([]byte, 64)}})
	}
	for _, tc := range []struct {
		name string
		ops  []recordfeed.Op
		min  int
	}{{"deletes", deletes, 2}, {"puts", ops, 20}} {
		batches, err := PackOps(tc.ops)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) < tc.min {
			t.Errorf("%s: %d batches, want at least %d", tc.name, len(batches), tc.min)
		}
		var all []recordfeed.Op
		for _, b := range batches {
			if len(b) == 0 || len(b) > recordfeed.MaxOps {
				t.Fatalf("%s: a batch of %d operations", tc.name, len(b))
			}
			all = append(all, b...)
			s, err := recordfeed.Seal(&recordfeed.Batch{Ops: b}, id, cert)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(s)
			if _, err := (feed.Entry{Seq: 1 << 40, Time: time.Now(), Kind: recordfeed.Kind, Data: data}).Encode(); err != nil {
				t.Fatalf("%s: a batch of %d operations does not fit a feed entry: %v", tc.name, len(b), err)
			}
		}
		if len(all) != len(tc.ops) || (all[0].Delete != tc.ops[0].Delete) || (all[len(all)-1].Put != tc.ops[len(tc.ops)-1].Put) {
			t.Fatalf("%s: operations lost or reordered", tc.name)
		}
	}
	// One operation too large for any entry is an error, not a broken feed.
	huge := []recordfeed.Op{{Put: &recordfeed.Signed{Record: make([]byte, MaxBatchPlain), Sig: make([]byte, 64)}}}
	if _, err := PackOps(huge); err == nil {
		t.Fatal("an operation larger than a feed entry was packed")
	}
}
