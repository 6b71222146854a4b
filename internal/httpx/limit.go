package httpx

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket per key (a client address, a key id): rate
// tokens a second, up to burst. Its memory is bounded: past MaxKeys live
// buckets, idle ones are swept, and if none is idle new keys are refused
// (fail closed) until some are.
type Limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	buckets map[string]*bucket
	swept   time.Time
	now     func() time.Time
}

type bucket struct {
	tokens   float64
	last     time.Time
	lockedAt time.Time // Failures: when this key's last lock-out was reported
}

// MaxKeys bounds the buckets one Limiter keeps.
const MaxKeys = 100000

// NewLimiter returns a limiter of rate tokens a second with room for burst.
func NewLimiter(rate, burst float64) *Limiter {
	return &Limiter{rate: rate, burst: burst, buckets: map[string]*bucket{}, now: time.Now}
}

// Allow spends a token of key's bucket and says whether there was one.
func (l *Limiter) Allow(key string) bool { return l.take(key, true) }

// Blocked says whether key's bucket is empty, spending nothing.
func (l *Limiter) Blocked(key string) bool { return !l.take(key, false) }

func (l *Limiter) take(key string, spend bool) bool {
	ok, _ := l.takeLocked(key, spend)
	return ok
}

// takeLocked is take; when it spends the last token of a bucket whose
// previous lock-out is older than the time to refill the whole bucket, it
// says so (locked) and notes the time.
func (l *Limiter) takeLocked(key string, spend bool) (ok, locked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if !spend {
			return true, false // a key never seen has a full bucket
		}
		if len(l.buckets) >= MaxKeys || now.Sub(l.swept) > time.Minute {
			l.sweep(now)
			if len(l.buckets) >= MaxKeys {
				return false, false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, false
	}
	if spend {
		b.tokens--
		if b.tokens < 1 && (b.lockedAt.IsZero() || now.Sub(b.lockedAt) > l.refill()) {
			b.lockedAt = now
			return true, true
		}
	}
	return true, false
}

// refill is how long an empty bucket takes to fill up.
func (l *Limiter) refill() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled: they hold nothing a new
// bucket would not.
func (l *Limiter) sweep(now time.Time) {
	full := l.refill()
	for k, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// Failures throttles guessing: every failed credential check spends a token
// of each key it names (the source address, the claimed key id), and a check
// is refused before it runs while any of its keys is empty. Successful
// checks spend nothing, so clients with the right secret are never slowed
// by this (they still meet the endpoint's own rate limit).
type Failures struct{ l *Limiter }

// NewFailures allows burst failures per key, refilled at rate a second.
func NewFailures(rate, burst float64) *Failures { return &Failures{NewLimiter(rate, burst)} }

// Blocked says whether a check naming these keys must be refused (429)
// without looking at the credential. Empty keys are ignored.
func (f *Failures) Blocked(keys ...string) bool {
	for _, k := range keys {
		if k != "" && f.l.Blocked(k) {
			return true
		}
	}
	return false
}

// Fail records a failed check against each key and returns the keys this
// failure locked out: those whose last token it spent, unless their
// previous lock-out was reported less than burst/rate ago (the time the
// bucket takes to refill). So a guesser who keeps going is reported
// once per refill period per key, not once per guess: the lock-outs can be
// audited without the audit log becoming the flood. Empty keys are ignored.
func (f *Failures) Fail(keys ...string) (locked []string) {
	for _, k := range keys {
		if k != "" {
			if _, l := f.l.takeLocked(k, true); l {
				locked = append(locked, k)
			}
		}
	}
	return locked
}

// RetryAfter is how long a locked-out key waits for its next try (one
// token), in whole seconds, at least 1: the Retry-After of a 429.
func (f *Failures) RetryAfter() int { return max(1, int(math.Ceil(1/f.l.rate))) }
