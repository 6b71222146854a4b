package claim169

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// Algorithm is a COSE algorithm identifier (RFC 9053).
type Algorithm int64

const (
	EdDSA   Algorithm = -8 // Ed25519
	ES256   Algorithm = -7 // ECDSA P-256 with SHA-256, signature r||s
	A128GCM Algorithm = 1
	A256GCM Algorithm = 3
)

func (a Algorithm) String() string {
	switch a {
	case EdDSA:
		return "EdDSA"
	case ES256:
		return "ES256"
	case A128GCM:
		return "A128GCM"
	case A256GCM:
		return "A256GCM"
	}
	return "Algorithm(" + strconv.FormatInt(int64(a), 10) + ")"
}

// COSE header labels and CBOR tags used here.
const (
	hdrAlg       = 1
	hdrCrit      = 2
	hdrKID       = 4
	hdrIV        = 5
	hdrPartialIV = 6
	hdrX5Chain   = 33

	tagEncrypt0 = 16
	tagSign1    = 18
	tagCWT      = 61
)

// Limits on x5chain, as in the reference implementation.
const (
	maxCerts    = 10
	maxCertSize = 16 << 10
	gcmIVSize   = 12
)

// headers are the parameters this package reads, from both buckets.
type headers struct {
	alg         Algorithm // protected bucket only
	hasAlg      bool
	unprotAlg   bool // alg found in the unprotected bucket (never used)
	kid         []byte
	iv          []byte
	hasPartial  bool
	x5chain     [][]byte
	protContent []byte // serialized protected map, as received
}

// parseHeaders reads the protected bucket (contents of the bstr) and the
// unprotected map.
func parseHeaders(protected, unprotected []byte) (headers, error) {
	h := headers{protContent: protected}
	var pm, um map[any]cbor.RawMessage
	// algOnly: the usual protected header {1: alg} with a one-byte alg,
	// read without building a map. Same result as the general path.
	algOnly := len(protected) == 3 && protected[0] == 0xa1 && protected[1] == hdrAlg &&
		(protected[2] < 0x18 || protected[2]-0x20 < 0x18)
	switch {
	case len(protected) == 0:
	case algOnly:
		h.hasAlg = true
		if b := protected[2]; b < 0x18 {
			h.alg = Algorithm(b)
		} else {
			h.alg = -1 - Algorithm(b-0x20)
		}
	default:
		if major(protected) != majorMap {
			return h, typeError("protected header", "serialized map", protected)
		}
		if err := decMode.Unmarshal(protected, &pm); err != nil {
			return h, fmt.Errorf("protected header: %w", err)
		}
	}
	if major(unprotected) != majorMap {
		return h, typeError("unprotected header", "map", unprotected)
	}
	if len(unprotected) > 1 {
		if err := decMode.Unmarshal(unprotected, &um); err != nil {
			return h, fmt.Errorf("unprotected header: %w", err)
		}
	}
	for k := range um {
		switch k.(type) {
		case int64, string:
		default:
			return h, fmt.Errorf("header label %v: want integer or text", k)
		}
		if _, dup := pm[k]; dup || algOnly && k == int64(hdrAlg) {
			return h, fmt.Errorf("header label %v is in both the protected and unprotected header", k)
		}
		if k == int64(hdrCrit) {
			return h, errors.New("crit (label 2) must be in the protected header")
		}
	}
	for k := range pm {
		switch k.(type) {
		case int64, string:
		default:
			return h, fmt.Errorf("header label %v: want integer or text", k)
		}
	}
	if raw, ok := pm[int64(hdrAlg)]; ok {
		v, err := decodeInt("protected header alg (1)", raw)
		if err != nil {
			return h, err
		}
		h.alg, h.hasAlg = Algorithm(v), true
	}
	_, h.unprotAlg = um[int64(hdrAlg)]
	if raw, ok := pm[int64(hdrCrit)]; ok {
		if err := checkCrit(raw); err != nil {
			return h, err
		}
	}
	for _, m := range [2]map[any]cbor.RawMessage{pm, um} {
		if raw, ok := m[int64(hdrKID)]; ok {
			var err error
			if h.kid, err = decodeBytes("kid (4)", raw); err != nil {
				return h, err
			}
		}
		if raw, ok := m[int64(hdrIV)]; ok {
			var err error
			if h.iv, err = decodeBytes("IV (5)", raw); err != nil {
				return h, err
			}
		}
		if _, ok := m[int64(hdrPartialIV)]; ok {
			h.hasPartial = true
		}
		if raw, ok := m[int64(hdrX5Chain)]; ok {
			var err error
			if h.x5chain, err = decodeX5Chain(raw); err != nil {
				return h, err
			}
		}
	}
	return h, nil
}

