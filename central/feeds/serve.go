package feeds

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// broadcast wakes every waiter at once: Wait returns a channel closed by
// the next Notify.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) Notify() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}

// feedPoll is how often waiters re-read the feed even without a change
// signal (a PostgreSQL notification lost while reconnecting).
const feedPoll = 2 * time.Second

// Server serves central's feeds: the trust feed and the records feed of
// every enrolled appliance, each batch under a checkpoint freshly signed
// with the feed key.
//
// Batches of the shared feeds (the trust feed) are cached: every long poll
// woken by an append asks for the same batch, so one read and one
// signature serve them all. A cached batch is served only in the second
// it was signed (checkpoint times have one-second resolution, so a
// follower never sees its checkpoint time go back) and only until the
// next change signal.
type Server struct {
	st   store.Store
	key  ed25519.PrivateKey
	now  func() time.Time
	wake *broadcast

	mu    sync.Mutex
	gen   uint64 // change signals so far
	cache map[cacheKey]*cached
}

type cacheKey struct {
	name  string
	after uint64
	limit int
}

// cached is one batch, read once for every request that wants it.
type cached struct {
	done chan struct{}
	gen  uint64
	sec  int64 // the second its checkpoint was signed
	b    *feed.Batch
	view store.FeedView
	at   time.Time // when it was read
	err  error
}

// maxCached bounds the batches cached (distinct after/limit of one feed).
const maxCached = 1024

// NewServer makes a Server; Run must run for long polls to wake early.
func NewServer(st store.Store, key ed25519.PrivateKey, now func() time.Time) *Server {
	return &Server{st: st, key: key, now: now, wake: newBroadcast(), cache: map[cacheKey]*cached{}}
}

// Run turns the store's change signal into wake-ups of waiting long polls,
// until stop is closed.
func (s *Server) Run(stop <-chan struct{}) {
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.st.Changed():
		case <-t.C:
		}
		s.changed()
	}
}

// changed drops the cached batches and wakes the long polls.
func (s *Server) changed() {
	s.mu.Lock()
	s.gen++
	clear(s.cache)
	s.mu.Unlock()
	s.wake.Notify()
}

// View is where a batch was read and how fresh it is: what the feed API
// reports in its answer headers.
type View struct {
	store.FeedView
	// Size is the feed size the batch's checkpoint covers.
	Size uint64
	// Cached says the batch was read for an earlier request (in the same
	// second, with no change since).
	Cached bool
}

type viewKey struct{}

// WithView returns a context in which Batch and WaitBatch fill v with
// where the batch they return came from.
func WithView(ctx context.Context) (context.Context, *View) {
	v := &View{}
	return context.WithValue(ctx, viewKey{}, v), v
}

func setView(ctx context.Context, v View) {
	if p, ok := ctx.Value(viewKey{}).(*View); ok {
		*p = v
	}
}

// served are the feeds served besides the records feeds.
var served = map[string]bool{trustfeed.Name: true}

// Limits of the feed API.
const (
	MaxWait = 60 * time.Second
)

