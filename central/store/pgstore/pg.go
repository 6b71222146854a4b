package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
)

// writerLock is the advisory lock key that serialises writers.
const writerLock = 0x6564676574727573 // "edgetrus"

// notifyChannel is the LISTEN/NOTIFY channel for feed appends; channels
// are per database, so the schema's name is hashed into it (two centrals
// in two schemas of one database do not hear each other).
const notifyChannel = "edgetrust_feed"

func channelFor(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return notifyChannel + "_" + hex.EncodeToString(h[:8])
}

const schema = `
CREATE TABLE IF NOT EXISTS vendors (id text PRIMARY KEY, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS devices (serial text PRIMARY KEY, vendor_id text NOT NULL, status text NOT NULL, doc bytea NOT NULL, keys bytea NOT NULL);
CREATE INDEX IF NOT EXISTS devices_vendor ON devices (vendor_id, serial);
CREATE TABLE IF NOT EXISTS appliances (id text PRIMARY KEY, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS relying_parties (id text PRIMARY KEY, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS people (uin text PRIMARY KEY, grp text NOT NULL, doc bytea NOT NULL);
CREATE INDEX IF NOT EXISTS people_grp ON people (grp, uin);
CREATE TABLE IF NOT EXISTS vids (number text PRIMARY KEY, uin text NOT NULL, doc bytea NOT NULL);
CREATE INDEX IF NOT EXISTS vids_uin ON vids (uin);
ALTER TABLE vids ADD COLUMN IF NOT EXISTS expiring timestamptz;
CREATE INDEX IF NOT EXISTS vids_expiring ON vids (expiring) WHERE expiring IS NOT NULL;
CREATE TABLE IF NOT EXISTS tokens (id text PRIMARY KEY, kind text NOT NULL, revoked boolean NOT NULL, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id text PRIMARY KEY, expires timestamptz NOT NULL, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS console_admins (id text PRIMARY KEY, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS console_sessions (id text PRIMARY KEY, expires timestamptz NOT NULL, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS feed_positions (appliance text PRIMARY KEY, after bigint NOT NULL, seen timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq bigint PRIMARY KEY, subject text NOT NULL, doc bytea NOT NULL);
CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject, seq);
CREATE TABLE IF NOT EXISTS audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS feed_entries (feed text NOT NULL, seq bigint NOT NULL, root bytea NOT NULL, body bytea NOT NULL, PRIMARY KEY (feed, seq));
CREATE TABLE IF NOT EXISTS feed_heads (feed text PRIMARY KEY, size bigint NOT NULL, head bytea NOT NULL);
CREATE TABLE IF NOT EXISTS attest_nodes (node text PRIMARY KEY, doc bytea NOT NULL);
CREATE TABLE IF NOT EXISTS attest_round (id int PRIMARY KEY CHECK (id = 1), holder text NOT NULL, started timestamptz, claims bigint NOT NULL, finished timestamptz, rounds bigint NOT NULL);
INSERT INTO attest_round (id, holder, claims, rounds) VALUES (1, '', 0, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION edgetrust_insert_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'edgetrust: table % is insert-only', TG_TABLE_NAME; END $$;
DROP TRIGGER IF EXISTS audit_insert_only ON audit;
CREATE TRIGGER audit_insert_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION edgetrust_insert_only();
DROP TRIGGER IF EXISTS audit_no_truncate ON audit;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION edgetrust_insert_only();
DROP TRIGGER IF EXISTS feed_insert_only ON feed_entries;
CREATE TRIGGER feed_insert_only BEFORE UPDATE OR DELETE ON feed_entries FOR EACH ROW EXECUTE FUNCTION edgetrust_insert_only();
DROP TRIGGER IF EXISTS feed_no_truncate ON feed_entries;
CREATE TRIGGER feed_no_truncate BEFORE TRUNCATE ON feed_entries FOR EACH STATEMENT EXECUTE FUNCTION edgetrust_insert_only();
`

