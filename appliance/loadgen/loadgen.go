// Package loadgen drives a running appliance's API with prepared requests
// (POST /v1/auth, demographic or biometric, and POST /v1/captures/verify)
// from N concurrent clients, and reports throughput, latency percentiles,
// HTTP errors and the decisions the appliance made. The load itself is
// vegeta's (github.com/tsenart/vegeta): its attacker with a fixed pool of
// workers and no pacing is N closed-loop clients, each sending its next
// request when the last one is answered.
//
// A run is bounded twice: by a request count and by a duration, whichever
// comes first. Requests are sent in the order given, each once unless
// Repeat is set (biometric captures are single-use at the appliance: a
// second use is refused as a replay).
//
// As part of a daemon it may import libraries and packages of its own
// daemon (appliance/...), never another daemon.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Kinds of request.
const (
	KindAuthDemo = "auth-demo" // POST /v1/auth without biometrics
	KindAuthBio  = "auth-bio"  // POST /v1/auth with biometrics (fingerprint, iris, face)
	KindVerify   = "verify"    // POST /v1/captures/verify
)

// Paths.
const (
	AuthPath   = "/v1/auth"
	VerifyPath = "/v1/captures/verify"
)

// Bounds on what a run may ask for.
const (
	MaxClients     = 1024
	MaxCount       = 10_000_000
	MaxDuration    = time.Hour
	MaxRequestSize = 2 << 20 // the appliance's own body limit
	MaxRequests    = 1_000_000
)

// Request is one prepared request body.
type Request struct {
	Kind string
	Body []byte
}

// Path is where the request goes.
func (r Request) Path() string {
	if r.Kind == KindVerify {
		return VerifyPath
	}
	return AuthPath
}

// ReadRequests reads JSON Lines: one request body (a JSON object) per line;
// blank lines and lines starting with '#' are skipped. path is AuthPath or
// VerifyPath. An auth body with a "biometrics" member is KindAuthBio.
func ReadRequests(r io.Reader, path string) ([]Request, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxRequestSize+1)
	var out []Request
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		if len(out) == MaxRequests {
			return nil, fmt.Errorf("line %d: more than %d requests", line, MaxRequests)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %v", line, err)
		}
		kind := KindVerify
		switch path {
		case AuthPath:
			kind = KindAuthDemo
			if _, bio := m["biometrics"]; bio {
				kind = KindAuthBio
			}
			if _, ok := m["individualId"]; !ok {
				return nil, fmt.Errorf("line %d: an auth request needs individualId (see docs/api/appliance.md)", line)
			}
		case VerifyPath:
			if _, ok := m["response"]; !ok {
				return nil, fmt.Errorf("line %d: a verify request needs response, the SBI capture answer", line)
			}
		default:
			return nil, fmt.Errorf("unknown path %q", path)
		}
		out = append(out, Request{Kind: kind, Body: append([]byte(nil), b...)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes (the appliance's limit)", line+1, MaxRequestSize)
		}
		return nil, err
	}
	return out, nil
}

