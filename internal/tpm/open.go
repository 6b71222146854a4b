package tpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// TPM is an open TPM. It is safe for concurrent use.
//
// Keys are not kept loaded: a TPM has room for only a few objects (three on
// the reference simulator), so each operation loads what it needs under the
// storage root key and flushes it afterwards, all under one lock.
type TPM struct {
	url   string
	c     *conn
	close func() error

	mu     sync.Mutex
	closed bool
}

// conn is one connection to a TPM, shared by every *TPM opened on it.
type conn struct {
	*retryTransport
	// Guarded by retryTransport.mu:
	srk       *tpm2.CreatePrimaryResponse
	hot       *Key // the key left loaded after its last use, if any
	hotHandle tpm2.TPMHandle
	cost      string // the cost model's name, "" for none
}

// newConn wraps tr in the cost model o names, if any, and the retrying,
// serialising transport every TPM gets.
func newConn(tr transport.TPM, o costOptions) *conn {
	if o.profile == "" {
		return &conn{retryTransport: newRetryTransport(tr)}
	}
	ct := newCostTransport(tr, o)
	rt := newRetryTransport(ct)
	ct.ctx = func() context.Context { return rt.ctx } // read under rt.mu, held by Send
	return &conn{retryTransport: rt, cost: o.String()}
}

// evictLocked unloads the hot key, freeing its object slot.
func (c *conn) evictLocked(tp transport.TPM) {
	if c.hot == nil {
		return
	}
	tpm2.FlushContext{FlushHandle: c.hotHandle}.Execute(tp)
	c.hot, c.hotHandle = nil, 0
}

// The go-tpm-tools simulator is a process-wide singleton. Every Open("sim")
// shares one instance (and one command lock) until the last user closes it.
var shared struct {
	mu   sync.Mutex
	sim  *simulator.Simulator
	c    *conn
	seed string
	cost string // the raw cost options, which every user must share
	refs int
}

// Open opens the TPM named by rawURL:
//
//	sim               the in-process simulator with a random seed (tests, --dev)
//	sim?seed=N        the simulator with a fixed seed, so primary keys (and
//	                  key blobs saved under them) survive a process restart;
//	                  insecure, for development only
//	swtpm://HOST:PORT Debian's swtpm over TCP (data port; start swtpm with
//	                  --flags not-need-init,startup-clear)
//	...?cost=discrete the simulator or swtpm made as slow as a discrete
//	                  chip, for benchmarks (see cost.go; costscale, costseed)
//	/dev/tpmrm0       a kernel TPM device (the resource manager is preferred)
//
// Stale transient objects and sessions are flushed when a swtpm or device
// TPM is opened, so a crashed earlier run does not exhaust TPM memory.
func Open(ctx context.Context, rawURL string) (*TPM, error) {
	rawURL = withCostEnv(rawURL)
	switch {
	case rawURL == "sim" || strings.HasPrefix(rawURL, "sim?"):
		return openSim(rawURL)
	case strings.HasPrefix(rawURL, "swtpm://"):
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("tpm: %q is not a swtpm URL; want swtpm://127.0.0.1:2321", rawURL)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("tpm: %q needs a port, e.g. swtpm://127.0.0.1:2321", rawURL)
		}
		cost, err := parseCost(u.Query())
		if err != nil {
			return nil, err
		}
		tcp, err := dialTCP(ctx, u.Host)
		if err != nil {
			return nil, fmt.Errorf("tpm: cannot reach swtpm at %s: %w (is swtpm running with --server type=tcp,port=...?)", u.Host, err)
		}
		return finishOpen(ctx, rawURL, tcp, tcp.Close, cost)
	case strings.HasPrefix(rawURL, "/"):
		dev, err := linuxtpm.Open(rawURL)
		if err != nil {
			return nil, fmt.Errorf("tpm: cannot open %s: %w (does this user have access? try the tss group)", rawURL, err)
		}
		return finishOpen(ctx, rawURL, dev, dev.Close, costOptions{})
	default:
		return nil, fmt.Errorf("tpm: unknown TPM %q; use sim, swtpm://HOST:PORT or a device path such as /dev/tpmrm0", rawURL)
	}
}

func finishOpen(ctx context.Context, name string, tr transport.TPM, closer func() error, cost costOptions) (*TPM, error) {
	c := newConn(tr, cost)
	t := &TPM{url: name, c: c}
	t.close = func() error { return errors.Join(c.flushSRK(), closer()) }
	if err := t.flushStale(ctx); err != nil {
		closer()
		return nil, err
	}
	return t, nil
}

