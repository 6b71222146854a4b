package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/keys"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/pki"
)

func (h *api) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := h.svc.Healthy(ctx); err != nil {
		h.log.Error("health check: store", "err", err)
		http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

func (h *api) feedKey(w http.ResponseWriter, _ *http.Request) {
	b, err := keys.FeedKeyPEM(h.svc.FeedPublicKey())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(b)
}

func (h *api) applianceCA(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pki.CertPEM(h.svc.ApplianceCACert()))
}

// Answer headers of GET /v1/feeds/{name}: the size the batch's checkpoint
// covers, the newest size this replica knows was committed, how long the
// entries in between have existed (seconds, 0 when the batch is up to
// date) and whether the PostgreSQL primary or a streaming replica served
// the read.
const (
	HeaderFeedSize   = "Edgetrust-Feed-Size"
	HeaderFeedHead   = "Edgetrust-Feed-Head"
	HeaderFeedLag    = "Edgetrust-Feed-Lag"
	HeaderFeedSource = "Edgetrust-Feed-Source"
)

// feed serves GET /v1/feeds/{name}?after=N[&limit=N][&wait=30s].
func (h *api) feed(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	var after uint64
	if s := qs.Get("after"); s != "" {
		var err error
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			h.writeError(w, r, badRequest("after=%q: want the last sequence number applied (0 for none)", s))
			return
		}
	}
	limit := feed.MaxBatchEntries
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > feed.MaxBatchEntries {
			h.writeError(w, r, badRequest("limit=%q: want 1–%d", s, feed.MaxBatchEntries))
			return
		}
		limit = n
	}
	var wait time.Duration
	if s := qs.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxFeedWait {
			h.writeError(w, r, badRequest("wait=%q: want a duration up to %s, e.g. 30s", s, maxFeedWait))
			return
		}
		wait = d
	}
	if wait > 0 {
		client := h.clientAddr(r)
		ok, full := h.waiters.enter(client)
		if !ok {
			mWaitersRefused.WithLabelValues(full).Inc()
			w.Header().Set("Retry-After", "1")
			msg := "too many feed long polls waiting from this address (at most %d); retry in a second, or ask without wait"
			n := h.waiters.perClient
			if full == "total" {
				msg, n = "too many feed long polls waiting (at most %d in all); retry in a second", h.waiters.max
			}
			h.writeError(w, r, fail(http.StatusTooManyRequests, enrol.CodeRateLimited, msg, n))
			return
		}
		defer h.waiters.leave(client)
	}
	mWaiters.Inc()
	ctx, view := feeds.WithView(r.Context())
	b, err := h.svc.WaitBatch(ctx, r.PathValue("name"), after, limit, wait)
	mWaiters.Dec()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	mFeedEntries.Add(float64(len(b.Entries)))
	// Where the batch came from and how fresh it is (unsigned, for
	// operators and followers' logs; docs/api/central.md, "Feeds").
	hd := w.Header()
	hd.Set(HeaderFeedSize, strconv.FormatUint(view.Size, 10))
	hd.Set(HeaderFeedHead, strconv.FormatUint(max(view.Head, view.Size), 10))
	hd.Set(HeaderFeedLag, strconv.FormatFloat(view.Lag.Seconds(), 'f', 3, 64))
	if view.Source != "" {
		hd.Set(HeaderFeedSource, view.Source)
	}
	// gzip when the follower accepts it and the batch is large enough
	// (docs/api/central.md, "Feeds").
	feeds.WriteBatch(w, r, b)
}

// applianceAudit serves POST /v1/appliances/{id}/audit. It needs no token:
// the checkpoint signature by the appliance's certified TPM key is the
// authentication, and an upload either extends the stored log exactly or
// is refused.
func (h *api) applianceAudit(w http.ResponseWriter, r *http.Request) {
	if !h.enrolLimit.Allow(h.clientAddr(r)) {
		w.Header().Set("Retry-After", "1")
		h.writeError(w, r, fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "too many requests; retry later"))
		return
	}
	body := http.MaxBytesReader(w, r.Body, audit.MaxUploadBytes+1)
	ack, err := h.svc.ReceiveApplianceAudit(r.Context(), r.PathValue("id"), body)
	if err != nil {
		var e *enrol.Error
		if errors.As(err, &e) && e.Status == http.StatusConflict && ack != nil {
			// Central's error shape, plus the size to resume from.
			httpx.WriteJSON(w, http.StatusConflict, map[string]any{"error": e, "size": ack.Size})
			return
		}
		h.log.Warn("appliance audit upload refused", "appliance", r.PathValue("id"), "err", err)
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ack)
}
