//go:build linux

package qrscan

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// threadCPU measures the CPU time f spends on its (locked) OS thread, so
// that per-frame costs stay comparable on a machine shared with other
// jobs, where wall time is inflated by waiting for a core.
func threadCPU(f func()) (nanos int64, ok bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var a, b unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &a) != nil {
		f()
		return 0, false
	}
	f()
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &b) != nil {
		return 0, false
	}
	return b.Nano() - a.Nano(), true
}
