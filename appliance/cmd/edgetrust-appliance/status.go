package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/cli"
)

func apiURL(api, state string) (string, error) {
	if api != "" {
		u, err := url.Parse(api)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return "", cli.Usage(fmt.Errorf("--api %q: want http(s)://host:port of the appliance's API", api))
		}
		return strings.TrimSuffix(api, "/"), nil
	}
	if state == "" {
		return "", cli.Usage(errors.New("pass --state DIR (of a running appliance) or --api URL"))
	}
	b, err := os.ReadFile(filepath.Join(state, appliance.APIFile))
	if err != nil {
		return "", fmt.Errorf("no appliance is running with state %s (no %s)", state, appliance.APIFile)
	}
	var f struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(b, &f) != nil || f.URL == "" {
		return "", fmt.Errorf("%s is unreadable", filepath.Join(state, appliance.APIFile))
	}
	return f.URL, nil
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("status")
	cli.SetHelp(fs, stderr, cli.Help{
		Usage:     "edgetrust-appliance status --state DIR | --api URL [--json]",
		About:     "Asks a running appliance for its status (GET /v1/status): trust data freshness, feeds, keys.",
		Example:   "  edgetrust-appliance status --state /var/lib/edgetrust-appliance",
		EnvPrefix: "EDGETRUST_APPLIANCE_",
	})
	state := fs.String("state", "", "state directory of the running appliance")
	apiFlag := fs.String("api", "", "the appliance's API URL instead, e.g. https://127.0.0.1:8443")
	asJSON := fs.Bool("json", false, "print the raw JSON of GET /v1/status")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	u, err := apiURL(*apiFlag, *state)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/v1/status", nil)
	if err != nil {
		return err
	}
	resp, err := localClient(*state, u).Do(req)
	if err != nil {
		return fmt.Errorf("appliance at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("appliance at %s answered %s", u, resp.Status)
	}
	if *asJSON {
		stdout.Write(b)
		return nil
	}
	var st api.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "appliance %s on %s\n", st.Version, u)
	age := "never synced"
	if st.Trust.CheckpointTime != nil {
		age = fmt.Sprintf("checkpoint %s, %ds old", st.Trust.CheckpointTime.UTC().Format(time.RFC3339), st.Trust.AgeSeconds)
	}
	stale := "fresh"
	if st.Stale {
		stale = "STALE (policy " + st.StalePolicy + ")"
	}
	fmt.Fprintf(stdout, "trust feed: %d entries (%d applied), %d vendors, %s, max staleness %ds: %s\n", st.Trust.Size, st.Applied, st.Vendors, age, st.Trust.MaxStalenessSeconds, stale)
	if s := st.Sync; s != nil {
		fmt.Fprintf(stdout, "central: %s, %d consecutive failures, %d batches refused", s.Central, s.Failures, s.RefusedTotal)
		if s.LastRefusal != "" {
			fmt.Fprintf(stdout, " (last: %s)", s.LastRefusal)
		}
		fmt.Fprintln(stdout)
		if s.LastError != "" {
			fmt.Fprintf(stdout, "last error: %s\n", s.LastError)
		}
	} else {
		fmt.Fprintln(stdout, "central: not configured")
	}
	if st.Decryption.Configured {
		fmt.Fprintf(stdout, "decryption key: TPM, certificate thumbprint %s\n", st.Decryption.Thumbprint)
	} else {
		fmt.Fprintln(stdout, "decryption key: none (auth captures cannot be fully verified)")
	}
	if st.Auth.Enabled {
		fmt.Fprintf(stdout, "authentication: on, appliance %s, %d record batches applied", st.ApplianceID, st.Auth.RecordsApplied)
		if s := st.Auth.RecordsSync; s != nil {
			fmt.Fprintf(stdout, " (feed %s: %d consecutive failures, %d batches refused)", s.Feed, s.Failures, s.RefusedTotal)
		}
		fmt.Fprintln(stdout)
	} else {
		fmt.Fprintf(stdout, "authentication: off (%s)\n", st.Auth.Disabled)
	}
	return nil
}

func verify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("verify")
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of the running appliance")
	apiFlag := fs.String("api", "", "the appliance's API URL instead")
	txn := fs.String("transaction-id", "", "the transactionId the capture was requested with (required)")
	reqFile := fs.String("request", "", "`FILE` with the CAPTURE request that was sent (optional)")
	prev := fs.String("previous-hash", "", "previousHash the capture continued (without --request; default: a first capture)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance verify --transaction-id ID [--request FILE] [--state DIR | --api URL] CAPTURE.json

Sends an SBI capture answer (the JSON a device returned to CAPTURE or RCAPTURE;
"-" reads stdin) to a running appliance and prints its answer. Exit code 0 when
valid, 1 when not.

Flags:
`)
		cli.PrintFlags(stderr, fs, "")
		fmt.Fprint(stderr, `
Example:
  edgetrust-appliance verify --state /var/lib/edgetrust-appliance --transaction-id TXN-0001 capture.json
`)
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usage(errors.New("give exactly one capture file (or - for stdin)"))
	}
	if *txn == "" {
		return cli.Usage(errors.New("--transaction-id is required: the capture is only valid for the transaction it was requested in"))
	}
	u, err := apiURL(*apiFlag, *state)
	if err != nil {
		return err
	}
	// Both files are checked here so a typo is named, not answered with
	// the encoder's words; the appliance bounds and checks them again.
	readJSON := func(name string, r io.Reader) (json.RawMessage, error) {
		b, err := io.ReadAll(io.LimitReader(r, captureverify.MaxRequestSize+1))
		switch {
		case err != nil:
			return nil, err
		case len(b) > captureverify.MaxRequestSize:
			return nil, fmt.Errorf("%s: larger than %d bytes", name, captureverify.MaxRequestSize)
		case !json.Valid(b):
			return nil, fmt.Errorf("%s is not JSON: give the answer the device returned to CAPTURE or RCAPTURE", name)
		}
		return b, nil
	}
	open := func(name string) (json.RawMessage, error) {
		if name == "-" {
			return readJSON("stdin", os.Stdin)
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readJSON(name, f)
	}
	raw, err := open(fs.Arg(0))
	if err != nil {
		return err
	}
	body := map[string]any{"transactionId": *txn, "response": raw}
	if *reqFile != "" {
		r, err := open(*reqFile)
		if err != nil {
			return err
		}
		body["request"] = r
	}
	if *prev != "" {
		body["previousHash"] = *prev
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("the capture or request file is not JSON: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"/v1/captures/verify", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := localClient(*state, u).Do(req)
	if err != nil {
		return fmt.Errorf("appliance at %s: %w", u, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return fmt.Errorf("appliance answered %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	stdout.Write(out)
	var r captureverify.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return err
	}
	if !r.Valid {
		return errInvalid
	}
	return nil
}
