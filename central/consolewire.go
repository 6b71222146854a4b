package central

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/console"
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

// FeedPositions is each appliance's last trust-feed request (in this
// process: each replica knows the appliances that poll it).
func (c *Central) FeedPositions() map[string]console.Position { return c.pos.FeedPositions() }

// maxPositions bounds the table; ids come from certificates central
// issued, so only a very large fleet reaches it.
const maxPositions = 1 << 17

// feedPositions records the after= of each appliance's GET
// /v1/feeds/trust, keyed by the identity in its verified client
// certificate: an appliance asks for entries after the last one it applied.
type feedPositions struct {
	mu sync.Mutex
	m  map[string]console.Position
}

func newFeedPositions() *feedPositions { return &feedPositions{m: map[string]console.Position{}} }

func (p *feedPositions) record(next http.Handler, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/feeds/trust" && r.TLS != nil {
			if id, _, err := tlsx.PeerIdentity(r.TLS); err == nil && id.Kind == tlsx.KindAppliance {
				if after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64); err == nil {
					p.mu.Lock()
					if _, ok := p.m[id.ID]; ok || len(p.m) < maxPositions {
						p.m[id.ID] = console.Position{After: after, Seen: now().UTC()}
					}
					p.mu.Unlock()
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p *feedPositions) FeedPositions() map[string]console.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]console.Position, len(p.m))
	for k, v := range p.m {
		out[k] = v
	}
	return out
}