// Store is a PostgreSQL-backed store.Store.
type Store struct {
	pool    *pgxpool.Pool
	read    *pgxpool.Pool // feed reads from a streaming replica (nil: none)
	heads   *heads        // feed sizes committed on the primary, from notifications
	maxLag  time.Duration
	now     func() time.Time
	reads   readCounters
	channel string // LISTEN/NOTIFY channel of this schema
	changed *store.Notifier
	cancel  context.CancelFunc
	done    chan struct{}
	log     *slog.Logger
}

// Open connects to dsn (a libpq URL or key=value string), creates the
// schema if needed and starts listening for feed appends by any replica.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, dsn, Options{Log: log})
}

// OpenWith is Open with options: a streaming replica for feed reads, the
// replica's name and the write lease.
func OpenWith(ctx context.Context, dsn string, o Options) (*Store, error) {
	o = o.withDefaults()
	log := o.Log
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: bad DSN: %w", redact(err))
	}
	o.session(cfg, true)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", redact(err))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	var schemaName string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schemaName); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %w", redact(err))
	}
	lctx, cancel := context.WithCancel(context.Background())
	s := &Store{pool: pool, channel: channelFor(schemaName), changed: store.NewNotifier(), cancel: cancel, done: make(chan struct{}), log: log,
		heads: newHeads(), maxLag: o.MaxLag, now: o.Now}
	if o.ReadDSN != "" {
		rcfg, err := pgxpool.ParseConfig(o.ReadDSN)
		if err != nil {
			cancel()
			pool.Close()
			return nil, fmt.Errorf("pgstore: bad read DSN: %w", redact(err))
		}
		o.session(rcfg, false)
		if s.read, err = pgxpool.NewWithConfig(ctx, rcfg); err != nil {
			cancel()
			pool.Close()
			return nil, fmt.Errorf("pgstore: read DSN: %w", redact(err))
		}
	}
	// LISTEN before returning, so no append committed after Open is missed.
	c, err := s.listenConn(ctx)
	if err != nil {
		s.closePools()
		cancel()
		return nil, fmt.Errorf("pgstore: LISTEN: %w", err)
	}
	go s.listen(lctx, c)
	return s, nil
}

func (s *Store) closePools() {
	s.pool.Close()
	if s.read != nil {
		s.read.Close()
	}
}

// redact drops the DSN (which may hold a password) from connection errors.
func redact(err error) error {
	var pe *pgconn.ConnectError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot connect to PostgreSQL: %v (%w)", pe.Unwrap(), store.ErrUnavailable)
	}
	var pa *pgconn.ParseConfigError
	if errors.As(err, &pa) {
		return errors.New("cannot parse the PostgreSQL DSN")
	}
	return err
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: %w", redact(err))
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(writerLock)); err != nil {
		return fmt.Errorf("pgstore: migration lock: %w", err)
	}
	// Simple protocol: several statements in one string carry no parameters.
	if _, err := tx.Exec(ctx, schema, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("pgstore: creating schema: %w", err)
	}
	return tx.Commit(ctx)
}

func (s *Store) listenConn(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, "LISTEN "+s.channel); err != nil {
		c.Release()
		return nil, err
	}
	return c, nil
}

// listen holds one connection in LISTEN and signals Changed on every
// notification, reconnecting with back-off.
func (s *Store) listen(ctx context.Context, c *pgxpool.Conn) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for {
		err := s.wait(ctx, c)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("feed notifications interrupted; reconnecting", "err", err)
		// Without notifications the standby's lag cannot be told: feed
		// reads go to the primary until LISTEN is back.
		s.heads.setBlind(true, s.now())
		s.changed.Notify() // waiters re-read: nothing is lost but latency
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			if c, err = s.listenConn(ctx); err == nil {
				backoff = 100 * time.Millisecond
				s.heads.setBlind(false, s.now())
				s.changed.Notify()
				break
			}
		}
	}
}

func (s *Store) wait(ctx context.Context, c *pgxpool.Conn) error {
	defer func() {
		// The connection may be mid-protocol: never return it to the pool.
		c.Conn().Close(context.Background())
		c.Release()
	}()
	for {
		n, err := c.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.heads.notified(n.Payload, s.now())
		s.changed.Notify()
	}
}

