package tpm

import (
	"context"
	"crypto"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// TestLatencyQuantiles: the sampler's median and 95th percentile are the
// ones the profile names (20,000 draws, fixed seed), and the cap holds.
func TestLatencyQuantiles(t *testing.T) {
	l := Latency{200 * time.Millisecond, 600 * time.Millisecond}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	d := make([]time.Duration, 20000)
	for i := range d {
		d[i] = l.draw(rng.NormFloat64())
	}
	slices.Sort(d)
	p50, p95, top := d[len(d)/2], d[len(d)*95/100], d[len(d)-1]
	t.Logf("p50 %v p95 %v max %v", p50, p95, top)
	if p50 < 190*time.Millisecond || p50 > 210*time.Millisecond {
		t.Errorf("median %v, want 200 ms ±5%%", p50)
	}
	if p95 < 560*time.Millisecond || p95 > 640*time.Millisecond {
		t.Errorf("p95 %v, want 600 ms ±7%%", p95)
	}
	if top > 2400*time.Millisecond {
		t.Errorf("max %v above the 4×p95 cap", top)
	}
	if got := (Latency{P50: time.Second}).draw(3); got != time.Second {
		t.Errorf("a latency with no spread drew %v", got)
	}
}

func TestParseCostOptions(t *testing.T) {
	for _, bad := range []string{
		"sim?cost=chip", "sim?cost=discrete&costscale=-1", "sim?cost=discrete&costscale=x",
		"sim?cost=discrete&costseed=-3", "sim?cosst=discrete", "swtpm://127.0.0.1:1?cost=fast",
		"swtpm://127.0.0.1:1?seed=3",
	} {
		if tp, err := Open(ctx, bad); err == nil {
			tp.Close()
			t.Errorf("Open(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "tpm: ") {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
	tp, err := Open(ctx, "sim?cost=discrete&costscale=0&costseed=9")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if tp.Cost() != "discrete ×0" {
		t.Errorf("Cost() = %q", tp.Cost())
	}
	if tp2, err := Open(ctx, "sim"); err == nil {
		tp2.Close()
		t.Error("a second simulator user with other cost options was accepted")
	}
}

// charges records what the cost model charged each command.
type charges struct {
	mu       sync.Mutex
	by       map[tpm2.TPMCC][]time.Duration
	inFlight atomic.Int32
	overlap  atomic.Bool
}

// openCharged opens the simulator with a profile whose latencies are
// fixed (no spread) and distinct, so each charge names its rule.
func openCharged(t *testing.T) (*TPM, *charges) {
	t.Helper()
	s := func(n int) Latency { return Latency{P50: time.Duration(n) * time.Second} }
	profiles["test"] = Profile{Name: "test", Default: s(1), SignECC: s(2), SignRSA: s(3), KeyECC: s(4), KeyRSA: s(5),
		Command: map[tpm2.TPMCC]Latency{tpm2.TPMCCRSADecrypt: s(6), tpm2.TPMCCUnseal: s(7), tpm2.TPMCCLoad: s(8)}}
	t.Cleanup(func() { delete(profiles, "test") })
	tp := openURL(t, "sim?cost=test")
	c := &charges{by: map[tpm2.TPMCC][]time.Duration{}}
	ct := tp.c.retryTransport.inner.(*costTransport)
	inner := ct.inner
	var last tpm2.TPMCC
	ct.inner = sendFunc(func(cmd []byte) ([]byte, error) {
		last = tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
		return inner.Send(cmd)
	})
	ct.sleep = func(_ context.Context, d time.Duration) {
		if c.inFlight.Add(1) > 1 {
			c.overlap.Store(true)
		}
		time.Sleep(200 * time.Microsecond) // widen the window for overlap
		c.mu.Lock()
		c.by[last] = append(c.by[last], d)
		c.mu.Unlock()
		c.inFlight.Add(-1)
	}
	return tp, c
}

type sendFunc func([]byte) ([]byte, error)

func (f sendFunc) Send(cmd []byte) ([]byte, error) { return f(cmd) }

func (c *charges) only(t *testing.T, cc tpm2.TPMCC, want time.Duration) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.by[cc]
	if len(got) == 0 {
		t.Fatalf("command %v was never charged (charged: %v)", cc, c.by)
	}
	for _, d := range got {
		if d != want {
			t.Errorf("command %v charged %v, want %v", cc, d, want)
		}
	}
}

// TestCostByCommand: real commands on the simulator are charged by what
// they are (ECDSA vs RSA signing, RSA vs ECC key creation, decrypt,
// unseal, load), and never two at once.
func TestCostByCommand(t *testing.T) {
	tp, c := openCharged(t)
	d := sha256.Sum256([]byte("x"))
	ecc, err := tp.CreateKey(ctx, ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := tp.CreateKey(ctx, RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := tp.CreateKey(ctx, RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := tp.Seal(ctx, []byte("secret"), []int{PCRDebug})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ecc.Sign(nil, d[:], crypto.SHA256); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := rsaKey.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := rsaKey.Sign(nil, d[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), crand.Reader, dec.Public().(*rsa.PublicKey), []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Unseal(ctx, sealed); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	signs := c.by[tpm2.TPMCCSign]
	c.mu.Unlock()
	if n := len(signs); n != 6 {
		t.Fatalf("%d signatures charged, want 6", n)
	}
	var ecdsa, rsas int
	for _, s := range signs {
		switch s {
		case 2 * time.Second:
			ecdsa++
		case 3 * time.Second:
			rsas++
		}
	}
	if ecdsa != 4 || rsas != 2 {
		t.Errorf("signatures charged %v: want 4 at the ECDSA rate, 2 at the RSA rate", signs)
	}
	c.only(t, tpm2.TPMCCRSADecrypt, 6*time.Second)
	c.only(t, tpm2.TPMCCUnseal, 7*time.Second)
	c.only(t, tpm2.TPMCCLoad, 8*time.Second)
	c.mu.Lock()
	creates := append(append([]time.Duration{}, c.by[tpm2.TPMCCCreate]...), c.by[tpm2.TPMCCCreatePrimary]...)
	c.mu.Unlock()
	if !slices.Contains(creates, 4*time.Second) || !slices.Contains(creates, 5*time.Second) {
		t.Errorf("key creation charged %v: want both the ECC and the RSA rate", creates)
	}
	if c.overlap.Load() {
		t.Error("two commands were charged at once: the cost model must hold the command lock")
	}
}

func TestCostEnv(t *testing.T) {
	t.Setenv(CostEnv, "discrete&costscale=0")
	for in, want := range map[string]string{
		"sim":                    "sim?cost=discrete&costscale=0",
		"sim?seed=3":             "sim?seed=3&cost=discrete&costscale=0",
		"sim?cost=none":          "sim?cost=none",
		"swtpm://127.0.0.1:2321": "swtpm://127.0.0.1:2321?cost=discrete&costscale=0",
		"/dev/tpmrm0":            "/dev/tpmrm0",
		"simulator-typo":         "simulator-typo",
	} {
		if got := withCostEnv(in); got != want {
			t.Errorf("withCostEnv(%q) = %q, want %q", in, got, want)
		}
	}
	tp := openURL(t, "sim")
	if tp.Cost() != "discrete ×0" {
		t.Errorf("Cost() = %q under %s", tp.Cost(), CostEnv)
	}
}
