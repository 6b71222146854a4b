package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	applstore "github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
)

// TestFaultApplianceKilledDuringSync (issue #14): the appliance is
// SIGKILLed at random points while it follows the trust feed and its
// records feed — during a stream of changes at central, and during the
// catch-up after a restart. After every kill its database, read before it
// restarts, holds a whole number of batches (feed position, applied
// counter and content agree: no half-applied batch), the trust part is
// exactly central's feed up to that position (same Merkle root, same
// device states); after the restart it catches up to central exactly:
// same trust root and size, every records-feed entry applied once, live
// VIDs authenticate and revoked ones are refused.
func TestFaultApplianceKilledDuringSync(t *testing.T) {
	kills := faultCount(3, 20)
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &authWorld{world: &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), aState: filepath.Join(root, "agent"), pState: filepath.Join(root, "appliance")},
		sw: sw, root: root, rpKeys: map[string]string{}, rpClients: map[string]*http.Client{}, enrolled: map[uint64]enrolledPerson{}}
	w.setUp()
	w.enrolPerson(7, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01", "gender": "F"})
	asha := w.enrolled[7]
	w.startApplianceWithRecords()
	w.waitAuth("records reach the appliance", asha.VID, func(a authAnswer) bool { return a.Decision.AuthStatus },
		"kiosk-b", map[string]any{"demographics": map[string]string{"fullName": "Asha Rao"}})
	recBase := w.recordsSize()

	// Changes: trust (four devices suspended or reinstated in one
	// transaction: a batch of four entries) and records (a VID issued, an
	// earlier one revoked: one sealed batch each).
	group := []string{"--serial", "ETIA000000001", "--serial", "ETIR000000001", "--serial", "ETCA000000001", "--serial", "ETCR000000001"}
	var mu sync.Mutex
	recChanges := 0
	var live, revoked []string
	suspended := false
	change := func(i int) {
		switch i % 3 {
		case 0:
			verb := "suspend"
			if suspended {
				verb = "reinstate"
			}
			w.run("edgetrust-central", append([]string{"device", verb}, group...)...)
			suspended = !suspended
		case 1:
			v := w.issueVID(asha.UIN, "temporary")
			mu.Lock()
			live, recChanges = append(live, v), recChanges+1
			mu.Unlock()
		case 2:
			mu.Lock()
			if len(live) < 2 {
				mu.Unlock()
				return
			}
			v := live[0]
			mu.Unlock()
			w.run("edgetrust-central", "vid", "revoke", "--vid", v, "--reason", "e2e fault injection")
			mu.Lock()
			live, revoked, recChanges = live[1:], append(revoked, v), recChanges+1
			mu.Unlock()
		}
	}
	n := 0
	burst := func(count int) {
		for range count {
			change(n)
			n++
		}
	}

	midBatch := 0 // kills that found a sync under way (applied counters still moving)
	for k := 0; k < kills; k++ {
		// Kill during a stream of changes.
		done := make(chan struct{})
		go func() { defer close(done); burst(6) }()
		time.Sleep(randDuration(100*time.Millisecond, 1500*time.Millisecond))
		w.appliance.stop(syscall.SIGKILL)
		<-done
		cf := fetchTrustFeed(t, w.centralURL, w.feedKey)
		w.checkDiskAtKill(t, cf, fmt.Sprintf("kill %d (during changes)", k+1))

		// Kill during the catch-up of the backlog after a restart.
		burst(6)
		before := w.recordsApplied(t)
		w.startAppliance()
		time.Sleep(randDuration(0, 800*time.Millisecond))
		w.appliance.stop(syscall.SIGKILL)
		cf = fetchTrustFeed(t, w.centralURL, w.feedKey)
		if w.checkDiskAtKill(t, cf, fmt.Sprintf("kill %d (during catch-up)", k+1)) > before {
			midBatch++
		}

		// Restart and catch up: exactly central.
		w.startAppliance()
		mu.Lock()
		wantRec := recBase + uint64(recChanges)
		mu.Unlock()
		waitFor(t, "the appliance catches up with central", 60*time.Second, w.appliance, func() bool {
			return w.status().Feed.Size == uint64(len(cf.Entries)) && w.recordsSize() == wantRec
		})
		if got := w.recordsSize(); got != wantRec {
			t.Fatalf("kill %d: records feed at %d, want %d (every change once)", k+1, got, wantRec)
		}
		for serial, st := range cf.devices(t, uint64(len(cf.Entries))) {
			w.waitStatus(serial, st, 5*time.Second)
		}
		mu.Lock()
		lv, rv := live[len(live)-1], ""
		if len(revoked) > 0 {
			rv = revoked[len(revoked)-1]
		}
		mu.Unlock()
		if a := w.demoAuth("kiosk-b", lv, map[string]string{"fullName": "Asha Rao"}); !a.Decision.AuthStatus {
			t.Fatalf("kill %d: a live VID is refused after the restart: %+v", k+1, a.Decision)
		}
		if rv != "" {
			if a := w.demoAuth("kiosk-b", rv, map[string]string{"fullName": "Asha Rao"}); a.Decision.AuthStatus {
				t.Fatalf("kill %d: a revoked VID authenticates after the restart (a put applied again?)", k+1)
			}
		}
	}
	t.Logf("appliance SIGKILLed %d times (%d during changes, %d during catch-up; %d of those with the records backlog part-applied); %d changes at central; the store matched central after every restart",
		2*kills, kills, kills, midBatch, n)
}

