package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/pki"
)

// Files in central's state directory.
const (
	KeysFile        = "central-keys.age" // the keyring, age-encrypted with the passphrase (scrypt)
	FeedKeyFile     = "feed-key.pem"     // the feed key's public half (PKIX PEM), for appliances
	ApplianceCAFile = "appliance-ca.pem" // the CA of appliance certificates
	AdminTokenFile  = "admin-token"      // the first admin token (0600)
)

// MinPassphrase is the shortest passphrase central accepts.
const MinPassphrase = keyring.MinPassphrase

// Keyring holds central's private keys, unlocked. On disk it is one age
// file encrypted with a passphrase (scrypt); vendor CA keys live in the
// store, encrypted to the keyring's X25519 identity, so every replica that
// can unlock the keyring can issue certificates and nothing else can.
type Keyring struct {
	Feed        ed25519.PrivateKey // signs feed checkpoints
	ApplianceCA *CA                // issues appliance certificates
	box         *keyring.Box       // seals vendor CA keys and people
}

// keyringFile is the plaintext inside KeysFile.
type keyringFile struct {
	FeedKey         []byte `json:"feedKey"` // PKCS#8 DER
	AgeIdentity     string `json:"ageIdentity"`
	ApplianceCACert []byte `json:"applianceCaCert"`
	ApplianceCAKey  []byte `json:"applianceCaKey"` // PKCS#8 DER
}

// ErrPassphrase means the passphrase does not open the keyring.
var ErrPassphrase = errors.New("central: wrong passphrase for " + KeysFile)

// ErrNoKeyring means the state directory has no keyring yet.
var ErrNoKeyring = errors.New("central: no keyring in the state directory")

// Init creates a keyring in dir. It refuses to replace one.
func Init(dir string, passphrase []byte, now time.Time) (*Keyring, error) {
	if len(passphrase) < MinPassphrase {
		return nil, fmt.Errorf("central: the passphrase must be at least %d characters", MinPassphrase)
	}
	path := filepath.Join(dir, KeysFile)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("central: %s already exists; refusing to replace it", path)
	}
	_, feedKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	box, err := keyring.NewBox()
	if err != nil {
		return nil, err
	}
	ca, err := NewCA(pkix.Name{CommonName: "edgetrust Appliance CA", Organization: []string{"edgetrust"}}, now)
	if err != nil {
		return nil, err
	}
	k := &Keyring{Feed: feedKey, ApplianceCA: ca, box: box}
	fk, err := x509.MarshalPKCS8PrivateKey(feedKey)
	if err != nil {
		return nil, err
	}
	ak, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(keyringFile{FeedKey: fk, AgeIdentity: box.String(), ApplianceCACert: ca.Cert.Raw, ApplianceCAKey: ak})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := keyring.Create(path, plain, passphrase); err != nil {
		return nil, err
	}
	if err := k.writePublic(dir); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) writePublic(dir string) error {
	pub, err := FeedKeyPEM(k.Feed.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FeedKeyFile), pub, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ApplianceCAFile), pki.CertPEM(k.ApplianceCA.Cert), 0o644)
}

// FeedKeyPEM encodes a feed public key as PKIX PEM.
func FeedKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseFeedKeyPEM parses FeedKeyPEM's output.
func ParseFeedKeyPEM(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("central: no PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("central: the feed key is not Ed25519")
	}
	return pub, nil
}

// Load unlocks the keyring in dir.
func Load(dir string, passphrase []byte) (*Keyring, error) {
	plain, err := keyring.Open(filepath.Join(dir, KeysFile), passphrase)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoKeyring
	}
	if errors.Is(err, keyring.ErrPassphrase) {
		return nil, ErrPassphrase
	}
	if err != nil {
		return nil, err
	}
	var kf keyringFile
	if err := json.Unmarshal(plain, &kf); err != nil {
		return nil, fmt.Errorf("central: %s is damaged: %w", KeysFile, err)
	}
	fk, err := x509.ParsePKCS8PrivateKey(kf.FeedKey)
	if err != nil {
		return nil, fmt.Errorf("central: feed key: %w", err)
	}
	feedKey, ok := fk.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("central: the feed key is not Ed25519")
	}
	box, err := keyring.ParseBox(kf.AgeIdentity)
	if err != nil {
		return nil, fmt.Errorf("central: keyring identity: %w", err)
	}
	ca, err := pki.ParseCA(kf.ApplianceCACert, kf.ApplianceCAKey)
	if err != nil {
		return nil, fmt.Errorf("central: appliance CA: %w", err)
	}
	k := &Keyring{Feed: feedKey, ApplianceCA: ca, box: box}
	// Rewrite the public files in case they were lost.
	if err := k.writePublic(dir); err != nil {
		return nil, err
	}
	return k, nil
}

// maxSealedKey bounds a sealed CA key once opened.
const maxSealedKey = 64 << 10

// Seal encrypts a secret (a vendor CA key) to the keyring.
func (k *Keyring) Seal(plain []byte) ([]byte, error) { return k.box.Seal(plain) }

// Open decrypts what Seal encrypted.
func (k *Keyring) Open(sealed []byte) ([]byte, error) {
	b, err := k.box.Open(sealed, maxSealedKey)
	if err != nil {
		return nil, fmt.Errorf("central: a sealed key does not open with this keyring: %w", err)
	}
	return b, nil
}

// OpenLimit is Open for sealed data up to max bytes (a person's record).
func (k *Keyring) OpenLimit(sealed []byte, max int64) ([]byte, error) { return k.box.Open(sealed, max) }

// FeedSigner is the feed key as a crypto.Signer.
func (k *Keyring) FeedSigner() crypto.Signer { return k.Feed }
