package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/decisionlog"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/records"
)

// auditor makes the decision log for serve, and uploads it to central
// when one is configured.
func auditor(cfg appliance.Config, every int, interval time.Duration, client *http.Client) func(appliance.AuditEnv) (auth.Auditor, error) {
	return func(env appliance.AuditEnv) (auth.Auditor, error) {
		l, err := decisionlog.Open(context.Background(), decisionlog.Config{DB: env.DB, Origin: "appliance/" + env.ApplianceID,
			Signer: env.Signer.Key, Sealer: records.TPMSealer{TPM: env.TPM}, Every: every, Interval: interval,
			Now: env.Now, Logger: env.Logger})
		if err != nil {
			return nil, err
		}
		s := &auditService{Log: l}
		if cfg.Central != "" {
			if client == nil {
				client = &http.Client{Timeout: 30 * time.Second}
			}
			up := &decisionlog.Uploader{Log: l, Central: cfg.Central, Appliance: env.ApplianceID, Client: client, Interval: interval / 2}
			ctx, cancel := context.WithCancel(context.Background())
			s.cancel, s.up = cancel, up
			s.wg.Go(func() { up.Run(ctx) })
		}
		return s, nil
	}
}

// auditService is the decision log and its uploader; Close stops both
// (after a final checkpoint).
type auditService struct {
	*decisionlog.Log
	cancel context.CancelFunc
	up     *decisionlog.Uploader
	wg     sync.WaitGroup
}

// Close signs a final checkpoint and, with central configured, uploads it
// (best effort, 5 s) so central's copy ends where the appliance stopped.
func (s *auditService) Close() error {
	err := s.Log.Close()
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := s.up.Once(ctx); uerr != nil {
			s.Log.Logger().Warn("final audit upload to central failed; it resumes at the next start", "err", uerr)
		}
	}
	return err
}

const auditUsage = `edgetrust-appliance audit — check the appliance's decision log

Usage:
  edgetrust-appliance audit verify --state DIR [--json]
  edgetrust-appliance audit show --state DIR [--last N]

Every POST /v1/auth decision is appended to an insert-only Merkle log in the
appliance's database, VIDs and transaction ids replaced by a keyed hash whose
key only the TPM can unseal. Checkpoints (size, root, time) are signed by the
appliance's TPM signing key and uploaded to central with the entries.

verify recomputes the Merkle tree from every stored entry and checks every
checkpoint: its signature (with the signing certificate in the state
directory), that its root is the root of the entries as stored (an altered or
deleted entry fails here), and consistency between consecutive checkpoints.
It exits 1 when anything is wrong and says what.

The database is locked by a running appliance: stop it (or copy the state
directory) before running audit. Entries after the last checkpoint are not
covered by a signature yet; serve signs one at least every minute and on exit.

Examples:
  edgetrust-appliance audit verify --state /var/lib/edgetrust-appliance
  edgetrust-appliance audit show --state /var/lib/edgetrust-appliance --last 50
`

func auditCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, auditUsage)
		if len(args) == 0 {
			return cli.Usage(errors.New("audit needs verify or show"))
		}
		return nil
	}
	sub := args[0]
	fs := cli.NewFlagSet("audit " + sub)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage, "\nFlags:\n"); cli.PrintFlags(stderr, fs, "") }
	state := fs.String("state", os.Getenv("EDGETRUST_APPLIANCE_STATE"), "the appliance's state directory")
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	last := fs.Int("last", 20, "show: the last N entries")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if *state == "" {
		return cli.Usage(errors.New("--state DIR is required"))
	}
	if sub != "verify" && sub != "show" {
		return cli.Usage(fmt.Errorf("unknown audit command %q: want verify or show", sub))
	}
	if *last < 1 || *last > 100000 {
		return cli.Usage(fmt.Errorf("--last %d: want 1 to 100000 entries", *last))
	}
	id, err := tpmkey.ReadID(*state)
	if err != nil || id == "" {
		return fmt.Errorf("no appliance id in %s: the decision log exists only on an enrolled appliance", *state)
	}
	dir := filepath.Join(*state, appliance.DBDir)
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return fmt.Errorf("the database in %s is in use: stop edgetrust-appliance serve (or copy the state directory) and run audit again", dir)
		}
		return err
	}
	defer db.Close()
	origin := "appliance/" + id
	if sub == "show" {
		al, err := audit.Open(db, origin)
		if err != nil {
			return err
		}
		n := al.Size()
		for i := n - min(n, uint64(max(*last, 0))); i < n; i++ {
			e, err := al.Entry(i)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d\t%s\n", i, e)
		}
		return nil
	}
	pub, err := signingKey(*state)
	if err != nil {
		return err
	}
	rep, err := decisionlog.Verify(db, origin, pub)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "%d entries, %d signed checkpoints\n", rep.Entries, rep.Checkpoints)
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, "PROBLEM:", p)
		}
	}
	if !rep.OK() {
		return fmt.Errorf("the decision log does not verify (%d problems)", len(rep.Problems))
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "OK: every checkpoint is signed by the appliance's key and covers the stored entries")
	}
	return nil
}

func signingKey(state string) (any, error) {
	for _, f := range []string{tpmkey.SigningCertFile, tpmkey.SelfSigningCertFile} {
		c, err := tpmkey.ReadCert(filepath.Join(state, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("no signing certificate (%s) in %s", tpmkey.SigningCertFile, state)
}
