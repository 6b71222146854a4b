package tlsx

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Guard lets a request through only when the client certificate of its
// connection names the identity the route is for: Kind, and the id ID
// reads from the request (a path value). Check, when set, is asked too
// (an appliance that is revoked or suspended is refused on its next
// request, even with a certificate that has not expired yet).
//
// Plain-HTTP requests (r.TLS nil: a loopback development listener) pass
// unless RequireTLS; over TLS a certificate is always required.
type Guard struct {
	Kind       string
	ID         func(r *http.Request) string
	Check      func(ctx context.Context, id Identity) error
	RequireTLS bool
	Log        *slog.Logger
	// Recheck, when positive, asks Check again at this interval while the
	// request runs, and cancels the request's context when it refuses: a
	// long poll of an appliance revoked mid-poll is cut.
	Recheck time.Duration
}

// Wrap guards next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && !g.RequireTLS {
			next.ServeHTTP(w, r)
			return
		}
		want := Identity{Kind: g.Kind, ID: g.ID(r)}
		id, _, err := PeerIdentity(r.TLS)
		if err != nil {
			g.refuse(w, r, http.StatusUnauthorized, "client_certificate_required",
				"this route needs the "+g.Kind+"'s client certificate from central (mutual TLS)", want)
			return
		}
		if id != want {
			g.refuse(w, r, http.StatusForbidden, "wrong_identity",
				"the client certificate names "+id.String()+", not "+want.String(), want)
			return
		}
		if g.Check != nil {
			if err := g.Check(r.Context(), id); err != nil {
				g.refuse(w, r, http.StatusForbidden, "identity_refused", err.Error(), want)
				return
			}
			if g.Recheck > 0 {
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				go g.watch(ctx, cancel, id, r.URL.Path)
				r = r.WithContext(ctx)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, code int, errCode, msg string, want Identity) {
	if g.Log != nil {
		g.Log.Warn("client certificate refused", "path", r.URL.Path, "want", want.String(), "code", errCode, "reason", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

func (g *Guard) watch(ctx context.Context, cancel context.CancelFunc, id Identity, path string) {
	t := time.NewTicker(g.Recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.Check(ctx, id); err != nil && ctx.Err() == nil {
				if g.Log != nil {
					g.Log.Warn("request cut: the client's identity is no longer accepted", "path", path, "identity", id.String(), "reason", err.Error())
				}
				cancel()
				return
			}
		}
	}
}
