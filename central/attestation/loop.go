package attestation

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/central/store"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// current is the verifier the metrics describe (the last one made).
var current atomic.Pointer[Verifier]

var (
	mVerdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_central_attest_verdicts_total",
		Help: "Attestation evidence by result: attested, a failure reason, or unverified (refused without a verdict).",
	}, []string{"result"})
	mQuarantines = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_central_attest_quarantines_total", Help: "Nodes quarantined by the attestation verifier.",
	})
	mHorizons = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_central_attest_horizons_published_total",
		Help: "Device attestedUntil horizons published on the trust feed (one per device per policy step, decision 0018).",
	})
	mRounds = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_central_attest_rounds_total", Help: "Attestation rounds completed.",
	})
	mRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_central_attest_loop_restarts_total", Help: "Times the attestation loop crashed and was restarted.",
	})
	mNodes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgetrust_central_attest_nodes", Help: "Nodes by attestation state at the last round.",
	}, []string{"state"})
)

// Metrics are the verifier's Prometheus collectors, for central's registry.
// edgetrust_central_attest_loop_up and _last_round_timestamp_seconds are
// computed when scraped, so a dead loop cannot leave them looking healthy.
func Metrics() []prometheus.Collector {
	up := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "edgetrust_central_attest_loop_up",
		Help: "1 when an attestation round completed within 1.5 intervals, else 0 (the loop is dead or stuck).",
	}, func() float64 {
		if v := current.Load(); v != nil && v.Health().Healthy {
			return 1
		}
		return 0
	})
	last := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "edgetrust_central_attest_last_round_timestamp_seconds", Help: "When the last attestation round completed (Unix time).",
	}, func() float64 {
		if v := current.Load(); v != nil {
			if t := v.Health().LastRound; !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
		}
		return 0
	})
	return []prometheus.Collector{mVerdicts, mQuarantines, mRounds, mRestarts, mNodes, up, last, mHorizons}
}

// Health is the attestation loop's liveness: of the rounds across every
// replica (the shared round record) and of this replica's own loop.
type Health struct {
	Healthy bool `json:"healthy"`
	// Running: this replica's loop is running.
	Running bool `json:"running"`
	// LastRound is when a round last completed on any replica; Rounds
	// counts them; Holder is the replica that claimed the latest round.
	LastRound time.Time `json:"lastRound"`
	Rounds    uint64    `json:"rounds"`
	Holder    string    `json:"holder,omitempty"`
	// LastTick is when this replica's loop last ran or declined a round.
	LastTick time.Time `json:"lastTick"`
	Restarts uint64    `json:"restarts"`
	Interval string    `json:"interval"`
	Message  string    `json:"message,omitempty"`
}

// Health says whether rounds are happening: healthy when this replica's
// loop ticked and some replica completed a round within 1.5 intervals.
func (v *Verifier) Health() Health {
	now := v.now()
	h := Health{Running: v.running.Load(), LastTick: time.Unix(0, v.lastTick.Load()).UTC(), Restarts: v.restarts.Load(), Interval: v.interval.String()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := v.st.AttestRound(ctx)
	h.LastRound, h.Rounds, h.Holder = r.Finished, r.Rounds, r.Holder
	limit := v.interval + v.interval/2
	switch {
	case err != nil:
		h.Message = "cannot read the attestation round record from the store: " + err.Error()
	case !h.Running:
		h.Message = "this replica's attestation loop is not running"
	case now.Sub(h.LastTick) > limit:
		h.Message = fmt.Sprintf("this replica's attestation loop has not ticked since %s: it is stuck", h.LastTick.Format(time.RFC3339))
	case r.Finished.IsZero() || now.Sub(r.Finished) > limit:
		h.Message = fmt.Sprintf("no attestation round completed on any replica since %s: nodes are not being attested and will go stale", h.LastRound.Format(time.RFC3339))
	default:
		h.Healthy = true
	}
	return h
}

// Run runs the loop until stop is closed: every half interval it claims
// the next round in the store, which succeeds on one replica once per
// interval, and runs it. A panicking round is recovered, counted and the
// loop restarted after a second.
func (v *Verifier) Run(stop <-chan struct{}) {
	v.running.Store(true)
	defer v.running.Store(false)
	for {
		if v.supervised(stop) {
			return
		}
		v.restarts.Add(1)
		mRestarts.Inc()
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// supervised runs the loop; it returns true when stopped, false on a panic.
func (v *Verifier) supervised(stop <-chan struct{}) (stopped bool) {
	defer func() {
		if r := recover(); r != nil {
			v.log.Error("attestation loop crashed; restarting", "panic", fmt.Sprint(r))
			stopped = false
		}
	}()
	t := time.NewTicker(v.interval / 2)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), v.interval)
		_, err := v.Tick(ctx)
		cancel()
		if err != nil {
			v.log.Error("attestation round failed", "err", err)
		}
		select {
		case <-stop:
			return true
		case <-t.C:
		}
	}
}

// roundGap is how long after a round's claim no replica claims another:
// 0.9 of an interval, so a replica ticking every half interval runs the
// next round about one interval after the last, whoever ran that.
func (v *Verifier) roundGap() time.Duration { return v.interval - v.interval/10 }

