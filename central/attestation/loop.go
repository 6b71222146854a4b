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
			return float64(v.lastRound.Load()) / 1e9
		}
		return 0
	})
	return []prometheus.Collector{mVerdicts, mQuarantines, mRounds, mRestarts, mNodes, up, last}
}

// Health is the loop's liveness.
type Health struct {
	Healthy   bool      `json:"healthy"`
	Running   bool      `json:"running"`
	LastRound time.Time `json:"lastRound"`
	Rounds    uint64    `json:"rounds"`
	Restarts  uint64    `json:"restarts"`
	Interval  string    `json:"interval"`
	Message   string    `json:"message,omitempty"`
}

// Health says whether rounds are happening: healthy when one completed
// within 1.5 intervals.
func (v *Verifier) Health() Health {
	last := time.Unix(0, v.lastRound.Load())
	h := Health{Running: v.running.Load(), LastRound: last.UTC(), Rounds: v.rounds.Load(), Restarts: v.restarts.Load(), Interval: v.interval.String()}
	h.Healthy = h.Running && v.now().Sub(last) <= v.interval+v.interval/2
	if !h.Healthy {
		h.Message = fmt.Sprintf("no attestation round completed since %s: nodes are not being attested and will go stale", h.LastRound.Format(time.RFC3339))
	}
	return h
}

// Run runs rounds every interval until stop is closed. A panicking round is
// recovered, counted and the loop restarted after a second.
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
	t := time.NewTicker(v.interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), v.interval)
		err := v.Round(ctx)
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

// Round asks every enrolled, unrevoked node for a fresh quote and
// quarantines the stale ones whose policy says so. It is what the loop
// runs; tests call it directly.
func (v *Verifier) Round(ctx context.Context) error {
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
	for _, r := range nodes {
		p, err := v.Policy(ctx, r.scope)
		if err != nil {
			return err
		}
		v.mu.Lock()
		s := v.state(r.n)
		s.due = true
		ns := v.view(r.n, s, p, now)
		v.mu.Unlock()
		counts[ns.State]++
		if ns.State == attest.Stale && p.OnStale == OnStaleQuarantine && r.status == trustfeed.Active {
			stale = append(stale, r.n)
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
	v.lastRound.Store(v.now().UnixNano())
	v.rounds.Add(1)
	mRounds.Inc()
	return nil
}

// List returns the status of every enrolled, unrevoked node (devices in
// serial order after after, up to limit, then appliances when the devices
// are exhausted).
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
	out := make([]NodeStatus, 0, len(nodes))
	now := v.now()
	for _, n := range nodes {
		p, err := v.Policy(ctx, scopes[n])
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		out = append(out, v.view(n, v.state(n), p, now))
		v.mu.Unlock()
	}
	return out, nil
}
