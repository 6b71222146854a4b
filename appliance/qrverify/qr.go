package qrverify

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/claim169/qrscan"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Limits on requests.
const (
	MaxBody   = 8 << 20 // an image
	MaxText   = 8 << 10 // QR text (the largest QR holds 4,296 characters)
	RateBurst = 50
	// DefaultRate is Handler.Rate's default.
	DefaultRate = 200
)

// Lists loads the trust and revocation lists from files, verified with the
// list keys, into a trust.Verifier, and reloads them when the files change.
type Lists struct {
	TrustFile       string
	RevocationsFile string // optional
	Keys            map[string]ed25519.PublicKey
	Verifier        *trust.Verifier
	Logger          *slog.Logger

	mu      sync.Mutex
	trustMT time.Time
	revMT   time.Time
}

// Load (re)loads the lists whose files changed since the last load. A file
// that fails to verify is refused and the lists in use stay.
func (l *Lists) Load() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fi, err := os.Stat(l.TrustFile); err != nil {
		return fmt.Errorf("trust list: %w", err)
	} else if !fi.ModTime().Equal(l.trustMT) {
		b, err := os.ReadFile(l.TrustFile)
		if err != nil {
			return err
		}
		tl, err := trust.ParseTrustList(b, l.Keys)
		if err != nil {
			return fmt.Errorf("trust list %s: %w", l.TrustFile, err)
		}
		if err := l.Verifier.SetTrustList(tl); err != nil {
			return err
		}
		l.trustMT = fi.ModTime()
		l.log().Info("Claim 169 trust list loaded", "keys", len(tl.Keys), "nextUpdate", tl.NextUpdate)
	}
	if l.RevocationsFile == "" {
		return nil
	}
	fi, err := os.Stat(l.RevocationsFile)
	if err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	if !fi.ModTime().Equal(l.revMT) {
		b, err := os.ReadFile(l.RevocationsFile)
		if err != nil {
			return err
		}
		rl, err := trust.ParseRevocationList(b, l.Keys)
		if err != nil {
			return fmt.Errorf("revocation list %s: %w", l.RevocationsFile, err)
		}
		l.Verifier.SetRevocationList(rl)
		l.revMT = fi.ModTime()
		l.log().Info("Claim 169 revocation list loaded", "revoked", len(rl.Revoked), "nextUpdate", rl.NextUpdate)
	}
	return nil
}

func (l *Lists) log() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

// Watch reloads changed lists every interval until ctx ends; errors are
// logged and the lists in use stay.
func (l *Lists) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Load(); err != nil {
				l.log().Error("reloading Claim 169 lists failed; keeping the lists in use", "err", err)
			}
		}
	}
}

// Answer is the JSON decision.
type Answer struct {
	Valid      bool            `json:"valid"`
	Stale      bool            `json:"stale,omitempty"`
	Stage      string          `json:"stage,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	KeyID      string          `json:"keyId,omitempty"`
	Credential json.RawMessage `json:"credential,omitempty"`
}

// Decide turns a verification result into an Answer. The credential is
// included only when it verified.
func Decide(r *trust.Result) Answer {
	a := Answer{Valid: r.Valid, Stale: r.Stale, Stage: r.Stage, KeyID: r.KeyID}
	if r.Err != nil {
		a.Reason = r.Reason()
	}
	if r.Valid && r.Credential != nil {
		a.Credential, _ = json.Marshal(r.Credential)
	}
	return a
}

// Request is the JSON body of POST /v1/qr/verify: QR text, or a base64
// PNG/JPEG image. A raw image/png or image/jpeg body works too.
type Request struct {
	Text  string `json:"text,omitempty"`
	Image []byte `json:"image,omitempty"`
}

// Handler serves POST /v1/qr/verify.
type Handler struct {
	Verifier *trust.Verifier
	Logger   *slog.Logger
	// Rate is requests per second, all clients together (burst
	// RateBurst); 0 means DefaultRate.
	Rate float64

	once sync.Once
	lim  *httpx.Limiter
}

func (h *Handler) allow() bool {
	h.once.Do(func() {
		rate := h.Rate
		if rate <= 0 {
			rate = DefaultRate
		}
		h.lim = httpx.NewLimiter(rate, RateBurst)
	})
	return h.lim.Allow("")
}

// writeJSON answers with nosniff and no-store: a verified QR carries PII.
var writeJSON = httpx.WriteJSON

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	if !h.allow() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate limit exceeded; retry in a second"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body over %d bytes", MaxBody)})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var text string
	switch ct {
	case "image/png", "image/jpeg":
		text, err = qrscan.DecodeBytes(body)
	case "application/json", "":
		var req Request
		// Strict: a duplicated "text" or invalid UTF-8 is refused, never
		// resolved one way here and another way in a gateway.
		if err = jsonx.Unmarshal(body, &req, jsonx.Limits{MaxBytes: MaxBody, MaxDepth: 1, MaxMembers: 2, MaxValues: 3}); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"text\":...} or {\"image\": base64}: " + err.Error()})
			return
		}
		switch {
		case req.Text != "" && len(req.Image) == 0:
			text = req.Text
		case len(req.Image) > 0 && req.Text == "":
			text, err = qrscan.DecodeBytes(req.Image)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send exactly one of text and image"})
			return
		}
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json, image/png or image/jpeg"})
		return
	}
	if errors.Is(err, qrscan.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many images being decoded; retry shortly"})
		return
	}
	if err != nil {
		// Not a request error: the image simply holds no readable code.
		writeJSON(w, http.StatusOK, Answer{Stage: "image", Reason: "image: " + err.Error()})
		return
	}
	if len(text) > MaxText {
		writeJSON(w, http.StatusOK, Answer{Stage: "base45", Reason: fmt.Sprintf("base45: QR text of %d characters exceeds %d", len(text), MaxText)})
		return
	}
	a := Decide(h.Verifier.Verify(text))
	h.log().Info("qr verified", "valid", a.Valid, "stale", a.Stale, "stage", a.Stage)
	writeJSON(w, http.StatusOK, a)
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// DecodeImageFile reads a QR code from a PNG or JPEG file.
func DecodeImageFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBody+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxBody {
		return "", errors.New("image larger than 8 MiB")
	}
	return qrscan.DecodeBytes(b)
}
