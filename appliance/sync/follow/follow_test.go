package follow

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// memSink is a Sink in memory.
type memSink struct {
	mu      sync.Mutex
	st      feed.State
	entries []feed.Entry
	calls   int
	fail    error
}

func (m *memSink) State() (feed.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memSink) Apply(es []feed.Entry, next feed.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.st.Head.Size+uint64(len(es)) != next.Head.Size {
		return errors.New("does not continue")
	}
	m.st, m.entries, m.calls = next, append(m.entries, es...), m.calls+1
	return nil
}

func newSyncer(t *testing.T, url string, sink Sink, cfg Config) *Syncer {
	t.Helper()
	cfg.Central, cfg.Feed = url, "trust"
	if cfg.Keys == nil {
		srv, _ := feedtest.New("trust")
		t.Cleanup(srv.Close)
		cfg.Keys = srv.Keys()
	}
	s, err := New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPollAppliesAndChunks(t *testing.T) {
	srv, _ := feedtest.New("trust")
	defer srv.Close()
	srv.MaxBatch = 50
	for i := range 120 {
		srv.Append("device", map[string]any{"serial": i})
	}
	sink := &memSink{}
	reg := prometheus.NewRegistry()
	s := newSyncer(t, srv.URL(), sink, Config{Keys: srv.Keys(), ChunkEntries: 20, Registerer: reg})
	var res Result
	var err error
	for res.Size < 120 {
		if res, err = s.Poll(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.entries) != 120 || sink.calls != 6+1 || res.More {
		// 3 batches of 50, 50, 20 entries in chunks of 20: 3+3+1 calls.
		t.Fatalf("%d entries in %d calls, more %v", len(sink.entries), sink.calls, res.More)
	}
	if got := testutil.ToFloat64(s.m.size); got != 120 {
		t.Fatalf("size metric %v", got)
	}
	if st := s.Status(); st.Size != 120 || st.AppliedSince != 120 || st.CheckpointAt.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

func TestBadAnswersFromCentral(t *testing.T) {
	var body atomic.Value
	var code atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prefix/v1/feeds/trust" || r.URL.Query().Get("after") != "0" || r.URL.Query().Get("wait") != "0s" {
			http.Error(w, "bad path "+r.URL.String(), 400)
			return
		}
		w.WriteHeader(int(code.Load()))
		w.Write([]byte(body.Load().(string)))
	}))
	defer hs.Close()
	s := newSyncer(t, hs.URL+"/prefix/", &memSink{}, Config{MaxBody: 1 << 10})
	for _, c := range []struct {
		code   int
		body   string
		reason string // "" for a transport error
	}{
		{503, "central \x00 is down", ""},
		{404, "no such feed", ""},
		{200, "not json", "malformed"},
		{200, `{"feed":"trust","after":0,"entries":[],"checkpoint":{"body":"x","keyId":"00","signature":""}}`, "unknown-key"},
		{200, `{"feed":"other","after":0,"entries":[]}`, "malformed"},
		{200, strings.Repeat(" ", 2<<10), "malformed"},
		// Strict JSON before any signature is looked at (issue #19).
		{200, `{"feed":"other","feed":"trust","after":0,"entries":[],"checkpoint":{"body":"x","keyId":"00","signature":""}}`, "malformed"},
		{200, "{\"feed\":\"trust\xff\",\"after\":0,\"entries\":[]}", "malformed"},
		{200, `{"feed":"trust","after":0,"entries":[],"latest":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, "malformed"},
		{200, `{"feed":"trust","after":0,"entries":{}}`, "malformed"},
	} {
		code.Store(int32(c.code))
		body.Store(c.body)
		_, err := s.Poll(t.Context(), 0)
		var re *RefusedError
		switch {
		case err == nil:
			t.Errorf("%d %.20q accepted", c.code, c.body)
		case c.reason == "" && errors.As(err, &re):
			t.Errorf("%d: transport error reported as refusal: %v", c.code, err)
		case c.reason != "" && (!errors.As(err, &re) || re.Reason != c.reason):
			t.Errorf("%d %.20q: want refusal %s, got %v", c.code, c.body, c.reason, err)
		}
		if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("error carries control characters: %q", err)
		}
	}
}

// TestBatchCountBomb: a batch of more than feed.MaxBatchEntries entries is
// refused while its tokens stream by, before an entry is decoded, within
// the per-request memory budget (a compromised or impersonated central
// cannot make the follower allocate many times what it sent).
func TestBatchCountBomb(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"feed":"trust","after":0,"entries":[`)
	for i := range 4 * feed.MaxBatchEntries {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"AA=="`)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer hs.Close()
	s := newSyncer(t, hs.URL, &memSink{}, Config{MaxBody: 1 << 20})
	var err error
	n := httpxtest.Allocated(func() { _, err = s.Poll(t.Context(), 0) })
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != "malformed" || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("count bomb: %v, want a malformed refusal naming the bound", err)
	}
	if b := httpxtest.Budget(len(body)); n > b {
		t.Fatalf("refusing a %d-byte batch allocated %d (budget %d)", len(body), n, b)
	}
	t.Logf("batch of %d B refused at %d kB", len(body), n>>10)
}

func TestRunDoesNotSpinWhenCentralIgnoresTheWait(t *testing.T) {
	srv, _ := feedtest.New("trust")
	defer srv.Close()
	var n atomic.Int32
	// A central that answers at once, whatever the wait.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		q := r.URL.Query()
		q.Set("wait", "0s")
		r.URL.RawQuery = q.Encode()
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	s := newSyncer(t, hs.URL, &memSink{}, Config{Keys: srv.Keys(), MinInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	s.Run(ctx)
	if got := n.Load(); got > 8 {
		t.Fatalf("%d polls in 1s with a 200ms minimum interval", got)
	}
}

func TestSinkErrors(t *testing.T) {
	srv, _ := feedtest.New("trust")
	defer srv.Close()
	srv.Append("device", map[string]any{"serial": 1})
	sink := &memSink{fail: errors.New("disk full")}
	s := newSyncer(t, srv.URL(), sink, Config{Keys: srv.Keys()})
	_, err := s.Poll(t.Context(), 0)
	var re *RefusedError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("a storage error is not a refusal: %v", err)
	}
	sink.fail = ErrRejected
	if _, err := s.Poll(t.Context(), 0); !errors.As(err, &re) || re.Reason != "entry" {
		t.Fatalf("want an entry refusal, got %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, c := range []Config{
		{Central: "http://x", Feed: "a/b", Keys: map[string]ed25519.PublicKey{"k": nil}},
		{Central: "http://x", Feed: "trust"},
		{Central: "file:///x", Feed: "trust", Keys: map[string]ed25519.PublicKey{"k": nil}},
	} {
		if _, err := New(c, &memSink{}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestFailoverToAnotherReplica: two replicas serve one feed; the one being
// followed stops mid-follow (its long poll cut); the follower asks the
// other at once, from its stored checkpoint, and misses nothing.
func TestFailoverToAnotherReplica(t *testing.T) {
	srv, _ := feedtest.New("trust")
	defer srv.Close()
	var hits [2]atomic.Int32
	replica := func(i int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			srv.ServeHTTP(w, r)
		}))
	}
	a, b := replica(0), replica(1)
	defer b.Close()
	sink := &memSink{}
	s := newSyncer(t, a.URL, sink, Config{Keys: srv.Keys(), Replicas: []string{b.URL}, Wait: 5 * time.Second,
		MinBackoff: 400 * time.Millisecond, MinInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitSize := func(n uint64) time.Duration {
		t.Helper()
		t0 := time.Now()
		for {
			st, _ := sink.State()
			if st.Head.Size >= n {
				return time.Since(t0)
			}
			if time.Since(t0) > 10*time.Second {
				t.Fatalf("follower at %d, want %d (status %+v)", st.Head.Size, n, s.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := range 5 {
		srv.Append("device", map[string]any{"serial": i})
	}
	waitSize(5)
	if hits[1].Load() != 0 {
		t.Fatal("the second replica was asked while the first answered")
	}
	for srv.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Replica A dies with the follower's long poll open.
	a.CloseClientConnections()
	a.Close()
	for i := range 5 {
		srv.Append("device", map[string]any{"serial": 5 + i})
	}
	if d := waitSize(10); d > 2*time.Second {
		t.Errorf("took %v to fail over (minimum back-off 400ms)", d)
	}
	if hits[1].Load() == 0 || s.Status().Central != b.URL {
		t.Errorf("status %+v after failover", s.Status())
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, e := range sink.entries {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("entry %d has seq %d: lost or repeated across the failover", i+1, e.Seq)
		}
	}
	if len(sink.entries) != 10 {
		t.Fatalf("%d entries applied, want 10", len(sink.entries))
	}
}

func TestNewChecksReplicas(t *testing.T) {
	keys := map[string]ed25519.PublicKey{"k": nil}
	if _, err := New(Config{Central: "http://a", Replicas: []string{"ftp://b"}, Feed: "trust", Keys: keys}, &memSink{}); err == nil {
		t.Error("a bad replica URL was accepted")
	}
	many := make([]string, MaxCentrals)
	for i := range many {
		many[i] = "http://r"
	}
	if _, err := New(Config{Central: "http://a", Replicas: many, Feed: "trust", Keys: keys}, &memSink{}); err == nil {
		t.Errorf("%d URLs accepted", 1+len(many))
	}
}

// TestGzipBatches: the follower asks for gzip itself, applies a compressed
// batch exactly as a plain one, counts the wire bytes, and refuses a zip
// bomb (a small body decompressing past MaxBody) and a body that says gzip
// but is not, as malformed, applying nothing.
func TestGzipBatches(t *testing.T) {
	srv, _ := feedtest.New("trust")
	defer srv.Close()
	for i := range 50 {
		if _, err := srv.Append("device", map[string]string{"serial": strings.Repeat("S", 20) + string(rune('a'+i%26)), "vendorId": "v", "status": "revoked"}); err != nil {
			t.Fatal(err)
		}
	}
	var mode atomic.Value
	mode.Store("gzip")
	var asked atomic.Value
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Accept-Encoding"))
		rsp, err := http.Get(srv.URL() + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		plain, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		switch mode.Load() {
		case "gzip":
			zw.Write(plain)
		case "bomb":
			zw.Write(plain[:len(plain)-1])
			zw.Write(bytes.Repeat([]byte(" "), 8<<20))
			zw.Write([]byte("}"))
		case "liar":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(plain)
			return
		}
		zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(buf.Bytes())
	}))
	defer hs.Close()
	reg := prometheus.NewRegistry()
	sink := &memSink{}
	s := newSyncer(t, hs.URL, sink, Config{Keys: srv.Keys(), MaxBody: 1 << 20, Registerer: reg})

	for _, m := range []string{"bomb", "liar"} {
		mode.Store(m)
		_, err := s.Poll(t.Context(), 0)
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != "malformed" {
			t.Fatalf("%s: %v, want a malformed refusal", m, err)
		}
		if len(sink.entries) != 0 {
			t.Fatalf("%s: entries applied", m)
		}
	}
	mode.Store("gzip")
	before := testutil.ToFloat64(s.m.wire)
	if _, err := s.Poll(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if asked.Load() != "gzip" {
		t.Errorf("Accept-Encoding %q, want gzip", asked.Load())
	}
	if len(sink.entries) != 50 || sink.st.Head.Size != 50 {
		t.Fatalf("applied %d entries, size %d", len(sink.entries), sink.st.Head.Size)
	}
	if wire := testutil.ToFloat64(s.m.wire) - before; wire <= 0 || wire > 8<<10 {
		t.Errorf("wire bytes %v for 50 compressed entries", wire)
	}
}
