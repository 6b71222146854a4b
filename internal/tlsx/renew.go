package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Issue obtains a fresh certificate (with its key, a TPM crypto.Signer or
// software key) — from central's CA for central itself, from central's
// renewal endpoint for an appliance.
type Issue func(ctx context.Context) (*tls.Certificate, error)

// Renewer holds a certificate and replaces it before it expires, while
// connections are served: at RenewAt of its life, with up to Jitter of
// that life added at random so a fleet does not renew at once. A failed
// renewal is retried with back-off until the certificate expires; an
// expired certificate is never served (the handshake fails instead).
type Renewer struct {
	Name  string // for logs and metrics: "central server", "appliance client" …
	Issue Issue
	// RenewAt is the fraction of a certificate's life after which it is
	// renewed (default 2/3); Jitter the fraction added at random (default
	// 0.05).
	RenewAt, Jitter float64
	Log             *slog.Logger
	// Now and Sleep are the clock (tests inject one).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnChange is called with each new certificate's leaf (metrics).
	OnChange func(leaf *x509.Certificate)

	cur     atomic.Pointer[tls.Certificate]
	once    sync.Once
	renewed atomic.Int64
	stopped chan struct{}
}

// ErrExpired is returned instead of serving an expired certificate.
var ErrExpired = errors.New("tlsx: the certificate has expired and was not renewed")

func (r *Renewer) init() {
	r.once.Do(func() {
		if r.RenewAt <= 0 || r.RenewAt >= 1 {
			r.RenewAt = 2.0 / 3
		}
		if r.Jitter < 0 || r.Jitter >= 1-r.RenewAt {
			r.Jitter = 0
		} else if r.Jitter == 0 {
			r.Jitter = min(0.05, (1-r.RenewAt)/2)
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Sleep == nil {
			r.Sleep = sleep
		}
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		r.stopped = make(chan struct{})
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start obtains the first certificate (an error if it cannot) and renews
// in the background until ctx is done.
func (r *Renewer) Start(ctx context.Context) error {
	r.init()
	c, err := r.Issue(ctx)
	if err != nil {
		return fmt.Errorf("%s certificate: %w", r.Name, err)
	}
	if err := r.set(c); err != nil {
		return err
	}
	go r.loop(ctx)
	return nil
}

// Set installs a certificate (loaded from disk at start, say).
func (r *Renewer) Set(c *tls.Certificate) error { r.init(); return r.set(c) }

func (r *Renewer) set(c *tls.Certificate) error {
	if c == nil || len(c.Certificate) == 0 {
		return fmt.Errorf("%s: no certificate", r.Name)
	}
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return err
		}
		c.Leaf = leaf
	}
	if !r.Now().Before(c.Leaf.NotAfter) {
		return fmt.Errorf("%s: %w (expired %s)", r.Name, ErrExpired, c.Leaf.NotAfter.Format(time.RFC3339))
	}
	r.cur.Store(c)
	if r.OnChange != nil {
		r.OnChange(c.Leaf)
	}
	return nil
}

// Current is the certificate in use, or ErrExpired.
func (r *Renewer) Current() (*tls.Certificate, error) {
	r.init()
	c := r.cur.Load()
	if c == nil {
		return nil, fmt.Errorf("%s: no certificate yet", r.Name)
	}
	if !r.Now().Before(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("%s: %w", r.Name, ErrExpired)
	}
	return c, nil
}

// Stopped is closed when the renewal loop has ended (its context done):
// a health check can tell a daemon whose certificates no longer renew.
func (r *Renewer) Stopped() <-chan struct{} { r.init(); return r.stopped }

// Renewals counts successful renewals.
func (r *Renewer) Renewals() int64 { return r.renewed.Load() }

// GetCertificate is for tls.Config.GetCertificate (servers).
func (r *Renewer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.Current() }

// GetClientCertificate is for tls.Config.GetClientCertificate (clients).
func (r *Renewer) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.Current()
}

// NextRenewal is when the current certificate is due: RenewAt of its life
// plus a random share of Jitter.
func (r *Renewer) NextRenewal() time.Time {
	r.init()
	c := r.cur.Load()
	if c == nil {
		return r.Now()
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	frac := r.RenewAt + r.Jitter*rand.Float64()
	return c.Leaf.NotBefore.Add(time.Duration(float64(life) * frac))
}

func (r *Renewer) loop(ctx context.Context) {
	defer close(r.stopped)
	backoff := time.Second
	for {
		due := r.NextRenewal()
		if err := r.Sleep(ctx, max(0, due.Sub(r.Now()))); err != nil {
			return
		}
		for {
			c, err := r.Issue(ctx)
			if err == nil {
				err = r.set(c)
			}
			if err == nil {
				r.renewed.Add(1)
				r.Log.Info("certificate renewed", "cert", r.Name, "notAfter", c.Leaf.NotAfter)
				backoff = time.Second
				break
			}
			if ctx.Err() != nil {
				return
			}
			left := r.cur.Load().Leaf.NotAfter.Sub(r.Now())
			r.Log.Warn("certificate renewal failed; retrying", "cert", r.Name, "err", err, "expiresIn", left.Round(time.Second))
			if err := r.Sleep(ctx, backoff); err != nil {
				return
			}
			backoff = min(2*backoff, 10*time.Minute)
		}
	}
}
