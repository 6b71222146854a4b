package feedtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgetrust/edgetrust/internal/feed"
)

// Fault is a way the server can misbehave.
type Fault int

// Faults.
const (
	None         Fault = iota
	BadSignature       // flip a bit of every checkpoint signature
	UnknownKey         // sign checkpoints with a key the follower does not trust
	OldTime            // sign checkpoints an hour before the clock
	FutureTime         // sign checkpoints a day after the clock
)

// Request is one request the server answered.
type Request struct {
	After   uint64
	Wait    time.Duration
	Entries int
}

// Server is a test feed server.
type Server struct {
	Origin   string
	MaxBatch int // entries per batch (default 1000)

	priv  ed25519.PrivateKey
	other ed25519.PrivateKey

	mu       sync.Mutex
	raw      [][]byte
	roots    [][]byte // roots[i] is the root of the first i+1 entries
	head     feed.Head
	changed  chan struct{}
	clock    func() time.Time
	fault    Fault
	requests []Request
	ln       net.Listener
	addr     string
	srv      *http.Server
	waiting  atomic.Int32
	others   sync.Map // feed name → *Server answered on this address too
}

// Also makes this server answer other's feed too (its own keys and
// state), as central serves several feeds at one address.
func (s *Server) Also(other *Server) { s.others.Store(other.Origin, other) }

// Waiting is the number of requests being held (long polls in progress).
func (s *Server) Waiting() int { return int(s.waiting.Load()) }

// New starts a server for the feed origin on 127.0.0.1.
func New(origin string) (*Server, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	s := &Server{Origin: origin, MaxBatch: 1000, priv: priv, other: other,
		changed: make(chan struct{}), clock: time.Now}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
}

// URL is the base URL to give a follower.
func (s *Server) URL() string { return "http://" + s.addr }

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Down stops listening (connections are refused), as when central is down.
func (s *Server) Down() { s.Close() }

// Up listens again on the same address.
func (s *Server) Up() error {
	var ln net.Listener
	var err error
	for range 50 { // the port can take a moment to be free again
		if ln, err = net.Listen("tcp4", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serve(ln)
	return nil
}

// PublicKey is the feed key followers trust.
func (s *Server) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Keys is the follower's trusted key map.
func (s *Server) Keys() map[string]ed25519.PublicKey {
	pub := s.PublicKey()
	return map[string]ed25519.PublicKey{feed.KeyID(pub): pub}
}

// PublicKeyPEM is the feed key as a PKIX PEM block, the form central
// publishes it in.
func (s *Server) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(s.PublicKey())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// SetClock sets the clock used for entry and checkpoint times.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// SetFault makes the server misbehave (None to stop).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Size is the number of entries.
func (s *Server) Size() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.raw))
}

// Entries returns the entries' canonical bytes.
func (s *Server) Entries() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.raw...)
}

// Append adds entries of one kind (data values are JSON-encoded) and wakes
// waiting requests. It returns the new size.
func (s *Server) Append(kind string, data ...any) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range data {
		b, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		e := feed.Entry{Seq: uint64(len(s.raw) + 1), Time: s.clock().Truncate(time.Second), Kind: kind, Data: b}
		raw, err := e.Encode()
		if err != nil {
			return 0, err
		}
		h, roots, err := s.head.Append(feed.LeafHash(raw))
		if err != nil {
			return 0, err
		}
		s.head, s.raw, s.roots = h, append(s.raw, raw), append(s.roots, roots[0])
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return uint64(len(s.raw)), nil
}

// AppendRaw adds entries given as canonical bytes (e.g. ones saved from
// Entries before a Truncate).
func (s *Server) AppendRaw(raw ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range raw {
		h, roots, err := s.head.Append(feed.LeafHash(r))
		if err != nil {
			return err
		}
		s.head, s.raw, s.roots = h, append(s.raw, r), append(s.roots, roots[0])
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// Rewrite replaces the data of entry seq and recomputes the tree: history
// rewritten, as a fork or tampered storage at central would look.
func (s *Server) Rewrite(seq uint64, data any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq == 0 || seq > uint64(len(s.raw)) {
		return errors.New("feedtest: no such entry")
	}
	e, err := feed.DecodeEntry(s.raw[seq-1])
	if err != nil {
		return err
	}
	if e.Data, err = json.Marshal(data); err != nil {
		return err
	}
	if s.raw[seq-1], err = e.Encode(); err != nil {
		return err
	}
	s.rebuild()
	return nil
}

// Truncate drops the entries after n: central restored from an old backup.
func (s *Server) Truncate(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = s.raw[:min(n, uint64(len(s.raw)))]
	s.rebuild()
}

func (s *Server) rebuild() {
	s.head, s.roots = feed.Head{}, nil
	for _, r := range s.raw {
		h, roots, _ := s.head.Append(feed.LeafHash(r))
		s.head, s.roots = h, append(s.roots, roots[0])
	}
}

func (s *Server) root(size int) []byte {
	if size == 0 {
		r, _ := feed.Head{}.Root()
		return r
	}
	return s.roots[size-1]
}

// batch cuts a batch after `after`; s.mu is held.
func (s *Server) batch(after uint64) (*feed.Batch, error) {
	size := uint64(len(s.raw))
	end := size
	var entries [][]byte
	if after < size {
		end = min(size, after+uint64(max(s.MaxBatch, 1)))
		entries = s.raw[after:end]
	}
	t := s.clock()
	key := s.priv
	switch s.fault {
	case UnknownKey:
		key = s.other
	case OldTime:
		t = t.Add(-time.Hour)
	case FutureTime:
		t = t.Add(24 * time.Hour)
	}
	sc, err := feed.Sign(key, feed.Checkpoint{Origin: s.Origin, Size: end, Root: s.root(int(end)), Time: t})
	if err != nil {
		return nil, err
	}
	if s.fault == BadSignature {
		sc.Signature[3] ^= 0x10
	}
	if entries == nil {
		entries = [][]byte{}
	}
	return &feed.Batch{Feed: s.Origin, After: after, Entries: entries, Checkpoint: sc, Latest: size}, nil
}

// ServeHTTP implements the feed endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/feeds/")
	if r.Method != http.MethodGet || !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if o, ok := s.others.Load(name); ok && name != s.Origin {
		o.(*Server).ServeHTTP(w, r)
		return
	}
	if name != s.Origin {
		http.Error(w, fmt.Sprintf("no feed %q", name), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil && q.Get("after") != "" {
		http.Error(w, "after: want a sequence number", http.StatusBadRequest)
		return
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			http.Error(w, "wait: want a duration such as 30s", http.StatusBadRequest)
			return
		}
	}
	wait = min(wait, 60*time.Second)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if after < uint64(len(s.raw)) || after > uint64(len(s.raw)) {
			break
		}
		ch := s.changed
		s.mu.Unlock()
		s.waiting.Add(1)
		select {
		case <-ch:
			s.waiting.Add(-1)
			continue
		case <-deadline.C:
			s.waiting.Add(-1)
		case <-r.Context().Done():
			s.waiting.Add(-1)
			return
		}
		s.mu.Lock()
		break
	}
	b, err := s.batch(after)
	if err == nil {
		s.requests = append(s.requests, Request{After: after, Wait: wait, Entries: len(b.Entries)})
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(b)
}