// recordsSize is the records-feed position the running appliance reports.
func (w *authWorld) recordsSize() uint64 {
	r, err := http.Get(w.applianceURL + "/v1/status")
	if err != nil {
		return 0
	}
	defer r.Body.Close()
	var s struct {
		Auth struct {
			Applied uint64 `json:"recordsBatchesApplied"`
			Sync    *struct {
				Size uint64 `json:"size"`
			} `json:"recordsSync"`
		} `json:"auth"`
	}
	json.NewDecoder(r.Body).Decode(&s)
	return s.Auth.Applied
}

// recordsApplied reads the stopped appliance's records-feed counter.
func (w *authWorld) recordsApplied(t *testing.T) uint64 {
	st, err := applstore.Open(filepath.Join(w.pState, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n uint64
	st.DB.View(func(txn *badger.Txn) error {
		n, _ = applstore.GetUint64(txn, applstore.FeedAppliedKey(recordfeed.FeedName("EDGE-1")))
		return nil
	})
	return n
}

// checkDiskAtKill opens the killed appliance's database and checks that
// each feed's stored position, applied counter and content agree, and that
// the trust content is central's feed up to that position. It returns the
// records feed's applied count.
func (w *authWorld) checkDiskAtKill(t *testing.T, cf trustFeed, when string) uint64 {
	t.Helper()
	st, err := applstore.Open(filepath.Join(w.pState, "db"), nil)
	if err != nil {
		t.Fatalf("%s: the database does not open after a SIGKILL: %v", when, err)
	}
	defer st.Close()
	reg, err := truststate.Open(st, nil)
	if err != nil {
		t.Fatalf("%s: trust state: %v", when, err)
	}
	fs, err := reg.State()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := reg.Applied()
	if err != nil {
		t.Fatal(err)
	}
	size := fs.Head.Size
	if applied != size || reg.Snapshot().Size != size {
		t.Fatalf("%s: trust feed position %d, applied counter %d, snapshot %d: a half-applied batch", when, size, applied, reg.Snapshot().Size)
	}
	if size > uint64(len(cf.Entries)) {
		t.Fatalf("%s: the appliance is at %d, beyond central's %d", when, size, len(cf.Entries))
	}
	root, err := fs.Head.Root()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, cf.rootAt(t, size)) {
		t.Fatalf("%s: the stored trust root at %d differs from central's", when, size)
	}
	for serial, want := range cf.devices(t, size) {
		d, err := reg.Device(serial)
		if err != nil || d == nil || d.Status != want {
			t.Fatalf("%s: device %s stored as %+v (%v), central's feed at %d says %s", when, serial, d, err, size, want)
		}
	}
	var rs feed.State
	var rApplied uint64
	st.DB.View(func(txn *badger.Txn) error {
		applstore.GetJSON(txn, applstore.FeedStateKey(recordfeed.FeedName("EDGE-1")), &rs)
		rApplied, _ = applstore.GetUint64(txn, applstore.FeedAppliedKey(recordfeed.FeedName("EDGE-1")))
		return nil
	})
	if rs.Head.Size != rApplied {
		t.Fatalf("%s: records feed position %d, applied counter %d: a half-applied batch", when, rs.Head.Size, rApplied)
	}
	return rApplied
}
