package enroltest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/internal/tpm/swtpmtest"
)

// RequireSwtpm is true when CI demands swtpm (EDGETRUST_REQUIRE_SWTPM=1):
// a missing swtpm fails instead of skipping.
func RequireSwtpm() bool { return swtpmtest.Required() }

// Swtpm is a swtpm process on loopback, stopped when the test ends.
type Swtpm = swtpmtest.Swtpm

// StartSwtpm starts a swtpm with a fresh state. It skips the test when
// swtpm is missing, unless RequireSwtpm.
func StartSwtpm(t testing.TB) *Swtpm { return swtpmtest.Start(t) }

// rawTCP sends raw TPM commands to a swtpm's data port.
type rawTCP struct{ c net.Conn }

func (r rawTCP) Send(cmd []byte) ([]byte, error) {
	r.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := r.c.Write(cmd); err != nil {
		return nil, err
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(r.c, hdr); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[2:6])
	if n < 10 || n > 64<<10 {
		return nil, errors.New("bad TPM response size")
	}
	rsp := make([]byte, n)
	copy(rsp, hdr)
	_, err := io.ReadFull(r.c, rsp[10:])
	return rsp, err
}

// parseBlob splits an internal/tpm key blob ("ETPMKEY1", kind, 2B public,
// 2B private).
func parseBlob(b []byte) (tpm2.TPM2BPublic, tpm2.TPM2BPrivate, error) {
	const magic = "ETPMKEY1"
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, errors.New("not a key blob")
	}
	b = b[len(magic)+1:]
	next := func() []byte {
		if len(b) < 2 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f
	}
	p, s := next(), next()
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](p)
	if err != nil {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, err
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](s)
	if err != nil {
		return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, err
	}
	return *pub, *priv, nil
}

// CertifySoftwareKey plays an attacker with a genuine TPM and AK who wants a
// certificate for a key that lives in software: it loads a software RSA-2048
// key into the TPM with TPM2_LoadExternal and has the AK (akBlob, from
// tpm.Key.Blob) certify it with nonce. No other client may be connected to
// the swtpm meanwhile. It returns the external key's public area and the
// proof, and the software key.
func CertifySoftwareKey(addr string, akBlob, nonce []byte) ([]byte, *tpm.Attestation, *rsa.PrivateKey, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.Close()
	var tp transport.TPM = rawTCP{c}
	// Flush what an earlier client left loaded: this needs three slots.
	if caps, err := (tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 16}).Execute(tp); err == nil {
		if hs, err := caps.CapabilityData.Data.Handles(); err == nil {
			for _, h := range hs.Handle {
				tpm2.FlushContext{FlushHandle: h}.Execute(tp)
			}
		}
	}
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tp)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("SRK: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(tp)
	akPub, akPriv, err := parseBlob(akBlob)
	if err != nil {
		return nil, nil, nil, err
	}
	akr, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    akPriv, InPublic: akPub,
	}.Execute(tp)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading AK: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: akr.ObjectHandle}.Execute(tp)

	sk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, err
	}
	pub := tpm2.TPMTPublic{
		Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256,
		// LoadExternal with a private part requires fixedTPM and
		// fixedParent clear: the TPM itself says it did not make the key.
		ObjectAttributes: tpm2.TPMAObject{SignEncrypt: true, UserWithAuth: true, NoDA: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull}, KeyBits: 2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: sk.N.Bytes()}),
	}
	sens := tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgRSA,
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgRSA, &tpm2.TPM2BPrivateKeyRSA{Buffer: sk.Primes[0].Bytes()}),
	}
	ext, err := tpm2.LoadExternal{InPublic: tpm2.New2B(pub), InPrivate: tpm2.New2B(sens), Hierarchy: tpm2.TPMRHNull}.Execute(tp)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("LoadExternal: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: ext.ObjectHandle}.Execute(tp)
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: ext.ObjectHandle, Name: ext.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: akr.ObjectHandle, Name: akr.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(tp)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certify: %w", err)
	}
	sig, err := rsp.Signature.Signature.RSASSA()
	if err != nil {
		return nil, nil, nil, err
	}
	return tpm2.Marshal(pub), &tpm.Attestation{Attest: rsp.CertifyInfo.Bytes(), Signature: sig.Sig.Buffer}, sk, nil
}
