package tpmkey

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// SoftDecryptKeyFile holds the software SBI decryption key (decision
// 0017): its PKCS#8 form encrypted with AES-256-GCM under a key sealed by
// this TPM. It exists only when the appliance unwraps session keys in
// software; its presence is what selects that mode.
const SoftDecryptKeyFile = "tpm/sbi-decrypt-soft.key"

// softFile is SoftDecryptKeyFile's JSON form.
type softFile struct {
	Version    int    `json:"version"`
	Sealed     []byte `json:"sealed"` // the AES key, sealed by the TPM
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

var softAAD = []byte("edgetrust appliance software SBI decryption key v1")

// CreateSoftDecrypt makes an RSA-2048 key in software and writes it,
// sealed, to path. It refuses to overwrite one.
func CreateSoftDecrypt(ctx context.Context, t *tpm.TPM, path string) (*rsa.PrivateKey, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s exists: remove it only to replace the appliance's encryption key (and re-enrol)", path)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	aesKey := make([]byte, 32)
	if _, err := rand.Read(aesKey); err != nil {
		return nil, err
	}
	sealed, err := t.Seal(ctx, aesKey, nil)
	if err != nil {
		return nil, fmt.Errorf("sealing the software decryption key: %w", err)
	}
	gcm, err := newGCM(aesKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	b, err := json.Marshal(softFile{Version: 1, Sealed: sealed, Nonce: nonce, Ciphertext: gcm.Seal(nil, nonce, der, softAAD)})
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(path, b); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadSoftDecrypt unseals the key CreateSoftDecrypt wrote. os.ErrNotExist
// (wrapped) means the appliance unwraps in the TPM.
func LoadSoftDecrypt(ctx context.Context, t *tpm.TPM, path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f softFile
	if err := jsonx.Unmarshal(b, &f, jsonx.Limits{MaxBytes: 16 << 10, MaxDepth: 1}); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("%s is not a sealed software key (version 1): %v", path, err)
	}
	aesKey, err := t.Unseal(ctx, f.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%s does not unseal on this TPM: %w", path, err)
	}
	gcm, err := newGCM(aesKey)
	if err != nil {
		return nil, err
	}
	if len(f.Nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("%s: bad nonce", path)
	}
	der, err := gcm.Open(nil, f.Nonce, f.Ciphertext, softAAD)
	if err != nil {
		return nil, fmt.Errorf("%s: the sealed key does not decrypt (tampered?)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() != 2048 {
		return nil, errors.New("the sealed software key is not RSA-2048")
	}
	return rk, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("sealed key of the wrong size")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Decrypter is the key the encryption certificate is for: the software
// key when the appliance unwraps in software, else the TPM key.
func (k *Keys) Decrypter() crypto.Decrypter {
	if k.Soft != nil {
		return k.Soft
	}
	return k.Decrypt
}