// Close stops listening and closes the pool.
func (s *Store) Close() error {
	s.cancel()
	<-s.done
	s.closePools()
	return nil
}

// Changed implements store.Store.
func (s *Store) Changed() <-chan struct{} { return s.changed.C() }

// retryable: a serialisation failure or deadlock, or a connection lost
// before anything was sent (PostgreSQL restarted: the pool reconnects).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return pgconn.SafeToRetry(err)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, f func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select { // a little back-off: a restarting server needs a moment
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
			}
		}
		if err = s.update(ctx, f); err == nil || !retryable(err) {
			return unavailable(err)
		}
	}
	if u := unavailable(err); errors.Is(u, store.ErrUnavailable) {
		return u
	}
	return fmt.Errorf("%w: %v", store.ErrConflict, err)
}

// unavailable wraps an error that says the server cannot be reached (a
// refused or lost connection, a server shutting down or starting up) with
// store.ErrUnavailable; other errors are returned as they are.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	down := errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")) ||
		strings.Contains(err.Error(), "conn closed")
	if !down {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, redact(err))
}

func (s *Store) update(ctx context.Context, f func(store.Tx) error) error {
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: %w", redact(err))
	}
	defer ptx.Rollback(ctx)
	if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(writerLock)); err != nil {
		return err
	}
	t := &tx{tx: ptx, channel: s.channel}
	if err := f(t); err != nil {
		return err
	}
	return ptx.Commit(ctx)
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, f func(store.Tx) error) error {
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return unavailable(fmt.Errorf("pgstore: %w", err))
	}
	defer ptx.Rollback(ctx)
	return unavailable(f(&tx{tx: ptx, ro: true}))
}

// ReadFeed implements store.Store.
func (s *Store) ReadFeed(ctx context.Context, name string, after uint64, limit int) ([]store.FeedRecord, uint64, error) {
	recs, size, _, err := s.ReadFeedView(ctx, name, after, limit)
	return recs, size, unavailable(err)
}

