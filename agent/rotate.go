package agent

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol"
)

// Automatic device-key rotation. MOSIP's device-key policy (the "SBI
// schedule") gives a device signing key at most 30 days; central's device
// certificates last exactly that. The agent replaces each device key at
// whichever comes first, the rotation period or 2/3 of its certificate's
// life (plus up to 5 % jitter, so devices enrolled together do not all
// call central in the same minute), the way it was certified at
// enrolment: a new key made in the TPM, certified by the enrolment's AK,
// sent to central (or, with --dev and no central, to the development
// PKI). The old key signs until central's certificate for the new one has
// been checked and installed; a refusal or an unreachable central keeps the
// old key and retries with back-off until its certificate expires, after
// which the device answers Not Registered rather than sign with it.

// DefaultKeyRotation is the SBI schedule's rotation period.
const DefaultKeyRotation = 30 * 24 * time.Hour

// Bounds of --key-rotation.
const (
	MinKeyRotation = time.Hour
	MaxKeyRotation = 30 * 24 * time.Hour
)

// DefaultRotateCheck is how often a running agent looks whether a key is due.
const DefaultRotateCheck = time.Minute

// Back-off after a failed rotation: from rotateRetryMin doubling to rotateRetryMax.
const (
	rotateRetryMin = time.Minute
	rotateRetryMax = time.Hour
)

// rotState is one device's rotation schedule state (guarded by Device.mu).
type rotState struct {
	jitter  float64   // 0–0.05 of the period, drawn per key
	retryAt time.Time // no attempt before this (after a failure)
	backoff time.Duration
	// refused is why central last refused to certify a new key (the device
	// is revoked or suspended): until a rotation succeeds, the device's
	// certificate is not used.
	refused string
}

func newJitter() float64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53) * 0.05
}

// ParseKeyRotation reads a rotation period: Go's duration syntax ("720h")
// or whole days ("30d"), between MinKeyRotation and MaxKeyRotation; ""
// is the default.
func ParseKeyRotation(s string) (time.Duration, error) {
	if s == "" {
		return DefaultKeyRotation, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 366 {
			return 0, fmt.Errorf("key rotation %q: want whole days such as 30d, or a duration such as 720h", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("key rotation %q: want whole days such as 30d, or a duration such as 720h", s)
		}
	}
	if d < MinKeyRotation || d > MaxKeyRotation {
		return 0, fmt.Errorf("key rotation %q: must be between 1h and 30d (central's device certificates last 30 days)", s)
	}
	return d, nil
}

// usableLocked reports whether the device certificate may sign now: it is
// inside its validity and central has not refused to renew it.
func (d *Device) usableLocked() bool {
	if d.deviceCrt == nil {
		return true // no certificate: the builder is nil and callers see that
	}
	if d.rot.refused != "" {
		return false
	}
	if d.now == nil {
		return true
	}
	now := d.now()
	return !now.Before(d.deviceCrt.NotBefore) && !now.After(d.deviceCrt.NotAfter)
}

// RotationDue is when the device's key is next rotated (zero without a
// certificate): NotBefore + min(period, 2/3 of the certificate's life),
// plus the key's jitter, or the retry time after a failure if later.
func (d *Device) RotationDue(period time.Duration) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dueLocked(period)
}

func (d *Device) dueLocked(period time.Duration) time.Time {
	if d.deviceCrt == nil {
		return time.Time{}
	}
	p := d.deviceCrt.NotAfter.Sub(d.deviceCrt.NotBefore) * 2 / 3
	if period > 0 && period < p {
		p = period
	}
	due := d.deviceCrt.NotBefore.Add(p + time.Duration(float64(p)*d.rot.jitter))
	if d.rot.retryAt.After(due) {
		due = d.rot.retryAt
	}
	return due
}

// CertExpiry is the device certificate's end (zero without one).
func (d *Device) CertExpiry() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deviceCrt == nil {
		return time.Time{}
	}
	return d.deviceCrt.NotAfter
}

// RotateDue rotates every device key that is due by the service's clock
// and returns the devices rotated. A failure is logged, retried after a
// back-off, and returned (joined); the old key stays in use meanwhile.
func (s *Service) RotateDue(ctx context.Context) ([]string, error) {
	period, err := ParseKeyRotation(s.cfg.KeyRotation)
	if err != nil {
		return nil, err
	}
	var rotated []string
	var errs []error
	for _, d := range s.devices {
		now := s.now()
		s.exportExpiry(d, now)
		due := d.RotationDue(period)
		if due.IsZero() || now.Before(due) || !s.canRotate(d) {
			continue
		}
		crt, err := s.RotateKey(ctx, d.cfg.ID)
		d.mu.Lock()
		if err != nil {
			d.rot.backoff = min(max(2*d.rot.backoff, rotateRetryMin), rotateRetryMax)
			d.rot.retryAt = now.Add(d.rot.backoff)
			var ce *enrol.Error
			if errors.As(err, &ce) && ce.Code == enrol.CodeNotActive {
				d.rot.refused = ce.Message
			}
			left := d.deviceCrt.NotAfter.Sub(now).Round(time.Minute)
			retry, refused := d.rot.retryAt, d.rot.refused
			d.mu.Unlock()
			if refused != "" {
				s.log.Error("central refused to certify a new device key; the device answers Not Registered until a rotation succeeds",
					"device", d.cfg.ID, "reason", refused, "retryAt", retry)
			} else {
				s.log.Warn("automatic key rotation failed; the current key stays in use", "device", d.cfg.ID,
					"err", err, "certificateLeft", left.String(), "retryAt", retry)
			}
			errs = append(errs, fmt.Errorf("device %s: %w", d.cfg.ID, err))
			continue
		}
		d.mu.Unlock()
		s.exportExpiry(d, now)
		s.log.Info("device key rotated on schedule", "device", d.cfg.ID, "period", period.String(),
			"notAfter", crt.NotAfter, "nextDue", d.RotationDue(period))
		rotated = append(rotated, d.cfg.ID)
	}
	return rotated, errors.Join(errs...)
}

// canRotate: a key certified by central goes back to it; one from the
// development PKI needs --dev.
func (s *Service) canRotate(d *Device) bool {
	if _, ok := enrolledWithCentral(s.cfg.State, d.cfg.ID); ok {
		return true
	}
	return s.pki != nil
}

func (s *Service) exportExpiry(d *Device, now time.Time) {
	if end := d.CertExpiry(); !end.IsZero() {
		mCertExpiryDays.WithLabelValues(d.cfg.ID).Set(end.Sub(now).Hours() / 24)
	}
}

// rotateLoop runs RotateDue every interval until ctx ends.
func (s *Service) rotateLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.RotateDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("rotation round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