// PublicKey is the key appliances verify checkpoints with.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Batch returns the entries of feed name after seq (at most limit, at most
// feed.MaxBatchEntries) under a checkpoint freshly signed at their end.
// The batch may be shared with other callers: do not modify it.
func (s *Server) Batch(ctx context.Context, name string, after uint64, limit int) (*feed.Batch, error) {
	if limit <= 0 || limit > feed.MaxBatchEntries {
		limit = feed.MaxBatchEntries
	}
	if !served[name] {
		// A records feed exists for each enrolled appliance; its batches
		// are sealed to that appliance, so serving them is harmless. They
		// have one reader each: not cached.
		id, ok := recordfeed.ApplianceOf(name)
		if !ok {
			return nil, &enrol.Error{Status: http.StatusNotFound, Code: enrol.CodeNotFound, Message: fmt.Sprintf("no feed %q", name)}
		}
		err := s.st.View(ctx, func(tx store.Tx) error { _, err := tx.Appliance(ctx, id); return err })
		if errors.Is(err, store.ErrNotFound) {
			return nil, &enrol.Error{Status: http.StatusNotFound, Code: enrol.CodeNotFound, Message: fmt.Sprintf("no feed %q", name)}
		}
		if err != nil {
			return nil, err
		}
		b, v, err := s.read(ctx, name, after, limit)
		if err == nil {
			setView(ctx, View{FeedView: v, Size: after + uint64(len(b.Entries))})
		}
		return b, err
	}
	// A change signal not yet taken by Run (a write that just committed in
	// this process) is taken here, so a reader never gets a batch cached
	// before a write it has already seen succeed.
	select {
	case <-s.st.Changed():
		s.changed()
	default:
	}
	k := cacheKey{name, after, limit}
	sec := s.now().Unix()
	s.mu.Lock()
	c, hit := s.cache[k]
	if !hit || c.gen != s.gen || c.sec != sec {
		if len(s.cache) >= maxCached {
			clear(s.cache)
		}
		c = &cached{done: make(chan struct{}), gen: s.gen, sec: sec}
		s.cache[k] = c
		hit = false
	}
	s.mu.Unlock()
	if !hit {
		// Read for everyone who wants this batch: not cancelled by this
		// caller leaving.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		c.b, c.view, c.err = s.read(rctx, name, after, limit)
		c.at = s.now()
		cancel()
		close(c.done)
		if c.err != nil {
			s.mu.Lock()
			if s.cache[k] == c {
				delete(s.cache, k)
			}
			s.mu.Unlock()
		}
	} else {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	v := View{FeedView: c.view, Size: after + uint64(len(c.b.Entries)), Cached: hit}
	if hit && v.Lag > 0 {
		v.Lag += max(0, s.now().Sub(c.at))
	}
	setView(ctx, v)
	// A copy, so a caller changing its batch does not change others'.
	b := *c.b
	b.Entries = append([][]byte(nil), c.b.Entries...)
	return &b, nil
}

// read reads a batch from the store and signs its checkpoint.
func (s *Server) read(ctx context.Context, name string, after uint64, limit int) (*feed.Batch, store.FeedView, error) {
	var recs []store.FeedRecord
	var size uint64
	var view store.FeedView
	var err error
	if fv, ok := s.st.(store.FeedViewer); ok {
		recs, size, view, err = fv.ReadFeedView(ctx, name, after, limit)
	} else {
		recs, size, err = s.st.ReadFeed(ctx, name, after, limit)
		view = store.FeedView{Source: store.SourcePrimary, Head: size}
	}
	if err != nil {
		return nil, view, err
	}
	if after > size {
		return nil, view, &enrol.Error{Status: http.StatusBadRequest, Code: enrol.CodeBadRequest,
			Message: fmt.Sprintf("after=%d is beyond the end of feed %s (size %d): a follower ahead of central means a rollback or another central", after, name, size)}
	}
	// Latest: the newest size known, so a follower served by a lagging
	// standby asks again at once.
	b := &feed.Batch{Feed: name, After: after, Latest: max(size, view.Head), Entries: make([][]byte, 0, len(recs))}
	var root []byte
	if len(recs) == 0 {
		if root, err = s.st.FeedRoot(ctx, name, after); err != nil {
			return nil, view, err
		}
	} else {
		root = recs[len(recs)-1].Root
	}
	for _, r := range recs {
		b.Entries = append(b.Entries, r.Body)
	}
	b.Checkpoint, err = feed.Sign(s.key, feed.Checkpoint{Origin: name, Size: after + uint64(len(recs)), Root: root, Time: s.now()})
	if err != nil {
		return nil, view, fmt.Errorf("central/feeds: signing checkpoint: %w", err)
	}
	return b, view, nil
}

// WaitBatch is Batch that, when nothing follows after, waits up to wait for
// new entries and answers as soon as they exist; at the timeout it answers
// with an empty batch under a freshly signed checkpoint.
func (s *Server) WaitBatch(ctx context.Context, name string, after uint64, limit int, wait time.Duration) (*feed.Batch, error) {
	if wait > MaxWait {
		wait = MaxWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		// Take the wake-up channel before reading, so an append between
		// the read and the wait is not missed.
		woken := s.wake.Wait()
		b, err := s.Batch(ctx, name, after, limit)
		if err != nil || len(b.Entries) > 0 || wait <= 0 {
			return b, err
		}
		select {
		case <-woken:
		case <-deadline.C:
			return s.Batch(ctx, name, after, limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
