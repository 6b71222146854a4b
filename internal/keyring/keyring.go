package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
)

// MinPassphrase is the shortest passphrase a keyring file accepts.
const MinPassphrase = 12

// MaxFile bounds what a sealed file may hold once opened.
const MaxFile = 1 << 20

// WorkFactor is the scrypt cost (log2 N) of passphrase encryption: age's
// default, about a second per guess on a server. Tests lower it.
var WorkFactor = 18

// ErrPassphrase means the passphrase does not open the file.
var ErrPassphrase = errors.New("keyring: wrong passphrase")

// CheckPassphrase says what is wrong with a new passphrase, if anything.
func CheckPassphrase(p []byte) error {
	if len(p) < MinPassphrase {
		return fmt.Errorf("keyring: the passphrase must be at least %d characters", MinPassphrase)
	}
	return nil
}

// Create writes plain to path, encrypted with passphrase, mode 0600. It
// refuses to replace an existing file: losing a keyring loses every key
// in it.
func Create(path string, plain, passphrase []byte) error {
	if err := CheckPassphrase(passphrase); err != nil {
		return err
	}
	rcpt, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return err
	}
	rcpt.SetWorkFactor(WorkFactor)
	enc, err := encrypt(plain, rcpt)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("keyring: %s already exists; refusing to replace it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(enc); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Open reads and decrypts a file Create wrote. A missing file is an error
// satisfying errors.Is(err, os.ErrNotExist); a wrong passphrase (or a file
// that is not a passphrase-sealed age file) is ErrPassphrase.
func Open(path string, passphrase []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	id, err := age.NewScryptIdentity(string(passphrase))
	if err != nil {
		return nil, err
	}
	// A high work factor in a planted file would make unlocking hang:
	// refuse anything costlier than twice today's default.
	id.SetMaxWorkFactor(max(WorkFactor, 18) + 1)
	r, err := age.Decrypt(f, id)
	if err != nil {
		return nil, ErrPassphrase
	}
	return readMax(r, MaxFile)
}

// Box seals secrets to an X25519 identity.
type Box struct{ id *age.X25519Identity }

// NewBox makes a Box with a fresh identity.
func NewBox() (*Box, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &Box{id: id}, nil
}

// ParseBox restores a Box from its String form.
func ParseBox(s string) (*Box, error) {
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		return nil, fmt.Errorf("keyring: box identity: %w", err)
	}
	return &Box{id: id}, nil
}

// String is the identity, secret: store it only inside a sealed file.
func (b *Box) String() string { return b.id.String() }

// Seal encrypts plain to the box.
func (b *Box) Seal(plain []byte) ([]byte, error) { return encrypt(plain, b.id.Recipient()) }

// Open decrypts what Seal encrypted, refusing more than max bytes.
func (b *Box) Open(sealed []byte, max int64) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), b.id)
	if err != nil {
		return nil, fmt.Errorf("keyring: sealed data does not open with this keyring: %w", err)
	}
	return readMax(r, max)
}

func encrypt(plain []byte, r age.Recipient) ([]byte, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func readMax(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("keyring: sealed data is damaged: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("keyring: sealed data larger than %d bytes", max)
	}
	return b, nil
}
