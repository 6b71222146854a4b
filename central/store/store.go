package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/feed"
)

// Errors.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrConflict is returned by Update when a concurrent transaction won;
	// Update retries it a few times before giving up.
	ErrConflict = errors.New("store: conflicting concurrent update")
	// ErrNoSpace is returned by Update when the disk under the store has
	// too little space left to write safely; nothing was written, and
	// reads go on. The API answers 507 insufficient_storage.
	ErrNoSpace = errors.New("store: not enough free disk space to write")
	// ErrUnavailable wraps errors that mean the database server cannot be
	// reached (down, restarting, connection lost): nothing was written,
	// and the same request may succeed shortly. The API answers 503
	// store_unavailable with Retry-After.
	ErrUnavailable = errors.New("store: the database is unavailable")
)

// Vendor is a device provider and its provider CA.
type Vendor struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	CACert  []byte    `json:"caCert"`  // DER
	CAKey   []byte    `json:"caKey"`   // PKCS#8, encrypted to central's keyring (age)
	Created time.Time `json:"created"` // UTC
	Updated time.Time `json:"updated"`
}

// CertRecord is one certificate central issued, kept for history.
type CertRecord struct {
	Role      string    `json:"role"`   // device, ftm, encryption, signing
	SHA256    string    `json:"sha256"` // upper-hex SHA-256 of the DER (the SBI thumbprint)
	Issued    time.Time `json:"issued"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// Device is an enrolled biometric device.
type Device struct {
	Serial           string       `json:"serial"`
	VendorID         string       `json:"vendorId"`
	Make             string       `json:"make"`
	Model            string       `json:"model"`
	Type             string       `json:"type"`
	SubType          string       `json:"subType"`
	DeviceProvider   string       `json:"deviceProvider"`
	DeviceProviderID string       `json:"deviceProviderId"`
	Status           string       `json:"status"`
	Reason           string       `json:"reason,omitempty"`
	EKPublic         []byte       `json:"ekPublic"`
	EKCert           []byte       `json:"ekCert,omitempty"`
	EKFingerprint    string       `json:"ekFingerprint"`
	AKPublic         []byte       `json:"akPublic"`
	DeviceCert       []byte       `json:"deviceCert"` // current, DER
	FTMCert          []byte       `json:"ftmCert"`
	Certs            []CertRecord `json:"certs"` // every certificate issued, oldest first
	Enrolled         time.Time    `json:"enrolled"`
	Updated          time.Time    `json:"updated"`
	// AttestedAt and AttestedUntil are the attestation horizon central last
	// published for the device (trustfeed.Device; decision 0018).
	AttestedAt    time.Time `json:"attestedAt,omitzero"`
	AttestedUntil time.Time `json:"attestedUntil,omitzero"`
}

// Appliance is an enrolled edge appliance.
type Appliance struct {
	ID             string       `json:"id"`
	Status         string       `json:"status"`
	Reason         string       `json:"reason,omitempty"`
	EKPublic       []byte       `json:"ekPublic"`
	EKCert         []byte       `json:"ekCert,omitempty"`
	EKFingerprint  string       `json:"ekFingerprint"`
	AKPublic       []byte       `json:"akPublic"`
	EncryptionCert []byte       `json:"encryptionCert"`
	SigningCert    []byte       `json:"signingCert"`
	Group          string       `json:"group,omitempty"` // records group ("" is "default")
	Certs          []CertRecord `json:"certs"`
	Enrolled       time.Time    `json:"enrolled"`
	Updated        time.Time    `json:"updated"`
	// Backfill is the appliance's records-feed backfill still to publish
	// (nil: none).
	Backfill *Backfill `json:"backfill,omitempty"`
}

// Backfill is the progress of publishing a group's records to an
// appliance's records feed (after it enrols, changes group or is
// reinstated): first deletions of DeleteGroup's VIDs, then the records of
// Group, each in UIN order after After.
type Backfill struct {
	Group       string    `json:"group"`
	DeleteGroup string    `json:"deleteGroup,omitempty"`
	After       string    `json:"after,omitempty"`
	Started     time.Time `json:"started"`
}

// RelyingParty is a service that asks appliances for authentication.
type RelyingParty struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	Reason     string   `json:"reason,omitempty"`
	Attributes []string `json:"attributes,omitempty"` // identity attributes it may receive
	AuthTypes  []string `json:"authTypes,omitempty"`  // recordfeed.Auth* it may use
	Keys       []RPKey  `json:"keys,omitempty"`       // API keys (hashes only)
	// Certs are the TLS client certificates central issued the party
	// (rp cert issue) that have not expired yet; revoked ones are
	// published on the trust feed until they expire.
	Certs   []RPCert  `json:"certs,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// RPKey is a relying party's API key: only the SHA-256 of its secret.
type RPKey struct {
	ID      string    `json:"id"`
	SHA256  []byte    `json:"sha256"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
}

// RPCert is a relying party's TLS client certificate as central keeps it.
type RPCert struct {
	Serial   string    `json:"serial"` // big.Int.Text(16)
	NotAfter time.Time `json:"notAfter"`
	Issued   time.Time `json:"issued"`
	Revoked  time.Time `json:"revoked,omitzero"`
	Reason   string    `json:"reason,omitempty"`
}

// MaxRPCerts bounds a relying party's unexpired certificates (with 30-day
// certificates, more than two a day).
const MaxRPCerts = 64

// PruneCerts drops the certificates that have expired by now: a revoked
// one needs no listing once no handshake can accept it.
func (rp *RelyingParty) PruneCerts(now time.Time) {
	kept := rp.Certs[:0]
	for _, c := range rp.Certs {
		if now.Before(c.NotAfter) {
			kept = append(kept, c)
		}
	}
	rp.Certs = kept
}

// Person is an enrolled person. Everything personal — demographics,
// templates, the token seed — is in Sealed, encrypted to central's keyring.
type Person struct {
	UIN     string    `json:"uin"`
	Group   string    `json:"group"`  // appliance group (region) the records go to
	Status  string    `json:"status"` // active or deactivated
	Locked  []string  `json:"locked,omitempty"`
	Sealed  []byte    `json:"sealed"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// VID is a virtual ID of a person.
type VID struct {
	Number    string    `json:"number"`
	UIN       string    `json:"uin"`
	Kind      string    `json:"kind"` // perpetual, temporary, one-time
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Status    string    `json:"status"` // active, revoked or expired
	Reason    string    `json:"reason,omitempty"`
	Updated   time.Time `json:"updated"`
}

// Token kinds.
const (
	TokenAdmin     = "admin"
	TokenDevice    = "device"    // enrols devices of VendorID
	TokenAppliance = "appliance" // enrols one appliance
)

// Token is an admin or enrolment token. Only the SHA-256 of its secret is
// stored.
type Token struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	SecretHash []byte    `json:"secretHash"`
	VendorID   string    `json:"vendorId,omitempty"`
	Name       string    `json:"name,omitempty"` // admin token label
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"createdBy,omitempty"`
	Expires    time.Time `json:"expires,omitzero"` // zero: never (admin tokens)
	Used       time.Time `json:"used,omitzero"`    // enrolment tokens: when consumed
	Revoked    bool      `json:"revoked,omitempty"`
}

// TokenConsole is a one-time code that lets one person register a passkey
// for the admin console (from admin init or an invite).
const TokenConsole = "console"

// ConsoleAdmin is a person who signs in to the admin console with passkeys.
type ConsoleAdmin struct {
	ID          string              `json:"id"` // random hex; also the WebAuthn user handle
	Name        string              `json:"name"`
	Credentials []ConsoleCredential `json:"credentials"`
	Created     time.Time           `json:"created"`
	CreatedBy   string              `json:"createdBy"` // audit actor who invited (or "system")
	Disabled    bool                `json:"disabled,omitempty"`
}

// ConsoleCredential is one passkey of a console admin.
type ConsoleCredential struct {
	ID       []byte          `json:"id"`
	WebAuthn json.RawMessage `json:"webauthn"` // the relying-party side record (public key, counter, flags)
	Added    time.Time       `json:"added"`
	LastUsed time.Time       `json:"lastUsed,omitzero"`
}

// FeedPosition is an appliance's last trust-feed request as a central
// replica saw it: the appliance had applied every entry up to After when
// it asked, at Seen. Replicas write the positions of the appliances that
// poll them, so every replica's console shows every appliance.
type FeedPosition struct {
	Appliance string    `json:"appliance"`
	After     uint64    `json:"after"`
	Seen      time.Time `json:"seen"`
}

// ConsoleSession is a signed-in console session. ID is the hex SHA-256 of
// the cookie's secret, never the secret.
type ConsoleSession struct {
	ID      string    `json:"id"`
	AdminID string    `json:"adminId"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
	Expires time.Time `json:"expires"` // min(seen + idle, created + max)
}

// Session is server-side enrolment or rotation state between two round trips.
type Session struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"` // device, appliance, rotate
	TokenID       string    `json:"tokenId,omitempty"`
	Serial        string    `json:"serial,omitempty"` // rotation
	EKPublic      []byte    `json:"ekPublic,omitempty"`
	EKCert        []byte    `json:"ekCert,omitempty"`
	EKFingerprint string    `json:"ekFingerprint,omitempty"`
	AKPublic      []byte    `json:"akPublic,omitempty"`
	SecretHash    []byte    `json:"secretHash,omitempty"`
	Nonce         []byte    `json:"nonce"`
	Expires       time.Time `json:"expires"`
}

