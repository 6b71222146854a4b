package sbi

import (
	"crypto/x509"
	"strings"
)

// InfoResult is a verified device info element.
type InfoResult struct {
	Info      *DeviceInfo
	DigitalID *DigitalID
	Leaf      *x509.Certificate // deviceInfo signer, nil when unsigned
	Signed    bool
}

func validSpecVersion(s []string) bool {
	return len(s) > 0 && (s[0] == SpecVersion || s[0] == "1.0.0")
}

func validStatus(s string) bool {
	switch s {
	case StatusReady, StatusBusy, StatusNotReady, StatusNotRegistered:
		return true
	}
	return false
}

// checkStatusError applies §9 checks 7 and 11: Ready carries the exact
// success object, Busy and Not Ready a 3-digit error, Not Registered 100.
func checkStatusError(ps *Problems, status string, e Error, seg int) {
	switch status {
	case StatusReady:
		if e != Success {
			ps.addf(CheckStatus, seg, "error", "Ready device without the exact success object")
		}
	case StatusBusy, StatusNotReady:
		if e.OK() || !ValidErrorCode(string(e.Code)) {
			ps.addf(CheckStatus, seg, "error", "%s device without a 3-digit error code", status)
		}
	case StatusNotRegistered:
		if e.Code != CodeNotRegistered {
			ps.addf(CheckStatus, seg, "error", "Not Registered device without error 100")
		}
	default:
		ps.addf(CheckStatus, seg, "deviceStatus", "unknown deviceStatus")
	}
}

func checkSubIDs(ps *Problems, ids []NumString, seg int) {
	if len(ids) == 0 {
		ps.addf(CheckField, seg, "deviceSubId", "deviceSubId is empty")
	}
	for _, id := range ids {
		if n, err := id.Int(); err != nil || n < 0 {
			ps.addf(CheckField, seg, "deviceSubId", "deviceSubId value is not a non-negative integer")
		}
	}
}

func required(ps *Problems, seg int, fields ...string) {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(fields[i+1]) == "" {
			ps.addf(CheckField, seg, fields[i], "%s is empty", fields[i])
		}
	}
}

// VerifyDiscovery checks one discovery element (§2.2, §9 checks 3-6). port,
// when non-zero, is the port the answer came from; callbackId must name it.
// It returns the decoded (unsigned) digital ID.
func (v *Verifier) VerifyDiscovery(d *Discovery, port, seg int) (*DigitalID, Problems) {
	var ps Problems
	now := v.now()
	checkStatusError(&ps, d.DeviceStatus, d.Error, seg)
	registered := d.DeviceStatus != StatusNotRegistered
	required(&ps, seg, "deviceStatus", d.DeviceStatus, "certification", d.Certification,
		"callbackId", d.CallbackID, "digitalId", d.DigitalID)
	if registered {
		required(&ps, seg, "deviceId", d.DeviceID, "deviceCode", d.DeviceCode, "purpose", d.Purpose)
		if d.Purpose != PurposeAuth && d.Purpose != PurposeRegistration {
			ps.addf(CheckField, seg, "purpose", "purpose is not Auth or Registration")
		}
	}
	if d.Certification != CertL0 && d.Certification != CertL1 {
		ps.addf(CheckField, seg, "certification", "certification is not L0 or L1")
	}
	if !validSpecVersion(d.SpecVersion) {
		ps.addf(CheckSpecVersion, seg, "specVersion", "specVersion[0] is not a supported version")
	}
	checkSubIDs(&ps, d.DeviceSubID, seg)
	if port != 0 && d.CallbackID != CallbackID(port) {
		ps.addf(CheckField, seg, "callbackId", "callbackId does not name the answering port")
	}
	if d.DigitalID == "" {
		return nil, ps
	}
	if strings.Contains(d.DigitalID, ".") {
		ps.addf(CheckDigitalID, seg, "digitalId", "discovery digital ID must be unsigned")
		return nil, ps
	}
	did, _, err := DecodeDigitalID(d.DigitalID)
	if err != nil {
		ps.add(CheckDigitalID, seg, "digitalId", err)
		return nil, ps
	}
	v.checkDigitalIDContent(&ps, did, "", now, seg, "digitalId")
	return did, ps
}

