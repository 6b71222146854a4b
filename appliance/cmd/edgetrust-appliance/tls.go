package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// TLS files in the appliance's state directory.
const (
	tlsDir          = "tls"
	centralRootFile = tlsx.SavedRootFile        // central's TLS root, pinned at enrolment
	certFile        = "tls/appliance.pem"       // central's certificate for the appliance (chain)
	keyFile         = "tls/appliance-key.pem"   // its key without a TPM, or left by an older version (0600); with a TPM: tpmkey.TLSKeyFile
	selfCertFile    = "tls/self-signed.pem"     // before enrolment: a self-signed server certificate
	selfKeyFile     = "tls/self-signed-key.pem" // … and its key without a TPM (0600); with one: tpmkey.TLSSelfKeyFile
	apiRootFile     = "tls/api-root.pem"        // what the local CLI trusts for the running API
	insecureFlag    = "--insecure-http-loopback"
	certPath        = "/v1/tls/appliance-cert"
	selfValidity    = 90 * 24 * time.Hour
	maxCertResponse = 64 << 10
)

// centralTrust is how the appliance trusts central: --central-ca (a PEM
// file), else the root pinned at enrolment (STATE/tls/central-root.pem),
// else --central-root-sha256. Nothing when central is plain HTTP.
func centralTrust(state, central, caFile, pin string) (tlsx.ClientOptions, error) {
	if central == "" || strings.HasPrefix(central, "http://") {
		return tlsx.ClientOptions{}, nil
	}
	o, err := tlsx.TrustFrom(state, caFile, pin)
	if err != nil {
		return o, err
	}
	if len(o.Roots) == 0 && o.Pin == "" {
		return o, errors.New("no trust for central's TLS certificate: enrol with --central-root-sha256 (edgetrust-central tls root prints it), or pass --central-ca FILE")
	}
	return o, nil
}

// centralClient is the http.Client for central: pinned root, and the
// appliance's client certificate when it has one.
func centralClient(o tlsx.ClientOptions, r *tlsx.Renewer, timeout, responseHeader time.Duration) (*http.Client, error) {
	if len(o.Roots) == 0 && o.Pin == "" {
		return &http.Client{Timeout: timeout, Transport: tlsx.Transport(nil, responseHeader)}, nil
	}
	if r != nil {
		o.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := r.Current()
			if err != nil {
				return &tls.Certificate{}, nil // none: central answers what needs one with 401
			}
			return c, nil
		}
	}
	cfg, err := tlsx.ClientConfig(o)
	if err != nil {
		return nil, err
	}
	return tlsx.HTTPClient(cfg, timeout, responseHeader), nil
}

