package replicasint

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Fan-out: how long a revocation takes to reach every appliance that
// long-polls central. Each simulated appliance is a goroutine with its own
// HTTP connection doing what appliance/sync/follow does — GET
// /v1/feeds/trust?after=N&wait=60s, strict JSON, and for one in
// fanoutSample the full feed.Follower check (signature, root, no gap);
// the others check sequence continuity only, to keep the client's CPU off
// the measurement. The replicas are separate processes, so their CPU and
// memory are read from /proc.
//
// In `make test`: 100 appliances on 3 replicas. The full run (see
// docs/performance.md, "Fan-out"):
//
//	EDGETRUST_FANOUT=10000 EDGETRUST_FANOUT_REPLICAS=3 EDGETRUST_REQUIRE_PG=1 \
//	  go test -count=1 -run TestFanOut -v -timeout 20m ./internal/integration/replicas/
const (
	fanoutSample = 20
	fanoutWait   = 60 * time.Second
	maxFanout    = 15000 // file descriptors: the limit is 20000 here
)

type procStat struct {
	cpu time.Duration // user + system
	rss int64         // bytes
}

// readProc reads a process's CPU time and resident memory.
func readProc(pid int) (procStat, error) {
	var ps procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	ps.cpu = time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	sb, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for _, l := range strings.Split(string(sb), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			ps.rss = kb << 10
		}
	}
	return ps, nil
}

// waiters reads a replica's count of parked long polls from /metrics.
func waiters(hc *http.Client, base string) int {
	rsp, err := hc.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer rsp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(rsp.Body, 4<<20))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "edgetrust_central_feed_waiters "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return -1
}

// simAppliance follows the trust feed from one replica.
type simAppliance struct {
	base   string
	verify bool
	fo     feed.Follower
	st     feed.State
	size   uint64
	got    func(serial string, at time.Time)
}

