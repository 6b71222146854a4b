package fakesbi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/sbi"
)

//go:embed data/auth_left_index.iso
var fingerISO []byte

// Faults.
const (
	None         = ""
	BadSignature = "bad-signature" // the data JWS signature is altered
	Unchained    = "unchained"     // the device certificate comes from a CA the ctk does not trust
	Millis       = "millis"        // data.timestamp carries milliseconds (bioValue re-encrypted, data re-signed)
	BrokenHash   = "broken-hash"   // the second segment's hash does not continue the chain
	WrongCount   = "wrong-count"   // one entry more than count
	EarlyTimeout = "early-timeout" // answers "nothing presented" at once instead of at the timeout
	WrongKey     = "wrong-enc-key" // bioValue encrypted to another key, the ctk's thumbprint claimed
	Resigned     = "resigned"      // control: re-encrypted and re-signed without a fault
)

// Faults lists every fault.
var Faults = []string{BadSignature, Unchained, Millis, BrokenHash, WrongCount, EarlyTimeout, WrongKey}

// PKI holds the fake provider and FTM CAs and keys.
type PKI struct {
	DeviceCA, FTMCA, RogueCA          *x509.Certificate
	deviceCAKey, ftmCAKey, rogueCAKey *rsa.PrivateKey
	deviceKey, ftmKey, otherKey       *rsa.PrivateKey
	otherCert                         *x509.Certificate
}

// NewPKI makes the CAs and keys (a few RSA-2048 keys: about a second).
func NewPKI() (*PKI, error) {
	p := &PKI{}
	for _, k := range []**rsa.PrivateKey{&p.deviceCAKey, &p.ftmCAKey, &p.rogueCAKey, &p.deviceKey, &p.ftmKey, &p.otherKey} {
		var err error
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	var err error
	if p.DeviceCA, err = issue("fake device CA", &p.deviceCAKey.PublicKey, nil, p.deviceCAKey, true, now); err != nil {
		return nil, err
	}
	if p.FTMCA, err = issue("fake FTM CA", &p.ftmCAKey.PublicKey, nil, p.ftmCAKey, true, now); err != nil {
		return nil, err
	}
	if p.RogueCA, err = issue("rogue CA", &p.rogueCAKey.PublicKey, nil, p.rogueCAKey, true, now); err != nil {
		return nil, err
	}
	if p.otherCert, err = issue("someone else's encryption key", &p.otherKey.PublicKey, nil, p.otherKey, false, now); err != nil {
		return nil, err
	}
	return p, nil
}

func issue(cn string, pub any, parent *x509.Certificate, parentKey *rsa.PrivateKey, ca bool, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"ctk test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: ca,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Pools returns the DEVICE and FTM root pools.
func (p *PKI) Pools() (device, ftm *x509.CertPool) {
	device, ftm = x509.NewCertPool(), x509.NewCertPool()
	device.AddCert(p.DeviceCA)
	ftm.AddCert(p.FTMCA)
	return device, ftm
}

// WriteCAs writes device-ca.pem and ftm-ca.pem into dir.
func (p *PKI) WriteCAs(dir string) (deviceCA, ftmCA string, err error) {
	deviceCA, ftmCA = filepath.Join(dir, "device-ca.pem"), filepath.Join(dir, "ftm-ca.pem")
	for path, c := range map[string]*x509.Certificate{deviceCA: p.DeviceCA, ftmCA: p.FTMCA} {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
			return "", "", err
		}
	}
	return deviceCA, ftmCA, nil
}

// Device is a running fake finger device (Single, Auth, L1, id FAKE0001).
type Device struct {
	URL     string
	fault   string
	pki     *PKI
	enc     *x509.Certificate // the certificate auth captures should be encrypted to
	builder *sbi.Builder
	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
}

// Start serves a fake device on 127.0.0.1 (a free port) that encrypts to
// enc, with the given fault.
func Start(p *PKI, enc *x509.Certificate, fault string) (*Device, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	now := time.Now()
	ca, caKey := p.DeviceCA, p.deviceCAKey
	if fault == Unchained {
		ca, caKey = p.RogueCA, p.rogueCAKey
	}
	devCert, err := issue("FAKE0001", &p.deviceKey.PublicKey, ca, caKey, false, now)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ftmCert, err := issue("FAKE0001 FTM", &p.ftmKey.PublicKey, p.FTMCA, p.ftmCAKey, false, now)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d := &Device{URL: "http://127.0.0.1:" + strconv.Itoa(port), fault: fault, pki: p, enc: enc, ln: ln}
	d.builder = &sbi.Builder{
		Device: sbi.Device{DeviceID: "FAKE0001", DeviceCode: "FAKE0001", Certification: sbi.CertL1, ServiceVersion: "1.0",
			Firmware: "1.0", Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SubIDs: []int{0}, Port: port,
			DigitalID: sbi.DigitalID{SerialNo: "FAKE0001", Make: "fake", Model: "fake finger", Type: sbi.TypeFinger,
				DeviceSubType: "Single", DeviceProvider: "ctk tests", DeviceProviderID: "CTK.TEST"}},
		DeviceKey: sbi.Identity{Signer: p.deviceKey, Chain: []*x509.Certificate{devCert}},
		FTMKey:    sbi.Identity{Signer: p.ftmKey, Chain: []*x509.Certificate{ftmCert}},
	}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

// Close stops the device.
func (d *Device) Close() error { return d.srv.Close() }

// writeJSON answers 200 with v, as SBI answers every JSON, errors included.
func writeJSON(w http.ResponseWriter, v any) { httpx.WriteJSON(w, http.StatusOK, v) }

// ServeHTTP answers MOSIPDISC, MOSIPDINFO and CAPTURE.
func (d *Device) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, sbi.MaxRequestSize+1))
	switch r.Method {
	case sbi.MethodDiscover:
		req, err := sbi.ParseDiscoverRequest(body)
		if err != nil || (req.Type != sbi.TypeAny && !sbi.ValidType(req.Type)) {
			writeJSON(w, sbi.ErrorList(sbi.NewError(sbi.CodeInvalidType)))
			return
		}
		disc, err := d.builder.Discovery(sbi.StatusReady)
		if err != nil {
			writeJSON(w, sbi.ErrorList(sbi.NewError(sbi.CodeUnknown)))
			return
		}
		writeJSON(w, []sbi.Discovery{disc})
	case sbi.MethodInfo:
		e, err := d.builder.Info(sbi.StatusReady)
		if err != nil {
			writeJSON(w, sbi.ErrorList(sbi.NewError(sbi.CodeUnknown)))
			return
		}
		writeJSON(w, []sbi.InfoEntry{e})
	case sbi.MethodCapture:
		d.capture(w, body)
	default:
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, sbi.ErrorList(sbi.NewError(sbi.CodeMalformedRequest)))
	}
}

