package qrscan

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/qrscan/degrade"
)

// rssBytes reads the resident set size from /proc (Linux only).
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestNativeDecodersDoNotLeak runs the cgo decoders repeatedly on a
// 1280×720 frame. Each call copies ~0.9 MB into C memory; leaking that
// buffer (or ZXing/zbar images) would grow RSS by ~100 MB here. (For a
// byte-exact check run: go test -asan -run TestNativeDecodersDoNotLeak.)
func TestNativeDecodersDoNotLeak(t *testing.T) {
	if !zxingCPPAvailable || !zbarAvailable {
		t.Skip("native decoders need cgo")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	if asanBuild {
		t.Skip("RSS is meaningless under -asan; LeakSanitizer checks at exit")
	}
	s, err := degrade.GenerateOne(ratesSeed, 7, degrade.Options{}) // a camera frame
	if err != nil {
		t.Fatal(err)
	}
	g := toGray(s.Image)
	run := func(n int) {
		for i := 0; i < n; i++ {
			_, _ = zxingCPPDecode(ZXingCPP{}, g)
			_, _ = zbarDecode(g)
		}
	}
	run(10) // warm up allocator arenas
	runtime.GC()
	debug.FreeOSMemory()
	before := rssBytes(t)
	run(100)
	runtime.GC()
	debug.FreeOSMemory()
	grew := rssBytes(t) - before
	t.Logf("RSS growth over 100 iterations: %.1f MB", float64(grew)/1e6)
	if grew > 40<<20 {
		t.Errorf("RSS grew by %.1f MB over 100 decodes: native memory leak?", float64(grew)/1e6)
	}
}
