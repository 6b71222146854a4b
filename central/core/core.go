package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Fail makes an API error.
func Fail(status int, code, format string, args ...any) *enrol.Error {
	return &enrol.Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 bad_request error.
func BadRequest(format string, args ...any) *enrol.Error {
	return Fail(http.StatusBadRequest, enrol.CodeBadRequest, format, args...)
}

// NotFound is a 404 not_found error for what id.
func NotFound(what, id string) *enrol.Error {
	return Fail(http.StatusNotFound, enrol.CodeNotFound, "no %s %q", what, id)
}

// CheckText refuses free text longer than max or with control characters.
func CheckText(name, s string, max int) error {
	if len(s) > max || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return BadRequest("%s must be at most %d characters without control characters", name, max)
	}
	return nil
}

// Admin is an authenticated administrator.
type Admin struct {
	TokenID string
	Name    string
}

// Actor is how the admin appears in the audit log.
func (a Admin) Actor() string { return "admin:" + a.TokenID }

// Audit appends an audit row at now inside tx.
func Audit(ctx context.Context, tx store.Tx, now time.Time, actor, action, subject string, detail any) error {
	var d json.RawMessage
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		d = b
	}
	_, err := store.AppendAudit(ctx, tx, store.AuditEvent{Time: now, Actor: actor, Action: action, Subject: subject, Detail: d})
	return err
}

// StatusChange asks to suspend, reinstate or revoke.
type StatusChange struct {
	Status string `json:"status"` // active (reinstate), suspended, revoked
	Reason string `json:"reason,omitempty"`
	// UndoRevocation lets an admin reinstate a revoked subject, to correct
	// a mistaken revocation. It needs a reason and is audited like any
	// change; without it revocation is final.
	UndoRevocation bool `json:"undoRevocation,omitempty"`
}

// Check refuses an unknown status or an unfit reason.
func (s StatusChange) Check() error {
	if !trustfeed.ValidStatus(s.Status) {
		return BadRequest("status %q: want active, suspended or revoked", s.Status)
	}
	return CheckText("reason", s.Reason, 256)
}

// Transition checks a status change: revoked is final unless an admin
// explicitly undoes a revocation, with a reason, back to active.
func Transition(what, id, from string, s StatusChange) error {
	to := s.Status
	if from == trustfeed.Revoked {
		if !s.UndoRevocation || to != trustfeed.Active {
			return Fail(http.StatusConflict, enrol.CodeNotActive, "%s %s is revoked; revocation is final (to correct a mistaken revocation, reinstate with --undo-revocation and a --reason)", what, id)
		}
		if strings.TrimSpace(s.Reason) == "" {
			return BadRequest("undoing the revocation of %s %s needs a reason", what, id)
		}
		return nil
	}
	if from == to {
		return Fail(http.StatusConflict, enrol.CodeConflict, "%s %s is already %s", what, id, to)
	}
	return nil
}

// StatusAction is the audit action of a status change of what.
func StatusAction(what, to string) string {
	switch to {
	case trustfeed.Active:
		return what + ".reinstate"
	case trustfeed.Suspended:
		return what + ".suspend"
	}
	return what + ".revoke"
}

// BodyError is the answer to a request body that does not decode: 413
// when it is over its limit, else 400 bad_request naming what is wrong and
// where (a *jsonx.Error's message never repeats a value from the body).
func BodyError(err error) *enrol.Error {
	var e *enrol.Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.Is(err, jsonx.ErrTooLarge) || errors.As(err, &mbe) {
		return Fail(http.StatusRequestEntityTooLarge, enrol.CodeBadRequest, "request body: %v", err)
	}
	return BadRequest("request body: %v", err)
}
