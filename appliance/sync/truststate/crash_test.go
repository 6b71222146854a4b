package truststate

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// The child side of TestCrashMidBatch: follow the feed into the store until
// told to stop (by SIGKILL). It logs "applying batch" at debug level on
// stdout just before each batch goes to the store.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("EDGETRUST_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashMidBatch")
	}
	pub, _ := hex.DecodeString(os.Getenv("EDGETRUST_CRASH_KEY"))
	log := newLogger(os.Stdout)
	st, err := db.Open(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Open(st, log)
	if err != nil {
		t.Fatal(err)
	}
	sy, err := follow.New(follow.Config{Central: os.Getenv("EDGETRUST_CRASH_URL"), Feed: FeedName,
		Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}, Logger: log, ChunkEntries: 1 << 20, ChunkBytes: 64 << 20}, reg)
	if err != nil {
		t.Fatal(err)
	}
	for {
		res, err := sy.Poll(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("APPLIED", res.Size)
		if !res.More {
			fmt.Println("CAUGHT UP", res.Size)
			st.Close()
			return
		}
	}
}

// TestCrashMidBatch kills a follower with SIGKILL while it applies large
// batches (one badger transaction each), restarts it, and checks after every
// kill that the store is exactly the state of some prefix of the feed —
// every entry up to the stored size applied once, none after — and at the
// end that it caught up with nothing lost.
func TestCrashMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	srv, err := feedtest.New(FeedName)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.MaxBatch = 10000
	rounds, perRound := 6, 8000
	if raceEnabled { // the race-instrumented child is ~10x slower
		rounds, perRound = 3, 4000
	}
	dir := t.TempDir()
	ca := caCert(t, "CA")
	srv.Append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "Vendor", Status: trustfeed.Active, CACert: ca})
	statuses := []string{trustfeed.Active, trustfeed.Suspended, trustfeed.Revoked}
	grow := func(round int) {
		var ds []any
		for i := range perRound {
			ds = append(ds, device(fmt.Sprintf("SN%05d", (round*3000+i)%12000), "v1", statuses[(round+i)%3]))
		}
		if _, err := srv.Append(trustfeed.KindDevice, ds...); err != nil {
			t.Fatal(err)
		}
	}
	child := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "EDGETRUST_CRASH_DIR="+dir, "EDGETRUST_CRASH_URL="+srv.URL(),
			"EDGETRUST_CRASH_KEY="+hex.EncodeToString(srv.PublicKey()))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		return cmd, sc
	}
	check := func() uint64 {
		st, err := db.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		return checkStore(t, st, srv.Entries())
	}

	var sizes []uint64
	for round := range rounds {
		grow(round)
		cmd, sc := child()
		killed := false
		nth := 1 + rand.IntN(2)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"msg":"applying batch"`) {
				if nth--; nth > 0 {
					continue
				}
				// Somewhere in building, committing or just after committing the transaction.
				time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				break
			}
		}
		cmd.Wait()
		size := check()
		sizes = append(sizes, size)
		what := "killed"
		if !killed {
			what = "caught up before the kill"
		}
		t.Logf("round %d: %s; store consistent at %d of %d entries", round, what, size, srv.Size())
	}
	cmd, sc := child()
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v (%s)", err, last)
	}
	if got := check(); got != srv.Size() {
		t.Fatalf("after the final run the store is at %d, feed at %d", got, srv.Size())
	}
	t.Logf("sizes after each kill: %v; final %d", sizes, srv.Size())
}