func openSim(rawURL string) (*TPM, error) {
	seed, rawCost := "", ""
	var cost costOptions
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		q, err := url.ParseQuery(rawURL[i+1:])
		if err != nil {
			return nil, fmt.Errorf("tpm: bad simulator options in %q: %w", rawURL, err)
		}
		if cost, err = parseCost(q, "seed"); err != nil {
			return nil, err
		}
		if q.Has("seed") {
			seed = q.Get("seed")
			if _, err := strconv.ParseInt(seed, 10, 64); err != nil {
				return nil, fmt.Errorf("tpm: simulator seed %q is not an integer", seed)
			}
		}
		q.Del("seed")
		rawCost = q.Encode()
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.refs > 0 && shared.seed != seed {
		return nil, fmt.Errorf("tpm: the simulator is already running with another seed; one simulator per process")
	}
	if shared.refs > 0 && shared.cost != rawCost {
		return nil, fmt.Errorf("tpm: the simulator is already running with other cost options; one simulator per process")
	}
	if shared.refs == 0 {
		var s *simulator.Simulator
		var err error
		if seed == "" {
			s, err = simulator.Get()
		} else {
			n, _ := strconv.ParseInt(seed, 10, 64)
			s, err = simulator.GetWithFixedSeedInsecure(n)
		}
		if err != nil {
			return nil, fmt.Errorf("tpm: starting simulator: %w", err)
		}
		shared.sim, shared.seed, shared.cost = s, seed, rawCost
		shared.c = newConn(rwTransport{rw: s}, cost)
	}
	shared.refs++
	return &TPM{url: rawURL, c: shared.c, close: releaseSim}, nil
}

func releaseSim() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.refs--
	if shared.refs > 0 {
		return nil
	}
	err := errors.Join(shared.c.flushSRK(), shared.sim.Close())
	shared.sim, shared.c = nil, nil
	return err
}

// Cost names the cost model the TPM was opened with ("" for none): a
// benchmark's report says which TPM it measured.
func (t *TPM) Cost() string { return t.c.cost }

// URL returns the URL the TPM was opened with.
func (t *TPM) URL() string { return t.url }

// Close releases the TPM. Keys obtained from it must not be used afterwards.
func (t *TPM) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	return t.close()
}

// ErrClosed is returned for operations on a closed TPM.
var ErrClosed = errors.New("tpm: closed")

// do runs f with the command lock held, bounded by ctx.
func (t *TPM) do(ctx context.Context, f func(tp transport.TPM) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctx = ctx
	defer func() { c.ctx = nil }()
	return f(c.retryTransport)
}

// srkLocked returns the storage root key, an ECC P-256 primary under the
// owner hierarchy, creating it on first use. Primaries are derived from the
// hierarchy seed, so the same SRK comes back after every restart and old
// blobs load under it. The caller holds the command lock.
func (c *conn) srkLocked(tp transport.TPM) (*tpm2.CreatePrimaryResponse, error) {
	if c.srk != nil {
		return c.srk, nil
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(tp)
	if err != nil {
		return nil, fmt.Errorf("creating storage root key (is the owner hierarchy password empty?): %w", err)
	}
	c.srk = rsp
	return rsp, nil
}

func (c *conn) flushSRK() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked(c.retryTransport)
	if c.srk == nil {
		return nil
	}
	_, err := tpm2.FlushContext{FlushHandle: c.srk.ObjectHandle}.Execute(c.retryTransport)
	c.srk = nil
	return err
}

// flushStale flushes transient objects and sessions left by earlier runs.
func (t *TPM) flushStale(ctx context.Context) error {
	return wrap("flushing stale handles", t.do(ctx, func(tp transport.TPM) error {
		for _, first := range []uint32{0x80000000, 0x02000000, 0x03000000} {
			rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: first, PropertyCount: 64}.Execute(tp)
			if err != nil {
				return err
			}
			hs, err := rsp.CapabilityData.Data.Handles()
			if err != nil {
				return err
			}
			for _, h := range hs.Handle {
				if uint32(h)&0xff000000 != first&0xff000000 {
					continue
				}
				if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(tp); err != nil {
					return fmt.Errorf("handle 0x%08x: %w", uint32(h), err)
				}
			}
		}
		return nil
	}))
}

var _ io.Closer = (*TPM)(nil)
