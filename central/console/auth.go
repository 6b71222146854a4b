package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// CodePrefix starts a one-time console code.
const CodePrefix = "etc_"

// CookieName is the session cookie. The __Host- prefix makes browsers
// insist on Secure, Path=/ and no Domain.
const CookieName = "__Host-edgetrust-console"

const (
	ceremonyTTL  = 2 * time.Minute
	maxBody      = 64 << 10
	kindRegister = "console-register"
	kindSignIn   = "console-signin"
	// seenEvery bounds how often a session's idle clock is written.
	seenEvery = 30 * time.Second
)

// NewCode mints a one-time console code valid for ttl: the first admin's
// (actor "system", from admin init) or an invite. name, if set, is the
// invitee's name. The code is returned once; only its hash is stored.
func NewCode(ctx context.Context, st store.Store, now time.Time, actor, name string, ttl time.Duration) (string, *store.Token, error) {
	if err := core.CheckText("name", name, 64); err != nil {
		return "", nil, err
	}
	code, id, hash := core.NewTokenSecret(CodePrefix)
	rec := &store.Token{ID: id, Kind: store.TokenConsole, SecretHash: hash, Name: name, Created: now.UTC(), CreatedBy: actor, Expires: now.UTC().Add(ttl)}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutToken(ctx, rec); err != nil {
			return err
		}
		return core.Audit(ctx, tx, now, actor, "console-code.create", "token:"+id, map[string]string{"name": name, "expires": rec.Expires.Format(time.RFC3339)})
	})
	if err != nil {
		return "", nil, err
	}
	return code, rec, nil
}

var errCode = core.Fail(http.StatusUnauthorized, enrol.CodeTokenInvalid, "this one-time code is not valid: it may be mistyped, used or expired; ask another admin for an invite, or run edgetrust-central admin init --console on the server")

// checkCode finds an unused, unexpired console code.
func checkCode(ctx context.Context, tx store.Tx, code string, now time.Time) (*store.Token, error) {
	id, secret, ok := core.SplitToken(CodePrefix, strings.TrimSpace(code))
	if !ok {
		return nil, errCode
	}
	t, err := tx.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		core.SecretMatches(secret, make([]byte, 32))
		return nil, errCode
	}
	if err != nil {
		return nil, err
	}
	if !core.SecretMatches(secret, t.SecretHash) || t.Kind != store.TokenConsole || t.Revoked || !t.Used.IsZero() || !now.Before(t.Expires) {
		return nil, errCode
	}
	return t, nil
}

// user adapts a ConsoleAdmin to webauthn.User.
type user struct{ a *store.ConsoleAdmin }

func (u user) WebAuthnID() []byte          { return []byte(u.a.ID) }
func (u user) WebAuthnName() string        { return u.a.Name }
func (u user) WebAuthnDisplayName() string { return u.a.Name }
func (u user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.a.Credentials))
	for _, c := range u.a.Credentials {
		var wc webauthn.Credential
		if json.Unmarshal(c.WebAuthn, &wc) == nil {
			out = append(out, wc)
		}
	}
	return out
}

