package face

//go:noescape
func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

func xgetbv() uint32

// hasAVX2FMA: the CPU has AVX2 and FMA and the OS saves YMM state.
func hasAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xgetbv()&6 != 6 {
		return false
	}
	_, b, _, _ := cpuid(7, 0)
	return b&(1<<5) != 0
}

func init() {
	if hasAVX2FMA() {
		gemm = gemmAVX2
	}
}

// gemmAVX2 covers c in 4 x 16 (and 1 x 16) blocks with the assembly
// kernels and leaves the edges to plain Go.
func gemmAVX2(m, n, k int, a, b, c []float32) {
	// The kernels read a, b and write c without bounds checks.
	a, b, c = a[:m*k], b[:k*n], c[:m*n]
	if k == 0 {
		clear(c)
		return
	}
	n16 := n &^ 15
	i := 0
	for ; i+4 <= m; i += 4 {
		for j := 0; j < n16; j += 16 {
			sgemm4x16(k, &a[i*k], k, &b[j], n, &c[i*n+j], n)
		}
	}
	for ; i < m; i++ {
		for j := 0; j < n16; j += 16 {
			sgemm1x16(k, &a[i*k], &b[j], n, &c[i*n+j])
		}
	}
	if n16 == n {
		return
	}
	// Columns n16..n for every row.
	for i := 0; i < m; i++ {
		ci := c[i*n+n16 : (i+1)*n]
		clear(ci)
		for p, x := range a[i*k : (i+1)*k] {
			br := b[p*n+n16 : (p+1)*n]
			for j, bv := range br {
				ci[j] += x * bv
			}
		}
	}
}
