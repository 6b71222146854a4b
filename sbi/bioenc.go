package sbi

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sizes of the bioValue encryption (spec digest §5).
const (
	SessionKeySize = 32 // AES-256
	aadSize        = 16 // last 16 bytes of timestamp XOR transactionId
	ivSize         = 12 // last 12 bytes
)

// Encryption errors. They say nothing about key or plaintext.
var (
	ErrDecrypt    = errors.New("sbi: bioValue does not decrypt")
	ErrSessionKey = errors.New("sbi: session key does not unwrap")
	ErrDerivation = errors.New("sbi: timestamp and transactionId too short for IV/AAD")
)

// Thumbprint is the upper-case hex SHA-256 of a certificate's DER.
func Thumbprint(cert *x509.Certificate) string {
	d := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(d[:]))
}

// DeriveIVAAD derives the GCM nonce and AAD from the timestamp string and
// transactionId: left-pad the shorter with zero bytes, XOR, and take the
// last 12 (IV) and last 16 (AAD) bytes.
func DeriveIVAAD(timestamp, transactionID string) (iv, aad []byte, err error) {
	a, b := []byte(timestamp), []byte(transactionID)
	n := max(len(a), len(b))
	if n < aadSize {
		return nil, nil, ErrDerivation
	}
	x := make([]byte, n)
	for i := range n {
		var ca, cb byte
		if j := i - (n - len(a)); j >= 0 {
			ca = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			cb = b[j]
		}
		x[i] = ca ^ cb
	}
	return x[n-ivSize:], x[n-aadSize:], nil
}

// EncryptBioValue encrypts an ISO record for the holder of cert's key. It
// draws a fresh AES-256 key, seals the record with AES-GCM (IV and AAD from
// timestamp and transactionId) and wraps the key with RSA-OAEP SHA-256 /
// MGF1-SHA-256. timestamp must be the exact string placed in data.timestamp.
func EncryptBioValue(cert *x509.Certificate, iso []byte, timestamp, transactionID string) (bioValue, sessionKey string, err error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", "", fmt.Errorf("%w: encryption certificate is not RSA", ErrKey)
	}
	key := make([]byte, SessionKeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return "", "", err
	}
	defer clear(key)
	ct, err := sealBioValue(key, iso, timestamp, transactionID)
	if err != nil {
		return "", "", err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", "", err
	}
	return b64.EncodeToString(ct), b64.EncodeToString(wrapped), nil
}

// sealBioValue is the deterministic half of EncryptBioValue.
func sealBioValue(key, iso []byte, timestamp, transactionID string) ([]byte, error) {
	iv, aad, err := DeriveIVAAD(timestamp, transactionID)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return gcm.Seal(nil, iv, iso, aad), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DecryptBioValue reverses EncryptBioValue. dec unwraps the session key
// (a TPM key works) using RSA-OAEP with SHA-256 and MGF1-SHA-256.
func DecryptBioValue(dec crypto.Decrypter, bioValue, sessionKey, timestamp, transactionID string) ([]byte, error) {
	if len(bioValue) > MaxJWSSize || len(sessionKey) > 4096 {
		return nil, ErrTooLarge
	}
	wrapped, err := b64.DecodeString(sessionKey)
	if err != nil {
		return nil, ErrSessionKey
	}
	ct, err := b64.DecodeString(bioValue)
	if err != nil {
		return nil, ErrDecrypt
	}
	key, err := dec.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
	if err != nil {
		return nil, ErrSessionKey
	}
	defer clear(key)
	if subtle.ConstantTimeEq(int32(len(key)), SessionKeySize) != 1 {
		return nil, ErrSessionKey
	}
	return openBioValue(key, ct, timestamp, transactionID)
}

func openBioValue(key, ct []byte, timestamp, transactionID string) ([]byte, error) {
	iv, aad, err := DeriveIVAAD(timestamp, transactionID)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := gcm.Open(nil, iv, ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
