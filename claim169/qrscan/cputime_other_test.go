//go:build !linux

package qrscan

// threadCPU is only implemented on Linux; elsewhere tables show wall time.
func threadCPU(f func()) (int64, bool) {
	f()
	return 0, false
}
