package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// Error is a failed TPM operation. It names the operation and, when the TPM
// answered with an error, its response code. errors.Is works against
// tpm2.TPMRC values (for example tpm2.TPMRCPolicyFail), parameter-numbered
// format-1 codes included.
type Error struct {
	Op  string
	RC  tpm2.TPMRC // zero when the failure was not a TPM response code
	Err error
}

func (e *Error) Error() string {
	if e.RC != 0 {
		return fmt.Sprintf("tpm: %s: TPM response code 0x%03x (%v)", e.Op, uint32(e.RC), e.Err)
	}
	return fmt.Sprintf("tpm: %s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	e := &Error{Op: op, Err: err}
	var rc tpm2.TPMRC
	if errors.As(err, &rc) {
		e.RC = rc
	}
	return e
}
