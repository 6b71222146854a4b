package tpm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// PCRs in the SHA-256 bank. edgetrust measures into the ones a PC-client
// platform leaves to applications; firmware-bridge uses PCRFirmware.
const (
	NumPCRs     = 24
	PCRFirmware = 14 // sensor-module firmware measurements
	PCRDebug    = 16 // resettable; tests use it
)

func pcrSelection(pcrs []int) (tpm2.TPMLPCRSelection, error) {
	sel := make([]uint, 0, len(pcrs))
	for _, p := range pcrs {
		if p < 0 || p >= NumPCRs {
			return tpm2.TPMLPCRSelection{}, fmt.Errorf("tpm: PCR %d out of range 0–%d", p, NumPCRs-1)
		}
		sel = append(sel, uint(p))
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(sel...),
	}}}, nil
}

func normalisePCRs(pcrs []int) []int {
	p := slices.Clone(pcrs)
	slices.Sort(p)
	return slices.Compact(p)
}

// ExtendPCR extends SHA-256 PCR idx with a 32-byte digest.
func (t *TPM) ExtendPCR(ctx context.Context, idx int, digest []byte) error {
	if idx < 0 || idx >= NumPCRs {
		return fmt.Errorf("tpm: PCR %d out of range 0–%d", idx, NumPCRs-1)
	}
	if len(digest) != sha256.Size {
		return fmt.Errorf("tpm: PCR extend needs a 32-byte SHA-256 digest, got %d bytes", len(digest))
	}
	return wrap(fmt.Sprintf("extending PCR %d", idx), t.do(ctx, func(tp transport.TPM) error {
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(idx), Auth: tpm2.PasswordAuth(nil)},
			Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
				HashAlg: tpm2.TPMAlgSHA256, Digest: digest,
			}}},
		}.Execute(tp)
		return err
	}))
}

// Measure extends PCR idx with SHA-256(data) and returns that digest.
func (t *TPM) Measure(ctx context.Context, idx int, data []byte) ([]byte, error) {
	d := sha256.Sum256(data)
	return d[:], t.ExtendPCR(ctx, idx, d[:])
}

// ReadPCRs returns the SHA-256 values of the given PCRs.
func (t *TPM) ReadPCRs(ctx context.Context, pcrs []int) (map[int][]byte, error) {
	var out map[int][]byte
	err := t.do(ctx, func(tp transport.TPM) error {
		var err error
		out, err = readPCRs(tp, pcrs)
		return err
	})
	return out, wrap("reading PCRs", err)
}

// readPCRs reads with the command lock held. TPM2_PCR_Read returns at most
// eight digests per call, so it loops over what is left.
func readPCRs(tp transport.TPM, pcrs []int) (map[int][]byte, error) {
	left := normalisePCRs(pcrs)
	out := make(map[int][]byte, len(left))
	for len(left) > 0 {
		sel, err := pcrSelection(left)
		if err != nil {
			return nil, err
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: sel}.Execute(tp)
		if err != nil {
			return nil, err
		}
		var got []int
		for _, s := range rsp.PCRSelectionOut.PCRSelections {
			if s.Hash != tpm2.TPMAlgSHA256 {
				continue
			}
			for i, b := range s.PCRSelect {
				for bit := 0; bit < 8; bit++ {
					if b&(1<<bit) != 0 {
						got = append(got, i*8+bit)
					}
				}
			}
		}
		if len(got) == 0 || len(got) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("TPM returned no SHA-256 values for PCRs %v (is the SHA-256 bank allocated?)", left)
		}
		for i, p := range got {
			out[p] = rsp.PCRValues.Digests[i].Buffer
		}
		left = slices.DeleteFunc(left, func(p int) bool { _, ok := out[p]; return ok })
	}
	return out, nil
}

// pcrDigest is what a policy or quote commits to: SHA-256 over the values of
// the selected PCRs in ascending order.
func pcrDigest(pcrs []int, values map[int][]byte) ([]byte, error) {
	h := sha256.New()
	for _, p := range normalisePCRs(pcrs) {
		v, ok := values[p]
		if !ok {
			return nil, fmt.Errorf("no value for PCR %d", p)
		}
		h.Write(v)
	}
	return h.Sum(nil), nil
}
