package tpm

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgetrust/edgetrust/internal/bytesx"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// KeyKind says what a key is for. Every kind is created with
// fixedTPM|fixedParent|sensitiveDataOrigin: the private part is generated
// inside the TPM and can neither leave it nor be re-parented.
type KeyKind uint8

const (
	// ECCP256Sign is an ECDSA P-256 signing key (crypto.Signer, ASN.1 signatures).
	ECCP256Sign KeyKind = iota + 1
	// RSA2048Sign is an RSA-2048 signing key: PKCS#1 v1.5 (what SBI's RS256
	// needs) or PSS when *rsa.PSSOptions are passed.
	RSA2048Sign
	// RSA2048Decrypt is an RSA-2048 key for RSA-OAEP with SHA-256 (crypto.Decrypter).
	RSA2048Decrypt
	// AttestationKey is a restricted RSA-2048 signing key: it signs only
	// TPM-generated structures (quotes, certify proofs), never outside data
	// that could be made to look like one.
	AttestationKey
)

func (k KeyKind) String() string {
	switch k {
	case ECCP256Sign:
		return "ecc-p256-sign"
	case RSA2048Sign:
		return "rsa2048-sign"
	case RSA2048Decrypt:
		return "rsa2048-decrypt"
	case AttestationKey:
		return "attestation-key"
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

func (k KeyKind) template() (tpm2.TPMTPublic, error) {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
	}
	nullSym := tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull}
	rsaParms := func(scheme tpm2.TPMTRSAScheme) tpm2.TPMUPublicParms {
		return tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: nullSym, Scheme: scheme, KeyBits: 2048,
		})
	}
	rsaUnique := tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)})
	switch k {
	case ECCP256Sign:
		attrs.SignEncrypt = true
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Symmetric: nullSym,
				Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
				CurveID:   tpm2.TPMECCNistP256,
				KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
				X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
				Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
			}),
		}, nil
	case RSA2048Sign:
		attrs.SignEncrypt = true
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: rsaParms(tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull}),
			Unique:     rsaUnique,
		}, nil
	case RSA2048Decrypt:
		attrs.Decrypt = true
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: rsaParms(tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull}),
			Unique:     rsaUnique,
		}, nil
	case AttestationKey:
		attrs.SignEncrypt = true
		attrs.Restricted = true
		return tpm2.TPMTPublic{
			Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: rsaParms(tpm2.TPMTRSAScheme{
				Scheme: tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA,
					&tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			}),
			Unique: rsaUnique,
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("tpm: unknown key kind %d", k)
}

// Key is a key held by the TPM. Its private part never leaves the TPM.
// Depending on its kind it is a crypto.Signer or a crypto.Decrypter.
type Key struct {
	t          *TPM
	kind       KeyKind
	persistent tpm2.TPMHandle // nonzero for keys at a persistent handle
	name       tpm2.TPM2BName
	pub        tpm2.TPMTPublic
	public     crypto.PublicKey
	pub2b      tpm2.TPM2BPublic
	priv       tpm2.TPM2BPrivate // wrapped by the SRK; useless outside this TPM
}

// Kind says what the key is for.
func (k *Key) Kind() KeyKind { return k.kind }

// Public returns the public key (*ecdsa.PublicKey or *rsa.PublicKey).
func (k *Key) Public() crypto.PublicKey { return k.public }

// Name is the TPM Name of the key: its name algorithm and the digest of its
// public area. Certify proofs and credential activation bind to it.
func (k *Key) Name() []byte { return bytes.Clone(k.name.Buffer) }

// PublicArea is the key's TPMT_PUBLIC, marshalled. A verifier recomputes the
// Name from it and reads the attributes (fixedTPM and so on) from it.
func (k *Key) PublicArea() []byte { return tpm2.Marshal(k.pub) }

// Blob is the key's saved form: its public area and its private area
// encrypted by the TPM's storage root key. Only the TPM that made it can
// load it. It is nil for keys at a persistent handle.
func (k *Key) Blob() []byte {
	if k.persistent != 0 {
		return nil
	}
	return encodeBlob(k.kind, k.pub2b, k.priv)
}

// Close exists for symmetry; keys are loaded only for each operation.
func (k *Key) Close() error { return nil }

