package central

import (
	"crypto/ed25519"
	"crypto/x509/pkix"
	"time"

	"github.com/edgetrust/edgetrust/central/keys"
)

// Central's keys live in central/keys; these names keep the root API.

// Files in central's state directory.
const (
	KeysFile        = keys.KeysFile
	FeedKeyFile     = keys.FeedKeyFile
	ApplianceCAFile = keys.ApplianceCAFile
	AdminTokenFile  = keys.AdminTokenFile
)

// MinPassphrase is the shortest passphrase central accepts.
const MinPassphrase = keys.MinPassphrase

// CA validity and leaf lifetimes.
const (
	CAValidity        = keys.CAValidity
	DeviceValidity    = keys.DeviceValidity
	FTMValidity       = keys.FTMValidity
	ApplianceValidity = keys.ApplianceValidity
)

type (
	// Keyring holds central's private keys, unlocked (keys.Keyring).
	Keyring = keys.Keyring
	// CA is a certificate authority central holds (keys.CA).
	CA = keys.CA
	// Leaf describes a certificate for a TPM key (keys.Leaf).
	Leaf = keys.Leaf
)

// Errors of LoadKeyring.
var (
	ErrPassphrase = keys.ErrPassphrase
	ErrNoKeyring  = keys.ErrNoKeyring
)

// InitKeyring creates a keyring in dir (keys.Init). It refuses to replace one.
func InitKeyring(dir string, passphrase []byte, now time.Time) (*Keyring, error) {
	return keys.Init(dir, passphrase, now)
}

// LoadKeyring unlocks the keyring in dir (keys.Load).
func LoadKeyring(dir string, passphrase []byte) (*Keyring, error) { return keys.Load(dir, passphrase) }

// NewCA makes a self-signed RSA-2048 CA that may only issue leaves.
func NewCA(subject pkix.Name, now time.Time) (*CA, error) { return keys.NewCA(subject, now) }

// FeedKeyPEM encodes a feed public key as PKIX PEM.
func FeedKeyPEM(pub ed25519.PublicKey) ([]byte, error) { return keys.FeedKeyPEM(pub) }

// ParseFeedKeyPEM parses FeedKeyPEM's output.
func ParseFeedKeyPEM(b []byte) (ed25519.PublicKey, error) { return keys.ParseFeedKeyPEM(b) }