// checkCrit accepts a crit list only if it names parameters this package
// processes (RFC 9052 section 3.1: unknown critical parameters must fail).
func checkCrit(raw []byte) error {
	var labels []any
	if err := decMode.Unmarshal(raw, &labels); err != nil || len(labels) == 0 {
		return errors.New("crit (2): want a non-empty array of labels")
	}
	for _, l := range labels {
		switch l {
		case int64(hdrAlg), int64(hdrKID), int64(hdrIV), int64(hdrX5Chain):
		default:
			return fmt.Errorf("%w: crit (2) lists header %v, which this decoder does not process", ErrUnsupported, l)
		}
	}
	return nil
}

func decodeX5Chain(raw []byte) ([][]byte, error) {
	var certs [][]byte
	switch major(raw) {
	case majorBytes:
		c, err := decodeBytes("x5chain (33)", raw)
		if err != nil {
			return nil, err
		}
		certs = [][]byte{c}
	case majorArray:
		var items []cbor.RawMessage
		if err := decMode.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("x5chain (33): %w", err)
		}
		if len(items) == 0 || len(items) > maxCerts {
			return nil, fmt.Errorf("x5chain (33): %d certificates, want 1 to %d", len(items), maxCerts)
		}
		for i, it := range items {
			c, err := decodeBytes("x5chain (33) entry "+strconv.Itoa(i), it)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
	default:
		return nil, typeError("x5chain (33)", "byte string or array of byte strings", raw)
	}
	for i, c := range certs {
		if len(c) > maxCertSize {
			return nil, fmt.Errorf("%w: x5chain certificate %d is %d bytes (max %d)", ErrTooLarge, i, len(c), maxCertSize)
		}
	}
	return certs, nil
}

// coseKind is the outermost structure found in the decompressed bytes.
type coseKind int

const (
	kindSign1 coseKind = iota + 1
	kindEncrypt0
	kindBareCWT // a CWT map with no COSE around it (only inside Encrypt0)
)

// sign1 is a parsed COSE_Sign1.
type sign1 struct {
	hdr       headers
	payload   []byte
	signature []byte
}

// encrypt0 is a parsed COSE_Encrypt0.
type encrypt0 struct {
	hdr        headers
	ciphertext []byte
}

// unwrapCOSE identifies the structure and strips its tags: an optional CWT
// tag 61 around a tagged COSE message (RFC 8392 section 6), tag 18, tag 16,
// or an untagged COSE_Sign1 (accepted by the reference implementation).
func unwrapCOSE(b []byte, allowBareCWT bool) (coseKind, []byte, error) {
	if len(b) >= 2 && b[0] == 0xd8 && b[1] == tagCWT {
		b = b[2:]
		if len(b) == 0 || (b[0] != 0xc0|tagSign1 && b[0] != 0xc0|tagEncrypt0) {
			return 0, nil, fmt.Errorf("%w: CWT tag 61 must wrap a tagged COSE_Sign1 or COSE_Encrypt0", ErrMalformed)
		}
	}
	switch {
	case len(b) == 0:
		return 0, nil, fmt.Errorf("%w: empty input", ErrMalformed)
	case b[0] == 0xc0|tagSign1:
		return kindSign1, b[1:], nil
	case b[0] == 0xc0|tagEncrypt0:
		return kindEncrypt0, b[1:], nil
	case b[0] == 0x84:
		return kindSign1, b, nil
	case allowBareCWT && major(b) == majorMap:
		return kindBareCWT, b, nil
	case major(b) == majorTag:
		var t cbor.RawTag
		if err := decMode.Unmarshal(b, &t); err == nil {
			return 0, nil, fmt.Errorf("%w: CBOR tag %d; want COSE_Sign1 (18) or COSE_Encrypt0 (16)", ErrUnsupported, t.Number)
		}
	}
	return 0, nil, fmt.Errorf("%w: not a COSE_Sign1 or COSE_Encrypt0 (starts with %s)", ErrMalformed, majorName(b))
}

// arrayItems splits the CBOR array of exactly n items that fills b, after
// one well-formedness pass (as mapPairs does for maps).
func arrayItems(msg string, b []byte, n int) ([][]byte, error) {
	if err := decMode.Wellformed(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, msg, err)
	}
	maj, cnt, off, _ := readHead(b)
	if maj != majorArray || cnt != uint64(n) {
		what := majorName(b)
		if maj == majorArray {
			what = fmt.Sprintf("an array of %d", cnt)
		}
		return nil, fmt.Errorf("%w: %s: want an array of %d, got %s", ErrMalformed, msg, n, what)
	}
	items := make([][]byte, n)
	for i := range items {
		end := itemEnd(b, off)
		items[i] = b[off:end:end]
		off = end
	}
	return items, nil
}