func (a *simAppliance) run(stop <-chan struct{}, hc *http.Client, errs *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/v1/feeds/trust?after="+strconv.FormatUint(a.size, 10)+"&wait="+fanoutWait.String(), nil)
		rsp, err := hc.Do(req)
		if err != nil {
			errs.Add(1)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(rsp.Body, 64<<20))
		rsp.Body.Close()
		at := time.Now()
		if err != nil || rsp.StatusCode != http.StatusOK {
			errs.Add(1)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		var b feed.Batch
		if err := jsonx.Unmarshal(body, &b, jsonx.Limits{MaxBytes: 64 << 20, MaxDepth: 4, MaxArray: feed.MaxBatchEntries, MaxMembers: 32, Open: true}); err != nil {
			errs.Add(1)
			continue
		}
		var entries []feed.Entry
		if a.verify {
			es, next, err := a.fo.Apply(a.st, &b)
			if err != nil {
				errs.Add(1)
				continue
			}
			entries, a.st = es, next
		} else {
			if b.After != a.size {
				errs.Add(1)
				continue
			}
			for i, raw := range b.Entries {
				e, err := feed.DecodeEntry(raw)
				if err != nil || e.Seq != a.size+uint64(i)+1 {
					errs.Add(1)
					entries = nil
					break
				}
				entries = append(entries, e)
			}
			if len(entries) != len(b.Entries) {
				continue
			}
		}
		a.size += uint64(len(entries))
		for _, e := range entries {
			if e.Kind == trustfeed.KindDevice {
				var d trustfeed.Device
				if json.Unmarshal(e.Data, &d) == nil && d.Status == trustfeed.Revoked {
					a.got(d.Serial, at)
				}
			}
		}
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func TestFanOut(t *testing.T) {
	n, nrep, rounds := 100, 3, 3
	if s := os.Getenv("EDGETRUST_FANOUT"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxFanout {
			t.Fatalf("EDGETRUST_FANOUT=%q: want 1–%d", s, maxFanout)
		}
		n, rounds = v, 5
	}
	if s := os.Getenv("EDGETRUST_FANOUT_REPLICAS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 5 {
			t.Fatalf("EDGETRUST_FANOUT_REPLICAS=%q: want 1–5", s)
		}
		nrep = v
	}
	cl := newCluster(t)
	if os.Getenv("EDGETRUST_FANOUT_READ") == "standby" {
		// Feed reads from the streaming replica (scripts/start-pg-standby.sh).
		if cl.readDSN = cl.standbyDSN(); cl.readDSN == "" {
			t.Fatal("EDGETRUST_FANOUT_READ=standby needs EDGETRUST_PG_STANDBY_DSN")
		}
	}
	serials := cl.addDevices(rounds)
	var rs []*replica
	for i := range nrep {
		rs = append(rs, cl.start(fmt.Sprintf("r%d", i)))
	}
	hc := &http.Client{Timeout: time.Minute}
	before := make([]procStat, nrep)
	for i, r := range rs {
		before[i], _ = readProc(r.cmd.Process.Pid)
	}
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)

	// The appliances: each its own connection, parked in a long poll.
	tr := &http.Transport{MaxIdleConnsPerHost: n, IdleConnTimeout: 5 * time.Minute, DisableCompression: true,
		ResponseHeaderTimeout: fanoutWait + 30*time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	arrivals := map[string][]time.Time{}
	got := func(serial string, at time.Time) {
		mu.Lock()
		arrivals[serial] = append(arrivals[serial], at)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var errs atomic.Int64
	fo := cl.follower()
	for i := range n {
		a := &simAppliance{base: rs[i%nrep].url, verify: i%fanoutSample == 0, fo: fo, got: got}
		wg.Add(1)
		go func() { defer wg.Done(); a.run(stop, client, &errs) }()
		if i%250 == 249 {
			time.Sleep(20 * time.Millisecond) // within the listen backlog
		}
	}
	defer func() {
		close(stop)
		tr.CloseIdleConnections()
		for _, r := range rs {
			r.kill() // cuts the long polls
		}
		wg.Wait()
	}()
	parked := func() int {
		s := 0
		for _, r := range rs {
			s += waiters(hc, r.url)
		}
		return s
	}
	deadline := time.Now().Add(5 * time.Minute)
	for parked() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d appliances parked in a long poll", parked(), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	idle := make([]procStat, nrep)
	var idleRSS int64
	for i, r := range rs {
		idle[i], _ = readProc(r.cmd.Process.Pid)
		idleRSS += idle[i].rss - before[i].rss
	}
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("%d appliances parked on %d replicas: replica memory %.1f KiB per idle long poll (RSS), client heap %.1f KiB per appliance",
		n, nrep, float64(idleRSS)/float64(n)/1024, float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/float64(n)/1024)

	var all []time.Duration
	var cpuTotal time.Duration
	for round := range rounds {
		time.Sleep(time.Second)
		c0 := make([]procStat, nrep)
		for i, r := range rs {
			c0[i], _ = readProc(r.cmd.Process.Pid)
		}
		t0 := time.Now()
		code, body, err := cl.adminPost(hc, rs[round%nrep].url, "/v1/admin/devices/status",
			map[string]any{"serials": []string{serials[round]}, "status": trustfeed.Revoked, "reason": "fan-out"})
		if err != nil || code != http.StatusOK {
			t.Fatalf("revoking: %d %s %v", code, body, err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			k := len(arrivals[serials[round]])
			mu.Unlock()
			if k >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d appliances have the revocation after 2 min (%d client errors)", round, k, n, errs.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
		var cpu time.Duration
		for i, r := range rs {
			c1, _ := readProc(r.cmd.Process.Pid)
			cpu += c1.cpu - c0[i].cpu
		}
		cpuTotal += cpu
		mu.Lock()
		lat := make([]time.Duration, 0, n)
		for _, at := range arrivals[serials[round]] {
			lat = append(lat, at.Sub(t0))
		}
		mu.Unlock()
		slices.Sort(lat)
		all = append(all, lat...)
		t.Logf("round %d: revocation → all %d appliances: p50 %v, p99 %v, max %v; replica CPU %v (%.0f ms per 1,000 appliances)",
			round, n, percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond),
			lat[len(lat)-1].Round(time.Millisecond), cpu, float64(cpu.Milliseconds())*1000/float64(n))
	}
	slices.Sort(all)
	p99 := percentile(all, 0.99)
	t.Logf("FANOUT n=%d replicas=%d reads=%s rounds=%d: p50 %v p99 %v max %v; replica CPU %.0f ms per 1,000 appliances per revocation; %.1f KiB replica RSS per idle long poll; client errors %d",
		n, nrep, map[bool]string{true: "standby", false: "primary"}[cl.readDSN != ""], rounds, percentile(all, 0.5).Round(time.Millisecond), p99.Round(time.Millisecond), all[len(all)-1].Round(time.Millisecond),
		float64(cpuTotal.Milliseconds())*1000/float64(n)/float64(rounds), float64(idleRSS)/float64(n)/1024, errs.Load())
	// Each appliance had each revocation exactly once.
	mu.Lock()
	for _, s := range serials {
		if len(arrivals[s]) != n {
			t.Errorf("%s reached %d appliance applications, want %d (each exactly once)", s, len(arrivals[s]), n)
		}
	}
	mu.Unlock()
	if n <= 1000 && p99 > 5*time.Second {
		t.Errorf("p99 %v for %d appliances", p99, n)
	}
}
