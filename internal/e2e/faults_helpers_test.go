package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// Fault injection (issue #14): the short form runs with every `go test`;
// EDGETRUST_FAULTS=full (make faults) runs the full counts.
const faultsEnv = "EDGETRUST_FAULTS"

// faultCount is short normally and full under EDGETRUST_FAULTS=full.
func faultCount(short, full int) int {
	if os.Getenv(faultsEnv) == "full" {
		return full
	}
	return short
}

// randDuration is a uniformly random duration in [lo, hi) from crypto/rand.
func randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
	if err != nil {
		panic(err)
	}
	return lo + time.Duration(n.Int64())
}

// trustFeed is central's whole trust feed, verified.
type trustFeed struct {
	Entries [][]byte     // canonical entry bytes, seq 1..N
	Decoded []feed.Entry // the same, decoded
	Root    []byte       // the checkpoint's root over all of them
}

// fetchTrustFeed reads central's trust feed from the start and verifies it
// as a follower would, from an empty state, with the feed key: a gap, a
// reordering or a fork fails here.
func fetchTrustFeed(t *testing.T, centralURL, feedKeyFile string) trustFeed {
	t.Helper()
	keys, err := appliance.LoadFeedKeys([]string{feedKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	f := feed.Follower{Origin: "trust", Keys: keys}
	var st feed.State
	var out trustFeed
	for {
		r, err := http.Get(fmt.Sprintf("%s/v1/feeds/trust?after=%d", centralURL, st.Head.Size))
		if err != nil {
			t.Fatal(err)
		}
		var b feed.Batch
		err = json.NewDecoder(r.Body).Decode(&b)
		r.Body.Close()
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET trust feed after %d: HTTP %d %v", st.Head.Size, r.StatusCode, err)
		}
		entries, next, err := f.Apply(st, &b)
		if err != nil {
			t.Fatalf("central's trust feed does not verify from the start (gap or fork?) at %d: %v", st.Head.Size, err)
		}
		for i, e := range entries {
			if e.Seq != st.Head.Size+uint64(i)+1 {
				t.Fatalf("trust feed entry %d has seq %d: a gap", st.Head.Size+uint64(i)+1, e.Seq)
			}
		}
		out.Entries = append(out.Entries, b.Entries...)
		out.Decoded = append(out.Decoded, entries...)
		st = next
		if st.Head.Size >= b.Latest {
			break
		}
	}
	root, err := st.Head.Root()
	if err != nil {
		t.Fatal(err)
	}
	out.Root = root
	return out
}

// extends fails unless f begins with exactly the entries of before: what
// central once served is never rewritten (no fork).
func (f trustFeed) extends(t *testing.T, before trustFeed) {
	t.Helper()
	if len(f.Entries) < len(before.Entries) {
		t.Fatalf("the trust feed shrank from %d to %d entries", len(before.Entries), len(f.Entries))
	}
	for i := range before.Entries {
		if !bytes.Equal(f.Entries[i], before.Entries[i]) {
			t.Fatalf("trust feed entry %d changed after a restart: a fork", i+1)
		}
	}
}

// rootAt is the Merkle root over the first n entries.
func (f trustFeed) rootAt(t *testing.T, n uint64) []byte {
	t.Helper()
	leaves := make([][]byte, n)
	for i := range n {
		leaves[i] = feed.LeafHash(f.Entries[i])
	}
	h, _, err := feed.Head{}.Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	root, err := h.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// devices is the status of every device after the first n entries: the
// latest device entry, or bulk device-status entry naming it, per serial.
func (f trustFeed) devices(t *testing.T, n uint64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range f.Decoded[:n] {
		switch e.Kind {
		case trustfeed.KindDevice:
			var d trustfeed.Device
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			out[d.Serial] = d.Status
		case trustfeed.KindDeviceStatus:
			var ds trustfeed.DeviceStatus
			if err := json.Unmarshal(e.Data, &ds); err != nil {
				t.Fatal(err)
			}
			for _, s := range ds.Serials {
				out[s] = ds.Status
			}
		}
	}
	return out
}

// appliances is the status of every appliance after the first n entries.
func (f trustFeed) appliances(t *testing.T, n uint64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range f.Decoded[:n] {
		if e.Kind != trustfeed.KindAppliance {
			continue
		}
		var a trustfeed.Appliance
		if err := json.Unmarshal(e.Data, &a); err != nil {
			t.Fatal(err)
		}
		out[a.ID] = a.Status
	}
	return out
}

// tryRun runs a command to completion and returns its combined output and
// error, without failing the test (a fault may make it fail).
func (e *env) tryRun(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := e.cmd(ctx, name, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.String(), err
}

// startCmd starts a command in the background; wait returns its output and
// error.
func (e *env) startCmd(name string, args ...string) (wait func() (string, error)) {
	c := e.cmd(context.Background(), name, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	return func() (string, error) {
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(2 * time.Minute):
			c.Process.Kill()
			return out.String(), fmt.Errorf("%s did not finish within 2 minutes", name)
		}
	}
}

// auditVerify runs `edgetrust-central audit verify` against the running central.
func (w *world) auditVerify(t *testing.T) string {
	t.Helper()
	out, err := w.tryRun(time.Minute, "edgetrust-central", "audit", "verify")
	if err != nil {
		t.Fatalf("central's audit chain does not verify: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}
