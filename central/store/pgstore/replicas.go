package pgstore

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/edgetrust/edgetrust/central/store"
)

// Several central replicas on one PostgreSQL (docs/decisions/0019-replicas.md).
//
// Writers: every Update takes one transaction-scoped advisory lock, so
// registry changes — and with them the appends of every feed — are
// serialised across replicas; no replica is special and there is nothing
// to elect. The lock lives exactly as long as the writer's transaction: a
// replica that dies mid-write loses its connection and PostgreSQL aborts
// the transaction and frees the lock; one that hangs or is cut off holds it
// at most WriteLease (idle_in_transaction_session_timeout, TCP keepalives).
//
// Readers: feed reads may go to a streaming replica (ReadDSN). Every feed
// append notifies its new size on the primary; each replica remembers the
// recent sizes and when it heard of them (heads), so a standby's answer
// can be judged: it is served when up to date, or when it brings entries
// and what it lacks was committed less than MaxLag ago; otherwise the read
// goes to the primary. Never later than MaxLag, and FeedView says how late.

// Options configure OpenWith. The zero value is Open's behaviour.
type Options struct {
	// ReadDSN is a streaming replica (hot standby) of the same database
	// that serves feed reads ("": the primary serves them).
	ReadDSN string
	// Name is this replica's name, sent as PostgreSQL's application_name
	// (pg_stat_activity shows which replica holds a lock); default
	// "edgetrust-central".
	Name string
	// WriteLease bounds how long a writer that stopped talking to
	// PostgreSQL (hung, partitioned) keeps the write lock: its session is
	// ended after this long idle inside a transaction, and dead peers are
	// detected by TCP keepalives within about the same time. Default 30s;
	// no write transaction of central's pauses that long between statements.
	WriteLease time.Duration
	// LockWait is how long an Update waits for the write lock before it
	// fails (lock_timeout). Default 30s.
	LockWait time.Duration
	// MaxLag is the most a standby's answer may lag the primary (default
	// 5s); a later one is replaced by a read from the primary.
	MaxLag time.Duration
	Log    *slog.Logger
	Now    func() time.Time // default time.Now
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "edgetrust-central"
	}
	if o.WriteLease <= 0 {
		o.WriteLease = 30 * time.Second
	}
	if o.LockWait <= 0 {
		o.LockWait = 30 * time.Second
	}
	if o.MaxLag <= 0 {
		o.MaxLag = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// session sets the per-session parameters of a pool's connections.
func (o Options) session(cfg *pgxpool.Config, primary bool) {
	p := cfg.ConnConfig.RuntimeParams
	role := "primary"
	if !primary {
		role = "read"
	}
	p["application_name"] = o.Name + " " + role
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	if primary {
		p["idle_in_transaction_session_timeout"] = ms(o.WriteLease)
		p["lock_timeout"] = ms(o.LockWait)
	}
	// A peer that vanished (power, partition) is noticed by PostgreSQL's
	// keepalives: idle + count × interval ≈ WriteLease.
	idle := max(1, int(o.WriteLease.Seconds()/2))
	interval := max(1, int(o.WriteLease.Seconds()/6))
	p["tcp_keepalives_idle"] = strconv.Itoa(idle)
	p["tcp_keepalives_interval"] = strconv.Itoa(interval)
	p["tcp_keepalives_count"] = "3"
}

// maxHeads bounds the sizes remembered per feed, and maxFeeds the feeds.
const (
	maxHeads = 64
	maxFeeds = 1 << 18
)

type sizeAt struct {
	size uint64
	at   time.Time
}

// heads are the feed sizes committed on the primary, newest last, as the
// notifications told them.
type heads struct {
	mu         sync.Mutex
	feeds      map[string][]sizeAt
	blind      bool // LISTEN is down: lag cannot be told
	blindSince time.Time
}

func newHeads() *heads { return &heads{feeds: map[string][]sizeAt{}} }

// notified records a notification's payload ("<size> <feed>").
func (h *heads) notified(payload string, now time.Time) {
	sz, name, ok := strings.Cut(payload, " ")
	if !ok {
		return
	}
	n, err := strconv.ParseUint(sz, 10, 64)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, known := h.feeds[name]
	if !known && len(h.feeds) >= maxFeeds {
		h.feeds = map[string][]sizeAt{} // forget rather than grow: reads fall back to "up to date as far as known"
	}
	if len(l) > 0 && l[len(l)-1].size >= n {
		return
	}
	if len(l) >= maxHeads {
		l = append(l[:0], l[1:]...)
	}
	h.feeds[name] = append(l, sizeAt{n, now})
}

func (h *heads) setBlind(b bool, now time.Time) {
	h.mu.Lock()
	if b && !h.blind {
		h.blindSince = now
	}
	h.blind = b
	h.mu.Unlock()
}

// blindFor is how long LISTEN has been down (0: it is up).
func (h *heads) blindFor(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.blind {
		return 0
	}
	return max(0, now.Sub(h.blindSince))
}

// behind says, for a read of size n, the newest size known and since when
// the first entry after n has been committed (zero time: n is up to date).
// ok is false when that cannot be told (LISTEN down, or the entry is older
// than the sizes remembered).
func (h *heads) behind(name string, n uint64) (head uint64, since time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blind {
		return n, time.Time{}, false
	}
	l := h.feeds[name]
	if len(l) == 0 || l[len(l)-1].size <= n {
		return n, time.Time{}, true
	}
	head = l[len(l)-1].size
	for i, e := range l {
		if e.size > n {
			if i == 0 && len(l) == maxHeads {
				return head, time.Time{}, false // the first missing entry fell out of memory: old
			}
			return head, e.at, true
		}
	}
	return head, time.Time{}, true
}

// ReadStats count feed reads by what the standby's answer was.
type ReadStats struct {
	Fresh    uint64 // served by the standby, up to date
	Behind   uint64 // served by the standby, behind by at most MaxLag
	Fallback uint64 // the standby was too far behind: read the primary
	Errors   uint64 // the standby failed: read the primary
	// Unreachable counts standby answers served because the primary
	// failed (while PostgreSQL fails over).
	Unreachable uint64
}

type readCounters struct{ fresh, behind, fallback, errors, unreachable atomic.Uint64 }

// ReadStats returns the standby read counters (all zero without ReadDSN).
func (s *Store) ReadStats() ReadStats {
	return ReadStats{s.reads.fresh.Load(), s.reads.behind.Load(), s.reads.fallback.Load(), s.reads.errors.Load(), s.reads.unreachable.Load()}
}

// ReadFeedView implements store.FeedViewer: feed reads from the standby
// when it is fresh enough, else from the primary.
func (s *Store) ReadFeedView(ctx context.Context, name string, after uint64, limit int) (_ []store.FeedRecord, _ uint64, _ store.FeedView, err error) {
	defer func() { err = unavailable(err) }() // a server down or restarting: 503, not 500
	var standby []store.FeedRecord
	var standbySize uint64
	standbyOK := false
	if s.read != nil {
		recs, size, err := readFeed(ctx, s.read, name, after, limit)
		standby, standbySize, standbyOK = recs, size, err == nil && after <= size
		if err == nil && after <= size {
			// (A follower ahead of the standby was served by the primary
			// or another replica: only the primary can answer it.)
			head, since, ok := s.heads.behind(name, size)
			switch {
			case ok && since.IsZero():
				s.reads.fresh.Add(1)
				return recs, size, store.FeedView{Source: store.SourceStandby, Head: head}, nil
			case ok && len(recs) > 0 && s.now().Sub(since) <= s.maxLag:
				// Behind, but it brings entries: the follower asks again
				// at once (Latest is the head) and catches up.
				s.reads.behind.Add(1)
				return recs, size, store.FeedView{Source: store.SourceStandby, Head: head, Lag: max(0, s.now().Sub(since))}, nil
			}
			s.reads.fallback.Add(1)
		} else if err == nil {
			s.reads.fallback.Add(1)
		} else if ctx.Err() == nil {
			s.reads.errors.Add(1)
			s.log.Warn("feed read from the standby failed; reading the primary", "err", redact(err))
		}
	}
	recs, size, err := readFeed(ctx, s.pool, name, after, limit)
	if err != nil && standbyOK && ctx.Err() == nil {
		// The primary is unreachable (failing over): the standby's answer
		// is the best there is. Its lag cannot be told; Lag is how long
		// this replica has not heard from the primary.
		s.reads.unreachable.Add(1)
		head, _, _ := s.heads.behind(name, standbySize)
		return standby, standbySize, store.FeedView{Source: store.SourceStandby, Head: max(head, standbySize), Lag: s.heads.blindFor(s.now())}, nil
	}
	if err != nil {
		return nil, 0, store.FeedView{}, err
	}
	head, _, _ := s.heads.behind(name, size)
	return recs, size, store.FeedView{Source: store.SourcePrimary, Head: max(head, size)}, nil
}
