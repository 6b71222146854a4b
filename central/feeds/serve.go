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
type Server struct {
	st   store.Store
	key  ed25519.PrivateKey
	now  func() time.Time
	wake *broadcast
}

// NewServer makes a Server; Run must run for long polls to wake early.
func NewServer(st store.Store, key ed25519.PrivateKey, now func() time.Time) *Server {
	return &Server{st: st, key: key, now: now, wake: newBroadcast()}
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
		s.wake.Notify()
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
func (s *Server) Batch(ctx context.Context, name string, after uint64, limit int) (*feed.Batch, error) {
	if !served[name] {
		// A records feed exists for each enrolled appliance; its batches
		// are sealed to that appliance, so serving them is harmless.
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
	}
	if limit <= 0 || limit > feed.MaxBatchEntries {
		limit = feed.MaxBatchEntries
	}
	recs, size, err := s.st.ReadFeed(ctx, name, after, limit)
	if err != nil {
		return nil, err
	}
	if after > size {
		return nil, &enrol.Error{Status: http.StatusBadRequest, Code: enrol.CodeBadRequest,
			Message: fmt.Sprintf("after=%d is beyond the end of feed %s (size %d): a follower ahead of central means a rollback or another central", after, name, size)}
	}
	b := &feed.Batch{Feed: name, After: after, Latest: size, Entries: make([][]byte, 0, len(recs))}
	var root []byte
	if len(recs) == 0 {
		if root, err = s.st.FeedRoot(ctx, name, after); err != nil {
			return nil, err
		}
	} else {
		root = recs[len(recs)-1].Root
	}
	for _, r := range recs {
		b.Entries = append(b.Entries, r.Body)
	}
	b.Checkpoint, err = feed.Sign(s.key, feed.Checkpoint{Origin: name, Size: after + uint64(len(recs)), Root: root, Time: s.now()})
	if err != nil {
		return nil, fmt.Errorf("central/feeds: signing checkpoint: %w", err)
	}
	return b, nil
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
