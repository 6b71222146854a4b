package decisionlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

var keyAcked = []byte("auditlog/acked") // size of the log central holds

// Uploader sends the log to central: POST <central>/v1/appliances/<id>/audit
// with the entries after the size central acknowledged and a checkpoint at
// their end. It uploads up to the latest checkpoint only (central checks
// the signed root), so entries reach central at the checkpoint cadence.
type Uploader struct {
	Log       *Log
	Central   string // base URL
	Appliance string
	Client    *http.Client
	// Interval between attempts when there is nothing new (default 10s);
	// failures back off up to 5 min.
	Interval time.Duration
}

func (u *Uploader) acked() uint64 {
	var n uint64
	u.Log.cfg.DB.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyAcked)
		if err != nil {
			return nil
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				n = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return n
}

func (u *Uploader) setAcked(n uint64) error {
	return u.Log.cfg.DB.Update(func(txn *badger.Txn) error {
		return txn.Set(keyAcked, binary.BigEndian.AppendUint64(nil, n))
	})
}

// ConflictError says central holds another size than we thought.
type ConflictError struct{ Size uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("central holds %d audit entries of this appliance; resuming from there", e.Size)
}

// Once uploads everything up to the latest checkpoint, in chunks that each
// end at a checkpoint. It returns the size central now holds.
func (u *Uploader) Once(ctx context.Context) (uint64, error) {
	from := u.acked()
	cps, err := u.Log.log.Checkpoints()
	if err != nil {
		return from, err
	}
	for _, cp := range cps {
		if cp.Size <= from {
			continue
		}
		if cp.Size-from > audit.MaxUploadEntries {
			// No checkpoint close enough: sign one now if the log is
			// small enough past from, else the gap is unbridgeable.
			return from, fmt.Errorf("checkpoint at %d is more than %d entries past %d; lower the checkpoint interval", cp.Size, audit.MaxUploadEntries, from)
		}
		// Take the last checkpoint within reach.
		best := cp
		for _, c := range cps {
			if c.Size > best.Size && c.Size-from <= audit.MaxUploadEntries {
				best = c
			}
		}
		up := audit.Upload{Origin: best.Origin, From: from, Checkpoint: best}
		for s := from; s < best.Size; s++ {
			e, err := u.Log.log.Entry(s)
			if err != nil {
				return from, err
			}
			up.Entries = append(up.Entries, e)
		}
		size, err := u.post(ctx, &up)
		var ce *ConflictError
		if errors.As(err, &ce) {
			if ce.Size > u.Log.log.Size() {
				return from, fmt.Errorf("central holds %d entries but this log has %d: the log was reset or replaced", ce.Size, u.Log.log.Size())
			}
			u.setAcked(ce.Size)
			return ce.Size, err
		}
		if err != nil {
			return from, err
		}
		if err := u.setAcked(size); err != nil {
			return from, err
		}
		return u.Once(ctx)
	}
	return from, nil
}

func (u *Uploader) post(ctx context.Context, up *audit.Upload) (uint64, error) {
	b, err := json.Marshal(up)
	if err != nil {
		return 0, err
	}
	ep, err := url.JoinPath(u.Central, "v1", "appliances", url.PathEscape(u.Appliance), "audit")
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := u.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ack audit.UploadAck
	switch resp.StatusCode {
	case http.StatusOK:
		if err := jsonx.Unmarshal(body, &ack, ackLimits); err != nil {
			return 0, fmt.Errorf("central's answer: %w", err)
		}
		return ack.Size, nil
	case http.StatusConflict:
		var c struct {
			Size uint64 `json:"size"`
		}
		if jsonx.Unmarshal(body, &c, ackLimits) == nil {
			return 0, &ConflictError{Size: c.Size}
		}
	}
	return 0, fmt.Errorf("central answered %s: %s", resp.Status, bytes.TrimSpace(body))
}

// ackLimits bound central's answer to an upload (strict JSON; open, since a
// newer central may say more).
var ackLimits = jsonx.Limits{MaxBytes: 64 << 10, MaxDepth: 4, MaxArray: 64, MaxMembers: 32, Open: true}

// Run uploads until ctx ends.
func (u *Uploader) Run(ctx context.Context) {
	interval := u.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	wait := interval
	for {
		_, err := u.Once(ctx)
		var ce *ConflictError
		switch {
		case err == nil || errors.As(err, &ce):
			wait = interval
			if ce != nil {
				wait = 0
			}
		default:
			u.Log.cfg.Logger.Warn("audit upload to central failed; will retry", "err", err, "retryIn", wait.String())
			wait = min(2*wait, 5*time.Minute)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
