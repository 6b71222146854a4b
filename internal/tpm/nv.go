package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// A version floor is an anti-rollback record: the lowest security version
// number (SVN, 0–63) a component may still run. It lives in a TPM NV index of
// type "bits", whose bits can be set but never cleared (TPM2_NV_SetBits ORs),
// so restoring old files on disk cannot lower it.

// NVFirmwareFloor is the NV index firmware-bridge uses for the sensor
// firmware floor (owner range 0x01800000–0x01BFFFFF).
const NVFirmwareFloor = 0x01800e70

// MaxSVN is the highest security version number a floor can hold.
const MaxSVN = 63

func checkOwnerIndex(index uint32) error {
	if index < 0x01800000 || index > 0x01bfffff {
		return fmt.Errorf("tpm: NV index 0x%08x is not in the owner range 0x01800000–0x01BFFFFF", index)
	}
	return nil
}

// Floor returns the version floor stored at index, or -1 when none is set.
func (t *TPM) Floor(ctx context.Context, index uint32) (int, error) {
	if err := checkOwnerIndex(index); err != nil {
		return 0, err
	}
	var v uint64
	err := t.do(ctx, func(tp transport.TPM) error {
		rp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tp)
		if err != nil {
			return err
		}
		rsp, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: rp.NVName},
			Size:       8,
		}.Execute(tp)
		if err != nil {
			return err
		}
		if len(rsp.Data.Buffer) != 8 {
			return fmt.Errorf("NV index 0x%08x holds %d bytes, not a bit field", index, len(rsp.Data.Buffer))
		}
		v = binary.BigEndian.Uint64(rsp.Data.Buffer)
		return nil
	})
	if errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCNVUninitialized) {
		return -1, nil
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("reading version floor at NV 0x%08x", index), err)
	}
	return bits.Len64(v) - 1, nil
}

// RaiseFloor records that versions below svn must be refused from now on.
// It defines the index on first use. A floor never goes down: raising it to
// a lower value than it holds is a no-op.
func (t *TPM) RaiseFloor(ctx context.Context, index uint32, svn int) error {
	if err := checkOwnerIndex(index); err != nil {
		return err
	}
	if svn < 0 || svn > MaxSVN {
		return fmt.Errorf("tpm: security version %d out of range 0–%d", svn, MaxSVN)
	}
	err := t.do(ctx, func(tp transport.TPM) error {
		if _, err := (tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}).Execute(tp); errors.Is(err, tpm2.TPMRCHandle) {
			_, err := tpm2.NVDefineSpace{
				AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
				PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
					NVIndex: tpm2.TPMHandle(index),
					NameAlg: tpm2.TPMAlgSHA256,
					Attributes: tpm2.TPMANV{
						NT: tpm2.TPMNTBits, OwnerWrite: true, OwnerRead: true, NoDA: true,
					},
					DataSize: 8,
				}),
			}.Execute(tp)
			if err != nil {
				return fmt.Errorf("defining NV index: %w", err)
			}
		} else if err != nil {
			return err
		}
		return nvSetBits(tp, index, uint64(1)<<svn)
	})
	return wrap(fmt.Sprintf("raising version floor at NV 0x%08x to %d", index, svn), err)
}

// nvSetBits sends TPM2_NV_SetBits, which go-tpm's direct API lacks, with an
// empty owner password session.
func nvSetBits(tp transport.TPM, index uint32, v uint64) error {
	cmd := make([]byte, 0, 35)
	cmd = binary.BigEndian.AppendUint16(cmd, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 0) // size, filled in below
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCNVSetBits))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHOwner))
	cmd = binary.BigEndian.AppendUint32(cmd, index)
	cmd = binary.BigEndian.AppendUint32(cmd, 9)                    // authorization area size
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRSPW)) // password session
	cmd = binary.BigEndian.AppendUint16(cmd, 0)                    // nonce
	cmd = append(cmd, 0)                                           // session attributes
	cmd = binary.BigEndian.AppendUint16(cmd, 0)                    // empty password
	cmd = binary.BigEndian.AppendUint64(cmd, v)
	binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))
	rsp, err := tp.Send(cmd)
	if err != nil {
		return err
	}
	if rc := responseCode(rsp); rc != tpm2.TPMRCSuccess {
		return rc
	}
	return nil
}

// DeleteFloor removes the floor's NV index. It needs owner authorisation;
// it exists for tests and for decommissioning a device.
func (t *TPM) DeleteFloor(ctx context.Context, index uint32) error {
	if err := checkOwnerIndex(index); err != nil {
		return err
	}
	return wrap("deleting version floor", t.do(ctx, func(tp transport.TPM) error {
		rp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tp)
		if err != nil {
			return err
		}
		_, err = tpm2.NVUndefineSpace{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: rp.NVName},
		}.Execute(tp)
		return err
	}))
}