// loadLocked makes the key usable and returns a handle for it and a function
// to call when done. The most recently used key stays loaded (one object
// slot), so repeated signing with the device key costs one command, not three.
// The caller holds the command lock.
func (k *Key) loadLocked(tp transport.TPM) (tpm2.AuthHandle, func(), error) {
	if k.persistent != 0 {
		return tpm2.AuthHandle{Handle: k.persistent, Name: k.name, Auth: tpm2.PasswordAuth(nil)}, func() {}, nil
	}
	c := k.t.c
	if c.hot == k {
		return tpm2.AuthHandle{Handle: c.hotHandle, Name: k.name, Auth: tpm2.PasswordAuth(nil)}, func() {}, nil
	}
	c.evictLocked(tp)
	h, err := k.loadTempLocked(tp)
	if err != nil {
		return tpm2.AuthHandle{}, nil, err
	}
	c.hot, c.hotHandle = k, h.Handle
	return h, func() {}, nil
}

// loadTempLocked loads the key for one operation that needs two keys at
// once; the caller flushes it. The hot key must have been evicted first.
func (k *Key) loadTempLocked(tp transport.TPM) (tpm2.AuthHandle, error) {
	srk, err := k.t.c.srkLocked(tp)
	if err != nil {
		return tpm2.AuthHandle{}, err
	}
	lr, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     k.pub2b,
		InPrivate:    k.priv,
	}.Execute(tp)
	if err != nil {
		return tpm2.AuthHandle{}, fmt.Errorf("loading %s key (was it made by this TPM?): %w", k.kind, err)
	}
	return tpm2.AuthHandle{Handle: lr.ObjectHandle, Name: lr.Name, Auth: tpm2.PasswordAuth(nil)}, nil
}

// loadPairLocked loads two keys for one operation (certify, activate).
func loadPairLocked(tp transport.TPM, a, b *Key) (ha, hb tpm2.AuthHandle, done func(), err error) {
	a.t.c.evictLocked(tp)
	var flush []tpm2.TPMHandle
	done = func() {
		for _, h := range flush {
			tpm2.FlushContext{FlushHandle: h}.Execute(tp)
		}
	}
	load := func(k *Key) (tpm2.AuthHandle, error) {
		if k.persistent != 0 {
			h, _, err := k.loadLocked(tp)
			return h, err
		}
		h, err := k.loadTempLocked(tp)
		if err == nil {
			flush = append(flush, h.Handle)
		}
		return h, err
	}
	if ha, err = load(a); err != nil {
		done()
		return
	}
	if hb, err = load(b); err != nil {
		done()
	}
	return
}

// CreateKey makes a new key of the given kind under the storage root key.
// Save its Blob to use it again later.
func (t *TPM) CreateKey(ctx context.Context, kind KeyKind) (*Key, error) {
	tmpl, err := kind.template()
	if err != nil {
		return nil, err
	}
	var cr *tpm2.CreateResponse
	err = t.do(ctx, func(tp transport.TPM) error {
		srk, err := t.c.srkLocked(tp)
		if err != nil {
			return err
		}
		cr, err = tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.New2B(tmpl),
		}.Execute(tp)
		return err
	})
	if err != nil {
		return nil, wrap("creating "+kind.String()+" key", err)
	}
	return t.load(ctx, kind, cr.OutPublic, cr.OutPrivate)
}

const blobMagic = "ETPMKEY1"

func encodeBlob(kind KeyKind, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) []byte {
	b := append([]byte(blobMagic), byte(kind))
	return appendObject(b, pub, priv)
}

func decodeBlob(b []byte) (KeyKind, *tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
	bad := func(why string) (KeyKind, *tpm2.TPM2BPublic, *tpm2.TPM2BPrivate, error) {
		return 0, nil, nil, fmt.Errorf("tpm: not a key blob: %s", why)
	}
	if len(b) > maxBlob {
		return bad("too large")
	}
	if !bytes.HasPrefix(b, []byte(blobMagic)) {
		return bad("wrong magic")
	}
	r := bytesx.NewReader(b[len(blobMagic):], nil)
	kind := KeyKind(r.U8())
	if r.Err() != nil {
		return bad("truncated")
	}
	if _, err := kind.template(); err != nil {
		return bad("unknown key kind")
	}
	pub, priv, err := readObject(r)
	if err != nil {
		return bad(err.Error())
	}
	return kind, pub, priv, nil
}

// LoadKey loads a key from its Blob.
func (t *TPM) LoadKey(ctx context.Context, blob []byte) (*Key, error) {
	kind, pub, priv, err := decodeBlob(blob)
	if err != nil {
		return nil, err
	}
	return t.load(ctx, kind, *pub, *priv)
}