// AuditEvent is one row of the insert-only, hash-chained audit log.
type AuditEvent struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`   // "admin:<token id>", "enrol:<token id>", "device:<serial>", "system"
	Action  string          `json:"action"`  // e.g. vendor.add, device.revoke
	Subject string          `json:"subject"` // e.g. device:SN1, vendor:ACME
	Detail  json.RawMessage `json:"detail,omitempty"`
	Prev    []byte          `json:"prev"` // hash of the previous row (32 zero bytes for the first)
	Hash    []byte          `json:"hash"` // SHA-256(prev || canonical row)
}

// Device key material (EK, AK, certificates) is stored apart from the
// registry fields by both stores: a status change then neither re-encodes
// nor rewrites kilobytes of certificates.

func deviceKeyFields(d *Device) []*[]byte {
	return []*[]byte{&d.EKPublic, &d.EKCert, &d.AKPublic, &d.DeviceCert, &d.FTMCert}
}

// EncodeDeviceKeys encodes a device's key material, length-prefixed.
func EncodeDeviceKeys(d *Device) []byte {
	var b []byte
	for _, f := range deviceKeyFields(d) {
		b = binary.AppendUvarint(b, uint64(len(*f)))
		b = append(b, *f...)
	}
	return b
}

// DecodeDeviceKeys fills d's key material from EncodeDeviceKeys's output.
func DecodeDeviceKeys(b []byte, d *Device) error {
	for _, f := range deviceKeyFields(d) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("store: device %s: corrupt key material", d.Serial)
		}
		*f = b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
	}
	return nil
}

// WithoutKeys returns a copy of d without its key material.
func WithoutKeys(d *Device) *Device {
	c := *d
	for _, f := range deviceKeyFields(&c) {
		*f = nil
	}
	return &c
}

// AuditHash is the chain hash of e given the previous row's hash.
func AuditHash(prev []byte, e AuditEvent) []byte {
	c := e
	c.Prev, c.Hash = nil, nil
	c.Time = c.Time.UTC()
	b, _ := json.Marshal(c)
	h := sha256.New()
	h.Write(prev)
	h.Write(b)
	return h.Sum(nil)
}

// VerifyAuditChain checks that events (consecutive, from seq first) chain
// from prev. It returns the last hash.
func VerifyAuditChain(prev []byte, events []AuditEvent) ([]byte, error) {
	for _, e := range events {
		if !bytes.Equal(e.Prev, prev) {
			return nil, fmt.Errorf("store: audit row %d does not follow the previous row", e.Seq)
		}
		if !bytes.Equal(AuditHash(prev, e), e.Hash) {
			return nil, fmt.Errorf("store: audit row %d was altered", e.Seq)
		}
		prev = e.Hash
	}
	return prev, nil
}

// FeedRecord is one stored feed entry: its canonical bytes and the Merkle
// root of the feed after it.
type FeedRecord struct {
	Seq  uint64
	Body []byte
	Root []byte
}

// DeviceFilter selects devices to list.
type DeviceFilter struct {
	VendorID string
	Status   string
	After    string // serial to continue after
	Limit    int    // 0: 1000
}

// AuditFilter selects audit rows.
type AuditFilter struct {
	Subject string
	After   uint64
	Limit   int // 0: 1000
}

// Tx is a transaction. Reads see the transaction's own writes.
type Tx interface {
	Vendor(ctx context.Context, id string) (*Vendor, error)
	PutVendor(ctx context.Context, v *Vendor) error
	Vendors(ctx context.Context) ([]Vendor, error)

	Device(ctx context.Context, serial string) (*Device, error)
	// PutDevices stores devices; a device never moves to another vendor.
	PutDevices(ctx context.Context, ds ...*Device) error
	// DevicesBySerial returns the stored devices among serials.
	DevicesBySerial(ctx context.Context, serials []string) (map[string]*Device, error)
	Devices(ctx context.Context, f DeviceFilter) ([]Device, error)

	Appliance(ctx context.Context, id string) (*Appliance, error)
	PutAppliance(ctx context.Context, a *Appliance) error
	Appliances(ctx context.Context) ([]Appliance, error)

	RelyingParty(ctx context.Context, id string) (*RelyingParty, error)
	PutRelyingParty(ctx context.Context, rp *RelyingParty) error
	RelyingParties(ctx context.Context) ([]RelyingParty, error)

	Person(ctx context.Context, uin string) (*Person, error)
	PutPerson(ctx context.Context, p *Person) error
	// People lists the people of a group in UIN order after after (limit
	// 0: 1000).
	People(ctx context.Context, group, after string, limit int) ([]Person, error)
	VID(ctx context.Context, number string) (*VID, error)
	PutVID(ctx context.Context, v *VID) error
	// VIDsOf lists a person's VIDs.
	VIDsOf(ctx context.Context, uin string) ([]VID, error)
	// ExpiringVIDs lists active VIDs with an expiry before before, soonest
	// first (limit 0: 1000).
	ExpiringVIDs(ctx context.Context, before time.Time, limit int) ([]VID, error)

	Token(ctx context.Context, id string) (*Token, error)
	PutToken(ctx context.Context, t *Token) error
	// CountTokens counts tokens of a kind (to know whether an admin exists).
	CountTokens(ctx context.Context, kind string) (int, error)

	Session(ctx context.Context, id string) (*Session, error)
	PutSession(ctx context.Context, s *Session) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions removes sessions that expired before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	ConsoleAdmin(ctx context.Context, id string) (*ConsoleAdmin, error)
	PutConsoleAdmin(ctx context.Context, a *ConsoleAdmin) error
	// ConsoleAdmins lists console admins by id.
	ConsoleAdmins(ctx context.Context) ([]ConsoleAdmin, error)
	ConsoleSession(ctx context.Context, id string) (*ConsoleSession, error)
	PutConsoleSession(ctx context.Context, s *ConsoleSession) error
	// DeleteConsoleSession removes a session (ErrNotFound if absent).
	DeleteConsoleSession(ctx context.Context, id string) error
	// DeleteExpiredConsoleSessions removes sessions that expired before now.
	DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error)

	// PutFeedPositions records appliances' trust-feed positions. A
	// position not newer (by Seen) than the stored one for its appliance
	// is ignored, so replicas flushing in any order keep the latest.
	PutFeedPositions(ctx context.Context, ps []FeedPosition) error
	// FeedPositions lists every recorded position, by appliance id.
	FeedPositions(ctx context.Context) ([]FeedPosition, error)

	// AuditHead returns the last audit row's seq and hash (0 and 32 zero
	// bytes when empty). In PostgreSQL it locks the chain until commit.
	AuditHead(ctx context.Context) (uint64, []byte, error)
	// InsertAudit inserts rows following the head, in order; a row with
	// an existing seq is never replaced.
	InsertAudit(ctx context.Context, es []*AuditEvent) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// FeedHead returns a feed's head, locking it against concurrent
	// appends (across replicas) until the transaction ends.
	FeedHead(ctx context.Context, name string) (feed.Head, error)
	// PutFeed stores entries (consecutive seqs following the old head) and
	// the new head.
	PutFeed(ctx context.Context, name string, recs []FeedRecord, head feed.Head) error
}

// Store is central's storage.
type Store interface {
	// Update runs f in a read-write transaction and commits if f returns
	// nil. f may run more than once (on ErrConflict), so it must not have
	// side effects outside tx.
	Update(ctx context.Context, f func(tx Tx) error) error
	// View runs f in a read-only transaction.
	View(ctx context.Context, f func(tx Tx) error) error
	// ReadFeed returns up to limit entries after seq, and the feed's size.
	ReadFeed(ctx context.Context, name string, after uint64, limit int) ([]FeedRecord, uint64, error)
	// FeedRoot returns the root after entry seq (the empty root for 0).
	FeedRoot(ctx context.Context, name string, seq uint64) ([]byte, error)
	// Changed is signalled (best effort, never blocking) after a feed
	// append is committed, by this process or — for PostgreSQL — any
	// replica. It has one consumer (central's feed broadcaster) and carries
	// no data: waiters re-read the feed.
	Changed() <-chan struct{}
	// AttestStore is the continuous-attestation state.
	AttestStore
	Close() error
}

// Feed read sources (FeedView.Source).
const (
	SourcePrimary = "primary"
	SourceStandby = "standby"
)

// FeedView says where a feed read was served from and how fresh it is.
type FeedView struct {
	// Source is SourcePrimary or SourceStandby (a streaming replica).
	Source string
	// Head is the newest size of the feed this replica knows was
	// committed (at least the size read).
	Head uint64
	// Lag is how long the entries the read lacks (Head minus the size
	// read) have been committed on the primary: 0 when the read was up to
	// date. It never exceeds the store's bound, beyond which reads go to
	// the primary.
	Lag time.Duration
}

// FeedViewer is a store that can serve feed reads from a streaming
// replica and says how fresh each read is (pgstore with a read DSN).
type FeedViewer interface {
	// ReadFeedView is ReadFeed with where the read came from.
	ReadFeedView(ctx context.Context, name string, after uint64, limit int) ([]FeedRecord, uint64, FeedView, error)
}

// AppendAudit chains events after the current audit head and inserts
// them, returning the stored rows.
func AppendAudit(ctx context.Context, tx Tx, events ...AuditEvent) ([]AuditEvent, error) {
	seq, prev, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEvent, len(events))
	ptrs := make([]*AuditEvent, len(events))
	for i, e := range events {
		seq++
		e.Seq = seq
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		e.Prev = prev
		e.Hash = AuditHash(prev, e)
		prev = e.Hash
		out[i] = e
		ptrs[i] = &out[i]
	}
	return out, tx.InsertAudit(ctx, ptrs)
}

// NewEntry is an entry to append to a feed.
type NewEntry struct {
	Kind string
	Data any // JSON-marshalled
}

// AppendFeed appends entries to a feed inside tx: it locks the head,
// encodes the entries canonically with consecutive seqs, computes the root
// after each one and stores them with the new head. It returns the new size.
func AppendFeed(ctx context.Context, tx Tx, name string, now time.Time, entries ...NewEntry) (uint64, error) {
	head, err := tx.FeedHead(ctx, name)
	if err != nil {
		return 0, err
	}
	recs := make([]FeedRecord, 0, len(entries))
	leaves := make([][]byte, 0, len(entries))
	for i, ne := range entries {
		data, err := json.Marshal(ne.Data)
		if err != nil {
			return 0, err
		}
		e := feed.Entry{Seq: head.Size + uint64(i) + 1, Time: now.UTC().Truncate(time.Second), Kind: ne.Kind, Data: data}
		body, err := e.Encode()
		if err != nil {
			return 0, err
		}
		recs = append(recs, FeedRecord{Seq: e.Seq, Body: body})
		leaves = append(leaves, feed.LeafHash(body))
	}
	newHead, roots, err := head.Append(leaves...)
	if err != nil {
		return 0, err
	}
	for i := range recs {
		recs[i].Root = roots[i]
	}
	if err := tx.PutFeed(ctx, name, recs, newHead); err != nil {
		return 0, err
	}
	return newHead.Size, nil
}

// Notifier is a signal that never blocks its sender: Notify leaves at most
// one pending wake-up for C's single reader.
type Notifier struct {
	ch chan struct{}
}

// NewNotifier makes a Notifier.
func NewNotifier() *Notifier { return &Notifier{ch: make(chan struct{}, 1)} }

// C is signalled after Notify; at most one pending signal is kept.
func (n *Notifier) C() <-chan struct{} { return n.ch }

// Notify signals C without blocking.
func (n *Notifier) Notify() {
	select {
	case n.ch <- struct{}{}:
	default:
	}
}

// AttestNode is one node's continuous-attestation state (central/attestation),
// kept in the store so that every replica sees the same outcome and the
// same outstanding challenge. Node is "device:<serial>" or
// "appliance:<id>".
type AttestNode struct {
	Node string `json:"node"`
	// Status is attested, failed or pending (stale is computed when asked).
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// LastGood is the time of the last good quote, LastCheck of the last
	// verdict; Since is when the node was first seen or released (the stale
	// clock starts there without a good quote).
	LastGood      time.Time `json:"lastGood,omitzero"`
	LastCheck     time.Time `json:"lastCheck,omitzero"`
	Since         time.Time `json:"since"`
	Firmware      []string  `json:"firmware,omitempty"`
	PolicyVersion int       `json:"policyVersion,omitempty"`
	// The TPM clock and the reset and restart counts of the last good quote.
	HaveCounters bool   `json:"haveCounters,omitempty"`
	Clock        uint64 `json:"clock,omitempty"`
	Reset        uint32 `json:"reset,omitempty"`
	Restart      uint32 `json:"restart,omitempty"`
	// Challenge is the outstanding challenge (nil: none).
	Challenge *AttestChallenge `json:"challenge,omitempty"`
	// Used holds the SHA-256 of the last answered nonces (replay detection).
	Used [][]byte `json:"used,omitempty"`
	// CheckedRound is the round (AttestRound.Claims) of the last check.
	CheckedRound uint64 `json:"checkedRound,omitempty"`
	// Due asks for a fresh challenge before an interval passed (after an
	// admin lifted a quarantine).
	Due bool `json:"due,omitempty"`
}

// AttestChallenge is an outstanding challenge. Only the SHA-256 of its nonce
// is stored: reading the store does not let anyone answer it.
type AttestChallenge struct {
	NonceHash []byte          `json:"nonceHash"`
	PCRs      []int           `json:"pcrs"`
	Wire      json.RawMessage `json:"wire"` // what GET /v1/attest/challenge returns, so asking again gives the same
	Expires   time.Time       `json:"expires"`
}

// AttestRound is the shared record of attestation rounds across replicas.
type AttestRound struct {
	// Holder is the replica that claimed the latest round, at Started.
	Holder  string    `json:"holder"`
	Started time.Time `json:"started,omitzero"`
	// Claims counts the rounds claimed (a node checked in an older round
	// is due for a new challenge).
	Claims uint64 `json:"claims"`
	// Finished is when a round last completed, Rounds how many have.
	Finished time.Time `json:"finished,omitzero"`
	Rounds   uint64    `json:"rounds"`
}

// AttestStore is the attestation state both stores keep. Its writes do not
// take the registry's writer lock (PostgreSQL: a per-node advisory lock and
// a one-row round claim), so attestation traffic does not queue behind
// registry changes; a quarantine is a registry change and goes through
// Update.
type AttestStore interface {
	// ModifyAttest runs f with node's stored state (nil: none yet) while
	// holding that node's lock across replicas, and stores the state f
	// returns (nil: nothing is written). f may run more than once.
	ModifyAttest(ctx context.Context, node string, f func(cur *AttestNode) (*AttestNode, error)) error
	// AttestNodes returns the stored states among nodes, by node.
	AttestNodes(ctx context.Context, nodes []string) (map[string]*AttestNode, error)
	// InitAttestNodes stores those of ns that have no state yet (a node
	// with one is left as it is).
	InitAttestNodes(ctx context.Context, ns []*AttestNode) error
	// ClaimAttestRound claims a round for holder at now. It succeeds only
	// when no round was claimed in (now-minGap, now], so replicas ticking on
	// their own clocks run one round per interval between them; minGap 0
	// always succeeds.
	ClaimAttestRound(ctx context.Context, holder string, now time.Time, minGap time.Duration) (bool, error)
	// FinishAttestRound records that a round completed at now.
	FinishAttestRound(ctx context.Context, now time.Time) error
	// AttestRound returns the shared round record.
	AttestRound(ctx context.Context) (AttestRound, error)
}