// ceremony is the server side of a WebAuthn ceremony between begin and finish.
type ceremony struct {
	Data    webauthn.SessionData `json:"data"`
	AdminID string               `json:"adminId,omitempty"`
	Name    string               `json:"name,omitempty"`
	CodeID  string               `json:"codeId,omitempty"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Console) saveCeremony(ctx context.Context, kind string, cer ceremony) (string, error) {
	b, err := json.Marshal(cer)
	if err != nil {
		return "", err
	}
	id := "con-" + randomHex(16)
	return id, c.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutSession(ctx, &store.Session{ID: id, Kind: kind, Nonce: b, Expires: c.c.Now().UTC().Add(ceremonyTTL)})
	})
}

var errCeremony = core.Fail(http.StatusUnauthorized, enrol.CodeSession, "the passkey prompt expired or was already answered; start again")

// takeCeremony loads and deletes a ceremony inside tx: each is answered once.
func takeCeremony(ctx context.Context, tx store.Tx, kind, id string, now time.Time) (*ceremony, error) {
	if !strings.HasPrefix(id, "con-") || len(id) > 64 {
		return nil, errCeremony
	}
	s, err := tx.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errCeremony
	}
	if err != nil {
		return nil, err
	}
	if err := tx.DeleteSession(ctx, id); err != nil {
		return nil, err
	}
	if s.Kind != kind || !now.Before(s.Expires) {
		return nil, errCeremony
	}
	var cer ceremony
	if err := json.Unmarshal(s.Nonce, &cer); err != nil {
		return nil, err
	}
	return &cer, nil
}

// limited refuses a sign-in or registration step from an address that has
// made too many.
func (c *Console) limited(w http.ResponseWriter, r *http.Request) bool {
	if c.limit.Allow("addr:" + clientAddr(r)) {
		return false
	}
	writeJSONError(w, http.StatusTooManyRequests, "too many sign-in attempts from this address; wait a minute and try again")
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (c *Console) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := errorText(err)
	if status == http.StatusInternalServerError {
		c.c.Log.Error("console", "path", r.URL.Path, "err", err)
	}
	writeJSONError(w, status, msg)
}

// errorText is the status and message a person may see for err.
func errorText(err error) (int, string) {
	var e *enrol.Error
	if errors.As(err, &e) {
		return e.Status, e.Message
	}
	return http.StatusInternalServerError, "central could not do this; see its log"
}

// readBody reads a bounded JSON body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, core.BodyError(err)
	}
	if err := jsonx.Check(b, jsonx.Limits{MaxBytes: maxBody, Open: true}); err != nil {
		return nil, core.BodyError(err)
	}
	return b, nil
}

type registerBeginReq struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// registerBegin checks a one-time code and starts passkey creation.
func (c *Console) registerBegin(w http.ResponseWriter, r *http.Request) {
	if c.limited(w, r) {
		return
	}
	b, err := readBody(r)
	var q registerBeginReq
	if err == nil {
		err = jsonx.Unmarshal(b, &q, jsonx.Limits{MaxBytes: maxBody})
		if err != nil {
			err = core.BodyError(err)
		}
	}
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	q.Name = strings.TrimSpace(q.Name)
	var code *store.Token
	err = c.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		code, err = checkCode(r.Context(), tx, q.Code, c.c.Now())
		return err
	})
	if err == nil && code.Name != "" {
		q.Name = code.Name
	}
	if err == nil && (q.Name == "" || core.CheckText("name", q.Name, 64) != nil) {
		err = core.BadRequest("your name is required (at most 64 characters): it is how the audit log will show you")
	}
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	a := &store.ConsoleAdmin{ID: randomHex(16), Name: q.Name}
	opts, data, err := c.wa.BeginRegistration(user{a},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	id, err := c.saveCeremony(r.Context(), kindRegister, ceremony{Data: *data, AdminID: a.ID, Name: a.Name, CodeID: code.ID})
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": opts})
}

// registerFinish checks the new passkey, spends the code, creates the admin
// and signs them in.
func (c *Console) registerFinish(w http.ResponseWriter, r *http.Request) {
	finishCeremony(c, w, r, protocol.ParseCredentialCreationResponseBytes, "console admin registered",
		func(ctx context.Context, tx store.Tx, parsed *protocol.ParsedCredentialCreationData, now time.Time, out **store.ConsoleAdmin) error {
			cer, err := takeCeremony(ctx, tx, kindRegister, r.URL.Query().Get("ceremony"), now)
			if err != nil {
				return err
			}
			code, err := tx.Token(ctx, cer.CodeID)
			if err != nil || code.Kind != store.TokenConsole || !code.Used.IsZero() || code.Revoked || !now.Before(code.Expires) {
				return errCode
			}
			a := &store.ConsoleAdmin{ID: cer.AdminID, Name: cer.Name, Created: now.UTC(), CreatedBy: code.CreatedBy}
			cred, err := c.wa.CreateCredential(user{a}, cer.Data, parsed)
			if err != nil {
				return core.Fail(http.StatusUnauthorized, enrol.CodeUnauthorized, "the passkey was not accepted: %s", webauthnReason(err))
			}
			raw, err := json.Marshal(cred)
			if err != nil {
				return err
			}
			a.Credentials = []store.ConsoleCredential{{ID: cred.ID, WebAuthn: raw, Added: now.UTC()}}
			code.Used = now.UTC()
			if err := tx.PutToken(ctx, code); err != nil {
				return err
			}
			if err := tx.PutConsoleAdmin(ctx, a); err != nil {
				return err
			}
			if err := core.Audit(ctx, tx, now, actor(a), "console-admin.register", "console-admin:"+a.ID,
				map[string]string{"name": a.Name, "code": code.ID, "invitedBy": code.CreatedBy}); err != nil {
				return err
			}
			*out = a
			return nil
		})
}

// webauthnReason is a short, safe reason from a go-webauthn error.
func webauthnReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "verification failed"
}

// signinBegin starts a discoverable (passkey) sign-in.
func (c *Console) signinBegin(w http.ResponseWriter, r *http.Request) {
	if c.limited(w, r) {
		return
	}
	opts, data, err := c.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	id, err := c.saveCeremony(r.Context(), kindSignIn, ceremony{Data: *data})
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": id, "options": opts})
}

var errSignIn = core.Fail(http.StatusUnauthorized, enrol.CodeUnauthorized, "this passkey is not one of central's console admins; use the passkey you registered, or ask another admin for an invite")

// signinFinish verifies the passkey's assertion and starts a session.
func (c *Console) signinFinish(w http.ResponseWriter, r *http.Request) {
	finishCeremony(c, w, r, protocol.ParseCredentialRequestResponseBytes, "console sign-in",
		func(ctx context.Context, tx store.Tx, parsed *protocol.ParsedCredentialAssertionData, now time.Time, out **store.ConsoleAdmin) error {
			cer, err := takeCeremony(ctx, tx, kindSignIn, r.URL.Query().Get("ceremony"), now)
			if err != nil {
				return err
			}
			var a *store.ConsoleAdmin
			find := func(_, handle []byte) (webauthn.User, error) {
				if len(handle) == 0 || len(handle) > 64 {
					return nil, errSignIn
				}
				var err error
				a, err = tx.ConsoleAdmin(ctx, string(handle))
				if err != nil {
					return nil, errSignIn
				}
				return user{a}, nil
			}
			_, cred, err := c.wa.ValidatePasskeyLogin(find, cer.Data, parsed)
			if err != nil || a == nil || a.Disabled {
				return errSignIn
			}
			if cred.Authenticator.CloneWarning {
				return core.Fail(http.StatusUnauthorized, enrol.CodeUnauthorized, "this passkey's signature counter went backwards (a cloned authenticator?); it is refused — ask another admin to check the audit log")
			}
			for i := range a.Credentials {
				if bytes.Equal(a.Credentials[i].ID, cred.ID) {
					raw, err := json.Marshal(cred)
					if err != nil {
						return err
					}
					a.Credentials[i].WebAuthn, a.Credentials[i].LastUsed = raw, now.UTC()
				}
			}
			if err := tx.PutConsoleAdmin(ctx, a); err != nil {
				return err
			}
			if err := core.Audit(ctx, tx, now, actor(a), "console.signin", "console-admin:"+a.ID, nil); err != nil {
				return err
			}
			*out = a
			return nil
		})
}

// actor is how a console admin appears in the audit log.
func actor(a *store.ConsoleAdmin) string { return asAdmin(a).Actor() }

// asAdmin is the registry's view of a console admin: "admin:console-<id>".
func asAdmin(a *store.ConsoleAdmin) *core.Admin {
	return &core.Admin{TokenID: "console-" + a.ID, Name: a.Name}
}

func hashID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// csrfToken is the session's synchronizer token: derived from the cookie's
// secret, so it is bound to the session and needs no storage.
func csrfToken(secret string) string {
	h := sha256.Sum256([]byte("edgetrust-console-csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (c *Console) newSession(ctx context.Context, tx store.Tx, a *store.ConsoleAdmin, now time.Time) (string, error) {
	if _, err := tx.DeleteExpiredConsoleSessions(ctx, now); err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	s := &store.ConsoleSession{ID: hashID(secret), AdminID: a.ID, Created: now.UTC(), Seen: now.UTC()}
	s.Expires = c.expiry(s)
	return secret, tx.PutConsoleSession(ctx, s)
}

func (c *Console) expiry(s *store.ConsoleSession) time.Time {
	e := s.Seen.Add(c.c.Idle)
	if m := s.Created.Add(c.c.MaxAge); m.Before(e) {
		e = m
	}
	return e
}

func (c *Console) setCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

type session struct {
	rec   *store.ConsoleSession
	admin *store.ConsoleAdmin
	csrf  string
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// authed admits requests with a live session; POSTs also need the
// session's CSRF token.
func (c *Console) authed(h http.HandlerFunc) http.Handler { return c.authedUpload(h, 0) }

// authedUpload is authed for a route that takes a multipart/form-data
// upload of at most limit bytes (held in memory, never spooled to disk);
// with limit 0 a POST is a url-encoded form of at most maxBody.
func (c *Console) authedUpload(h http.HandlerFunc, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
				return
			}
			clearCookie(w)
			c.fail(w, r, http.StatusUnauthorized, "Your session has ended (signed out or idle too long). Sign in again with your passkey.")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		if r.Method == http.MethodPost {
			if limit > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
				if err := r.ParseMultipartForm(limit); err != nil {
					var mb *http.MaxBytesError
					if errors.As(err, &mb) {
						c.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("The upload is larger than %d MiB; split the file.", limit>>20))
						return
					}
					c.fail(w, r, http.StatusBadRequest, "The upload could not be read: send the form the page offers (multipart/form-data).")
					return
				}
				defer r.MultipartForm.RemoveAll()
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxBody)
				if err := r.ParseForm(); err != nil {
					c.fail(w, r, http.StatusBadRequest, "The form could not be read (too large?).")
					return
				}
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				c.fail(w, r, http.StatusForbidden, "This change was refused: its form token is missing or stale. Reload the page and try again.")
				return
			}
		}
		h(w, r)
	})
}

var errSession = errors.New("console: no live session")

func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil || len(ck.Value) != 43 {
		return nil, errSession
	}
	ctx, now := r.Context(), c.c.Now()
	id := hashID(ck.Value)
	var s session
	err = c.st.View(ctx, func(tx store.Tx) error {
		var err error
		if s.rec, err = tx.ConsoleSession(ctx, id); err != nil {
			return err
		}
		s.admin, err = tx.ConsoleAdmin(ctx, s.rec.AdminID)
		return err
	})
	if err != nil {
		return nil, errSession
	}
	if !now.Before(s.rec.Expires) || !now.Before(s.rec.Created.Add(c.c.MaxAge)) || s.admin.Disabled {
		return nil, errSession
	}
	if now.Sub(s.rec.Seen) > seenEvery {
		s.rec.Seen = now.UTC()
		s.rec.Expires = c.expiry(s.rec)
		if err := c.st.Update(ctx, func(tx store.Tx) error { return tx.PutConsoleSession(ctx, s.rec) }); err != nil {
			return nil, fmt.Errorf("console: session: %w", err)
		}
	}
	s.csrf = csrfToken(ck.Value)
	return &s, nil
}

// signout deletes the session server-side: its cookie is dead even if
// replayed.
func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	ctx, now := r.Context(), c.c.Now()
	err := c.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteConsoleSession(ctx, s.rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return core.Audit(ctx, tx, now, actor(s.admin), "console.signout", "console-admin:"+s.admin.ID, nil)
	})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	clearCookie(w)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "signin", page{Title: "Sign in"})
}

func (c *Console) registerPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "register", page{Title: "Register a passkey"})
}

// finishCeremony is the end of a passkey ceremony (registration or
// sign-in): read and parse the browser's answer, run step in one
// transaction to check it and name the admin, start a session there, and
// set its cookie.
func finishCeremony[T any](c *Console, w http.ResponseWriter, r *http.Request, parse func([]byte) (T, error), done string,
	step func(ctx context.Context, tx store.Tx, parsed T, now time.Time, out **store.ConsoleAdmin) error) {
	if c.limited(w, r) {
		return
	}
	b, err := readBody(r)
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	parsed, err := parse(b)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "the browser's passkey answer could not be read; try again")
		return
	}
	ctx, now := r.Context(), c.c.Now()
	var secret string
	var admin *store.ConsoleAdmin
	err = c.st.Update(ctx, func(tx store.Tx) error {
		if err := step(ctx, tx, parsed, now, &admin); err != nil {
			return err
		}
		var err error
		secret, err = c.newSession(ctx, tx, admin, now)
		return err
	})
	if err != nil {
		c.writeErr(w, r, err)
		return
	}
	c.c.Log.Info(done, "admin", admin.ID)
	c.setCookie(w, secret)
	writeJSON(w, http.StatusOK, map[string]string{"next": "/console/"})
}