// messageHeaders decodes a COSE message's protected bucket (a bstr) and
// parses both buckets.
func messageHeaders(msg string, protected, unprotected []byte) (headers, error) {
	prot, err := decodeBytes(msg+" protected header", protected)
	if err != nil {
		return headers{}, malformed(err)
	}
	hdr, err := parseHeaders(prot, unprotected)
	if err != nil {
		return headers{}, malformed(err)
	}
	return hdr, nil
}

// parseSign1 parses [protected, unprotected, payload, signature]. The
// result aliases b, which is always a private buffer (decompressed or
// decrypted).
func parseSign1(b []byte) (*sign1, error) {
	a, err := arrayItems("COSE_Sign1", b, 4)
	if err != nil {
		return nil, err
	}
	hdr, err := messageHeaders("COSE_Sign1", a[0], a[1])
	if err != nil {
		return nil, err
	}
	payload, err := decodeBytes("COSE_Sign1 payload (detached payloads are not supported)", a[2])
	if err != nil {
		return nil, malformed(err)
	}
	sig, err := decodeBytes("COSE_Sign1 signature", a[3])
	if err != nil {
		return nil, malformed(err)
	}
	return &sign1{hdr: hdr, payload: payload, signature: sig}, nil
}

// parseEncrypt0 parses [protected, unprotected, ciphertext], aliasing b.
func parseEncrypt0(b []byte) (*encrypt0, error) {
	a, err := arrayItems("COSE_Encrypt0", b, 3)
	if err != nil {
		return nil, err
	}
	hdr, err := messageHeaders("COSE_Encrypt0", a[0], a[1])
	if err != nil {
		return nil, err
	}
	ct, err := decodeBytes("COSE_Encrypt0 ciphertext (detached ciphertext is not supported)", a[2])
	if err != nil {
		return nil, malformed(err)
	}
	return &encrypt0{hdr: hdr, ciphertext: ct}, nil
}

func malformed(err error) error {
	if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// sigStructure is the COSE_Sign1 to-be-signed bytes with empty external
// AAD: ["Signature1", protected, h”, payload], protected as received. It
// is written directly (go-cose marshals a []any: 1 µs and 5 allocations per
// verify); TestSigStructure checks it against fxamacker.
func sigStructure(protected, payload []byte) []byte {
	out := make([]byte, 0, 32+len(protected)+len(payload))
	out = append(out, 0x84, 0x6a)
	out = append(out, "Signature1"...)
	out = appendHead(out, majorBytes, uint64(len(protected)))
	out = append(out, protected...)
	out = append(out, 0x40)
	out = appendHead(out, majorBytes, uint64(len(payload)))
	return append(out, payload...)
}

// appendHead appends a shortest-form CBOR head.
func appendHead(b []byte, maj byte, n uint64) []byte {
	m := maj << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// encStructure is the AAD of COSE_Encrypt0 with empty external AAD.
func encStructure(protected []byte) ([]byte, error) {
	return encMode.Marshal([]any{"Encrypt0", protected, []byte{}})
}

// aesKeySize returns the key size an AES-GCM algorithm needs.
func aesKeySize(alg Algorithm) int {
	switch alg {
	case A128GCM:
		return 16
	case A256GCM:
		return 32
	}
	return 0
}

// open decrypts e with key. The caller has checked alg and key size.
func (e *encrypt0) open(key []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	aad, err := encStructure(e.hdr.protContent)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, e.hdr.iv, e.ciphertext, aad)
}

// sealEncrypt0 wraps plaintext in a tagged COSE_Encrypt0 with protected
// {1: alg} (plus kid) and a random 12-byte IV in the unprotected header.
func sealEncrypt0(key, kid, plaintext []byte) ([]byte, error) {
	var alg Algorithm
	switch len(key) {
	case 16:
		alg = A128GCM
	case 32:
		alg = A256GCM
	default:
		return nil, fmt.Errorf("%w: AES key is %d bytes; A128GCM needs 16, A256GCM 32", ErrUnsupportedAlgorithm, len(key))
	}
	prot := map[int64]any{hdrAlg: int64(alg)}
	if kid != nil {
		prot[hdrKID] = kid
	}
	protected, err := encMode.Marshal(prot)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, gcmIVSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	aad, err := encStructure(protected)
	if err != nil {
		return nil, err
	}
	ct := gcm.Seal(nil, iv, plaintext, aad)
	return encMode.Marshal(cbor.Tag{Number: tagEncrypt0, Content: []any{
		protected,
		map[int64]any{hdrIV: iv},
		ct,
	}})
}
