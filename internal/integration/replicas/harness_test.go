package replicasint

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/pgstore"
	"github.com/edgetrust/edgetrust/central/store/storetest"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/keyring"
)

var ctx = context.Background()

const passphrase = "correct horse battery staple"

// Environment of a child replica.
const (
	envChild   = "EDGETRUST_TEST_REPLICA"
	envDSN     = "EDGETRUST_TEST_REPLICA_DSN"
	envReadDSN = "EDGETRUST_TEST_REPLICA_READ_DSN"
	envState   = "EDGETRUST_TEST_REPLICA_STATE"
	envLease   = "EDGETRUST_TEST_REPLICA_LEASE"
	envEKAllow = "EDGETRUST_TEST_REPLICA_EK_ALLOW" // comma-separated EK fingerprints
)

func init() { keyring.WorkFactor = 10 } // fast keyrings in tests

func TestMain(m *testing.M) {
	if name := os.Getenv(envChild); name != "" {
		if err := runReplica(name); err != nil {
			fmt.Fprintln(os.Stderr, "replica:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runReplica is one central replica, as edgetrust-central serve --store
// postgres runs it: the shared keyring file, its own pool, an HTTP API. It
// prints "URL <url>" when it listens and serves until SIGTERM.
func runReplica(name string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	keys, err := central.LoadKeyring(os.Getenv(envState), []byte(passphrase))
	if err != nil {
		return err
	}
	lease, _ := time.ParseDuration(os.Getenv(envLease))
	st, err := pgstore.OpenWith(ctx, os.Getenv(envDSN), pgstore.Options{Name: name, ReadDSN: os.Getenv(envReadDSN), WriteLease: lease})
	if err != nil {
		return err
	}
	defer st.Close()
	ek := enrol.EKPolicy{Allow: map[string]bool{}}
	for _, fp := range strings.Split(os.Getenv(envEKAllow), ",") {
		if fp != "" {
			ek.Allow[fp] = true
		}
	}
	c, err := central.New(central.Config{Store: st, Keys: keys, EK: ek, SweepInterval: -1})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Serve(ctx, central.ServeOptions{
		// Every simulated appliance calls from 127.0.0.1: lift the
		// per-address long-poll bound (8) past the fan-out's count.
		HTTPOptions: central.HTTPOptions{EnrolRate: 1e6, AdminRate: 1e6, MaxFeedWaiters: 20000, MaxFeedWaitersPerClient: 20000},
		Addr:        "127.0.0.1:0",
		OnListen:    func(addr string) { fmt.Printf("URL http://%s\n", addr) },
	})
}

// standbyDSN is EDGETRUST_PG_STANDBY_DSN (a hot standby of the test
// database, scripts/start-pg-standby.sh) on the cluster's schema, or "".
func (cl *cluster) standbyDSN() string {
	s := os.Getenv("EDGETRUST_PG_STANDBY_DSN")
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	p, err2 := url.Parse(cl.dsn)
	if err != nil || err2 != nil {
		cl.t.Fatal("EDGETRUST_PG_STANDBY_DSN must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", p.Query().Get("search_path"))
	u.RawQuery = q.Encode()
	return u.String()
}

// cluster is a PostgreSQL schema, the shared keyring, an in-process
// central for setup and checks, and replica processes.
type cluster struct {
	t        *testing.T
	dsn      string
	readDSN  string
	ekAllow  []string // EK fingerprints replicas started from now on accept
	lease    time.Duration
	state    string
	c        *central.Central
	st       store.Store
	token    string // admin bearer token
	admin    *central.Admin
	pub      ed25519.PublicKey
	mu       sync.Mutex
	replicas []*replica
}

type replica struct {
	name string
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	cl := &cluster{t: t, dsn: storetest.PostgresDSN(t), state: t.TempDir()}
	keys, err := central.InitKeyring(cl.state, []byte(passphrase), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, cl.dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl.st = st
	if cl.c, err = central.New(central.Config{Store: st, Keys: keys, SweepInterval: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.c.Close)
	tok, rec, err := cl.c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	cl.token, cl.admin = tok, &central.Admin{TokenID: rec.ID, Name: rec.Name}
	cl.pub = cl.c.FeedPublicKey()
	return cl
}

// start starts replica name (again, after a kill) and waits for its URL.
func (cl *cluster) start(name string) *replica {
	cl.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+name, envDSN+"="+cl.dsn, envReadDSN+"="+cl.readDSN,
		envState+"="+cl.state, envLease+"="+cl.lease.String(), envEKAllow+"="+strings.Join(cl.ekAllow, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		cl.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cl.t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
				urlc <- u
			}
		}
		cmd.Wait()
		close(r.done)
	}()
	select {
	case r.url = <-urlc:
	case <-r.done:
		cl.t.Fatalf("replica %s exited: %s", name, stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cl.t.Fatalf("replica %s did not start: %s", name, stderr.String())
	}
	cl.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-r.done
		}
	})
	cl.mu.Lock()
	cl.replicas = append(cl.replicas, r)
	cl.mu.Unlock()
	return r
}

// kill ends a replica with SIGKILL, mid-whatever it was doing.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.done
}

// adminPost sends an admin request to a replica and returns the status.
func (cl *cluster) adminPost(hc *http.Client, base, path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+cl.token)
	req.Header.Set("Content-Type", "application/json")
	rsp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer rsp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(rsp.Body, 1<<20))
	return rsp.StatusCode, out, err
}

// getBatch asks a replica for a batch.
func getBatch(hc *http.Client, base string, after uint64, wait time.Duration) (*feed.Batch, http.Header, error) {
	u := base + "/v1/feeds/trust?after=" + strconv.FormatUint(after, 10) + "&wait=" + wait.String()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	rsp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(rsp.Body, 512))
		return nil, nil, fmt.Errorf("%s: %s", rsp.Status, b)
	}
	var b feed.Batch
	if err := json.NewDecoder(io.LimitReader(rsp.Body, 64<<20)).Decode(&b); err != nil {
		return nil, nil, err
	}
	return &b, rsp.Header, nil
}

func (cl *cluster) follower() feed.Follower {
	return feed.Follower{Origin: trustfeed.Name, Keys: map[string]ed25519.PublicKey{feed.KeyID(cl.pub): cl.pub}}
}

// syncAll follows the whole trust feed from a replica, verifying every
// checkpoint, root and seq, and returns the entries.
func (cl *cluster) syncAll(base string) ([]feed.Entry, feed.State) {
	cl.t.Helper()
	f := cl.follower()
	var st feed.State
	var all []feed.Entry
	hc := &http.Client{Timeout: 30 * time.Second}
	for {
		b, _, err := getBatch(hc, base, st.Head.Size, 0)
		if err != nil {
			cl.t.Fatal(err)
		}
		es, next, err := f.Apply(st, b)
		if err != nil {
			cl.t.Fatalf("replica %s: batch after %d refused: %v", base, st.Head.Size, err)
		}
		all, st = append(all, es...), next
		if len(es) == 0 || st.Head.Size >= b.Latest {
			return all, st
		}
	}
}