// readFeed reads a feed from pool in one repeatable-read transaction.
func readFeed(ctx context.Context, pool *pgxpool.Pool, name string, after uint64, limit int) ([]store.FeedRecord, uint64, error) {
	ptx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, fmt.Errorf("pgstore: %w", redact(err))
	}
	defer ptx.Rollback(ctx)
	t := &tx{tx: ptx, ro: true}
	size, err := t.size(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	if after >= size || limit <= 0 {
		return nil, size, nil
	}
	rows, err := ptx.Query(ctx, "SELECT seq, root, body FROM feed_entries WHERE feed = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		name, int64(after), min(int64(limit), int64(size-after)))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var recs []store.FeedRecord
	for rows.Next() {
		var r store.FeedRecord
		var seq int64
		if err := rows.Scan(&seq, &r.Root, &r.Body); err != nil {
			return nil, 0, err
		}
		r.Seq = uint64(seq)
		if r.Seq != after+uint64(len(recs))+1 {
			return nil, 0, fmt.Errorf("pgstore: feed %s is missing entry %d", name, after+uint64(len(recs))+1)
		}
		recs = append(recs, r)
	}
	return recs, size, rows.Err()
}

// FeedRoot implements store.Store.
func (s *Store) FeedRoot(ctx context.Context, name string, seq uint64) ([]byte, error) {
	if seq == 0 {
		return feed.Head{}.Root()
	}
	if s.read != nil {
		// Entries never change: any copy that has the entry has its root.
		if root, err := feedRoot(ctx, s.read, name, seq); err == nil {
			return root, nil
		}
	}
	return feedRoot(ctx, s.pool, name, seq)
}

func feedRoot(ctx context.Context, pool *pgxpool.Pool, name string, seq uint64) ([]byte, error) {
	var root []byte
	err := pool.QueryRow(ctx, "SELECT root FROM feed_entries WHERE feed = $1 AND seq = $2", name, int64(seq)).Scan(&root)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return root, err
}

type tx struct {
	tx      pgx.Tx
	ro      bool
	channel string
}

func (t *tx) getDoc(ctx context.Context, q string, id string, v any) error {
	var doc []byte
	err := t.tx.QueryRow(ctx, q, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, v)
}

func listDocs[T any](ctx context.Context, t *tx, q string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var x T
		if err := json.Unmarshal(doc, &x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func (t *tx) exec(ctx context.Context, q string, args ...any) error {
	if t.ro {
		return errors.New("pgstore: write in a read-only transaction")
	}
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}

func (t *tx) putDoc(ctx context.Context, q string, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.exec(ctx, q, id, b)
}

func (t *tx) Vendor(ctx context.Context, id string) (*store.Vendor, error) {
	var v store.Vendor
	return &v, t.getDoc(ctx, "SELECT doc FROM vendors WHERE id = $1", id, &v)
}

func (t *tx) PutVendor(ctx context.Context, v *store.Vendor) error {
	return t.putDoc(ctx, "INSERT INTO vendors (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", v.ID, v)
}

func (t *tx) Vendors(ctx context.Context) ([]store.Vendor, error) {
	return listDocs[store.Vendor](ctx, t, "SELECT doc FROM vendors ORDER BY id")
}

// listDevices runs a query selecting (doc, keys) of devices.
func (t *tx) listDevices(ctx context.Context, q string, args ...any) ([]store.Device, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		var doc, keys []byte
		if err := rows.Scan(&doc, &keys); err != nil {
			return nil, err
		}
		var d store.Device
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, err
		}
		if err := store.DecodeDeviceKeys(keys, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *tx) Device(ctx context.Context, serial string) (*store.Device, error) {
	ds, err := t.listDevices(ctx, "SELECT doc, keys FROM devices WHERE serial = $1", serial)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, store.ErrNotFound
	}
	return &ds[0], nil
}

// PutDevices upserts devices in one statement; a device never changes vendor.
func (t *tx) PutDevices(ctx context.Context, ds ...*store.Device) error {
	if len(ds) == 0 {
		return nil
	}
	serials, vendors, statuses := make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
	docs, keys := make([][]byte, len(ds)), make([][]byte, len(ds))
	for i, d := range ds {
		b, err := json.Marshal(store.WithoutKeys(d))
		if err != nil {
			return err
		}
		serials[i], vendors[i], statuses[i], docs[i], keys[i] = d.Serial, d.VendorID, d.Status, b, store.EncodeDeviceKeys(d)
	}
	if t.ro {
		return errors.New("pgstore: write in a read-only transaction")
	}
	// Key material is rewritten only when it changed (enrolment, rotation).
	tag, err := t.tx.Exec(ctx, `INSERT INTO devices (serial, vendor_id, status, doc, keys)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])
		ON CONFLICT (serial) DO UPDATE SET status = EXCLUDED.status, doc = EXCLUDED.doc,
			keys = CASE WHEN devices.keys = EXCLUDED.keys THEN devices.keys ELSE EXCLUDED.keys END
		WHERE devices.vendor_id = EXCLUDED.vendor_id`, serials, vendors, statuses, docs, keys)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(ds) {
		return errors.New("pgstore: a device cannot move to another vendor")
	}
	return nil
}

func (t *tx) DevicesBySerial(ctx context.Context, serials []string) (map[string]*store.Device, error) {
	ds, err := t.listDevices(ctx, "SELECT doc, keys FROM devices WHERE serial = ANY($1)", serials)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*store.Device, len(ds))
	for i := range ds {
		out[ds[i].Serial] = &ds[i]
	}
	return out, nil
}

func (t *tx) Devices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	return t.listDevices(ctx, `SELECT doc, keys FROM devices
		WHERE ($1 = '' OR vendor_id = $1) AND ($2 = '' OR status = $2) AND serial > $3
		ORDER BY serial LIMIT $4`, f.VendorID, f.Status, f.After, limit)
}

func (t *tx) Appliance(ctx context.Context, id string) (*store.Appliance, error) {
	var a store.Appliance
	return &a, t.getDoc(ctx, "SELECT doc FROM appliances WHERE id = $1", id, &a)
}

func (t *tx) PutAppliance(ctx context.Context, a *store.Appliance) error {
	return t.putDoc(ctx, "INSERT INTO appliances (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", a.ID, a)
}

