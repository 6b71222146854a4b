package claim169

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// mapBuilder writes what fxamacker's core deterministic mode writes for
// the same map: key order (bytewise over the encoded keys, negative keys
// and multi-byte heads included) and every head.
func TestMapBuilderMatchesFxamacker(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []int64{0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 32, math.MaxInt64, -1, -24, -25, -256, -257, math.MinInt64, 169}
	for round := range 500 {
		var m mapBuilder
		ref := map[int64]cbor.RawMessage{}
		for _, i := range r.Perm(len(keys))[:r.IntN(len(keys)+1)] {
			k := keys[i]
			var v []byte
			switch r.IntN(4) {
			case 0:
				s := string(bytes.Repeat([]byte{'a'}, r.IntN(300)))
				m.text(k, s)
				v, _ = encMode.Marshal(s)
			case 1:
				b := bytes.Repeat([]byte{7}, r.IntN(70000))
				m.bytes(k, b)
				v, _ = encMode.Marshal(b)
			case 2:
				n := int64(r.Uint64())
				m.int(k, n)
				v, _ = encMode.Marshal(n)
			default:
				us := make([]uint64, r.IntN(30))
				for j := range us {
					us[j] = r.Uint64() >> r.IntN(64)
				}
				m.uints(k, us)
				v, _ = encMode.Marshal(us)
			}
			ref[k] = v
		}
		want, err := encMode.Marshal(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.encode(); !bytes.Equal(got, want) {
			t.Fatalf("round %d: mapBuilder\n%x\nfxamacker\n%x", round, got, want)
		}
	}
}
