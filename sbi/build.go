package sbi

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Device describes the device a Builder answers for.
type Device struct {
	DeviceID       string
	DeviceCode     string
	Certification  string // CertL0 or CertL1
	ServiceVersion string
	Firmware       string
	Env            string
	Purpose        string
	SubIDs         []int
	Port           int
	DigitalID      DigitalID // DateTime is set on every use
	SpecVersions   []string  // default [SpecVersion]
}

// Builder produces signed answers for one device. DeviceKey signs deviceInfo
// and data; FTMKey signs the digital ID for L1 devices (L0 devices sign it
// with DeviceKey). Now defaults to time.Now.
type Builder struct {
	Device    Device
	DeviceKey Identity
	FTMKey    Identity
	Now       func() time.Time
	// DigitalIDMaxAge, when positive, lets answers reuse a signed digital
	// ID until its dateTime is this old, so a capture costs one signature
	// per biometric instead of one more for the digital ID. Keep it well
	// under the 60 s IDA allows.
	DigitalIDMaxAge time.Duration

	mu       sync.Mutex
	cachedID string
	cachedAt time.Time
}

// Segment is one captured segment handed to Builder.Capture.
type Segment struct {
	Type    string  // bioType; "" means the request's first bio type
	SubType string  // ignored for Face
	ISO     []byte  // the raw ISO/IEC 19794 record
	Quality float64 // 0-100
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) specVersions() []string {
	if len(b.Device.SpecVersions) > 0 {
		return b.Device.SpecVersions
	}
	return []string{SpecVersion}
}

func (b *Builder) subIDs() []NumString {
	out := make([]NumString, len(b.Device.SubIDs))
	for i, id := range b.Device.SubIDs {
		out[i] = NumString(strconv.Itoa(id))
	}
	return out
}

func (b *Builder) digitalID() DigitalID {
	d := b.Device.DigitalID
	d.DateTime = FormatTime(b.now())
	return d
}

