package db

import (
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func TestHelpersAndLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB.Update(func(txn *badger.Txn) error {
		if n, err := GetUint64(txn, FeedAppliedKey("trust")); err != nil || n != 0 {
			t.Fatalf("absent counter: %d %v", n, err)
		}
		if err := SetUint64(txn, FeedAppliedKey("trust"), 42); err != nil {
			return err
		}
		for _, id := range []string{"b", "a", "c"} {
			if err := SetJSON(txn, []byte(DevicePrefix+id), map[string]string{"serial": id}); err != nil {
				return err
			}
		}
		return SetJSON(txn, []byte(VendorPrefix+"v"), map[string]string{"id": "v"})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.DB.View(func(txn *badger.Txn) error {
		n, _ := GetUint64(txn, FeedAppliedKey("trust"))
		var got []string
		ForEach(txn, DevicePrefix, func(k, _ []byte) error { got = append(got, string(k)); return nil })
		var m map[string]string
		ok, err := GetJSON(txn, []byte(DevicePrefix+"a"), &m)
		if n != 42 || strings.Join(got, ",") != "trust/device/a,trust/device/b,trust/device/c" || !ok || err != nil || m["serial"] != "a" {
			t.Fatalf("%d %v %v %v %v", n, got, ok, err, m)
		}
		if ok, err := GetJSON(txn, []byte("nope"), &m); ok || err != nil {
			t.Fatal("absent key found")
		}
		return nil
	})
	// A second opener is told who holds it.
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
}
