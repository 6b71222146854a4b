package people

import (
	"context"
	"errors"
	"time"

	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// Backfills: an appliance that enrols, changes group or is reinstated gets
// its group's records (and, after a group change, deletions of the old
// group's VIDs). A group can hold far more records than one transaction
// should write, so a backfill is published in steps, each in its own
// transaction and bounded by backfillBytes of operations, with its progress
// kept in store.Appliance.Backfill. The first step runs in the transaction
// that starts the backfill (small groups are done at once); the rest run in
// the background, on any replica, resuming after a restart.
//
// Steps interleave safely with record changes: each step reads the records
// as they are when it commits, and changes committed in between are
// published to the appliance as they happen (a record can arrive twice; a
// put replaces, a delete of an absent VID does nothing).

// DefaultBackfillBytes bounds the operations' JSON of one backfill step
// (one transaction; Config.BackfillBytes changes it).
const DefaultBackfillBytes = 4 << 20

// backfillPage is how many people a backfill step reads at a time.
const backfillPage = 200

// backfillPoll is how often pending backfills are looked for without a
// kick (another replica's, or after a failure).
const backfillPoll = 15 * time.Second

// StartBackfill schedules publishing group's records to ap (after
// deleting oldGroup's VIDs, if oldGroup is set and differs) and runs the
// first step within tx. ap is stored.
func (s *Service) StartBackfill(ctx context.Context, tx store.Tx, ap *store.Appliance, group, oldGroup string) error {
	b := &store.Backfill{Group: group, Started: s.now().UTC()}
	if oldGroup != group {
		b.DeleteGroup = oldGroup
	}
	ap.Backfill = b
	return s.backfillStep(ctx, tx, ap)
}

// backfillStep publishes the next part of ap's backfill and stores ap with
// its progress (Backfill nil once done). A suspended appliance gets the
// deletions but its records wait until it is reinstated; a revoked one
// gets nothing.
func (s *Service) backfillStep(ctx context.Context, tx store.Tx, ap *store.Appliance) error {
	b := ap.Backfill
	if b == nil || ap.Status == trustfeed.Revoked || len(ap.EncryptionCert) == 0 {
		ap.Backfill = nil
		return tx.PutAppliance(ctx, ap)
	}
	now := s.now().UTC().Truncate(time.Second)
	var ops []recordfeed.Op
	size := 0
	for size < s.backfillBytes {
		deleting := b.DeleteGroup != ""
		if !deleting && ap.Status != trustfeed.Active {
			break
		}
		g := b.Group
		if deleting {
			g = b.DeleteGroup
		}
		ps, err := tx.People(ctx, g, b.After, backfillPage)
		if err != nil {
			return err
		}
		for i := range ps {
			p := &ps[i]
			vs, err := tx.VIDsOf(ctx, p.UIN)
			if err != nil {
				return err
			}
			act := activeVIDs(vs, now)
			switch {
			case deleting:
				for _, v := range act {
					op := recordfeed.Op{Delete: v.Number}
					n, _ := feeds.OpSize(op)
					ops, size = append(ops, op), size+n
				}
			case p.Status == PersonActive && len(act) > 0:
				d, err := s.openPerson(p)
				if err != nil {
					return err
				}
				for j := range act {
					sig, err := s.record(p, d, &act[j], now)
					if err != nil {
						return err
					}
					op := recordfeed.Op{Put: sig}
					n, err := feeds.OpSize(op)
					if err != nil {
						return err
					}
					ops, size = append(ops, op), size+n
				}
			}
			b.After = p.UIN
			if size >= s.backfillBytes {
				break
			}
		}
		if size >= s.backfillBytes {
			break
		}
		if len(ps) < backfillPage {
			if deleting {
				b.DeleteGroup, b.After = "", ""
				continue
			}
			ap.Backfill = nil
			break
		}
	}
	if len(ops) > 0 {
		if err := feeds.AppendSealed(ctx, tx, ap, ops, now); err != nil {
			return err
		}
	}
	return tx.PutAppliance(ctx, ap)
}

// Kick wakes the background backfill (after a commit that started one).
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// BackfillLoop runs pending backfills when kicked and every backfillPoll,
// until stop is closed.
func (s *Service) BackfillLoop(stop <-chan struct{}) {
	t := time.NewTicker(backfillPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.kick:
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		n, err := s.RunBackfills(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("records-feed backfill failed; will retry", "err", err)
		} else if n > 0 {
			s.log.Info("records-feed backfill steps published", "steps", n)
		}
	}
}

// RunBackfills runs every pending backfill of an active appliance to its
// end (or until ctx is done) and returns how many steps it ran.
func (s *Service) RunBackfills(ctx context.Context) (int, error) {
	steps := 0
	for {
		var pending []string
		err := s.st.View(ctx, func(tx store.Tx) error {
			aps, err := tx.Appliances(ctx)
			for _, ap := range aps {
				if runnable(&ap) {
					pending = append(pending, ap.ID)
				}
			}
			return err
		})
		if err != nil || len(pending) == 0 {
			return steps, err
		}
		for _, id := range pending {
			err := s.st.Update(ctx, func(tx store.Tx) error {
				ap, err := tx.Appliance(ctx, id)
				if err != nil || !runnable(ap) {
					return err
				}
				return s.backfillStep(ctx, tx, ap)
			})
			if err != nil {
				return steps, err
			}
			steps++
		}
	}
}

// runnable reports whether ap's backfill can progress now.
func runnable(ap *store.Appliance) bool {
	b := ap.Backfill
	return b != nil && (ap.Status == trustfeed.Active || (ap.Status == trustfeed.Suspended && b.DeleteGroup != ""))
}