// saveRootOnce writes the root a pinned handshake verified against.
func saveRootOnce(state string) func(*x509.Certificate) {
	var once sync.Once
	return func(c *x509.Certificate) {
		once.Do(func() {
			os.MkdirAll(filepath.Join(state, tlsDir), 0o700)
			writeAtomic(filepath.Join(state, centralRootFile), pki.CertPEM(c), 0o644)
		})
	}
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// requestCert asks central for the appliance's TLS certificate for a
// fresh key: proven by the TPM signing key central certified at
// enrolment (proof), or, with proof nil, by the current client
// certificate the client presents (renewal). With keys (the appliance's
// TPM) the fresh key is made in the TPM, the CSR signed there, and only
// its TPM blob saved (tpmkey.TLSKeyFile); a software key file left by an
// older version is then deleted. Without a TPM the key is software (0600).
func requestCert(ctx context.Context, hc *http.Client, central, state, id string, names []string, proof crypto.Signer, keys *tpmkey.Keys) (*tls.Certificate, error) {
	var k crypto.Signer
	var tk *tpm.Key
	if keys != nil {
		var err error
		if tk, err = keys.NewTLSKey(ctx); err != nil {
			return nil, err
		}
		k = tk
	} else {
		sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		k = sk
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "appliance " + id}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		return nil, fmt.Errorf("the TLS certificate request: %w", err)
	}
	q := map[string]any{"applianceId": id, "csr": csr}
	if proof != nil {
		h := sha256.Sum256(append([]byte("edgetrust/tls-appliance-cert/v1\n"+id+"\n"), csr...))
		sig, err := proof.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("signing the certificate request with the TPM: %w", err)
		}
		q["signature"] = sig
	}
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(central, "/")+certPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	rsp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking central for the appliance's TLS certificate: %w", err)
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, maxCertResponse))
	if err != nil {
		return nil, err
	}
	if rsp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(b, &e)
		return nil, fmt.Errorf("central refused the appliance's TLS certificate: %s (%s, %s)", e.Error.Message, e.Error.Code, rsp.Status)
	}
	var r struct {
		Chain string `json:"chain"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("central's certificate answer: %w", err)
	}
	chain, err := tlsx.ParseCerts([]byte(r.Chain))
	if err != nil {
		return nil, err
	}
	if !pki.SameKey(chain[0].PublicKey, k.Public()) {
		return nil, errors.New("central certified another key than the one asked for")
	}
	if who, err := tlsx.IdentityOf(chain[0]); err != nil || who != (tlsx.Identity{Kind: tlsx.KindAppliance, ID: id}) {
		return nil, fmt.Errorf("central's certificate names %v, not appliance %s", who, id)
	}
	if err := os.MkdirAll(filepath.Join(state, tlsDir), 0o700); err != nil {
		return nil, err
	}
	// Key first, then the chain: a crash between leaves a chain that does
	// not match the key, which loadApplianceCert refuses (a fresh request).
	if tk != nil {
		if err := tpmkey.SaveTLSKey(state, tpmkey.TLSKeyFile, tk); err != nil {
			return nil, err
		}
	} else {
		keyPEM, err := pki.KeyPEM(k.(*ecdsa.PrivateKey))
		if err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(state, keyFile), keyPEM, 0o600); err != nil {
			return nil, err
		}
	}
	if err := writeAtomic(filepath.Join(state, certFile), []byte(r.Chain), 0o644); err != nil {
		return nil, err
	}
	if tk != nil {
		// Migration: the software key of an older version is gone for good.
		if err := os.Remove(filepath.Join(state, keyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("deleting the old software TLS key: %w", err)
		}
	}
	c := &tls.Certificate{PrivateKey: k, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// loadCert reads a saved certificate and software key.
func loadCert(state, cert, key string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(state, cert), filepath.Join(state, key))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// loadApplianceCert reads central's saved certificate for the appliance
// with its key: the TPM key (tpmkey.TLSKeyFile) when there is one, else
// the software key file of an older version (soft true: renewal moves it
// into the TPM).
func loadApplianceCert(ctx context.Context, state string, keys *tpmkey.Keys) (c *tls.Certificate, soft bool, err error) {
	if keys != nil {
		k, err := keys.TLSKey(ctx, state, tpmkey.TLSKeyFile)
		switch {
		case err == nil:
			c, err := loadChain(state, certFile, k)
			return c, false, err
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, err
		}
	}
	c, err = loadCert(state, certFile, keyFile)
	return c, err == nil, err
}

// loadChain reads a PEM chain whose leaf must certify key.
func loadChain(state, file string, key crypto.Signer) (*tls.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(state, file))
	if err != nil {
		return nil, err
	}
	chain, err := tlsx.ParseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if !pki.SameKey(chain[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s certifies another key than the TPM's TLS key", file)
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// due reports whether c is past 2/3 of its life (or expired).
func due(c *tls.Certificate, now time.Time) bool {
	l := c.Leaf
	return !now.Before(l.NotBefore.Add(l.NotAfter.Sub(l.NotBefore) * 2 / 3))
}

// selfSigned is the server certificate of an appliance not enrolled with
// central (or with central on plain HTTP): made once, kept until it is
// due, pinned by relying parties by its SHA-256. With keys its key is a
// TPM key (tpmkey.TLSSelfKeyFile), kept when the certificate is re-made.
func selfSigned(ctx context.Context, state string, names []string, now time.Time, keys *tpmkey.Keys) (*tls.Certificate, error) {
	var k crypto.Signer
	if keys != nil {
		tk, err := keys.TPM.LoadOrCreateKey(ctx, filepath.Join(state, tpmkey.TLSSelfKeyFile), tpm.ECCP256Sign)
		if err != nil {
			return nil, fmt.Errorf("self-signed TLS key: %w", err)
		}
		if c, err := loadChain(state, selfCertFile, tk); err == nil && !due(c, now) {
			return c, nil
		}
		if err := os.Remove(filepath.Join(state, selfKeyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		k = tk
	} else {
		if c, err := loadCert(state, selfCertFile, selfKeyFile); err == nil && !due(c, now) {
			return c, nil
		}
		sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keyPEM, err := pki.KeyPEM(sk)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(state, tlsDir), 0o700); err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(state, selfKeyFile), keyPEM, 0o600); err != nil {
			return nil, err
		}
		k = sk
	}
	kid, err := pki.KeyID(k.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: pki.Serial(), Subject: pkix.Name{CommonName: "edgetrust appliance (self-signed)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(selfValidity), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, SubjectKeyId: kid}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(state, tlsDir), 0o700); err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	if err := writeAtomic(filepath.Join(state, selfCertFile), pki.CertPEM(leaf), 0o644); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, nil
}

// localClient is the CLI's client for the running appliance: it trusts
// what the appliance wrote to STATE/tls/api-root.pem (central's root, or
// its self-signed certificate).
func localClient(state, apiURL string) *http.Client {
	if !strings.HasPrefix(apiURL, "https://") || state == "" {
		return httpClient
	}
	roots, err := tlsx.ReadRoots(filepath.Join(state, apiRootFile))
	if err != nil {
		return httpClient
	}
	cfg, err := tlsx.ClientConfig(tlsx.ClientOptions{Roots: roots, AllowTLS12: true})
	if err != nil {
		return httpClient
	}
	// The self-signed certificate verifies as its own root only for the
	// names it carries; the local CLI reaches it by the listen address.
	if u, err := url.Parse(apiURL); err == nil {
		cfg.ServerName = u.Hostname()
	}
	return tlsx.HTTPClient(cfg, 30*time.Second, 0)
}

// applianceTLS is the appliance's TLS: its certificate (central's, renewed
// over mutual TLS, or self-signed), the server config and central's client.
type applianceTLS struct {
	renewer  *tlsx.Renewer // central's certificate; nil when self-signed
	self     *tls.Certificate
	server   *tls.Config
	central  *http.Client // long polls
	upload   *http.Client // short requests (decision-log upload)
	rootPEM  []byte       // what the API's certificate chains to
	selfSHA  string
	fromCert string
}

// expiryGauge is the seconds until the certificate the appliance serves
// (and presents to central) expires; 0 when it has none it may use.
func (t *applianceTLS) expiryGauge(now func() time.Time) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgetrust_appliance_tls_cert_expiry_seconds",
		Help: "Seconds until the appliance's TLS certificate (server and client towards central) expires; 0: none usable. Renewed at 2/3 of its 30 days."},
		func() float64 {
			var leaf *x509.Certificate
			if t.renewer != nil {
				if c, err := t.renewer.Current(); err == nil {
					leaf = c.Leaf
				}
			} else if t.self != nil {
				leaf = t.self.Leaf
			}
			if leaf == nil {
				return 0
			}
			return max(0, leaf.NotAfter.Sub(now()).Seconds())
		})
}

type tlsSetup struct {
	state, central, id, caFile, pin, name string
	names                                 []string
	allowTLS12                            bool
	pollWait                              time.Duration
	log                                   *slog.Logger
	// keys is the appliance's TPM (nil: none configured): the TLS keys
	// are made there, and a first certificate (or one past due) is asked
	// for with the TPM signing key central certified at enrolment.
	keys *tpmkey.Keys
	// now and sleep are the renewal clock (tests inject one).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// enrolledSigner is the TPM signing key central certified at enrolment.
func enrolledSigner(ctx context.Context, keys *tpmkey.Keys, state, name string) (crypto.Signer, error) {
	ds, err := keys.DecisionSigner(ctx, state, name, time.Now())
	if err != nil {
		return nil, err
	}
	if ds.SelfIssued {
		return nil, errors.New("the signing key has no certificate from central yet")
	}
	return ds.Key, nil
}

func setupTLS(ctx context.Context, s tlsSetup) (*applianceTLS, error) {
	trust, err := centralTrust(s.state, s.central, s.caFile, s.pin)
	if err != nil {
		return nil, err
	}
	if len(trust.Roots) == 0 && s.pin != "" {
		trust.OnRoot = saveRootOnce(s.state)
	}
	if s.now == nil {
		s.now = time.Now
	}
	out := &applianceTLS{}
	now := s.now()
	pinned := len(trust.Roots) > 0 || trust.Pin != ""
	if pinned && s.id != "" {
		cur, soft, err := loadApplianceCert(ctx, s.state, s.keys)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("the saved TLS certificate does not load; asking central for a new one", "err", err)
		}
		if err == nil && cur.Leaf != nil {
			if who, err := tlsx.IdentityOf(cur.Leaf); err != nil || who.ID != s.id {
				cur = nil
			}
		} else {
			cur = nil
		}
		if cur != nil && soft && s.keys != nil {
			s.log.Info("the TLS key is a software file of an older version; the next renewal moves it into the TPM and deletes the file", "file", filepath.Join(s.state, keyFile))
		}
		if (cur == nil || due(cur, now)) && s.keys != nil {
			plain, _ := centralClient(trust, nil, 30*time.Second, 0)
			if sign, err := enrolledSigner(ctx, s.keys, s.state, s.name); err == nil {
				c, err := requestCert(ctx, plain, s.central, s.state, s.id, s.names, sign, s.keys)
				if err == nil {
					cur = c
					s.log.Info("TLS certificate from central", "notAfter", c.Leaf.NotAfter, "proof", "TPM signing key", "key", "TPM")
				} else if cur == nil || !now.Before(cur.Leaf.NotAfter) {
					s.log.Warn("no TLS certificate from central yet; serving a self-signed one", "err", err)
					cur = nil
				}
			} else {
				s.log.Warn("TPM signing key not available for the TLS certificate request", "err", err)
			}
		}
		if cur != nil && now.Before(cur.Leaf.NotAfter) {
			first := cur
			r := &tlsx.Renewer{Name: "appliance", Log: s.log, Now: s.now, Sleep: s.sleep}
			renewClient, err := centralClient(trust, r, 30*time.Second, 0)
			if err != nil {
				return nil, err
			}
			r.Issue = func(ctx context.Context) (*tls.Certificate, error) {
				if first != nil {
					c := first
					first = nil
					return c, nil
				}
				return requestCert(ctx, renewClient, s.central, s.state, s.id, s.names, nil, s.keys)
			}
			if err := r.Start(ctx); err != nil {
				return nil, err
			}
			out.renewer = r
			out.fromCert = filepath.Join(s.state, certFile)
			root := cur.Certificate[len(cur.Certificate)-1]
			out.rootPEM = pki.CertPEM(&x509.Certificate{Raw: root})
		}
	}
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if out.renewer != nil {
		getCert = out.renewer.GetCertificate
	} else {
		self, err := selfSigned(ctx, s.state, s.names, now, s.keys)
		if err != nil {
			return nil, err
		}
		out.self, out.rootPEM = self, pki.CertPEM(self.Leaf)
		out.selfSHA = tlsx.Fingerprint(self.Leaf)
		getCert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if !s.now().Before(self.Leaf.NotAfter) {
				return nil, tlsx.ErrExpired // never served expired: restart makes a new one
			}
			return self, nil
		}
	}
	sopts := tlsx.ServerOptions{AllowTLS12: s.allowTLS12, GetCertificate: getCert}
	if len(trust.Roots) > 0 {
		sopts.ClientCAs = trust.Roots // relying parties' certificates from central (checked per route)
	}
	out.server = tlsx.ServerConfig(sopts)
	if s.central != "" {
		if out.central, err = centralClient(trust, out.renewer, 0, s.pollWait+30*time.Second); err != nil {
			return nil, err
		}
		if out.upload, err = centralClient(trust, out.renewer, 30*time.Second, 0); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(s.state, tlsDir), 0o700); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(s.state, apiRootFile), out.rootPEM, 0o644); err != nil {
		return nil, err
	}
	return out, nil
}
