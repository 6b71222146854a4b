package enrol

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Client speaks the enrolment API of one central.
type Client struct {
	// URL is central's base URL, e.g. https://central.example.org.
	URL string
	// Replicas are more base URLs of the same central (replicas on one
	// database: a session started on one is finished on any). A request
	// that certainly did not reach central (connection refused, no route)
	// or that central answered 503 (unavailable) is sent to the next URL in
	// turn, after a short jittered pause; other failures are returned, so
	// a request is never applied twice. At most MaxURLs in all.
	Replicas []string
	// HTTP is the client to use; nil means one with a 30 s timeout over
	// http.DefaultTransport (the enrolling commands make that transport
	// verify central against its pinned TLS root, tlsx.ClientConfig).
	HTTP *http.Client
}

// MaxURLs bounds Client's URLs (URL and Replicas).
const MaxURLs = 16

// maxResponse bounds what the client reads from central.
const maxResponse = 1 << 20

// retryPause is the base pause before asking the next replica.
var retryPause = 200 * time.Millisecond

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	urls := append([]string{c.URL}, c.Replicas...)
	if len(urls) > MaxURLs {
		return fmt.Errorf("enrol: %d central URLs, at most %d", len(urls), MaxURLs)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for i, u := range urls {
		if i > 0 {
			// Jittered, growing pause: enrolling devices leaving a dead
			// replica do not arrive at the next one in step.
			d := time.Duration(i) * retryPause
			t := time.NewTimer(d/2 + rand.N(d/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		err = c.postTo(ctx, u, path, body, out)
		var ue unreachedError
		if err == nil || !errors.As(err, &ue) {
			return err
		}
	}
	return errors.Unwrap(err)
}

// unreachedError is a request central certainly did not act on.
type unreachedError struct{ error }

func (e unreachedError) Unwrap() error { return e.error }

func (c *Client) postTo(ctx context.Context, base, path string, body []byte, out any) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("enrol: central URL %q: want http(s)://host[:port]", base)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	rsp, err := hc.Do(req)
	if err != nil {
		var ua x509.UnknownAuthorityError
		var cv *tls.CertificateVerificationError
		if u.Scheme == "https" && (errors.As(err, &ua) || errors.As(err, &cv)) {
			return fmt.Errorf("enrol: central's TLS certificate is not trusted (pass --central-root-sha256, as edgetrust-central tls root prints it): %w", err)
		}
		err = fmt.Errorf("enrol: reaching central: %w", err)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && ctx.Err() == nil {
			return unreachedError{err}
		}
		return err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(rsp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("enrol: reading central's answer: %w", err)
	}
	if rsp.StatusCode != http.StatusOK {
		var e struct {
			Error *Error `json:"error"`
		}
		var err error = fmt.Errorf("enrol: central answered %s", rsp.Status)
		if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code != "" {
			e.Error.Status = rsp.StatusCode
			err = e.Error
		}
		if rsp.StatusCode == http.StatusServiceUnavailable {
			// Not acted on (a 502 or 504 from a proxy may have been).
			return unreachedError{err}
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("enrol: central's answer is not what %s returns: %w", path, err)
	}
	return nil
}

// Start sends a start request.
func (c *Client) Start(ctx context.Context, q *StartRequest) (*StartResponse, error) {
	var r StartResponse
	return &r, c.post(ctx, PathStart, q, &r)
}

// Finish sends a finish request.
func (c *Client) Finish(ctx context.Context, q *FinishRequest) (*FinishResponse, error) {
	var r FinishResponse
	return &r, c.post(ctx, PathFinish, q, &r)
}

// RotateStart sends a rotation start request.
func (c *Client) RotateStart(ctx context.Context, q *RotateStartRequest) (*RotateStartResponse, error) {
	var r RotateStartResponse
	return &r, c.post(ctx, PathRotateStart, q, &r)
}

// RotateFinish sends a rotation finish request.
func (c *Client) RotateFinish(ctx context.Context, q *RotateFinishRequest) (*RotateFinishResponse, error) {
	var r RotateFinishResponse
	return &r, c.post(ctx, PathRotateFinish, q, &r)
}

// Prover is the TPM side of enrolment: a TPM and the AK central will know
// it by. Keep the AK (its blob) after enrolment: rotation needs it.
type Prover struct {
	TPM *tpm.TPM
	AK  *tpm.Key
	// EKCert overrides the EK certificate read from the TPM (DER); for TPMs
	// whose certificate is distributed out of band.
	EKCert []byte
}

// DeviceKeys are one device's digital ID and TPM keys to certify.
type DeviceKeys struct {
	DigitalID sbi.DigitalID
	FTM       *tpm.Key
	Device    *tpm.Key
}

// StartRequest builds the start request for token.
func (p *Prover) StartRequest(ctx context.Context, token string) (*StartRequest, error) {
	if p.AK == nil || p.AK.Kind() != tpm.AttestationKey {
		return nil, errors.New("enrol: the prover needs an attestation key")
	}
	ek, err := p.TPM.EndorsementKey(ctx)
	if err != nil {
		return nil, err
	}
	q := &StartRequest{Token: token, EKPublic: ek.PublicArea(), AKPublic: p.AK.PublicArea(), EKCert: p.EKCert}
	if q.EKCert == nil && ek.Certificate != nil {
		q.EKCert = ek.Certificate.Raw
	}
	return q, nil
}

// Activate recovers the credential secret of a start response.
func (p *Prover) Activate(ctx context.Context, r *StartResponse) ([]byte, error) {
	return p.TPM.ActivateCredential(ctx, p.AK, r.CredentialBlob, r.EncryptedSecret)
}

// Prove makes a certify proof for key bound to nonce, role and subject.
func (p *Prover) Prove(ctx context.Context, key *tpm.Key, nonce []byte, role string, subject []byte) (KeyProof, error) {
	a, err := p.TPM.Certify(ctx, key, p.AK, CertifyNonce(nonce, role, subject))
	if err != nil {
		return KeyProof{}, err
	}
	return KeyProof{PublicArea: key.PublicArea(), Certify: *a}, nil
}

// start runs the first round trip and the credential activation under a
// token that must be of kind (what names it in the error).
func (p *Prover) start(ctx context.Context, c *Client, token, kind, what string) (*StartResponse, []byte, error) {
	q, err := p.StartRequest(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.Start(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if r.Kind != kind {
		return nil, nil, fmt.Errorf("enrol: the token is a %s token, not for %s", r.Kind, what)
	}
	secret, err := p.Activate(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return r, secret, nil
}

// EnrolDevices runs both round trips for devices under a device token.
func (p *Prover) EnrolDevices(ctx context.Context, c *Client, token string, devs []DeviceKeys) (*FinishResponse, error) {
	if len(devs) == 0 || len(devs) > MaxDevices {
		return nil, fmt.Errorf("enrol: 1–%d devices per enrolment", MaxDevices)
	}
	r, secret, err := p.start(ctx, c, token, KindDevice, "devices")
	if err != nil {
		return nil, err
	}
	f := &FinishRequest{Session: r.Session, Secret: secret}
	for _, d := range devs {
		subj := DigitalIDSubject(d.DigitalID)
		dr := DeviceRequest{DigitalID: d.DigitalID}
		if dr.FTMKey, err = p.Prove(ctx, d.FTM, r.Nonce, RoleFTM, subj); err != nil {
			return nil, err
		}
		if dr.DeviceKey, err = p.Prove(ctx, d.Device, r.Nonce, RoleDevice, subj); err != nil {
			return nil, err
		}
		f.Devices = append(f.Devices, dr)
	}
	return c.Finish(ctx, f)
}

// EnrolAppliance runs both round trips for an appliance under an appliance
// token: enc must be an RSA2048Decrypt key, sign a signing key.
//
// soft, if not nil, is a software decryption key to have certified as the
// SBI encryption key instead of enc (SoftKeyProof).
func (p *Prover) EnrolAppliance(ctx context.Context, c *Client, token, id string, enc, sign *tpm.Key, soft *rsa.PublicKey) (*FinishResponse, error) {
	r, secret, err := p.start(ctx, c, token, KindAppliance, "an appliance")
	if err != nil {
		return nil, err
	}
	subj := ApplianceSubject(id)
	a := &ApplianceRequest{ID: id}
	if a.EncryptionKey, err = p.Prove(ctx, enc, r.Nonce, RoleApplianceEncrypt, subj); err != nil {
		return nil, err
	}
	if a.SigningKey, err = p.Prove(ctx, sign, r.Nonce, RoleApplianceSign, subj); err != nil {
		return nil, err
	}
	if soft != nil {
		if a.SoftEncryptionKey, err = ProveSoftKey(sign, r.Nonce, subj, soft); err != nil {
			return nil, err
		}
	}
	return c.Finish(ctx, &FinishRequest{Session: r.Session, Secret: secret, Appliance: a})
}

// RotateDevice has central certify newKey as serial's device key.
func (p *Prover) RotateDevice(ctx context.Context, c *Client, serial string, newKey *tpm.Key) (*RotateFinishResponse, error) {
	r, err := c.RotateStart(ctx, &RotateStartRequest{Serial: serial})
	if err != nil {
		return nil, err
	}
	kp, err := p.Prove(ctx, newKey, r.Nonce, RoleRotateDevice, SerialSubject(serial))
	if err != nil {
		return nil, err
	}
	return c.RotateFinish(ctx, &RotateFinishRequest{Session: r.Session, DeviceKey: kp})
}