func (t *tx) Appliances(ctx context.Context) ([]store.Appliance, error) {
	return listDocs[store.Appliance](ctx, t, "SELECT doc FROM appliances ORDER BY id")
}

func (t *tx) RelyingParty(ctx context.Context, id string) (*store.RelyingParty, error) {
	var r store.RelyingParty
	return &r, t.getDoc(ctx, "SELECT doc FROM relying_parties WHERE id = $1", id, &r)
}

func (t *tx) PutRelyingParty(ctx context.Context, r *store.RelyingParty) error {
	return t.putDoc(ctx, "INSERT INTO relying_parties (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", r.ID, r)
}

func (t *tx) Person(ctx context.Context, uin string) (*store.Person, error) {
	var p store.Person
	return &p, t.getDoc(ctx, "SELECT doc FROM people WHERE uin = $1", uin, &p)
}

func (t *tx) PutPerson(ctx context.Context, p *store.Person) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return t.exec(ctx, "INSERT INTO people (uin, grp, doc) VALUES ($1, $2, $3) ON CONFLICT (uin) DO UPDATE SET grp = EXCLUDED.grp, doc = EXCLUDED.doc", p.UIN, p.Group, b)
}

func (t *tx) People(ctx context.Context, group, after string, limit int) ([]store.Person, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return listDocs[store.Person](ctx, t, "SELECT doc FROM people WHERE grp = $1 AND uin > $2 ORDER BY uin LIMIT $3", group, after, limit)
}

func (t *tx) VID(ctx context.Context, number string) (*store.VID, error) {
	var v store.VID
	return &v, t.getDoc(ctx, "SELECT doc FROM vids WHERE number = $1", number, &v)
}

func (t *tx) PutVID(ctx context.Context, v *store.VID) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// expiring is set only for active VIDs that expire: the sweep's index.
	var expiring *time.Time
	if v.Status == "active" && !v.ExpiresAt.IsZero() {
		e := v.ExpiresAt.UTC()
		expiring = &e
	}
	return t.exec(ctx, "INSERT INTO vids (number, uin, doc, expiring) VALUES ($1, $2, $3, $4) ON CONFLICT (number) DO UPDATE SET doc = EXCLUDED.doc, expiring = EXCLUDED.expiring", v.Number, v.UIN, b, expiring)
}

func (t *tx) ExpiringVIDs(ctx context.Context, before time.Time, limit int) ([]store.VID, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return listDocs[store.VID](ctx, t, "SELECT doc FROM vids WHERE expiring IS NOT NULL AND expiring < $1 ORDER BY expiring LIMIT $2", before.UTC(), limit)
}

func (t *tx) VIDsOf(ctx context.Context, uin string) ([]store.VID, error) {
	return listDocs[store.VID](ctx, t, "SELECT doc FROM vids WHERE uin = $1 ORDER BY number", uin)
}

func (t *tx) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	return listDocs[store.RelyingParty](ctx, t, "SELECT doc FROM relying_parties ORDER BY id")
}

func (t *tx) Token(ctx context.Context, id string) (*store.Token, error) {
	var k store.Token
	return &k, t.getDoc(ctx, "SELECT doc FROM tokens WHERE id = $1", id, &k)
}

func (t *tx) PutToken(ctx context.Context, k *store.Token) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return t.exec(ctx, `INSERT INTO tokens (id, kind, revoked, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET revoked = EXCLUDED.revoked, doc = EXCLUDED.doc`, k.ID, k.Kind, k.Revoked, b)
}

func (t *tx) CountTokens(ctx context.Context, kind string) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, "SELECT count(*) FROM tokens WHERE kind = $1 AND NOT revoked", kind).Scan(&n)
	return n, err
}

func (t *tx) ConsoleAdmin(ctx context.Context, id string) (*store.ConsoleAdmin, error) {
	var a store.ConsoleAdmin
	return &a, t.getDoc(ctx, "SELECT doc FROM console_admins WHERE id = $1", id, &a)
}