// ReadRequestsFile is ReadRequests on a file.
func ReadRequestsFile(name, path string) ([]Request, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := ReadRequests(f, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rs, nil
}

// Interleave merges request lists round-robin, so kinds run side by side.
func Interleave(lists ...[]Request) []Request {
	var out []Request
	for i := 0; ; i++ {
		added := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// Config is a run.
type Config struct {
	// Base is the appliance's API, e.g. https://127.0.0.1:8443.
	Base string
	// Client sends the requests (its TLS config: the appliance's root and,
	// for mutual TLS, the relying party's certificate). Its Transport must
	// be an *http.Transport or nil.
	Client *http.Client
	// Header is added to every request (Authorization: Bearer etr_…).
	Header   http.Header
	Requests []Request
	// Clients is the number of concurrent clients (default 8).
	Clients int
	// Count is how many requests to send (default: len(Requests)).
	Count int
	// Duration bounds the run (default 1 min).
	Duration time.Duration
	// Repeat cycles through Requests when Count exceeds them.
	Repeat bool
	// Progress, when set, gets a progress bar (redrawn in place when
	// Terminal, else one line per tenth of the run).
	Progress io.Writer
	Terminal bool
}

// Stats are the figures of one kind of request (or of all).
type Stats struct {
	Kind       string         `json:"kind"`
	Requests   uint64         `json:"requests"`
	Throughput float64        `json:"throughputPerSecond"` // answered 2xx per second of the run
	P50        time.Duration  `json:"p50"`
	P95        time.Duration  `json:"p95"`
	P99        time.Duration  `json:"p99"`
	Max        time.Duration  `json:"max"`
	Mean       time.Duration  `json:"mean"`
	Status     map[string]int `json:"status"` // HTTP status code ("0": no answer) → count
	Errors     []string       `json:"errors,omitempty"`
	// Accepted and Refused count 200 answers: authStatus (auth) or valid
	// (verify) true and false. Codes counts the refusals' first code.
	Accepted int            `json:"accepted"`
	Refused  int            `json:"refused"`
	Codes    map[string]int `json:"refusalCodes,omitempty"`

	m   *vegeta.Metrics
	lat []time.Duration
}

// Failed is the number of requests without a 2xx answer.
func (s *Stats) Failed() int {
	n := 0
	for code, c := range s.Status {
		if len(code) != 3 || code[0] != '2' {
			n += c
		}
	}
	return n
}

// Report is the outcome of a run.
type Report struct {
	Clients  int           `json:"clients"`
	Duration time.Duration `json:"duration"`
	Stopped  string        `json:"stopped"` // count, duration, or interrupted
	// Cut is the requests still in flight when the run ended by duration
	// or interruption: cancelled, and counted nowhere else.
	Cut    int              `json:"cut"`
	All    *Stats           `json:"all"`
	ByKind map[string]Stats `json:"byKind"`
}

// Failed is the number of requests without a 2xx answer, all kinds.
func (r *Report) Failed() int { return r.All.Failed() }

// ctxTransport sends every request with ctx.
type ctxTransport struct {
	ctx context.Context
	rt  http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// The request's own context (the client's timeout) and the run's.
	ctx, cancel := context.WithCancel(r.Context())
	unhook := context.AfterFunc(t.ctx, cancel)
	resp, err := t.rt.RoundTrip(r.WithContext(ctx))
	if err != nil {
		unhook()
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, done: func() { unhook(); cancel() }}
	return resp, nil
}

// cancelBody releases the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	done func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// countPacer sends as fast as the workers allow and stops after n hits.
type countPacer struct{ n uint64 }

func (p countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, hits >= p.n
}

func (p countPacer) Rate(time.Duration) float64 { return 0 }

// Run runs the load; ctx ends it early (the report covers what was sent).
func Run(ctx context.Context, c Config) (*Report, error) {
	if len(c.Requests) == 0 {
		return nil, errors.New("no requests to send")
	}
	if c.Clients == 0 {
		c.Clients = 8
	}
	if c.Clients < 1 || c.Clients > MaxClients {
		return nil, fmt.Errorf("clients %d: want 1 to %d", c.Clients, MaxClients)
	}
	if c.Count == 0 {
		c.Count = len(c.Requests)
	}
	if c.Count < 1 || c.Count > MaxCount {
		return nil, fmt.Errorf("count %d: want 1 to %d", c.Count, MaxCount)
	}
	if c.Count > len(c.Requests) && !c.Repeat {
		return nil, fmt.Errorf("count %d is more than the %d requests given: give more, or repeat them (a biometric capture is refused as a replay the second time)", c.Count, len(c.Requests))
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		return nil, fmt.Errorf("duration %s: want up to %s", c.Duration, MaxDuration)
	}
	base := strings.TrimSuffix(c.Base, "/")
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fmt.Errorf("base %q: want http(s)://host:port", c.Base)
	}
	hc := c.Client
	if hc == nil {
		hc = &http.Client{}
	}
	hc2 := *hc
	if hc2.Timeout == 0 {
		hc2.Timeout = 30 * time.Second
	}
	tr, _ := hc2.Transport.(*http.Transport)
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	// One kept-alive connection per client, as relying parties should run.
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = c.Clients, c.Clients
	// Every request carries the run's context, so that the end of the run
	// (count, duration or ctx) also ends the requests still in flight.
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc2.Transport = ctxTransport{ctx: runCtx, rt: tr}

	// The kind rides in the URL's fragment, which is never sent, so each
	// result can be filed under its kind.
	var next atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		i := next.Add(1) - 1
		if i >= uint64(c.Count) {
			return vegeta.ErrNoTargets
		}
		r := c.Requests[i%uint64(len(c.Requests))]
		t.Method = http.MethodPost
		t.URL = base + r.Path() + "#" + r.Kind
		t.Body = r.Body
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range c.Header {
			h[k] = v
		}
		t.Header = h
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Client(&hc2), vegeta.Workers(uint64(c.Clients)), vegeta.MaxWorkers(uint64(c.Clients)),
		vegeta.MaxBody(64<<10), vegeta.Redirects(vegeta.NoFollow))

	rep := &Report{Clients: c.Clients, ByKind: map[string]Stats{}}
	all := newStats("all")
	kinds := map[string]*Stats{}
	bar := &progress{w: c.Progress, terminal: c.Terminal, total: c.Count, start: time.Now()}
	var mu sync.Mutex
	stopped := ""
	stop := func(why string) {
		mu.Lock()
		if stopped == "" {
			stopped = why
		}
		mu.Unlock()
		atk.Stop()
		cancel()
	}
	timer := time.AfterFunc(c.Duration, func() { stop("duration") })
	defer timer.Stop()
	go func() {
		select {
		case <-ctx.Done():
			stop("interrupted")
		case <-runCtx.Done():
		}
	}()
	start := time.Now()
	var n, failed int
	for res := range atk.Attack(targeter, countPacer{uint64(c.Count)}, 0, "") {
		if res.Error == vegeta.ErrNoTargets.Error() {
			continue
		}
		if res.Code == 0 && runCtx.Err() != nil && strings.Contains(res.Error, context.Canceled.Error()) {
			rep.Cut++ // in flight when the run ended: not the appliance's failure
			continue
		}
		kind := res.URL[strings.LastIndexByte(res.URL, '#')+1:]
		s := kinds[kind]
		if s == nil {
			s = newStats(kind)
			kinds[kind] = s
		}
		for _, st := range []*Stats{all, s} {
			st.add(res)
		}
		n++
		if res.Code < 200 || res.Code > 299 {
			failed++
		}
		bar.update(n, failed)
	}
	elapsed := time.Since(start)
	bar.finish(n, failed)
	rep.Duration = elapsed
	mu.Lock()
	rep.Stopped = stopped
	mu.Unlock()
	if rep.Stopped == "" {
		rep.Stopped = "count"
	}
	rep.All = all.close(elapsed)
	for k, s := range kinds {
		rep.ByKind[k] = *s.close(elapsed)
	}
	return rep, nil
}

func newStats(kind string) *Stats {
	return &Stats{Kind: kind, Status: map[string]int{}, Codes: map[string]int{}, m: &vegeta.Metrics{}}
}

// answer is what is read of a 200 answer: an auth decision or a verify result.
type answer struct {
	Decision *struct {
		AuthStatus bool `json:"authStatus"`
		Errors     []struct {
			Code string `json:"code"`
		} `json:"errors"`
	} `json:"decision"`
	Valid   *bool    `json:"valid"`
	Reasons []string `json:"reasons"`
}

func (s *Stats) add(r *vegeta.Result) {
	s.m.Add(r)
	s.lat = append(s.lat, r.Latency)
	s.Status[fmt.Sprint(r.Code)]++
	if r.Code != http.StatusOK {
		return
	}
	var a answer
	if json.Unmarshal(r.Body, &a) != nil {
		s.Codes["unreadable-answer"]++
		s.Refused++
		return
	}
	switch {
	case a.Decision != nil && a.Decision.AuthStatus, a.Valid != nil && *a.Valid:
		s.Accepted++
	case a.Decision != nil:
		s.Refused++
		code := "none"
		if len(a.Decision.Errors) > 0 {
			code = a.Decision.Errors[0].Code
		}
		s.Codes[code]++
	default:
		s.Refused++
		code := "none"
		if len(a.Reasons) > 0 {
			code, _, _ = strings.Cut(a.Reasons[0], ":")
		}
		s.Codes[code]++
	}
}

func (s *Stats) close(elapsed time.Duration) *Stats {
	s.m.Close()
	s.Requests = s.m.Requests
	ok := 0
	for code, c := range s.Status {
		if len(code) == 3 && code[0] == '2' {
			ok += c
		}
	}
	if elapsed > 0 {
		s.Throughput = float64(ok) / elapsed.Seconds()
	}
	// Exact percentiles (nearest rank), not vegeta's t-digest estimate.
	slices.Sort(s.lat)
	s.P50, s.P95, s.P99 = rank(s.lat, 50), rank(s.lat, 95), rank(s.lat, 99)
	if len(s.lat) > 0 {
		s.Max = s.lat[len(s.lat)-1]
	}
	s.Mean = s.m.Latencies.Mean
	s.Errors = s.m.Errors
	if len(s.Codes) == 0 {
		s.Codes = nil
	}
	return s
}

// WriteText prints the report as a table.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d requests from %d clients in %s (stopped by %s", r.All.Requests, r.Clients, r.Duration.Round(time.Millisecond), r.Stopped)
	if r.Cut > 0 {
		fmt.Fprintf(w, "; %d in flight were cut off and are not counted", r.Cut)
	}
	fmt.Fprint(w, ")\n\n")
	fmt.Fprintf(w, "%-10s %9s %10s %9s %9s %9s %9s %8s %8s %8s\n", "kind", "requests", "ok/s", "p50", "p95", "p99", "max", "accepted", "refused", "failed")
	kinds := make([]string, 0, len(r.ByKind))
	for k := range r.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	rows := []Stats{}
	for _, k := range kinds {
		rows = append(rows, r.ByKind[k])
	}
	if len(rows) > 1 {
		rows = append(rows, *r.All)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
	for _, s := range rows {
		fmt.Fprintf(w, "%-10s %9d %10.1f %9s %9s %9s %9s %8d %8d %8d\n", s.Kind, s.Requests, s.Throughput,
			ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), s.Accepted, s.Refused, s.Failed())
	}
	for _, s := range rows {
		if s.Kind == "all" && len(rows) > 1 {
			continue
		}
		if len(s.Codes) > 0 {
			fmt.Fprintf(w, "\n%s refusals by code:", s.Kind)
			for _, c := range sortedKeys(s.Codes) {
				fmt.Fprintf(w, " %s=%d", c, s.Codes[c])
			}
			fmt.Fprintln(w)
		}
		if f := s.Failed(); f > 0 {
			fmt.Fprintf(w, "\n%s failures by HTTP status (0: no answer):", s.Kind)
			for _, c := range sortedKeys(s.Status) {
				if !strings.HasPrefix(c, "2") {
					fmt.Fprintf(w, " %s=%d", c, s.Status[c])
				}
			}
			fmt.Fprintln(w)
			for i, e := range s.Errors {
				if i == 5 {
					fmt.Fprintf(w, "  … %d more distinct errors\n", len(s.Errors)-5)
					break
				}
				fmt.Fprintf(w, "  %s\n", e)
			}
		}
	}
}

// rank is the nearest-rank p-th percentile of sorted d.
func rank(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (p*len(d)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return d[i]
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// progress draws a bar: redrawn in place on a terminal, else a line per
// tenth of the run.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	start    time.Time
	last     time.Time
	tenth    int
}

func (p *progress) line(n, failed int) string {
	const width = 30
	fill := width * n / p.total
	el := time.Since(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	return fmt.Sprintf("[%s%s] %d/%d  %.1f/s  failed %d  %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		n, p.total, rate, failed, el.Round(100*time.Millisecond))
}

func (p *progress) update(n, failed int) {
	if p.w == nil {
		return
	}
	if p.terminal {
		if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
			p.last = now
			fmt.Fprintf(p.w, "\r%s", p.line(n, failed))
		}
		return
	}
	if t := 10 * n / p.total; t > p.tenth && t < 10 {
		p.tenth = t
		fmt.Fprintln(p.w, p.line(n, failed))
	}
}

func (p *progress) finish(n, failed int) {
	if p.w == nil {
		return
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\n", p.line(n, failed))
		return
	}
	fmt.Fprintln(p.w, p.line(n, failed))
}