// VerifyInfo checks one device info element (§2.3, §9 checks 7-12): the
// deviceInfo JWS chains to DeviceRoots, its digital ID is signed per the
// certification level, fields are present and status and error agree.
func (v *Verifier) VerifyInfo(e *InfoEntry, seg int) (*InfoResult, Problems) {
	var ps Problems
	now := v.now()
	res := &InfoResult{}
	var payload []byte
	var outer *JWS
	if strings.Contains(e.DeviceInfo, ".") {
		j, err := ParseJWS(e.DeviceInfo)
		if err != nil {
			ps.add(CheckJWS, seg, "deviceInfo", err)
			return nil, ps
		}
		v.verifyBlock(&ps, j, v.DeviceRoots, now, seg, "deviceInfo")
		payload, outer, res.Leaf, res.Signed = j.Payload, j, j.Leaf(), true
	} else {
		p, err := DecodeUnsigned(e.DeviceInfo)
		if err != nil || len(p) == 0 {
			ps.addf(CheckInput, seg, "deviceInfo", "deviceInfo is neither a JWS nor base64url")
			return nil, ps
		}
		payload = p
	}
	info, err := ParseDeviceInfo(payload)
	if err != nil {
		ps.add(CheckInput, seg, "deviceInfo", err)
		return nil, ps
	}
	res.Info = info
	checkStatusError(&ps, info.DeviceStatus, e.Error, seg)
	if validStatus(info.DeviceStatus) && info.DeviceStatus != StatusNotRegistered && !res.Signed {
		ps.addf(CheckSignature, seg, "deviceInfo", "registered device sent an unsigned deviceInfo")
	}
	registered := info.DeviceStatus != StatusNotRegistered
	required(&ps, seg, "serviceVersion", info.ServiceVersion, "firmware", info.Firmware,
		"certification", info.Certification, "callbackId", info.CallbackID, "digitalId", info.DigitalID, "env", info.Env)
	if registered {
		required(&ps, seg, "deviceId", info.DeviceID, "deviceCode", info.DeviceCode)
		if !ValidEnv(info.Env) {
			ps.addf(CheckField, seg, "env", "env is not a registered environment")
		}
		if info.Purpose != PurposeAuth && info.Purpose != PurposeRegistration {
			ps.addf(CheckField, seg, "purpose", "purpose is not Auth or Registration")
		}
	} else if info.Env != EnvNone && !ValidEnv(info.Env) {
		ps.addf(CheckField, seg, "env", "env is not valid")
	}
	if info.Certification != CertL0 && info.Certification != CertL1 {
		ps.addf(CheckField, seg, "certification", "certification is not L0 or L1")
	}
	if !validSpecVersion(info.SpecVersion) {
		ps.addf(CheckSpecVersion, seg, "specVersion", "specVersion[0] is not a supported version")
	}
	checkSubIDs(&ps, info.DeviceSubID, seg)
	if info.DigitalID == "" {
		return res, ps
	}
	if !registered {
		did, j, err := DecodeDigitalID(info.DigitalID)
		if err != nil {
			ps.add(CheckDigitalID, seg, "deviceInfo.digitalId", err)
			return res, ps
		}
		if j != nil {
			ps.addf(CheckDigitalID, seg, "deviceInfo.digitalId", "unregistered device sent a signed digital ID")
		}
		v.checkDigitalIDContent(&ps, did, "", now, seg, "deviceInfo.digitalId")
		res.DigitalID = did
		return res, ps
	}
	cert := info.Certification
	if cert != CertL0 && cert != CertL1 {
		cert = ""
	}
	res.DigitalID, _ = v.verifyDigitalID(&ps, info.DigitalID, cert, outer, "", now, seg, "deviceInfo.digitalId")
	return res, ps
}
