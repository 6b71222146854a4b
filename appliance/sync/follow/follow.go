package follow

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Sink is where verified entries go: a store that applies entries and the
// feed state that follows them atomically.
type Sink interface {
	// State returns the stored feed state (the zero State before the first
	// batch).
	State() (feed.State, error)
	// Apply applies entries and stores next with them, atomically.
	Apply(entries []feed.Entry, next feed.State) error
}

// Config configures a Syncer. Central, Feed and Keys are required.
type Config struct {
	Central string // base URL, e.g. https://central.example.org
	// Replicas are more base URLs of the same central (replicas on one
	// PostgreSQL, sharing the feed key): after a failure the next URL in
	// turn is asked, from the same stored checkpoint. At most MaxCentrals
	// URLs in all.
	Replicas []string
	Feed     string                       // feed name, e.g. "trust"
	Keys     map[string]ed25519.PublicKey // trusted feed keys by feed.KeyID
	Client   *http.Client                 // nil: a client with sane timeouts

	Wait         time.Duration // long-poll wait asked of central (default 30s)
	MinInterval  time.Duration // least time between two polls that brought no entries (default 1s)
	MinBackoff   time.Duration // first retry delay after a failure (default 500ms)
	MaxBackoff   time.Duration // longest retry delay (default 60s)
	MaxBody      int64         // largest batch body accepted (default 64 MiB)
	MaxClockSkew time.Duration // how far in the future a checkpoint may be signed (default 5m)
	// A batch larger than ChunkEntries entries or ChunkBytes bytes is
	// applied in several transactions, each with the feed state after its
	// last entry (a prefix of a verified batch is itself verified), so no
	// transaction outgrows the store's limit (defaults 5000 and 3 MiB).
	ChunkEntries int
	ChunkBytes   int

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer // metrics; nil: none
	UserAgent  string
}

// Syncer follows one feed.
type Syncer struct {
	cfg      Config
	sink     Sink
	follower feed.Follower
	bases    []*url.URL // Central, then Replicas
	cur      int        // the one asked now (under mu)
	log      *slog.Logger
	m        *metrics

	mu     sync.Mutex
	status Status
}

// Status is what a Syncer reports about itself.
type Status struct {
	Feed         string    `json:"feed"`
	Central      string    `json:"central"`
	LastAttempt  time.Time `json:"lastAttempt,omitzero"`
	LastSuccess  time.Time `json:"lastSuccess,omitzero"`
	LastError    string    `json:"lastError,omitempty"`
	Failures     int       `json:"consecutiveFailures"`
	RefusedTotal uint64    `json:"refusedBatches"`
	LastRefusal  string    `json:"lastRefusal,omitempty"`
	CheckpointAt time.Time `json:"checkpointTime,omitzero"`
	Size         uint64    `json:"size"`
	AppliedSince uint64    `json:"appliedSinceStart"`
}

// New checks the configuration and makes a Syncer.
func New(cfg Config, sink Sink) (*Syncer, error) {
	if cfg.Feed == "" || strings.ContainsAny(cfg.Feed, "/?#") {
		return nil, fmt.Errorf("follow: bad feed name %q", cfg.Feed)
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("follow: no trusted feed keys")
	}
	if 1+len(cfg.Replicas) > MaxCentrals {
		return nil, fmt.Errorf("follow: %d central URLs, at most %d", 1+len(cfg.Replicas), MaxCentrals)
	}
	var bases []*url.URL
	for _, c := range append([]string{cfg.Central}, cfg.Replicas...) {
		u, err := url.Parse(c)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("follow: central URL %q: want http(s)://host[:port][/prefix]", c)
		}
		bases = append(bases, u)
	}
	u := bases[0]
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(60*time.Second, cfg.MinBackoff)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = 5 * time.Minute
	}
	if cfg.ChunkEntries <= 0 {
		cfg.ChunkEntries = 5000
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = 3 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.Wait + 30*time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   2,
		}}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "edgetrust-appliance"
	}
	s := &Syncer{cfg: cfg, sink: sink, bases: bases,
		follower: feed.Follower{Origin: cfg.Feed, Keys: cfg.Keys},
		log:      cfg.Logger.With("feed", cfg.Feed)}
	s.status.Feed, s.status.Central = cfg.Feed, u.Redacted()
	st, err := sink.State()
	if err != nil {
		return nil, fmt.Errorf("follow: reading stored state: %w", err)
	}
	s.status.Size, s.status.CheckpointAt = st.Head.Size, st.Time
	s.m = newMetrics(cfg.Registerer, cfg.Feed, s)
	s.m.size.Set(float64(st.Head.Size))
	return s, nil
}

