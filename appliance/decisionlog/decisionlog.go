package decisionlog

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/records"
)

// Bounds on what one entry carries.
const (
	maxField   = 128
	maxReasons = 16
	maxTypes   = 8
	secretName = "audit-hmac"
)

// Entry is one stored decision, or (Kind "lockout") one lock-out of
// relying-party API-key checks.
type Entry struct {
	V             int       `json:"v"`
	Kind          string    `json:"kind,omitempty"` // "" a decision; KindLockout
	Time          time.Time `json:"time"`
	RP            string    `json:"rp"`
	VIDHash       string    `json:"vidHmac"`          // hex HMAC-SHA256(key, "vid\0" || VID)
	TransactionID string    `json:"txnHmac"`          // hex HMAC-SHA256(key, "txn\0" || transaction id)
	AuthTypes     []string  `json:"authTypes"`        // asked for
	Status        bool      `json:"authStatus"`       // the decision
	Reasons       []string  `json:"reasons"`          // reason codes
	Device        string    `json:"device,omitempty"` // serial of the capturing device
	// A lock-out: the address ("addr:<IP>") or API key id ("key:<id>",
	// the public half) that failed Failures times, and the seconds until
	// its next try. The presented secrets are never stored.
	Subject    string `json:"subject,omitempty"`
	Failures   int    `json:"failures,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// KindLockout marks a lock-out entry.
const KindLockout = "lockout"

// Config configures a Log. DB, Signer and Sealer are required.
type Config struct {
	DB     *badger.DB
	Origin string // e.g. "appliance/EDGE-1"
	// Signer signs checkpoints (the appliance's TPM RSA or ECDSA key).
	Signer crypto.Signer
	// Sealer keeps the HMAC key (records.TPMSealer on an appliance).
	Sealer records.Sealer
	// Every and Interval: a checkpoint after this many new entries
	// (default 100) or this long with unsigned entries (default 1 min).
	Every    int
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Log is the decision log. It implements auth.Auditor.
type Log struct {
	cfg    Config
	log    *audit.Log
	key    []byte
	mu     sync.Mutex
	signed uint64 // size of the last checkpoint
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ auth.Auditor = (*Log)(nil)

// Open opens (or creates) the log and starts its checkpoint timer.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.DB == nil || cfg.Signer == nil || cfg.Sealer == nil {
		return nil, errors.New("decisionlog: a database, a signer and a sealer are required")
	}
	if cfg.Origin == "" {
		cfg.Origin = "appliance"
	}
	if cfg.Every <= 0 {
		cfg.Every = 100
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	al, err := audit.Open(cfg.DB, cfg.Origin)
	if err != nil {
		return nil, err
	}
	key, err := records.LoadOrCreateSecret(ctx, cfg.DB, cfg.Sealer, secretName)
	if err != nil {
		return nil, fmt.Errorf("decisionlog: HMAC key: %w", err)
	}
	l := &Log{cfg: cfg, log: al, key: key, stop: make(chan struct{}), done: make(chan struct{})}
	cps, err := al.Checkpoints()
	if err != nil {
		return nil, err
	}
	if n := len(cps); n > 0 {
		l.signed = cps[n-1].Size
	}
	go l.timer()
	return l, nil
}

// Logger is the log's logger.
func (l *Log) Logger() *slog.Logger { return l.cfg.Logger }

// Audit returns the underlying Merkle log (for proofs and uploads).
func (l *Log) Audit() *audit.Log { return l.log }

func (l *Log) mac(label, s string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func clip(s string) string {
	if len(s) > maxField {
		return s[:maxField]
	}
	return s
}

func clipAll(ss []string, n int) []string {
	out := make([]string, 0, min(len(ss), n))
	for i, s := range ss {
		if i == n {
			break
		}
		out = append(out, clip(s))
	}
	return out
}

// Decision appends one decision. It is the auth.Auditor the appliance
// calls before it answers; an error makes the appliance refuse to answer.
func (l *Log) Decision(ctx context.Context, d auth.AuditDecision) error {
	e := Entry{V: 1, Time: d.Time.UTC(), RP: clip(d.RP), VIDHash: l.mac("vid", d.VID), TransactionID: l.mac("txn", d.TransactionID),
		AuthTypes: clipAll(d.AuthTypes, maxTypes), Status: d.Status, Reasons: clipAll(d.Reasons, maxReasons), Device: clip(d.Device)}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now().UTC()
	}
	return l.append(ctx, e)
}

// Lockout appends one lock-out of API-key checks (auth.LockoutAuditor).
func (l *Log) Lockout(ctx context.Context, lo auth.AuditLockout) error {
	e := Entry{V: 1, Kind: KindLockout, Time: lo.Time.UTC(), Subject: clip(lo.Subject), Failures: lo.Failures, RetryAfter: lo.RetryAfter,
		AuthTypes: []string{}, Reasons: []string{}}
	if lo.Time.IsZero() {
		e.Time = l.cfg.Now().UTC()
	}
	return l.append(ctx, e)
}

// append writes one entry and signs a checkpoint every cfg.Every bytes.
func (l *Log) append(ctx context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := l.log.Append(b); err != nil {
		return err
	}
	if l.log.Size()-l.signedSize() >= uint64(l.cfg.Every) {
		_, err := l.Checkpoint(ctx)
		return err
	}
	return nil
}

func (l *Log) signedSize() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.signed
}

// Checkpoint signs and stores a checkpoint of the current log if it grew
// since the last one, and returns the latest checkpoint (nil if none).
func (l *Log) Checkpoint(ctx context.Context) (*audit.Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size := l.log.Size(); size > l.signed || size == 0 {
		if size == 0 {
			return nil, nil
		}
		c, err := l.log.Sign(ctx, l.cfg.Signer, l.cfg.Now())
		if err != nil {
			return nil, err
		}
		l.signed = c.Size
		return c, nil
	}
	cps, err := l.log.Checkpoints()
	if err != nil || len(cps) == 0 {
		return nil, err
	}
	return &cps[len(cps)-1], nil
}

func (l *Log) timer() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if l.log.Size() > l.signedSize() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if _, err := l.Checkpoint(ctx); err != nil {
					l.cfg.Logger.Error("audit checkpoint failed; will retry", "err", err)
				}
				cancel()
			}
		}
	}
}

// Close signs a final checkpoint and stops the timer.
func (l *Log) Close() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if l.log.Size() > l.signedSize() {
			_, err = l.Checkpoint(ctx)
		}
	})
	return err
}

// Verify checks the whole log (every entry under every checkpoint, every
// checkpoint's signature with pub, consistency between consecutive
// checkpoints) and returns the problems found.
func Verify(db *badger.DB, origin string, pub crypto.PublicKey) (*audit.Report, error) {
	al, err := audit.Open(db, origin)
	if err != nil {
		return nil, err
	}
	rep, err := al.Verify(pub)
	if err != nil {
		return nil, err
	}
	cps, err := al.Checkpoints()
	if err != nil {
		return nil, err
	}
	// Consistency proofs between consecutive checkpoints, served from the
	// stored nodes (which Verify has just recomputed).
	for i := 1; i < len(cps); i++ {
		a, b := cps[i-1], cps[i]
		if a.Size == 0 || a.Size >= b.Size || b.Size > al.Size() {
			continue
		}
		p, err := al.ConsistencyProof(a.Size, b.Size)
		if err == nil {
			err = audit.VerifyConsistency(a.Size, b.Size, p, a.Root, b.Root)
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoints at %d and %d are not consistent: %v", a.Size, b.Size, err))
		}
	}
	return rep, nil
}