// SignedDigitalID returns a fresh digital ID JWS: FTM key for L1, device
// key for L0.
func (b *Builder) SignedDigitalID() (string, error) {
	if b.DigitalIDMaxAge <= 0 {
		return b.signDigitalID()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.cachedID != "" && !now.Before(b.cachedAt) && now.Sub(b.cachedAt) < b.DigitalIDMaxAge {
		return b.cachedID, nil
	}
	s, err := b.signDigitalID()
	if err != nil {
		return "", err
	}
	// dateTime has second precision: age the cache from the value signed.
	b.cachedID, b.cachedAt = s, now.Truncate(time.Second)
	return s, nil
}

func (b *Builder) signDigitalID() (string, error) {
	id := b.DeviceKey
	if b.Device.Certification == CertL1 {
		if b.FTMKey.Signer == nil {
			return "", errors.New("sbi: L1 device needs an FTM key")
		}
		id = b.FTMKey
	}
	return b.digitalID().Sign(id)
}

func statusError(status string) Error {
	switch status {
	case StatusReady:
		return Success
	case StatusBusy:
		return NewError(CodeBusy)
	case StatusNotReady:
		return NewError(CodeNotReady)
	case StatusNotRegistered:
		return NewError(CodeNotRegistered)
	}
	return NewError(CodeUnknown)
}

// Discovery returns this device's discovery element for a status. The
// digital ID is the unsigned form. A Not Registered device reports empty
// deviceId, deviceCode and purpose.
func (b *Builder) Discovery(status string) (Discovery, error) {
	did, err := b.digitalID().Unsigned()
	if err != nil {
		return Discovery{}, err
	}
	d := Discovery{
		DeviceID:       b.Device.DeviceID,
		DeviceStatus:   status,
		Certification:  b.Device.Certification,
		ServiceVersion: b.Device.ServiceVersion,
		DeviceSubID:    b.subIDs(),
		CallbackID:     CallbackID(b.Device.Port),
		DigitalID:      did,
		DeviceCode:     b.Device.DeviceCode,
		SpecVersion:    b.specVersions(),
		Purpose:        b.Device.Purpose,
		Error:          statusError(status),
	}
	if status == StatusNotRegistered {
		d.DeviceID, d.DeviceCode, d.Purpose = "", "", ""
	}
	return d, nil
}

// Info returns this device's info element for a status: deviceInfo signed
// with the device key, or for Not Registered the bare base64url payload
// with an unsigned digital ID, env "None" and error 100.
func (b *Builder) Info(status string) (InfoEntry, error) {
	info := DeviceInfo{
		DeviceStatus:   status,
		DeviceID:       b.Device.DeviceID,
		Firmware:       b.Device.Firmware,
		Certification:  b.Device.Certification,
		ServiceVersion: b.Device.ServiceVersion,
		DeviceSubID:    b.subIDs(),
		CallbackID:     CallbackID(b.Device.Port),
		DeviceCode:     b.Device.DeviceCode,
		Env:            b.Device.Env,
		Purpose:        b.Device.Purpose,
		SpecVersion:    b.specVersions(),
	}
	var err error
	if status == StatusNotRegistered {
		info.Env, info.Purpose, info.DeviceID, info.DeviceCode = EnvNone, "", "", ""
		if info.DigitalID, err = b.digitalID().Unsigned(); err != nil {
			return InfoEntry{}, err
		}
		p, err := json.Marshal(info)
		if err != nil {
			return InfoEntry{}, err
		}
		return InfoEntry{DeviceInfo: EncodeUnsigned(p), Error: statusError(status)}, nil
	}
	if info.DigitalID, err = b.SignedDigitalID(); err != nil {
		return InfoEntry{}, err
	}
	p, err := json.Marshal(info)
	if err != nil {
		return InfoEntry{}, err
	}
	jws, err := b.DeviceKey.Sign(p)
	if err != nil {
		return InfoEntry{}, err
	}
	return InfoEntry{DeviceInfo: jws, Error: statusError(status)}, nil
}

// Capture builds a signed CAPTURE or RCAPTURE answer for a validated
// request (purpose from req.Purpose). For Auth, enc is the encryption
// certificate chosen for req.DomainURI; each segment gets a fresh session
// key. The hash chain starts from the first bio element's previousHash.
func (b *Builder) Capture(req *CaptureRequest, segs []Segment, enc *x509.Certificate) (*CaptureResponse, error) {
	if req == nil || len(req.Bio) == 0 {
		return nil, errors.New("sbi: capture request without bio")
	}
	if len(segs) > MaxBiometrics {
		return nil, ErrTooMany
	}
	auth := req.Purpose == PurposeAuth
	if auth && enc == nil {
		return nil, errors.New("sbi: auth capture needs an encryption certificate")
	}
	chain, err := NewHashChain(req.Bio[0].PreviousHash)
	if err != nil {
		return nil, err
	}
	did, err := b.SignedDigitalID()
	if err != nil {
		return nil, err
	}
	spec := req.SpecVersion
	if spec == "" {
		spec = SpecVersion
	}
	var thumb string
	if auth {
		thumb = Thumbprint(enc)
	}
	resp := &CaptureResponse{Biometrics: make([]Biometric, 0, len(segs))}
	for i, s := range segs {
		bio := &req.Bio[0]
		if s.Type != "" {
			bio = nil
			for j := range req.Bio {
				if req.Bio[j].Type == s.Type {
					bio = &req.Bio[j]
					break
				}
			}
			if bio == nil {
				return nil, fmt.Errorf("segment %d: type was not requested", i)
			}
		}
		typ := bio.Type
		sub := s.SubType
		if typ == TypeFace {
			sub = ""
		}
		ts := FormatTime(b.now())
		d := CaptureData{
			DigitalID:            did,
			DeviceCode:           b.Device.DeviceCode,
			DeviceServiceVersion: b.Device.ServiceVersion,
			BioType:              typ,
			BioSubType:           sub,
			Purpose:              req.Purpose,
			Env:                  req.Env,
			TransactionID:        req.TransactionID,
			Timestamp:            ts,
			RequestedScore:       requestedScore(bio.RequestedScore),
			QualityScore:         Score(s.Quality),
		}
		e := Biometric{SpecVersion: spec, Error: Success}
		if auth {
			d.DomainURI = strPtr(req.DomainURI)
			var key string
			if d.BioValue, key, err = EncryptBioValue(enc, s.ISO, ts, req.TransactionID); err != nil {
				return nil, fmt.Errorf("segment %d: %w", i, err)
			}
			e.SessionKey, e.Thumbprint = strPtr(key), strPtr(thumb)
		} else {
			d.BioValue = EncodeUnsigned(s.ISO)
		}
		p, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		if e.Data, err = b.DeviceKey.Sign(p); err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		e.Hash = chain.Next(s.ISO)
		resp.Biometrics = append(resp.Biometrics, e)
	}
	return resp, nil
}

// requestedScore echoes the request's score in the CTK's decimal form.
func requestedScore(n NumString) NumString {
	f, err := n.Float()
	if err != nil {
		return Score(0)
	}
	return Score(f)
}

// ErrorCapture returns the error answer for CAPTURE (purpose Auth, which
// adds empty sessionKey and thumbprint) or RCAPTURE.
func ErrorCapture(purpose, specVersion string, e Error) *CaptureResponse {
	if specVersion == "" {
		specVersion = SpecVersion
	}
	b := Biometric{SpecVersion: specVersion, Error: e}
	if purpose == PurposeAuth {
		b.SessionKey, b.Thumbprint = strPtr(""), strPtr("")
	}
	return &CaptureResponse{Biometrics: []Biometric{b}}
}

// ErrorList returns the discovery or info error answer [{"error":{...}}].
func ErrorList(e Error) []ErrorEntry { return []ErrorEntry{{Error: e}} }
