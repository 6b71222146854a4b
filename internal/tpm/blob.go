package tpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgetrust/edgetrust/internal/bytesx"
	"github.com/google/go-tpm/tpm2"
)

// maxBlob bounds a key or sealed blob read from disk; real ones are under
// 1 KiB.
const maxBlob = 8 << 10

// appendObject appends a loadable object (public and private areas, each
// with a 16-bit length) to b: the tail shared by key and sealed blobs.
func appendObject(b []byte, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) []byte {
	p, s := tpm2.Marshal(pub), tpm2.Marshal(priv)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	b = append(b, p...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

var errTruncated = errors.New("truncated or trailing bytes")

// readObject reads what appendObject wrote; nothing may follow it.
func readObject(r *bytesx.Reader) (*tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	p := r.Bytes(int(r.U16()))
	s := r.Bytes(int(r.U16()))
	if r.Err() != nil || r.Len() != 0 {
		return nil, nil, errTruncated
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](p)
	if err != nil {
		return nil, nil, fmt.Errorf("public area: %w", err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](s)
	if err != nil {
		return nil, nil, fmt.Errorf("private area: %w", err)
	}
	// tpm2.Unmarshal stops where the structure ends; bytes after it
	// would let two files decode to one key. Canonical or refused.
	if !bytes.Equal(tpm2.Marshal(*pub), p) || !bytes.Equal(tpm2.Marshal(*priv), s) {
		return nil, nil, errors.New("bytes after a TPM structure")
	}
	return pub, priv, nil
}
