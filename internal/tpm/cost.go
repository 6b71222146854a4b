package tpm

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// A cost model makes a fast TPM (the simulator, swtpm) answer as slowly as
// a real chip, so throughput and latency measured on this machine say what a
// deployment will see. It is chosen in the TPM URL:
//
//	sim?cost=discrete                 a discrete TPM (the figures below)
//	swtpm://127.0.0.1:2321?cost=discrete
//	...&costscale=0.1                 every latency ×0.1 (quick runs)
//	...&costseed=7                    reproducible draws
//
// Commands are already serialised (one at a time, as on a chip, see
// retryTransport); the model adds, after each command, a latency drawn
// from a log-normal distribution fitted to the command's published or
// assumed median and 95th percentile (docs/performance.md, "TPM cost
// model", cites each figure). The sleep happens with the command lock held,
// so queueing behind a slow command is modelled too.

// CostEnv names the environment variable that puts every simulator and
// swtpm opened by this process under a cost model (e.g. "discrete", or
// "discrete&costscale=0.5"), unless the URL names one itself: one switch to
// run any benchmark or test as it would run on a chip, although agent and
// appliance code open their TPM deep inside. Device TPMs are never touched.
const CostEnv = "EDGETRUST_TPM_COST"

func withCostEnv(rawURL string) string {
	v := os.Getenv(CostEnv)
	if v == "" || !(rawURL == "sim" || strings.HasPrefix(rawURL, "sim?") || strings.HasPrefix(rawURL, "swtpm://")) {
		return rawURL
	}
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		if q, err := url.ParseQuery(rawURL[i+1:]); err == nil && q.Has("cost") {
			return rawURL
		}
		return rawURL + "&cost=" + v
	}
	return rawURL + "?cost=" + v
}

// Latency is a log-normal distribution given by its median and 95th
// percentile.
type Latency struct{ P50, P95 time.Duration }

// z95 is the standard normal's 95th percentile.
const z95 = 1.6448536269514722

// draw returns one latency for the standard normal draw z, capped at 4×
// the 95th percentile so one unlucky draw cannot stall a benchmark.
func (l Latency) draw(z float64) time.Duration {
	if l.P50 <= 0 {
		return 0
	}
	sigma := 0.0
	if l.P95 > l.P50 {
		sigma = math.Log(float64(l.P95)/float64(l.P50)) / z95
	}
	d := time.Duration(float64(l.P50) * math.Exp(sigma*z))
	return min(d, 4*max(l.P95, l.P50))
}

// Profile is a cost model: a latency per command, with TPM2_Sign split by
// signature scheme and TPM2_Create by the algorithm of the key created.
type Profile struct {
	Name    string
	Default Latency
	Command map[tpm2.TPMCC]Latency
	SignRSA Latency // TPM2_Sign with RSASSA or RSAPSS
	SignECC Latency // TPM2_Sign with ECDSA
	KeyRSA  Latency // TPM2_Create / CreatePrimary of an RSA key
	KeyECC  Latency // ... of an ECC key (or a sealed object)
}

var (
	// Chrome's field study of TPM ECDSA P-256 signatures: 200 ms at p50,
	// 600 ms at p95 (cited in Kristoffersen, "TPM performance", 2024).
	eccSign = Latency{200 * time.Millisecond, 600 * time.Millisecond}
	// RSA-2048 private operations: assumed 1.5× the ECDSA figure; per-chip
	// tables (ibid.) put RSA-2048 signing at single-digit per second too.
	rsaPriv = Latency{300 * time.Millisecond, 900 * time.Millisecond}
	ms      = func(p50, p95 int) Latency {
		return Latency{time.Duration(p50) * time.Millisecond, time.Duration(p95) * time.Millisecond}
	}
)

// Discrete is a discrete TPM 2.0 on an LPC/SPI bus. Only the signing figures
// are measured in the field; the rest are assumptions scaled from them and
// written down in docs/performance.md so that a better source can replace
// them.
var Discrete = Profile{
	Name:    "discrete",
	Default: ms(10, 30),
	SignRSA: rsaPriv,
	SignECC: eccSign,
	KeyRSA:  ms(5000, 20000), // RSA key generation on a chip takes seconds
	KeyECC:  ms(250, 800),
	Command: map[tpm2.TPMCC]Latency{
		tpm2.TPMCCRSADecrypt:         rsaPriv,
		tpm2.TPMCCQuote:              rsaPriv, // our AK is RSA-2048
		tpm2.TPMCCCertify:            rsaPriv,
		tpm2.TPMCCCertifyCreation:    rsaPriv,
		tpm2.TPMCCActivateCredential: rsaPriv, // the EK's RSA decrypt
		tpm2.TPMCCECDHZGen:           eccSign,
		tpm2.TPMCCLoad:               ms(40, 120),
		tpm2.TPMCCUnseal:             ms(40, 120),
		tpm2.TPMCCStartAuthSession:   ms(30, 90),
		tpm2.TPMCCPolicyPCR:          ms(5, 15),
		tpm2.TPMCCPCRRead:            ms(5, 15),
		tpm2.TPMCCPCRExtend:          ms(10, 30),
		tpm2.TPMCCNVRead:             ms(15, 45),
		tpm2.TPMCCNVWrite:            ms(30, 100),
		tpm2.TPMCCNVIncrement:        ms(30, 100),
		tpm2.TPMCCFlushContext:       ms(2, 6),
		tpm2.TPMCCGetCapability:      ms(3, 10),
		tpm2.TPMCCReadPublic:         ms(3, 10),
	},
}

