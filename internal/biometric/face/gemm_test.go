package face

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmKernels checks the kernel in use against a float64 reference on
// shapes that hit every edge (row and column tails, k = 1).
func TestGemmKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{1, 1, 1}, {4, 16, 1}, {5, 17, 3}, {9, 25, 512}, {7, 136, 256}, {1225, 32, 288}, {3, 48, 2304}, {1, 128, 256}} {
		m, n, k := s[0], s[1], s[2]
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = r.Float32()*2 - 1
		}
		for i := range b {
			b[i] = r.Float32()*2 - 1
		}
		for name, f := range map[string]func(m, n, k int, a, b, c []float32){"gemm": gemm, "gemmGo": gemmGo} {
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(math.NaN()) // must be overwritten
			}
			f(m, n, k, a, b, c)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var want float64
					for p := 0; p < k; p++ {
						want += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					if d := math.Abs(float64(c[i*n+j]) - want); !(d <= 1e-4*math.Sqrt(float64(k))) {
						t.Fatalf("%s %dx%dx%d: c[%d,%d] = %v, want %v", name, m, n, k, i, j, c[i*n+j], want)
					}
				}
			}
		}
	}
}