func (t *TPM) load(ctx context.Context, kind KeyKind, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) (*Key, error) {
	pubArea, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpm: key blob public area: %w", err)
	}
	name, err := tpm2.ObjectName(pubArea)
	if err != nil {
		return nil, fmt.Errorf("tpm: key blob public area: %w", err)
	}
	k, err := t.newKey(kind, 0, *name, pub)
	if err != nil {
		return nil, err
	}
	k.priv = priv
	// Load once now so a blob from another TPM fails here, not at first use.
	err = t.do(ctx, func(tp transport.TPM) error {
		_, _, err := k.loadLocked(tp)
		return err
	})
	if err != nil {
		return nil, wrap("loading key", err)
	}
	return k, nil
}

func (t *TPM) newKey(kind KeyKind, h tpm2.TPMHandle, name tpm2.TPM2BName, pub2b tpm2.TPM2BPublic) (*Key, error) {
	pub, err := pub2b.Contents()
	if err != nil {
		return nil, wrap("reading public area", err)
	}
	want, _ := kind.template()
	if pub.Type != want.Type || pub.ObjectAttributes != want.ObjectAttributes {
		return nil, fmt.Errorf("tpm: key at 0x%08x is not a %s key (type or attributes differ)", uint32(h), kind)
	}
	public, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, wrap("decoding public key", err)
	}
	return &Key{t: t, kind: kind, persistent: h, name: name, pub: *pub, public: public, pub2b: pub2b}, nil
}

// LoadOrCreateKey loads the key saved at path, or creates one of the given
// kind and saves its blob there (mode 0600, written atomically). A blob of
// another kind at path is an error, never silently replaced.
func (t *TPM) LoadOrCreateKey(ctx context.Context, path string, kind KeyKind) (*Key, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := t.LoadKey(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("%w (key file %s)", err, path)
		}
		if k.kind != kind {
			return nil, fmt.Errorf("tpm: %s holds a %s key, want %s", path, k.kind, kind)
		}
		return k, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("tpm: reading key file: %w", err)
	}
	k, err := t.CreateKey(ctx, kind)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, k.Blob(), 0o600); err != nil {
		return nil, fmt.Errorf("tpm: saving key blob: %w", err)
	}
	return k, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Persist makes a copy of k at the persistent handle h (0x81000000–0x81FFFFFF)
// so it survives without a blob file. It needs an empty owner password.
func (t *TPM) Persist(ctx context.Context, k *Key, h uint32) error {
	if h < 0x81000000 || h > 0x81ffffff {
		return fmt.Errorf("tpm: 0x%08x is not a persistent handle (0x81000000–0x81FFFFFF)", h)
	}
	return wrap("persisting key", t.do(ctx, func(tp transport.TPM) error {
		kh, unload, err := k.loadLocked(tp)
		if err != nil {
			return err
		}
		defer unload()
		_, err = tpm2.EvictControl{
			Auth:             tpm2.TPMRHOwner,
			ObjectHandle:     tpm2.NamedHandle{Handle: kh.Handle, Name: kh.Name},
			PersistentHandle: tpm2.TPMHandle(h),
		}.Execute(tp)
		return err
	}))
}

// LoadPersistent returns the key at persistent handle h, checking that it is
// of the given kind.
func (t *TPM) LoadPersistent(ctx context.Context, h uint32, kind KeyKind) (*Key, error) {
	var rp *tpm2.ReadPublicResponse
	err := t.do(ctx, func(tp transport.TPM) error {
		var err error
		rp, err = tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(h)}.Execute(tp)
		return err
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("reading persistent key 0x%08x", h), err)
	}
	return t.newKey(kind, tpm2.TPMHandle(h), rp.Name, rp.OutPublic)
}

// EvictPersistent removes the persistent key at h.
func (t *TPM) EvictPersistent(ctx context.Context, h uint32) error {
	name, err := t.persistentName(ctx, h)
	if err != nil {
		return err
	}
	return wrap("evicting persistent key", t.do(ctx, func(tp transport.TPM) error {
		_, err := tpm2.EvictControl{
			Auth:             tpm2.TPMRHOwner,
			ObjectHandle:     tpm2.NamedHandle{Handle: tpm2.TPMHandle(h), Name: name},
			PersistentHandle: tpm2.TPMHandle(h),
		}.Execute(tp)
		return err
	}))
}

// persistentName returns the Name of the object at persistent handle h.
func (t *TPM) persistentName(ctx context.Context, h uint32) (tpm2.TPM2BName, error) {
	var name tpm2.TPM2BName
	err := t.do(ctx, func(tp transport.TPM) error {
		rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(h)}.Execute(tp)
		if err != nil {
			return err
		}
		name = rp.Name
		return nil
	})
	return name, wrap(fmt.Sprintf("reading persistent handle 0x%08x", h), err)
}