func (t *tx) PutConsoleAdmin(ctx context.Context, a *store.ConsoleAdmin) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return t.exec(ctx, "INSERT INTO console_admins (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc", a.ID, b)
}

func (t *tx) ConsoleAdmins(ctx context.Context) ([]store.ConsoleAdmin, error) {
	return listDocs[store.ConsoleAdmin](ctx, t, "SELECT doc FROM console_admins ORDER BY id")
}

func (t *tx) PutFeedPositions(ctx context.Context, ps []store.FeedPosition) error {
	if len(ps) == 0 {
		return nil
	}
	ids, afters, seens := make([]string, len(ps)), make([]int64, len(ps)), make([]time.Time, len(ps))
	for i, p := range ps {
		ids[i], afters[i], seens[i] = p.Appliance, int64(p.After), p.Seen.UTC()
	}
	// One statement for the batch; DISTINCT ON keeps one row per appliance
	// (ON CONFLICT may not touch a row twice), the newest.
	return t.exec(ctx, `INSERT INTO feed_positions (appliance, after, seen)
		SELECT DISTINCT ON (a) a, f, s FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(a, f, s) ORDER BY a, s DESC
		ON CONFLICT (appliance) DO UPDATE SET after = EXCLUDED.after, seen = EXCLUDED.seen WHERE feed_positions.seen < EXCLUDED.seen`,
		ids, afters, seens)
}

func (t *tx) FeedPositions(ctx context.Context) ([]store.FeedPosition, error) {
	rows, err := t.tx.Query(ctx, "SELECT appliance, after, seen FROM feed_positions ORDER BY appliance")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FeedPosition
	for rows.Next() {
		var p store.FeedPosition
		var after int64
		if err := rows.Scan(&p.Appliance, &after, &p.Seen); err != nil {
			return nil, err
		}
		p.After, p.Seen = uint64(after), p.Seen.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) ConsoleSession(ctx context.Context, id string) (*store.ConsoleSession, error) {
	var s store.ConsoleSession
	return &s, t.getDoc(ctx, "SELECT doc FROM console_sessions WHERE id = $1", id, &s)
}

func (t *tx) PutConsoleSession(ctx context.Context, s *store.ConsoleSession) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return t.exec(ctx, `INSERT INTO console_sessions (id, expires, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET expires = EXCLUDED.expires, doc = EXCLUDED.doc`, s.ID, s.Expires, b)
}

