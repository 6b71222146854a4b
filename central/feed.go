package central

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

// relayChanges turns the store's change signal into a broadcast.
func (c *Central) relayChanges() {
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.st.Changed():
		case <-t.C:
		}
		c.feedWake.Notify()
	}
}

// Feeds central serves.
var feeds = map[string]bool{trustfeed.Name: true}

// Limits of the feed API.
const (
	MaxWait = 60 * time.Second
)

// FeedPublicKey is the key appliances verify checkpoints with.
func (c *Central) FeedPublicKey() ed25519.PublicKey { return c.keys.Feed.Public().(ed25519.PublicKey) }

// Batch returns the entries of feed name after seq (at most limit, at most
// feed.MaxBatchEntries) under a checkpoint freshly signed at their end.
func (c *Central) Batch(ctx context.Context, name string, after uint64, limit int) (*feed.Batch, error) {
	if !feeds[name] {
		// A records feed exists for each enrolled appliance; its batches
		// are sealed to that appliance, so serving them is harmless.
		id, ok := recordfeed.ApplianceOf(name)
		if !ok {
			return nil, notFound("feed", name)
		}
		err := c.st.View(ctx, func(tx store.Tx) error { _, err := tx.Appliance(ctx, id); return err })
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("feed", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if limit <= 0 || limit > feed.MaxBatchEntries {
		limit = feed.MaxBatchEntries
	}
	recs, size, err := c.st.ReadFeed(ctx, name, after, limit)
	if err != nil {
		return nil, err
	}
	if after > size {
		return nil, fail(http.StatusBadRequest, enrol.CodeBadRequest, "after=%d is beyond the end of feed %s (size %d): a follower ahead of central means a rollback or another central", after, name, size)
	}
	b := &feed.Batch{Feed: name, After: after, Latest: size, Entries: make([][]byte, 0, len(recs))}
	var root []byte
	if len(recs) == 0 {
		if root, err = c.st.FeedRoot(ctx, name, after); err != nil {
			return nil, err
		}
	} else {
		root = recs[len(recs)-1].Root
	}
	for _, r := range recs {
		b.Entries = append(b.Entries, r.Body)
	}
	b.Checkpoint, err = feed.Sign(c.keys.Feed, feed.Checkpoint{Origin: name, Size: after + uint64(len(recs)), Root: root, Time: c.now()})
	if err != nil {
		return nil, fmt.Errorf("central: signing checkpoint: %w", err)
	}
	return b, nil
}

// WaitBatch is Batch that, when nothing follows after, waits up to wait for
// new entries and answers as soon as they exist; at the timeout it answers
// with an empty batch under a freshly signed checkpoint.
func (c *Central) WaitBatch(ctx context.Context, name string, after uint64, limit int, wait time.Duration) (*feed.Batch, error) {
	if wait > MaxWait {
		wait = MaxWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		// Take the wake-up channel before reading, so an append between
		// the read and the wait is not missed.
		woken := c.feedWake.Wait()
		b, err := c.Batch(ctx, name, after, limit)
		if err != nil || len(b.Entries) > 0 || wait <= 0 {
			return b, err
		}
		select {
		case <-woken:
		case <-deadline.C:
			return c.Batch(ctx, name, after, limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