// Status returns a copy of the syncer's status.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Syncer) checkpointTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.CheckpointAt
}

// RefusedError is a batch that central sent and the follower refused: bad
// signature, unknown key, fork, rollback, gap, malformed, a checkpoint from
// the future, or entries the sink would not apply.
type RefusedError struct {
	Reason string // stable: signature, unknown-key, fork, rollback, gap, malformed, future-checkpoint, entry
	Err    error
}

func (e *RefusedError) Error() string { return "batch refused (" + e.Reason + "): " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// ErrRejected is what a Sink wraps when it will not apply a verified
// batch because of its content (an entry it cannot decode). The batch is
// then refused like a badly signed one: logged, counted, not applied.
var ErrRejected = errors.New("entry rejected")

// errFuture is a checkpoint signed too far ahead of our clock.
var errFuture = errors.New("follow: checkpoint signed in the future (clock skew or a forged time)")

func reason(err error) string {
	switch {
	case errors.Is(err, feed.ErrSignature):
		return "signature"
	case errors.Is(err, feed.ErrUnknownKey):
		return "unknown-key"
	case errors.Is(err, feed.ErrRollback):
		return "rollback"
	case errors.Is(err, feed.ErrFork):
		return "fork"
	case errors.Is(err, feed.ErrGap):
		return "gap"
	case errors.Is(err, errFuture):
		return "future-checkpoint"
	}
	return "malformed"
}

// Result says what one poll did.
type Result struct {
	Applied int    // entries applied
	Size    uint64 // feed size after the poll
	More    bool   // central has more entries than it sent
}

// Poll makes one request (long-polling up to wait) and applies what it
// brings. Errors are *RefusedError for batches that fail verification and
// plain errors for transport and storage problems; in both cases nothing of
// the batch was applied (or, for a chunked batch, a verified prefix was).
func (s *Syncer) Poll(ctx context.Context, wait time.Duration) (Result, error) {
	st, err := s.sink.State()
	if err != nil {
		return Result{}, fmt.Errorf("reading stored state: %w", err)
	}
	b, err := s.fetch(ctx, st.Head.Size, wait)
	if err != nil {
		return Result{Size: st.Head.Size}, err
	}
	entries, next, err := s.follower.Apply(st, b)
	if err != nil {
		return Result{Size: st.Head.Size}, &RefusedError{Reason: reason(err), Err: err}
	}
	if next.Time.After(s.cfg.Now().Add(s.cfg.MaxClockSkew)) {
		return Result{Size: st.Head.Size}, &RefusedError{Reason: "future-checkpoint",
			Err: fmt.Errorf("%w: signed %s", errFuture, next.Time.Format(time.RFC3339))}
	}
	if err := s.apply(st, b, entries, next); err != nil {
		return Result{Size: st.Head.Size}, err
	}
	// Latest is not signed: only trust it to mean "ask again at once" when
	// this batch made progress, so a forged Latest cannot make us spin.
	return Result{Applied: len(entries), Size: next.Head.Size, More: len(entries) > 0 && next.Head.Size < b.Latest}, nil
}

// apply hands the verified batch to the sink, in chunks when it is large.
func (s *Syncer) apply(st feed.State, b *feed.Batch, entries []feed.Entry, next feed.State) error {
	if len(entries) > 0 {
		s.log.Debug("applying batch", "after", b.After, "entries", len(entries))
	}
	start := 0
	head := st.Head
	for {
		end, size := start, 0
		for end < len(entries) && end-start < s.cfg.ChunkEntries && (end == start || size+len(b.Entries[end]) <= s.cfg.ChunkBytes) {
			size += len(b.Entries[end])
			end++
		}
		chunkState := next
		if end < len(entries) {
			leaves := make([][]byte, 0, end-start)
			for _, raw := range b.Entries[start:end] {
				leaves = append(leaves, feed.LeafHash(raw))
			}
			var err error
			if head, _, err = head.Append(leaves...); err != nil {
				return err
			}
			// A verified prefix: its head, under the last fully applied checkpoint.
			chunkState = feed.State{Head: head, Checkpoint: st.Checkpoint, Time: st.Time}
		}
		if err := s.sink.Apply(entries[start:end], chunkState); err != nil {
			if errors.Is(err, ErrRejected) {
				return &RefusedError{Reason: "entry", Err: err}
			}
			return fmt.Errorf("applying batch: %w", err)
		}
		s.m.applied.Add(float64(end - start))
		s.m.size.Set(float64(chunkState.Head.Size))
		s.mu.Lock()
		s.status.Size, s.status.CheckpointAt = chunkState.Head.Size, chunkState.Time
		s.status.AppliedSince += uint64(end - start)
		s.mu.Unlock()
		if end >= len(entries) {
			break
		}
		start = end
	}
	return nil
}

// fetch gets one batch.
func (s *Syncer) fetch(ctx context.Context, after uint64, wait time.Duration) (*feed.Batch, error) {
	u := *s.base()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/feeds/" + url.PathEscape(s.cfg.Feed)
	u.RawQuery = url.Values{"after": {strconv.FormatUint(after, 10)}, "wait": {wait.String()}}.Encode()
	ctx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// Asked for explicitly (so the transport does not decompress behind
	// our back): the body is decompressed here, bounded by MaxBody.
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("central answered %s: %s", resp.Status, printable(snippet))
	}
	// At most MaxBody bytes on the wire and, decompressed, at most
	// MaxBody bytes of JSON: a zip bomb stops at the limit.
	body, wire, err := feed.ReadBody(resp.Body, resp.Header.Get("Content-Encoding"), s.cfg.MaxBody)
	s.m.wire.Add(float64(wire))
	switch {
	case errors.Is(err, feed.ErrTooLarge):
		return nil, &RefusedError{Reason: "malformed", Err: fmt.Errorf("%w: batch body over %d bytes", feed.ErrMalformed, s.cfg.MaxBody)}
	case errors.Is(err, feed.ErrMalformed):
		return nil, &RefusedError{Reason: "malformed", Err: err}
	case err != nil:
		return nil, fmt.Errorf("reading batch: %w", err)
	}
	// Strict JSON (internal/jsonx) before any signature is checked: no
	// duplicate members or invalid UTF-8, at most feed.MaxBatchEntries
	// entries counted as they stream by. Open: a newer central may add
	// members this appliance does not know yet.
	var b feed.Batch
	if err := jsonx.Unmarshal(body, &b, jsonx.Limits{MaxBytes: s.cfg.MaxBody, MaxDepth: 4, MaxArray: feed.MaxBatchEntries, MaxMembers: 32, Open: true}); err != nil {
		return nil, &RefusedError{Reason: "malformed", Err: fmt.Errorf("%w: batch is not JSON: %v", feed.ErrMalformed, err)}
	}
	return &b, nil
}