var profiles = map[string]Profile{Discrete.Name: Discrete}

// costOptions is the cost part of a TPM URL's query.
type costOptions struct {
	profile string
	scale   float64
	seed    *uint64
}

func (o costOptions) String() string {
	if o.profile == "" {
		return ""
	}
	s := o.profile
	if o.scale != 1 {
		s += fmt.Sprintf(" ×%g", o.scale)
	}
	return s
}

// parseCost reads cost, costscale and costseed from q, and refuses any
// other key so that a typo does not silently benchmark a free TPM.
func parseCost(q url.Values, allowed ...string) (costOptions, error) {
	o := costOptions{scale: 1}
	for k := range q {
		switch k {
		case "cost", "costscale", "costseed":
		default:
			ok := false
			for _, a := range allowed {
				ok = ok || a == k
			}
			if !ok {
				return o, fmt.Errorf("tpm: unknown TPM URL option %q (known: cost, costscale, costseed%s)", k, joinOpts(allowed))
			}
		}
	}
	if p := q.Get("cost"); p != "" && p != "none" {
		if _, ok := profiles[p]; !ok {
			return o, fmt.Errorf("tpm: unknown cost model %q; use cost=discrete or cost=none", p)
		}
		o.profile = p
	}
	if s := q.Get("costscale"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			return o, fmt.Errorf("tpm: costscale %q is not a number between 0 and 100", s)
		}
		o.scale = f
	}
	if s := q.Get("costseed"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return o, fmt.Errorf("tpm: costseed %q is not an unsigned integer", s)
		}
		o.seed = &n
	}
	return o, nil
}

func joinOpts(a []string) string {
	s := ""
	for _, x := range a {
		s += ", " + x
	}
	return s
}

// costTransport charges every command its modelled latency. Its Send runs
// with the connection's command lock held (retryTransport.Send).
type costTransport struct {
	inner   transport.TPM
	profile Profile
	scale   float64
	ctx     func() context.Context // the command in flight's context, may be nil

	mu    sync.Mutex // guards rng and sleep (tests replace sleep)
	rng   *rand.Rand
	sleep func(ctx context.Context, d time.Duration)
}

func newCostTransport(inner transport.TPM, o costOptions) *costTransport {
	var seed [32]byte
	if o.seed != nil {
		binary.LittleEndian.PutUint64(seed[:], *o.seed)
	} else {
		crand.Read(seed[:])
	}
	return &costTransport{
		inner: inner, profile: profiles[o.profile], scale: o.scale,
		rng:   rand.New(rand.NewChaCha8(seed)),
		sleep: sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	if ctx == nil {
		<-t.C
		return
	}
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (c *costTransport) Send(cmd []byte) ([]byte, error) {
	rsp, err := c.inner.Send(cmd)
	if err != nil {
		return rsp, err
	}
	l := c.profile.latency(cmd)
	c.mu.Lock()
	d := time.Duration(float64(l.draw(c.rng.NormFloat64())) * c.scale)
	sleep := c.sleep
	c.mu.Unlock()
	var ctx context.Context
	if c.ctx != nil {
		ctx = c.ctx()
	}
	sleep(ctx, d)
	return rsp, nil
}

// latency picks the distribution for one marshalled command.
func (p Profile) latency(cmd []byte) Latency {
	if len(cmd) < 10 {
		return p.Default
	}
	cc := tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
	switch cc {
	case tpm2.TPMCCSign:
		switch signScheme(cmd) {
		case tpm2.TPMAlgECDSA:
			return p.SignECC
		default:
			return p.SignRSA
		}
	case tpm2.TPMCCCreate, tpm2.TPMCCCreatePrimary:
		if createdType(cmd) == tpm2.TPMAlgRSA {
			return p.KeyRSA
		}
		return p.KeyECC
	}
	if l, ok := p.Command[cc]; ok {
		return l
	}
	return p.Default
}

// params returns a command's parameter area after nHandles handles and,
// for TPM_ST_SESSIONS, the authorization area; nil if malformed.
func params(cmd []byte, nHandles int) []byte {
	off := 10 + 4*nHandles
	if len(cmd) < off {
		return nil
	}
	if binary.BigEndian.Uint16(cmd[0:2]) == uint16(tpm2.TPMSTSessions) {
		if len(cmd) < off+4 {
			return nil
		}
		n := int(binary.BigEndian.Uint32(cmd[off:]))
		off += 4
		if n < 0 || len(cmd) < off+n {
			return nil
		}
		off += n
	}
	return cmd[off:]
}

// skip2B passes over one TPM2B (16-bit length and bytes).
func skip2B(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil
	}
	return b[2+n:]
}

// signScheme is TPM2_Sign's inScheme.scheme (after keyHandle and digest).
func signScheme(cmd []byte) tpm2.TPMAlgID {
	b := skip2B(params(cmd, 1))
	if len(b) < 2 {
		return tpm2.TPMAlgNull
	}
	return tpm2.TPMAlgID(binary.BigEndian.Uint16(b))
}

// createdType is the type of inPublic in TPM2_Create / CreatePrimary (one
// handle, then inSensitive, then inPublic whose first field is the type).
func createdType(cmd []byte) tpm2.TPMAlgID {
	b := skip2B(params(cmd, 1)) // inSensitive
	if len(b) < 4 {
		return tpm2.TPMAlgNull
	}
	return tpm2.TPMAlgID(binary.BigEndian.Uint16(b[2:])) // inPublic.size, then type
}
