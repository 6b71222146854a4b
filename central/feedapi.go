package central

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/edgetrust/edgetrust/internal/feed"

	"github.com/edgetrust/edgetrust/central/feeds"
)

// MaxWait is the longest a feed request waits for new entries.
const MaxWait = feeds.MaxWait

// FeedPublicKey is the key appliances verify checkpoints with.
func (c *Central) FeedPublicKey() ed25519.PublicKey { return c.feeds.PublicKey() }

// Batch returns the entries of feed name after seq (feeds.Server.Batch).
func (c *Central) Batch(ctx context.Context, name string, after uint64, limit int) (*feed.Batch, error) {
	return c.feeds.Batch(ctx, name, after, limit)
}

// WaitBatch is Batch that long-polls up to wait (feeds.Server.WaitBatch).
func (c *Central) WaitBatch(ctx context.Context, name string, after uint64, limit int, wait time.Duration) (*feed.Batch, error) {
	return c.feeds.WaitBatch(ctx, name, after, limit, wait)
}