func (d *Device) capture(w http.ResponseWriter, body []byte) {
	start := time.Now()
	req, err := sbi.ParseCaptureRequest(body)
	if err != nil {
		writeJSON(w, sbi.ErrorCapture(sbi.PurposeAuth, "", sbi.NewError(sbi.CodeMalformedRequest)))
		return
	}
	if e := sbi.ValidateCaptureRequest(sbi.PurposeAuth, req); !e.OK() {
		writeJSON(w, sbi.ErrorCapture(sbi.PurposeAuth, req.SpecVersion, e))
		return
	}
	timeout := 10 * time.Second
	if ms, err := req.Timeout.Int(); err == nil && ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	// A timeout of a second or less stands for "nothing on the sensor": a
	// correct device waits it out and answers 101; the faulty one at once.
	if timeout <= time.Second {
		if d.fault != EarlyTimeout {
			time.Sleep(time.Until(start.Add(timeout)))
		}
		writeJSON(w, sbi.ErrorCapture(sbi.PurposeAuth, req.SpecVersion, sbi.NewError(sbi.CodeNoBiometric)))
		return
	}
	var segs []sbi.Segment
	for _, s := range sbi.Segments(sbi.PurposeAuth, &req.Bio[0]) {
		segs = append(segs, sbi.Segment{SubType: s, ISO: fingerISO, Quality: 76})
	}
	if d.fault == BrokenHash && len(segs) == 1 {
		segs = append(segs, segs[0])
	}
	enc := d.enc
	if d.fault == WrongKey {
		enc = d.pki.otherCert
	}
	d.mu.Lock()
	resp, err := d.builder.Capture(req, segs, enc)
	d.mu.Unlock()
	if err != nil {
		writeJSON(w, sbi.ErrorCapture(sbi.PurposeAuth, req.SpecVersion, sbi.NewError(sbi.CodeUnknown)))
		return
	}
	if err := d.tamper(resp, req); err != nil {
		writeJSON(w, sbi.ErrorCapture(sbi.PurposeAuth, req.SpecVersion, sbi.Error{Code: sbi.CodeUnknown, Info: err.Error()}))
		return
	}
	writeJSON(w, resp)
}

func (d *Device) tamper(resp *sbi.CaptureResponse, req *sbi.CaptureRequest) error {
	switch d.fault {
	case BadSignature:
		s := resp.Biometrics[0].Data
		i := strings.LastIndexByte(s, '.') + 5
		c := "A"
		if s[i] == 'A' {
			c = "B"
		}
		resp.Biometrics[0].Data = s[:i] + c + s[i+1:]
	case Millis, Resigned:
		for i := range resp.Biometrics {
			if err := d.resign(&resp.Biometrics[i], req, d.fault == Millis); err != nil {
				return err
			}
		}
	case BrokenHash:
		h := sha256.Sum256([]byte("not the chain"))
		resp.Biometrics[1].Hash = strings.ToUpper(hex.EncodeToString(h[:]))
	case WrongCount:
		resp.Biometrics = append(resp.Biometrics, resp.Biometrics[0])
	case WrongKey:
		tp := sbi.Thumbprint(d.enc)
		for i := range resp.Biometrics {
			resp.Biometrics[i].Thumbprint = &tp
		}
	}
	return nil
}

// resign rebuilds a data block with a fresh timestamp (with milliseconds
// when millis), re-encrypts the bioValue to match and signs it again.
func (d *Device) resign(e *sbi.Biometric, req *sbi.CaptureRequest, millis bool) error {
	j, err := sbi.ParseJWS(e.Data)
	if err != nil {
		return err
	}
	var data map[string]any
	if err := jsonx.Unmarshal(j.Payload, &data, jsonx.Limits{MaxBytes: sbi.MaxJWSSize}); err != nil {
		return err
	}
	layout := "2006-01-02T15:04:05Z"
	if millis {
		layout = "2006-01-02T15:04:05.000Z"
	}
	ts := time.Now().UTC().Format(layout)
	bv, sk, err := sbi.EncryptBioValue(d.enc, fingerISO, ts, req.TransactionID)
	if err != nil {
		return fmt.Errorf("re-encrypting: %w", err)
	}
	data["timestamp"], data["bioValue"] = ts, bv
	e.SessionKey = &sk
	p, err := json.Marshal(data)
	if err != nil {
		return err
	}
	e.Data, err = d.builder.DeviceKey.Sign(p)
	return err
}
