// Package httpxtest measures what one request costs a server, for the
// per-endpoint memory budget of issue #19 (docs/api/*: "Limits").
//
// It may import only the standard library.
package httpxtest

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// Budget is the most one request may cost: 16× its body, never above
// 64 MiB, and at least 1 MiB so that tiny bodies are not held to the
// fixed cost of a handler (headers, the error answer, the logger).
func Budget(body int) uint64 {
	b := uint64(body) * 16
	if b < 1<<20 {
		b = 1 << 20
	}
	if b > 64<<20 {
		b = 64 << 20
	}
	return b
}

// Allocated is every byte f allocates on the heap. It bounds the heap
// growth f can cause from above (what is freed early still counts), so a
// request under budget by this measure is under it by any.
func Allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Serve sends one request to h and returns the answer and what serving it
// allocated. The request body is built before measuring.
func Serve(h http.Handler, method, target, body string, header http.Header) (*httptest.ResponseRecorder, uint64) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" && body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	n := Allocated(func() { h.ServeHTTP(rec, req) })
	return rec, n
}

// Hostile is one body a strict server must refuse.
type Hostile struct {
	Name string
	Body string
	// Want is the status expected (0: any 4xx).
	Want int
}

// CheckRefused serves every case and fails t unless each is refused with
// a 4xx (or tc.Want), nosniff, and within Budget. It reports the worst
// allocation seen, for the table in docs/api.
func CheckRefused(t *testing.T, h http.Handler, method, target string, header http.Header, cases []Hostile) (worst uint64) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			rec, n := Serve(h, method, target, tc.Body, header)
			if tc.Want != 0 && rec.Code != tc.Want || tc.Want == 0 && (rec.Code < 400 || rec.Code > 499) {
				t.Fatalf("%s %s: status %d, want %d (4xx if 0); answer %.200s", method, target, rec.Code, tc.Want, rec.Body)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if b := Budget(len(tc.Body)); n > b {
				t.Errorf("refusing a %d-byte body allocated %d bytes (budget %d)", len(tc.Body), n, b)
			}
			t.Logf("body %d B, allocated %d kB, status %d", len(tc.Body), n>>10, rec.Code)
			worst = max(worst, n)
		})
	}
	return worst
}

// CountBomb is {"<prefix>[{},{},…n times]<suffix>}: the shape that made
// encoding/json allocate an element per object before any count check.
func CountBomb(prefix string, n int, suffix string) string {
	var sb strings.Builder
	sb.Grow(len(prefix) + 3*n + len(suffix))
	sb.WriteString(prefix)
	sb.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("{}")
	}
	sb.WriteByte(']')
	sb.WriteString(suffix)
	return sb.String()
}

// Nest is n nested arrays around v.
func Nest(n int, v string) string {
	return strings.Repeat("[", n) + v + strings.Repeat("]", n)
}
