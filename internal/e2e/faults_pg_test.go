package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// privatePG is a PostgreSQL server of the test's own (initdb in a
// temporary directory, its own port), so restarting it disturbs nobody.
type privatePG struct {
	t        *testing.T
	bin, dir string
	port     int
}

func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("EDGETRUST_REQUIRE_PG") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("a private PostgreSQL server is started as the postgres user: needs root")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; apt-get install postgresql)")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		skip("no postgres user: " + err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "edgetrust-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chown(dir, uid, gid)
	pg := &privatePG{t: t, bin: filepath.Dir(bins[0]), dir: dir, port: freePort(t)}
	pg.as("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	pg.start()
	t.Cleanup(func() {
		pg.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	pg.as("psql", "-h", dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-qc", "CREATE DATABASE edgetrust")
	return pg
}

func (pg *privatePG) as(prog string, args ...string) string {
	pg.t.Helper()
	out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, prog)}, args...)...).CombinedOutput()
	if err != nil {
		pg.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (pg *privatePG) ctl(args ...string) {
	pg.t.Helper()
	pg.as("pg_ctl", append([]string{"-D", filepath.Join(pg.dir, "data"), "-w", "-l", filepath.Join(pg.dir, "log")}, args...)...)
}

func (pg *privatePG) start() {
	pg.ctl("start", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.dir))
}

func (pg *privatePG) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/edgetrust?sslmode=disable", pg.port)
}

// TestFaultPostgresRestartUnderLoad (issue #14): central on its own
// PostgreSQL server, under a steady load of writes (vendor add) and reads
// (vendor list over the API, the trust feed); the server is restarted
// (fast shutdown, a second down, start) while the load runs. During the
// outage central keeps answering: reads and writes fail with an HTTP error
// in bounded time, never a hang and never a crash; afterwards it
// reconnects by itself, and every write it acknowledged is there.
func TestFaultPostgresRestartUnderLoad(t *testing.T) {
	pg := startPrivatePG(t)
	root := t.TempDir()
	w := &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789",
		"EDGETRUST_CENTRAL_PG_DSN=" + pg.dsn()}}, cState: filepath.Join(root, "central")}
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--store", "postgres"}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	tokB, _ := os.ReadFile(filepath.Join(w.cState, "admin-token"))
	token := strings.TrimSpace(string(tokB))

	restarts := faultCount(1, 5)
	var (
		mu        sync.Mutex
		acked     []string
		writeFail int
		readOK    atomic.Int64
		readFail  atomic.Int64
		statuses  = map[int]int{}
		slowest   time.Duration
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // writer
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("LOAD.%04d", i)
			out, err := w.tryRun(time.Minute, "edgetrust-central", "vendor", "add", "--id", id, "--name", "under load")
			mu.Lock()
			if err == nil {
				acked = append(acked, id)
			} else {
				writeFail++
				if !strings.Contains(out, "central") {
					t.Errorf("a write failed without saying why: %s", out)
				}
			}
			mu.Unlock()
		}
	})
	wg.Go(func() { // reader
		cl := &http.Client{Timeout: 30 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, path := range []string{"/v1/admin/vendors", "/v1/feeds/trust?after=0"} {
				req, _ := http.NewRequest(http.MethodGet, w.centralURL+path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				r, err := cl.Do(req)
				d := time.Since(t0)
				mu.Lock()
				slowest = max(slowest, d)
				if err != nil {
					statuses[-1]++
				} else {
					statuses[r.StatusCode]++
					r.Body.Close()
				}
				mu.Unlock()
				if err == nil && r.StatusCode == 200 {
					readOK.Add(1)
				} else {
					readFail.Add(1)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	for range restarts {
		time.Sleep(randDuration(500*time.Millisecond, 1500*time.Millisecond))
		pg.ctl("stop", "-m", "fast")
		time.Sleep(time.Second)
		pg.start()
		if !w.central.alive() {
			t.Fatalf("central exited when PostgreSQL went away:\n%s", w.central.Output())
		}
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		waitFor(t, "writes succeed again after PostgreSQL is back", 60*time.Second, w.central, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) > n
		})
	}
	close(stop)
	wg.Wait()
	list := w.run("edgetrust-central", "vendor", "list")
	for _, id := range acked {
		if !strings.Contains(list, id) {
			t.Fatalf("vendor %s was acknowledged but is lost after the PostgreSQL restart", id)
		}
	}
	// Every acknowledged vendor is on the trust feed, published in its
	// transaction.
	var cf trustFeed
	t0 := time.Now()
	waitFor(t, "every acknowledged vendor on the trust feed", 30*time.Second, w.central, func() bool {
		cf = fetchTrustFeed(t, w.centralURL, feedKey)
		return len(cf.Entries) >= len(acked)
	})
	feedLag := time.Since(t0)
	mu.Lock()
	defer mu.Unlock()
	if statuses[http.StatusInternalServerError] > 0 {
		var lines []string
		for _, l := range strings.Split(w.central.Output(), "\n") {
			if strings.Contains(l, "request failed") && len(lines) < 3 {
				lines = append(lines, l)
			}
		}
		t.Errorf("%d reads answered 500 during the outage, want 503 store_unavailable:\n%s", statuses[http.StatusInternalServerError], strings.Join(lines, "\n"))
	}
	if slowest > 30*time.Second {
		t.Fatalf("a read took %v during the restart", slowest)
	}
	t.Logf("PostgreSQL restarted %d times under load: %d writes acknowledged (all kept), %d refused during the outage; reads %d OK, %d failed (statuses %v; -1: connection error); slowest read %v; the feed served all acknowledged writes after %v; audit: %s",
		restarts, len(acked), writeFail, readOK.Load(), readFail.Load(), statuses, slowest.Round(time.Millisecond), feedLag.Round(time.Millisecond), w.auditVerify(t))
}
