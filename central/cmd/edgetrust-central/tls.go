package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

const insecureFlag = "--insecure-http-loopback"

// recheckEvery is how often an open records long poll re-reads the
// appliance's status (tests shorten it).
var recheckEvery = 2 * time.Second

// serverCert is how central gets its server certificate: from its own TLS
// CA (default), or re-read from the operator's --tls-cert/--tls-key files.
func serverIssuer(c Config, ca *tlsca.CA, sans tlsca.SANs, id string, now func() time.Time) tlsx.Issue {
	if c.TLSCert != "" {
		return func(context.Context) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
			return &cert, nil
		}
	}
	return func(context.Context) (*tls.Certificate, error) { return ca.ServerCert(sans, id, now()) }
}

// certExpiry is the metric an alert on certificate expiry reads.
var certExpiry = func() *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgetrust_central_tls_cert_expiry_seconds",
		Help: "Seconds until the certificate expires (server: central's own; root, intermediate: central's TLS CA)."}, []string{"cert"})
	central.Registry.MustRegister(g)
	return g
}()

// watchExpiry keeps the expiry gauges of the CA certificates current.
func watchExpiry(ctx context.Context, ca *tlsca.CA, r *tlsx.Renewer) {
	set := func() {
		now := time.Now()
		certExpiry.WithLabelValues("root").Set(ca.Root().NotAfter.Sub(now).Seconds())
		if i, err := ca.Intermediate(now); err == nil {
			certExpiry.WithLabelValues("intermediate").Set(i.Cert.NotAfter.Sub(now).Seconds())
		}
		if c, err := r.Current(); err == nil {
			certExpiry.WithLabelValues("server").Set(c.Leaf.NotAfter.Sub(now).Seconds())
		} else {
			certExpiry.WithLabelValues("server").Set(0)
		}
	}
	set()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}

// applianceLookup reads an appliance from the store for the TLS issuer
// and the client-certificate guard.
func applianceLookup(st store.Store) func(ctx context.Context, id string) (*tlsca.ApplianceInfo, error) {
	return func(ctx context.Context, id string) (*tlsca.ApplianceInfo, error) {
		var out *tlsca.ApplianceInfo
		err := st.View(ctx, func(tx store.Tx) error {
			a, err := tx.Appliance(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return tlsca.ErrUnknownAppliance
			}
			if err != nil {
				return err
			}
			out = &tlsca.ApplianceInfo{Status: a.Status, SigningCert: a.SigningCert}
			return nil
		})
		return out, err
	}
}

// routes puts the TLS endpoints and the client-certificate guards in
// front of central's API. Appliance-only routes (an appliance's records
// feed, its decision-log upload) need, over TLS, the client certificate
// central issued to that appliance, and the appliance must be active: a
// suspended or revoked appliance is refused on its next request.
func routes(api http.Handler, ts *tlsca.Server, lookup func(context.Context, string) (*tlsca.ApplianceInfo, error), log *slog.Logger) http.Handler {
	active := func(ctx context.Context, id tlsx.Identity) error {
		a, err := lookup(ctx, id.ID)
		if err != nil {
			return fmt.Errorf("appliance %s: %w", id.ID, err)
		}
		if a.Status != "active" {
			return fmt.Errorf("appliance %s is %s", id.ID, a.Status)
		}
		return nil
	}
	audit := (&tlsx.Guard{Kind: tlsx.KindAppliance, ID: func(r *http.Request) string { return r.PathValue("id") }, Check: active, Log: log}).Wrap(api)
	// A records long poll is cut when the appliance is suspended or revoked.
	records := (&tlsx.Guard{Kind: tlsx.KindAppliance, ID: func(r *http.Request) string {
		return strings.TrimPrefix(r.PathValue("name"), recordfeed.FeedPrefix)
	}, Check: active, Log: log, Recheck: recheckEvery}).Wrap(api)
	th := ts.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET "+tlsca.PathRoot, th)
	mux.Handle("POST "+tlsca.PathApplianceCert, th)
	mux.Handle("POST /v1/appliances/{id}/audit", audit)
	mux.Handle("GET /v1/feeds/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.PathValue("name"), recordfeed.FeedPrefix) {
			records.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}))
	mux.Handle("/", api)
	return mux
}

// listen opens central's listener: TLS unless --insecure-http-loopback
// (loopback only).
func listen(c Config, cfg *tls.Config) (net.Listener, string, error) {
	if err := tlsx.CheckListen(c.Addr, c.InsecureHTTPLoopback, c.InsecureHTTPLoopback, insecureFlag); err != nil {
		return nil, "", cli.Usage(err)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, "", err
	}
	if c.InsecureHTTPLoopback {
		return ln, "http", nil
	}
	return tls.NewListener(ln, cfg), "https", nil
}

// serveHTTP serves h on ln until ctx is done (central.Serve's timeouts).
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      central.MaxWait + 30*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

// tlsCommand: edgetrust-central tls root.
func tlsRoot(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("tls root")
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_CENTRAL_STATE"), "central's state directory (required)")
	asJSON := fs.Bool("json", false, "print {root, sha256, notAfter} as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-central tls root --state DIR [--json]

Prints central's TLS root certificate (PEM) on stdout and its SHA-256
fingerprint on stderr. Appliances and agents pin it when they enrol:
  edgetrust-appliance enrol ... --central-root-sha256 FINGERPRINT
The root is created on central's first start (STATE/tls/root.pem); it is
public. The same answer comes from GET /v1/tls/root.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Example:
  edgetrust-central tls root --state /var/lib/edgetrust-central > central-root.pem
`)
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *state == "" {
		return cli.Usage(errors.New("--state DIR is required"))
	}
	roots, err := tlsx.ReadRoots(filepath.Join(*state, tlsca.RootFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no TLS root in %s yet: it is created when central first starts (edgetrust-central serve)", *state)
	}
	if err != nil {
		return err
	}
	r := roots[0]
	b, _ := os.ReadFile(filepath.Join(*state, tlsca.RootFile))
	if *asJSON {
		out, _ := json.Marshal(map[string]any{"root": string(b), "sha256": tlsx.Fingerprint(r), "notAfter": r.NotAfter.UTC()})
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	stdout.Write(b)
	fmt.Fprintf(stderr, "SHA-256 %s (%s, valid until %s)\n", tlsx.Fingerprint(r), r.Subject.CommonName, r.NotAfter.UTC().Format(time.DateOnly))
	return nil
}
