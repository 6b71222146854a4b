package tpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/edgetrust/edgetrust/internal/bytesx"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// MaxSealSize is the largest secret a TPM seals (TPM2B_SENSITIVE_DATA).
// Seal a key, not a document.
const MaxSealSize = 128

// ErrPolicy is returned by Unseal when the PCRs no longer hold the values
// the secret was sealed to: something measured has changed.
var ErrPolicy = errors.New("tpm: the PCRs do not match the policy the secret was sealed to")

const sealMagic = "ETPMSEAL1"

// Seal encrypts secret so that only this TPM can recover it, and only while
// the given PCRs hold their current values. With no PCRs the secret is bound
// to the TPM alone. The secret crosses the bus encrypted (a salted session
// with parameter encryption), so a bus sniffer does not see it.
func (t *TPM) Seal(ctx context.Context, secret []byte, pcrs []int) ([]byte, error) {
	if len(secret) == 0 || len(secret) > MaxSealSize {
		return nil, fmt.Errorf("tpm: can seal 1–%d bytes, got %d", MaxSealSize, len(secret))
	}
	pcrs = normalisePCRs(pcrs)
	sel, err := pcrSelection(pcrs)
	if err != nil {
		return nil, err
	}
	var pub tpm2.TPM2BPublic
	var priv tpm2.TPM2BPrivate
	err = t.do(ctx, func(tp transport.TPM) error {
		srk, srkPub, err := t.c.srkPubLocked(tp)
		if err != nil {
			return err
		}
		var policy []byte
		if len(pcrs) > 0 {
			// A trial session computes the policy digest over the PCRs' current values.
			sess, closeSess, err := tpm2.PolicySession(tp, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
			if err != nil {
				return err
			}
			defer closeSess()
			if _, err := (tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: sel}).Execute(tp); err != nil {
				return err
			}
			d, err := (tpm2.PolicyGetDigest{PolicySession: sess.Handle()}).Execute(tp)
			if err != nil {
				return err
			}
			policy = d.PolicyDigest.Buffer
		}
		attrs := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true}
		if len(pcrs) == 0 {
			attrs.UserWithAuth = true
		}
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name,
				Auth: tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Salted(srk.ObjectHandle, *srkPub),
					tpm2.AESEncryption(128, tpm2.EncryptIn))},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
			}},
			InPublic: tpm2.New2B(tpm2.TPMTPublic{
				Type: tpm2.TPMAlgKeyedHash, NameAlg: tpm2.TPMAlgSHA256,
				ObjectAttributes: attrs,
				AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
				Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
					Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
				}),
			}),
		}.Execute(tp)
		if err != nil {
			return err
		}
		pub, priv = rsp.OutPublic, rsp.OutPrivate
		return nil
	})
	if err != nil {
		return nil, wrap("sealing", err)
	}
	b := []byte(sealMagic)
	b = append(b, byte(len(pcrs)))
	for _, p := range pcrs {
		b = append(b, byte(p))
	}
	return appendObject(b, pub, priv), nil
}

func decodeSealed(b []byte) ([]int, *tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	bad := func(why string) ([]int, *tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
		return nil, nil, nil, fmt.Errorf("tpm: not a sealed blob: %s", why)
	}
	if len(b) > maxBlob || !bytes.HasPrefix(b, []byte(sealMagic)) {
		return bad("wrong magic or too large")
	}
	b = b[len(sealMagic):]
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return bad("truncated")
	}
	n := int(b[0])
	if n > NumPCRs {
		return bad("too many PCRs")
	}
	pcrs := make([]int, n)
	for i := range pcrs {
		pcrs[i] = int(b[1+i])
	}
	pub, priv, err := readObject(bytesx.NewReader(b[1+n:], nil))
	if err != nil {
		return bad(err.Error())
	}
	return pcrs, pub, priv, nil
}

// Unseal recovers a secret sealed by Seal on this TPM. It fails with
// ErrPolicy when the PCRs have changed since.
func (t *TPM) Unseal(ctx context.Context, sealed []byte) ([]byte, error) {
	pcrs, pub, priv, err := decodeSealed(sealed)
	if err != nil {
		return nil, err
	}
	sel, err := pcrSelection(pcrs)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = t.do(ctx, func(tp transport.TPM) error {
		srk, srkPub, err := t.c.srkPubLocked(tp)
		if err != nil {
			return err
		}
		t.c.evictLocked(tp)
		lr, err := tpm2.Load{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     *pub, InPrivate: *priv,
		}.Execute(tp)
		if err != nil {
			return fmt.Errorf("loading sealed object (was it sealed by this TPM?): %w", err)
		}
		defer tpm2.FlushContext{FlushHandle: lr.ObjectHandle}.Execute(tp)
		opts := []tpm2.AuthOption{tpm2.Salted(srk.ObjectHandle, *srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut)}
		var auth tpm2.Session
		if len(pcrs) == 0 {
			auth = tpm2.HMAC(tpm2.TPMAlgSHA256, 16, opts...)
		} else {
			auth = tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(tp transport.TPM, h tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
				_, err := tpm2.PolicyPCR{PolicySession: h, Pcrs: sel}.Execute(tp)
				return err
			}, opts...)
		}
		rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: lr.ObjectHandle, Name: lr.Name, Auth: auth}}.Execute(tp)
		if err != nil {
			return err
		}
		out = rsp.OutData.Buffer
		return nil
	})
	if errors.Is(err, tpm2.TPMRCPolicyFail) {
		return nil, fmt.Errorf("%w (PCRs %v)", ErrPolicy, pcrs)
	}
	if err != nil {
		return nil, wrap("unsealing", err)
	}
	return out, nil
}

func (c *conn) srkPubLocked(tp transport.TPM) (*tpm2.CreatePrimaryResponse, *tpm2.TPMTPublic, error) {
	srk, err := c.srkLocked(tp)
	if err != nil {
		return nil, nil, err
	}
	pub, err := srk.OutPublic.Contents()
	if err != nil {
		return nil, nil, fmt.Errorf("reading SRK public area: %w", err)
	}
	return srk, pub, nil
}