func (t *tx) DeleteConsoleSession(ctx context.Context, id string) error {
	if t.ro {
		return errors.New("pgstore: write in a read-only transaction")
	}
	tag, err := t.tx.Exec(ctx, "DELETE FROM console_sessions WHERE id = $1", id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error) {
	if t.ro {
		return 0, errors.New("pgstore: write in a read-only transaction")
	}
	tag, err := t.tx.Exec(ctx, "DELETE FROM console_sessions WHERE expires < $1", now)
	return int(tag.RowsAffected()), err
}

func (t *tx) Session(ctx context.Context, id string) (*store.Session, error) {
	var s store.Session
	return &s, t.getDoc(ctx, "SELECT doc FROM sessions WHERE id = $1", id, &s)
}

func (t *tx) PutSession(ctx context.Context, s *store.Session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return t.exec(ctx, `INSERT INTO sessions (id, expires, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET expires = EXCLUDED.expires, doc = EXCLUDED.doc`, s.ID, s.Expires, b)
}

func (t *tx) DeleteSession(ctx context.Context, id string) error {
	if t.ro {
		return errors.New("pgstore: write in a read-only transaction")
	}
	tag, err := t.tx.Exec(ctx, "DELETE FROM sessions WHERE id = $1", id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	if t.ro {
		return 0, errors.New("pgstore: write in a read-only transaction")
	}
	tag, err := t.tx.Exec(ctx, "DELETE FROM sessions WHERE expires < $1", now)
	return int(tag.RowsAffected()), err
}

func (t *tx) AuditHead(ctx context.Context) (uint64, []byte, error) {
	var seq int64
	var hash []byte
	q := "SELECT seq, hash FROM audit_head WHERE id = 1"
	if !t.ro {
		q += " FOR UPDATE"
	}
	err := t.tx.QueryRow(ctx, q).Scan(&seq, &hash)
	return uint64(seq), hash, err
}

func (t *tx) InsertAudit(ctx context.Context, es []*store.AuditEvent) error {
	if len(es) == 0 {
		return nil
	}
	seq, _, err := t.AuditHead(ctx)
	if err != nil {
		return err
	}
	seqs, subjects, docs := make([]int64, len(es)), make([]string, len(es)), make([][]byte, len(es))
	for i, e := range es {
		if e.Seq != seq+uint64(i)+1 {
			return fmt.Errorf("pgstore: audit row %d does not follow %d", e.Seq, seq+uint64(i))
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		seqs[i], subjects[i], docs[i] = int64(e.Seq), e.Subject, b
	}
	if err := t.exec(ctx, "INSERT INTO audit (seq, subject, doc) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])",
		seqs, subjects, docs); err != nil {
		return err
	}
	last := es[len(es)-1]
	return t.exec(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", int64(last.Seq), last.Hash)
}

func (t *tx) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	if f.Subject != "" {
		return listDocs[store.AuditEvent](ctx, t, "SELECT doc FROM audit WHERE subject = $1 AND seq > $2 ORDER BY seq LIMIT $3",
			f.Subject, int64(f.After), limit)
	}
	return listDocs[store.AuditEvent](ctx, t, "SELECT doc FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", int64(f.After), limit)
}

func (t *tx) size(ctx context.Context, name string) (uint64, error) {
	var n int64
	err := t.tx.QueryRow(ctx, "SELECT size FROM feed_heads WHERE feed = $1", name).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(n), err
}

// FeedHead locks the feed's head row (creating it) until the transaction ends.
func (t *tx) FeedHead(ctx context.Context, name string) (feed.Head, error) {
	if t.ro {
		return feed.Head{}, errors.New("pgstore: FeedHead locks; use it in Update")
	}
	if err := t.exec(ctx, `INSERT INTO feed_heads (feed, size, head) VALUES ($1, 0, '{"size":0,"hashes":null}') ON CONFLICT DO NOTHING`, name); err != nil {
		return feed.Head{}, err
	}
	var b []byte
	if err := t.tx.QueryRow(ctx, "SELECT head FROM feed_heads WHERE feed = $1 FOR UPDATE", name).Scan(&b); err != nil {
		return feed.Head{}, err
	}
	var h feed.Head
	return h, json.Unmarshal(b, &h)
}

func (t *tx) PutFeed(ctx context.Context, name string, recs []store.FeedRecord, h feed.Head) error {
	old, err := t.FeedHead(ctx, name)
	if err != nil {
		return err
	}
	if h.Size != old.Size+uint64(len(recs)) {
		return fmt.Errorf("pgstore: feed %s head %d does not follow %d + %d entries", name, h.Size, old.Size, len(recs))
	}
	if len(recs) > 0 {
		seqs := make([]int64, len(recs))
		roots := make([][]byte, len(recs))
		bodies := make([][]byte, len(recs))
		for i, r := range recs {
			if r.Seq != old.Size+uint64(i)+1 || len(r.Root) != 32 {
				return fmt.Errorf("pgstore: feed %s entry %d is out of order", name, r.Seq)
			}
			seqs[i], roots[i], bodies[i] = int64(r.Seq), r.Root, r.Body
		}
		if err := t.exec(ctx, `INSERT INTO feed_entries (feed, seq, root, body)
			SELECT $1, s, r, b FROM unnest($2::bigint[], $3::bytea[], $4::bytea[]) AS u(s, r, b)`, name, seqs, roots, bodies); err != nil {
			return err
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := t.exec(ctx, "UPDATE feed_heads SET size = $2, head = $3 WHERE feed = $1", name, int64(h.Size), hb); err != nil {
		return err
	}
	// The payload, "<size> <feed>", tells every replica the new size: what
	// bounds a streaming replica's staleness (heads).
	return t.exec(ctx, "SELECT pg_notify($1, $2)", t.channel, strconv.FormatUint(h.Size, 10)+" "+name)
}
