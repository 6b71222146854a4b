package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/httpapi"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/tlsca"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// Audit actions of TLS certificate issuance (central's audit log).
const (
	auditRPCert     = "tls.rp-cert"
	auditServerCert = "tls.server-cert"
)

// tlsAudit appends one row to central's audit log in its own transaction
// (tlsca.Server.Audit: appliance certificates; central's server
// certificate).
func tlsAudit(st store.Store, now func() time.Time) func(ctx context.Context, actor, action, subject string, detail any) error {
	return func(ctx context.Context, actor, action, subject string, detail any) error {
		return st.Update(ctx, func(tx store.Tx) error { return core.Audit(ctx, tx, now(), actor, action, subject, detail) })
	}
}

// auditedServerIssuer audits each server certificate central issues
// itself (not an operator's --tls-cert files, which central does not issue).
func auditedServerIssuer(issue tlsx.Issue, own bool, host string, audit func(ctx context.Context, actor, action, subject string, detail any) error) tlsx.Issue {
	if !own {
		return issue
	}
	return func(ctx context.Context) (*tls.Certificate, error) {
		c, err := issue(ctx)
		if err != nil {
			return nil, err
		}
		if err := audit(ctx, "system", auditServerCert, tlsx.KindCentral+":"+host, tlsca.IssuedDetail(c.Leaf, "")); err != nil {
			return nil, fmt.Errorf("auditing central's server certificate: %w", err)
		}
		return c, nil
	}
}

// rpCertIssuer issues relying-party client certificates for the admin
// route: the relying party must exist and be active; the issuance is
// audited in the same transaction that read its status, so no
// certificate leaves without its audit row.
func rpCertIssuer(st store.Store, ca *tlsca.CA, now func() time.Time) httpapi.RPCertFunc {
	return func(ctx context.Context, a *core.Admin, rpID string, q httpapi.RPCertRequest) (*httpapi.RPCertResponse, error) {
		csr, err := x509.ParseCertificateRequest(q.CSR)
		if err != nil {
			return nil, core.BadRequest("csr: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, core.BadRequest("csr: its signature does not verify (make it with the relying party's own key): %v", err)
		}
		var c *tls.Certificate
		err = st.Update(ctx, func(tx store.Tx) error {
			rp, err := tx.RelyingParty(ctx, rpID)
			if errors.Is(err, store.ErrNotFound) {
				return core.Fail(http.StatusNotFound, enrol.CodeNotFound, "no relying party %s", rpID)
			}
			if err != nil {
				return err
			}
			if rp.Status != trustfeed.Active {
				return core.Fail(http.StatusConflict, enrol.CodeNotActive, "relying party %s is %s: no certificate", rpID, rp.Status)
			}
			rp.PruneCerts(now())
			if len(rp.Certs) >= store.MaxRPCerts {
				return core.Fail(http.StatusConflict, enrol.CodeConflict, "relying party %s holds %d unexpired certificates; let some expire first", rpID, len(rp.Certs))
			}
			if c, err = ca.IssueRP(csr, rpID, time.Duration(q.Days)*24*time.Hour, now()); err != nil {
				return core.BadRequest("%v", err)
			}
			// Kept so that one certificate can be revoked by its serial
			// (rp cert revoke) without suspending the party.
			rp.Certs = append(rp.Certs, store.RPCert{Serial: c.Leaf.SerialNumber.Text(16), NotAfter: c.Leaf.NotAfter.UTC(), Issued: now().UTC()})
			if err := tx.PutRelyingParty(ctx, rp); err != nil {
				return err
			}
			return core.Audit(ctx, tx, now(), a.Actor(), auditRPCert, "rp:"+rpID, tlsca.IssuedDetail(c.Leaf, "admin"))
		})
		if err != nil {
			return nil, err
		}
		var chain []byte
		for _, der := range c.Certificate {
			chain = append(chain, pki.CertPEM(&x509.Certificate{Raw: der})...)
		}
		return &httpapi.RPCertResponse{Chain: string(chain), Serial: c.Leaf.SerialNumber.Text(16), NotAfter: c.Leaf.NotAfter.UTC(), RootSHA256: ca.Fingerprint()}, nil
	}
}

// readCSR reads a PKCS#10 request, PEM ("CERTIFICATE REQUEST") or DER.
func readCSR(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<10 {
		return nil, fmt.Errorf("%s: over 64 KiB: not a CSR", path)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("%s: a PEM %q block, want CERTIFICATE REQUEST", path, blk.Type)
		}
		b = blk.Bytes
	}
	csr, err := x509.ParseCertificateRequest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS#10 request: %w", path, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%s: its signature does not verify: %w", path, err)
	}
	return b, nil
}

// rpCertIssue is `rp cert issue`: it sends the CSR and writes the chain
// (PEM) to out, or stdout.
func rpCertIssue(ctx context.Context, c *adminClient, id, csrFile, out string, days int, asJSON bool, stdout, stderr io.Writer) error {
	der, err := readCSR(csrFile)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.call(ctx, "POST", "/v1/admin/relying-parties/"+url.PathEscape(id)+"/tls-cert", httpapi.RPCertRequest{CSR: der, Days: days}, &raw); err != nil {
		return err
	}
	var r httpapi.RPCertResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("central's answer: %w", err)
	}
	if asJSON {
		_, err := fmt.Fprintln(stdout, string(raw))
		return err
	}
	if out == "" {
		_, err := io.WriteString(stdout, r.Chain)
		return err
	}
	if err := os.WriteFile(out, []byte(r.Chain), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "TLS client certificate for relying party %s written to %s (serial %s, valid until %s; chain to central's TLS root %s)\n",
		id, out, r.Serial, r.NotAfter.Format(time.RFC3339), r.RootSHA256)
	return nil
}

// rpCertRevoke is `rp cert revoke`: one certificate, by serial.
func rpCertRevoke(ctx context.Context, c *adminClient, id, serial, reason string, stdout io.Writer) error {
	var rp store.RelyingParty
	if err := c.call(ctx, "POST", "/v1/admin/relying-parties/"+url.PathEscape(id)+"/tls-cert/revoke",
		httpapi.RPCertRevokeRequest{Serial: serial, Reason: reason}, &rp); err != nil {
		return err
	}
	n := 0
	for _, k := range rp.Certs {
		if !k.Revoked.IsZero() {
			n++
		}
	}
	_, err := fmt.Fprintf(stdout, "certificate %s of relying party %s revoked; the trust feed now lists %d revoked certificate(s) of %s, and appliances refuse them at the next request. The party, its API keys and its other certificates are unchanged.\n", serial, id, n, id)
	return err
}
