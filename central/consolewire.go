package central

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// EnableConsole mounts the admin console (central/console) on the
// handlers Handler returns from now on. cfg's Service, Positions, Now and
// Log are filled in here.
func (c *Central) EnableConsole(cfg console.Config) error {
	cfg.Service, cfg.Positions, cfg.Now, cfg.Log = c, c.pos, c.now, c.log
	h, err := console.New(cfg)
	if err != nil {
		return err
	}
	c.console = h
	return nil
}

// FeedPositions is each appliance's last trust-feed request, as any
// replica saw it: the positions every replica has written to the store,
// with this replica's newer unwritten ones on top. If the store cannot be
// read, this replica's own (logged).
func (c *Central) FeedPositions() map[string]console.Position { return c.pos.FeedPositions() }

// maxPositions bounds the table; ids come from certificates central
// issued, so only a very large fleet reaches it.
const maxPositions = 1 << 17

// PositionFlush is how often a replica writes the positions it saw to the
// store; positionChunk bounds one write transaction.
const (
	PositionFlush = 2 * time.Second
	positionChunk = 1000
)

// feedPositions records the after= of each appliance's GET
// /v1/feeds/trust, keyed by the identity in its verified client
// certificate: an appliance asks for entries after the last one it applied.
// They are written to the store every PositionFlush, so the propagation
// view of every replica (and of a restarted one) shows every appliance.
type feedPositions struct {
	st  store.Store
	log *slog.Logger

	mu    sync.Mutex
	m     map[string]console.Position
	dirty map[string]bool
}

func newFeedPositions(st store.Store, log *slog.Logger) *feedPositions {
	return &feedPositions{st: st, log: log, m: map[string]console.Position{}, dirty: map[string]bool{}}
}

func (p *feedPositions) note(id string, after uint64, seen time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[id]; ok || len(p.m) < maxPositions {
		p.m[id] = console.Position{After: after, Seen: seen.UTC()}
		p.dirty[id] = true
	}
}

func (p *feedPositions) record(next http.Handler, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/feeds/trust" && r.TLS != nil {
			if id, _, err := tlsx.PeerIdentity(r.TLS); err == nil && id.Kind == tlsx.KindAppliance {
				if after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64); err == nil {
					p.note(id.ID, after, now())
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// flush writes the positions noted since the last flush.
func (p *feedPositions) flush(ctx context.Context) error {
	p.mu.Lock()
	ps := make([]store.FeedPosition, 0, len(p.dirty))
	for id := range p.dirty {
		q := p.m[id]
		ps = append(ps, store.FeedPosition{Appliance: id, After: q.After, Seen: q.Seen})
	}
	p.mu.Unlock()
	for len(ps) > 0 {
		chunk := ps[:min(len(ps), positionChunk)]
		ps = ps[len(chunk):]
		if err := p.st.Update(ctx, func(tx store.Tx) error { return tx.PutFeedPositions(ctx, chunk) }); err != nil {
			return err
		}
		p.mu.Lock()
		for _, q := range chunk {
			if p.m[q.Appliance].Seen.Equal(q.Seen) { // not noted again meanwhile
				delete(p.dirty, q.Appliance)
			}
		}
		p.mu.Unlock()
	}
	return nil
}

// loop flushes every interval until stop closes, then once more.
func (p *feedPositions) loop(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p.flushLogged(ctx)
			cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			p.flushLogged(ctx)
			cancel()
		}
	}
}

func (p *feedPositions) flushLogged(ctx context.Context) {
	if err := p.flush(ctx); err != nil {
		p.log.Warn("central: writing appliances' feed positions", "err", err)
	}
}

func (p *feedPositions) FeedPositions() map[string]console.Position {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stored []store.FeedPosition
	err := p.st.View(ctx, func(tx store.Tx) error {
		var err error
		stored, err = tx.FeedPositions(ctx)
		return err
	})
	if err != nil {
		p.log.Warn("central: reading appliances' feed positions; showing this replica's", "err", err)
	}
	out := make(map[string]console.Position, len(stored))
	for _, q := range stored {
		out[q.Appliance] = console.Position{After: q.After, Seen: q.Seen.UTC()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.m {
		if o, ok := out[k]; !ok || v.Seen.After(o.Seen) {
			out[k] = v
		}
	}
	return out
}