// printable keeps a short, single-line, printable excerpt of an error body.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	return strings.TrimSpace(s)
}

// Run follows the feed until ctx is done: long polls while healthy, backs
// off (exponentially, with jitter) after failures. The first poll after a
// start or a failure does not wait, so a fresh checkpoint arrives promptly.
func (s *Syncer) Run(ctx context.Context) {
	s.log.Info("following feed", "central", s.base().Redacted(), "replicas", len(s.bases)-1, "wait", s.cfg.Wait.String(), "size", s.Status().Size)
	backoff := s.cfg.MinBackoff
	wait := time.Duration(0)
	failedInTurn := 0 // consecutive failures since the last success
	for ctx.Err() == nil {
		t0 := s.cfg.Now()
		s.mu.Lock()
		s.status.LastAttempt = t0
		s.mu.Unlock()
		res, err := s.Poll(ctx, wait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.failed(err)
			failedInTurn++
			wait = 0
			if len(s.bases) > 1 {
				s.next()
				if failedInTurn%len(s.bases) != 0 {
					// Another replica has not been tried since the last
					// success: ask it soon (jittered, so that appliances
					// leaving a dead replica do not arrive in step).
					sleep(ctx, s.cfg.MinBackoff/4+rand.N(s.cfg.MinBackoff/2+1))
					continue
				}
			}
			// Every URL failed in turn: back off, exponentially, with jitter.
			sleep(ctx, backoff/2+rand.N(backoff/2+1))
			backoff = min(backoff*2, s.cfg.MaxBackoff)
			continue
		}
		failedInTurn = 0
		s.mu.Lock()
		recovered := s.status.Failures > 0
		s.status.LastSuccess, s.status.LastError, s.status.Failures = s.cfg.Now(), "", 0
		s.mu.Unlock()
		if recovered {
			s.log.Info("feed reachable again", "central", s.base().Redacted(), "size", res.Size)
		}
		if res.Applied > 0 {
			s.log.Info("feed batch applied", "entries", res.Applied, "size", res.Size)
		}
		backoff = s.cfg.MinBackoff
		asked := wait
		wait = s.cfg.Wait
		if res.More {
			wait = 0
			continue
		}
		if res.Applied == 0 && asked > 0 {
			// Central ignored the wait or answered early: do not spin.
			if d := s.cfg.MinInterval - s.cfg.Now().Sub(t0); d > 0 {
				sleep(ctx, d)
			}
		}
	}
}

