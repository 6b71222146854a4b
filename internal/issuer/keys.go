package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/pki"
)

// Files in the issuer directory.
const (
	KeyFile  = "issuer.key.age" // PKCS#8 PEM, age-encrypted with the passphrase
	PubFile  = "issuer.pub.pem"
	MetaFile = "issuer.json"
)

// Meta describes the issuer key; it is public.
type Meta struct {
	KID       string    `json:"kid"` // hex of the kid bytes credentials carry
	Alg       string    `json:"alg"` // EdDSA or ES256
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// KIDBytes returns the kid bytes.
func (m Meta) KIDBytes() []byte {
	b, _ := hex.DecodeString(m.KID)
	return b
}

// Key is an unlocked issuer key.
type Key struct {
	Meta
	Signer crypto.Signer
}

// MinPassphrase is the shortest passphrase Init accepts.
const MinPassphrase = keyring.MinPassphrase

// Init creates an issuer key in dir: alg "EdDSA" (default) or "ES256". The
// private key is written only encrypted. It refuses to overwrite a key.
func Init(dir, alg, issuerURI string, passphrase []byte, validity time.Duration, now time.Time) (*Meta, error) {
	if err := keyring.CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		return nil, fmt.Errorf("issuer: %s already holds an issuer key; refusing to replace it", dir)
	}
	var signer crypto.Signer
	switch alg {
	case "", "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		signer, alg = k, "EdDSA"
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		signer = k
	default:
		return nil, fmt.Errorf("issuer: algorithm %q: want EdDSA or ES256", alg)
	}
	spki, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(spki)
	m := &Meta{KID: hex.EncodeToString(h[:8]), Alg: alg, Issuer: issuerURI,
		NotBefore: now.UTC().Truncate(time.Second), NotAfter: now.Add(validity).UTC().Truncate(time.Second)}
	keyPEM, err := pki.KeyPEM(signer)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := keyring.Create(filepath.Join(dir, KeyFile), keyPEM, passphrase); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	meta, _ := json.MarshalIndent(m, "", "  ")
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{PubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644},
		{MetaFile, append(meta, '\n'), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ErrPassphrase means the passphrase does not open the key.
var ErrPassphrase = errors.New("issuer: wrong passphrase for the issuer key")

// Load unlocks the issuer key in dir.
func Load(dir string, passphrase []byte) (*Key, error) {
	meta, err := LoadMeta(dir)
	if err != nil {
		return nil, err
	}
	pemBytes, err := keyring.Open(filepath.Join(dir, KeyFile), passphrase)
	if errors.Is(err, keyring.ErrPassphrase) {
		return nil, ErrPassphrase
	}
	if err != nil {
		return nil, fmt.Errorf("issuer: %w (run issuer init first)", err)
	}
	s, err := pki.ParseKeyPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("issuer: the decrypted key file: %w", err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(s.Public())
	h := sha256.Sum256(spki)
	if hex.EncodeToString(h[:8]) != meta.KID {
		return nil, errors.New("issuer: issuer.json does not describe the key in issuer.key.age")
	}
	return &Key{Meta: *meta, Signer: s}, nil
}

// LoadMeta reads the public description of the issuer key.
func LoadMeta(dir string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return nil, fmt.Errorf("issuer: %w (run issuer init first)", err)
	}
	var m Meta
	if err := jsonx.Unmarshal(b, &m, jsonx.Limits{MaxBytes: 64 << 10}); err != nil {
		return nil, fmt.Errorf("issuer: %s: %w", MetaFile, err)
	}
	return &m, nil
}

// PublicKey reads the issuer's public key.
func PublicKey(dir string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, PubFile))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("issuer: no PEM public key")
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}