// Tick claims the next round and runs it if this replica won the claim
// (another replica did not start one within the last 0.9 interval). It
// reports whether it ran a round.
func (v *Verifier) Tick(ctx context.Context) (bool, error) {
	won, err := v.st.ClaimAttestRound(ctx, v.holder, v.now(), v.roundGap())
	v.lastTick.Store(v.now().UnixNano())
	if err != nil || !won {
		return false, err
	}
	return true, v.round(ctx)
}

// Round runs a round now, whatever other replicas did (tests, and an
// operator's forced round): it asks every enrolled, unrevoked node for a
// fresh quote and quarantines the stale ones whose policy says so.
func (v *Verifier) Round(ctx context.Context) error {
	if _, err := v.st.ClaimAttestRound(ctx, v.holder, v.now(), 0); err != nil {
		return err
	}
	return v.round(ctx)
}

func (v *Verifier) round(ctx context.Context) error {
	if v.cfg.RoundHook != nil {
		v.cfg.RoundHook()
	}
	type nodeRec struct {
		n      attest.Node
		scope  string
		status string
	}
	var nodes []nodeRec
	err := v.st.View(ctx, func(tx store.Tx) error {
		after := ""
		for {
			ds, err := tx.Devices(ctx, store.DeviceFilter{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, d := range ds {
				if d.Status != trustfeed.Revoked {
					nodes = append(nodes, nodeRec{attest.Node{Kind: attest.KindDevice, ID: d.Serial}, d.VendorID, d.Status})
				}
			}
			if len(ds) < 1000 {
				break
			}
			after = ds[len(ds)-1].Serial
		}
		as, err := tx.Appliances(ctx)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Status != trustfeed.Revoked {
				nodes = append(nodes, nodeRec{attest.Node{Kind: attest.KindAppliance, ID: a.ID}, ApplianceScope, a.Status})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	counts := map[string]float64{}
	var stale []attest.Node
	now := v.now()
	for len(nodes) > 0 {
		batch := nodes[:min(len(nodes), 1000)]
		nodes = nodes[len(batch):]
		keys := make([]string, len(batch))
		for i, r := range batch {
			keys[i] = nodeKey(r.n)
		}
		states, err := v.st.AttestNodes(ctx, keys)
		if err != nil {
			return err
		}
		var fresh []*store.AttestNode
		for _, r := range batch {
			p, err := v.Policy(ctx, r.scope)
			if err != nil {
				return err
			}
			s := states[nodeKey(r.n)]
			if s == nil {
				s = newState(r.n, now)
				fresh = append(fresh, s)
			}
			ns := v.view(r.n, s, p, now)
			counts[ns.State]++
			if ns.State == attest.Stale && p.OnStale == OnStaleQuarantine && r.status == trustfeed.Active {
				stale = append(stale, r.n)
			}
		}
		// A node seen for the first time starts its stale clock now, on
		// every replica.
		if err := v.st.InitAttestNodes(ctx, fresh); err != nil {
			return err
		}
	}
	for _, n := range stale {
		if err := v.quarantine(ctx, n, QuarantineStale+": no good quote within the policy's window"); err != nil {
			return err
		}
	}
	for _, st := range []string{attest.Attested, attest.Failed, attest.Stale, attest.Pending} {
		mNodes.WithLabelValues(st).Set(counts[st])
	}
	if err := v.st.FinishAttestRound(ctx, v.now()); err != nil {
		return err
	}
	mRounds.Inc()
	return nil
}

// List returns the status of every enrolled, unrevoked node (devices in
// serial order, up to limit, then appliances when the devices are
// exhausted).
func (v *Verifier) List(ctx context.Context, kind string, limit int) ([]NodeStatus, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var nodes []attest.Node
	scopes := map[attest.Node]string{}
	err := v.st.View(ctx, func(tx store.Tx) error {
		if kind == "" || kind == attest.KindDevice {
			ds, err := tx.Devices(ctx, store.DeviceFilter{Limit: limit})
			if err != nil {
				return err
			}
			for _, d := range ds {
				if d.Status != trustfeed.Revoked {
					n := attest.Node{Kind: attest.KindDevice, ID: d.Serial}
					nodes, scopes[n] = append(nodes, n), d.VendorID
				}
			}
		}
		if kind == "" || kind == attest.KindAppliance {
			as, err := tx.Appliances(ctx)
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.Status != trustfeed.Revoked && len(nodes) < limit {
					n := attest.Node{Kind: attest.KindAppliance, ID: a.ID}
					nodes, scopes[n] = append(nodes, n), ApplianceScope
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(nodes))
	for i, n := range nodes {
		keys[i] = nodeKey(n)
	}
	states, err := v.st.AttestNodes(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]NodeStatus, 0, len(nodes))
	now := v.now()
	for _, n := range nodes {
		p, err := v.Policy(ctx, scopes[n])
		if err != nil {
			return nil, err
		}
		s := states[nodeKey(n)]
		if s == nil {
			s = newState(n, now)
		}
		out = append(out, v.view(n, s, p, now))
	}
	return out, nil
}