// MaxCentrals bounds the URLs a Syncer follows central at.
const MaxCentrals = 16

// base is the URL asked now.
func (s *Syncer) base() *url.URL {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bases[s.cur]
}

// next moves to the next URL, in turn.
func (s *Syncer) next() {
	s.mu.Lock()
	s.cur = (s.cur + 1) % len(s.bases)
	s.status.Central = s.bases[s.cur].Redacted()
	u := s.status.Central
	s.mu.Unlock()
	s.log.Info("asking another central replica", "central", u)
}

func (s *Syncer) failed(err error) {
	s.mu.Lock()
	s.status.Failures++
	s.status.LastError = err.Error()
	n := s.status.Failures
	var re *RefusedError
	if errors.As(err, &re) {
		s.status.RefusedTotal++
		s.status.LastRefusal = re.Reason
	}
	s.mu.Unlock()
	if errors.As(err, &re) {
		s.m.refused.WithLabelValues(re.Reason).Inc()
		s.log.Error("feed batch refused; keeping the stored state", "reason", re.Reason, "err", re.Err.Error(), "failures", n)
		return
	}
	s.m.fetchErrors.Inc()
	s.log.Warn("feed poll failed", "err", err.Error(), "failures", n)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

type metrics struct {
	size        prometheus.Gauge
	applied     prometheus.Counter
	refused     *prometheus.CounterVec
	fetchErrors prometheus.Counter
	wire        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, name string, s *Syncer) *metrics {
	labels := prometheus.Labels{"feed": name}
	m := &metrics{
		size: prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgetrust_appliance_feed_size",
			Help: "Entries of the feed applied to the store (the feed position).", ConstLabels: labels}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgetrust_appliance_feed_entries_applied_total",
			Help: "Feed entries applied since start.", ConstLabels: labels}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgetrust_appliance_feed_batches_refused_total",
			Help: "Batches refused (bad signature, unknown key, fork, rollback, gap, malformed, future checkpoint, bad entry).", ConstLabels: labels}, []string{"reason"}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgetrust_appliance_feed_fetch_errors_total",
			Help: "Polls that failed before a batch was received (central unreachable, HTTP errors).", ConstLabels: labels}),
		wire: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgetrust_appliance_feed_wire_bytes_total",
			Help: "Batch body bytes received from central as sent (gzip-compressed when central compressed them).", ConstLabels: labels}),
	}
	if reg != nil {
		age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgetrust_appliance_feed_checkpoint_age_seconds",
			Help: "Seconds since central signed the last accepted checkpoint (the trust data's staleness); -1 before the first.", ConstLabels: labels},
			func() float64 {
				t := s.checkpointTime()
				if t.IsZero() {
					return -1
				}
				return s.cfg.Now().Sub(t).Seconds()
			})
		reg.MustRegister(m.size, m.applied, m.refused, m.fetchErrors, m.wire, age)
	}
	return m
}
