package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// adminClient calls the admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func (a *adminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rsp, err := a.http.Do(req)
	if err != nil {
		var ua x509.UnknownAuthorityError
		var cv *tls.CertificateVerificationError
		if errors.As(err, &ua) || errors.As(err, &cv) {
			return fmt.Errorf("reaching central at %s: %w (central serves a certificate from its own TLS CA: pass --central-root STATE/tls/root.pem or --central-root-sha256 as edgetrust-central tls root prints it)", a.base, err)
		}
		return fmt.Errorf("reaching central at %s: %w", a.base, err)
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, 64<<20))
	if err != nil {
		return err
	}
	if rsp.StatusCode != http.StatusOK {
		var e struct {
			Error *enrol.Error `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != nil {
			return fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
		}
		return fmt.Errorf("central answered %s", rsp.Status)
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}

// centralHTTP is the admin CLI's client: it trusts central's TLS root
// from a file or a pin; with neither, the system roots (a --tls-cert
// from a public CA).
func centralHTTP(rootFile, pin string, timeout time.Duration) (*http.Client, error) {
	if rootFile == "" && pin == "" {
		return tlsx.HTTPClient(tlsx.Base(true), timeout, 0), nil
	}
	var o tlsx.ClientOptions
	if rootFile != "" {
		roots, err := tlsx.ReadRoots(rootFile)
		if err != nil {
			return nil, fmt.Errorf("--central-root: %w", err)
		}
		o.Roots = roots
	}
	o.Pin, o.AllowTLS12 = pin, true
	cfg, err := tlsx.ClientConfig(o)
	if err != nil {
		return nil, err
	}
	return tlsx.HTTPClient(cfg, timeout, 0), nil
}
