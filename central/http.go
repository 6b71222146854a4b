package central

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/central/httpapi"
)

// The HTTP handlers live in central/httpapi; this wires them to Central.

// Registry holds central's metrics (served on /metrics; httpapi.Registry).
var Registry = httpapi.Registry

// HTTPOptions tune the HTTP API (httpapi.Options).
type HTTPOptions = httpapi.Options

const maxFeedWait = MaxWait

// Handler returns central's HTTP API, with the admin console on /console/
// once EnableConsole was called, and recording appliances' trust-feed
// positions for the console's propagation view.
func (c *Central) Handler(o HTTPOptions) http.Handler {
	api := c.pos.record(httpapi.New(c, c.log, o), c.now)
	if c.console == nil {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", c.console)
	mux.Handle("/", api)
	return mux
}

// Healthy says whether the store answers (GET /healthz).
func (c *Central) Healthy(ctx context.Context) error {
	_, _, err := c.st.ReadFeed(ctx, "trust", 0, 0)
	return err
}

// ApplianceCACert is the appliance CA's certificate.
func (c *Central) ApplianceCACert() *x509.Certificate { return c.keys.ApplianceCA.Cert }

// ServeOptions configure Serve.
type ServeOptions struct {
	HTTPOptions
	Addr              string
	TLSCert, TLSKey   string
	Log               *slog.Logger
	OnListen          func(addr string)
	ReadHeaderTimeout time.Duration
}

// Serve runs the HTTP API until ctx is done.
func (c *Central) Serve(ctx context.Context, o ServeOptions) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           c.Handler(o.HTTPOptions),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      maxFeedWait + 30*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	if o.Log != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug)
	}
	if o.OnListen != nil {
		o.OnListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if o.TLSCert != "" {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
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
