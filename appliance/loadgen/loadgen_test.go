package loadgen_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/loadgen"
)

// fake answers like the appliance: auth decisions by the individualId
// ("1…" accepted, "2…" refused with code bio-mismatch, "5…" a 500) and
// verify results (valid). It records what it was sent.
type fake struct {
	mu     sync.Mutex
	paths  map[string]int
	n      atomic.Int64
	block  chan struct{} // when set, requests after the first `free` wait on it
	free   int64
	header string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.n.Add(1)
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.paths[r.URL.RequestURI()]++
	f.header = r.Header.Get("Authorization")
	f.mu.Unlock()
	if f.block != nil && n > f.free {
		select {
		case <-f.block:
		case <-r.Context().Done():
			return
		}
	}
	var req struct {
		IndividualID string `json:"individualId"`
	}
	json.Unmarshal(b, &req)
	switch {
	case r.URL.Path == loadgen.VerifyPath:
		fmt.Fprint(w, `{"valid":false,"reasons":["hash-not-verified: segment 0"]}`)
	case strings.HasPrefix(req.IndividualID, "1"):
		fmt.Fprint(w, `{"jws":"x","decision":{"authStatus":true,"errors":[]}}`)
	case strings.HasPrefix(req.IndividualID, "2"):
		fmt.Fprint(w, `{"jws":"x","decision":{"authStatus":false,"errors":[{"code":"bio-mismatch","message":"no"}]}}`)
	default:
		http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
	}
}

func newFake(t *testing.T) (*fake, *httptest.Server) {
	f := &fake{paths: map[string]int{}}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func reqs(t *testing.T, path string, lines ...string) []loadgen.Request {
	t.Helper()
	rs, err := loadgen.ReadRequests(strings.NewReader(strings.Join(lines, "\n")), path)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRunCountsKindsAndDecisions(t *testing.T) {
	f, srv := newFake(t)
	auth := reqs(t, loadgen.AuthPath,
		`{"individualId":"1000","demographics":{"fullName":"A"}}`,
		"# a comment, skipped",
		"",
		`{"individualId":"2000","biometrics":{"biometrics":[]}}`,
		`{"individualId":"1001","biometrics":{"biometrics":[]}}`,
		`{"individualId":"5000","demographics":{"fullName":"A"}}`)
	verify := reqs(t, loadgen.VerifyPath, `{"transactionId":"t-1","response":{}}`, `{"transactionId":"t-2","response":{}}`)
	all := loadgen.Interleave(auth, verify)
	if len(all) != 6 || all[1].Kind != loadgen.KindVerify || all[2].Kind != loadgen.KindAuthBio {
		t.Fatalf("interleaved: %+v", all)
	}
	rep, err := loadgen.Run(context.Background(), loadgen.Config{Base: srv.URL, Client: srv.Client(),
		Header: http.Header{"Authorization": {"Bearer etr_x"}}, Requests: all, Clients: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stopped != "count" || rep.All.Requests != 6 || rep.Failed() != 1 || rep.Cut != 0 {
		t.Fatalf("report: stopped %s, %d requests, %d failed, %d cut", rep.Stopped, rep.All.Requests, rep.Failed(), rep.Cut)
	}
	demo, bio, ver := rep.ByKind[loadgen.KindAuthDemo], rep.ByKind[loadgen.KindAuthBio], rep.ByKind[loadgen.KindVerify]
	if demo.Requests != 2 || demo.Accepted != 1 || demo.Failed() != 1 || demo.Status["500"] != 1 {
		t.Errorf("auth-demo: %+v", demo)
	}
	if bio.Requests != 2 || bio.Accepted != 1 || bio.Refused != 1 || bio.Codes["bio-mismatch"] != 1 {
		t.Errorf("auth-bio: %+v", bio)
	}
	if ver.Requests != 2 || ver.Refused != 2 || ver.Codes["hash-not-verified"] != 2 {
		t.Errorf("verify: %+v", ver)
	}
	if rep.All.P50 <= 0 || rep.All.P99 < rep.All.P50 || rep.All.Max < rep.All.P99 {
		t.Errorf("latencies out of order: p50 %s p99 %s max %s", rep.All.P50, rep.All.P99, rep.All.Max)
	}
	// The fragment that labels a kind is never sent.
	if f.paths[loadgen.AuthPath] != 4 || f.paths[loadgen.VerifyPath] != 2 || len(f.paths) != 2 {
		t.Errorf("server saw %v", f.paths)
	}
	if f.header != "Bearer etr_x" {
		t.Errorf("Authorization %q", f.header)
	}
	var out strings.Builder
	rep.WriteText(&out)
	for _, want := range []string{"6 requests from 3 clients", "auth-bio", "bio-mismatch=1", "500=1", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRepeatAndCount(t *testing.T) {
	f, srv := newFake(t)
	demo := reqs(t, loadgen.AuthPath, `{"individualId":"1000","demographics":{"fullName":"A"}}`)
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Base: srv.URL, Client: srv.Client(), Requests: demo, Count: 5}); err == nil ||
		!strings.Contains(err.Error(), "replay") {
		t.Fatalf("count over the requests without Repeat: %v", err)
	}
	rep, err := loadgen.Run(context.Background(), loadgen.Config{Base: srv.URL, Client: srv.Client(), Requests: demo, Count: 25, Repeat: true, Clients: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.All.Requests != 25 || rep.All.Accepted != 25 || f.n.Load() != 25 {
		t.Fatalf("%d requests, %d accepted, server saw %d", rep.All.Requests, rep.All.Accepted, f.n.Load())
	}
}

// A run ends at its duration even while every client waits for an answer;
// the requests cut off are reported apart, not as the appliance's failures.
func TestRunStopsAtDuration(t *testing.T) {
	f, srv := newFake(t)
	f.block, f.free = make(chan struct{}), 3
	defer close(f.block)
	demo := reqs(t, loadgen.AuthPath, `{"individualId":"1000","demographics":{"fullName":"A"}}`)
	rep, err := loadgen.Run(context.Background(), loadgen.Config{Base: srv.URL, Client: srv.Client(), Requests: demo,
		Count: 1000, Repeat: true, Clients: 2, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// At most the 3 free requests are answered (all of them unless the
	// machine is very slow); both clients were in flight at the end.
	if rep.Stopped != "duration" || rep.All.Requests > 3 || rep.Failed() != 0 || rep.Cut != 2 {
		t.Fatalf("stopped %s, %d requests, %d failed, %d cut", rep.Stopped, rep.All.Requests, rep.Failed(), rep.Cut)
	}
}

func TestRunInterrupted(t *testing.T) {
	f, srv := newFake(t)
	f.block, f.free = make(chan struct{}), 2
	defer close(f.block)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.n.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	demo := reqs(t, loadgen.AuthPath, `{"individualId":"1000","demographics":{"fullName":"A"}}`)
	rep, err := loadgen.Run(ctx, loadgen.Config{Base: srv.URL, Client: srv.Client(), Requests: demo, Count: 100, Repeat: true, Clients: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stopped != "interrupted" || rep.All.Requests != 2 || rep.Cut != 1 {
		t.Fatalf("stopped %s, %d requests, %d cut", rep.Stopped, rep.All.Requests, rep.Cut)
	}
}

func TestReadRequestsRefuses(t *testing.T) {
	for _, c := range []struct{ path, in, want string }{
		{loadgen.AuthPath, `{"individualId":"1"}` + "\n[1,2]", "line 2: not a JSON object"},
		{loadgen.AuthPath, `{"demographics":{}}`, "line 1: an auth request needs individualId"},
		{loadgen.VerifyPath, `{"transactionId":"t"}`, "needs response"},
		{loadgen.AuthPath, `{"individualId":"` + strings.Repeat("1", loadgen.MaxRequestSize) + `"}`, "longer than"},
		{"/v1/other", `{}`, "unknown path"},
	} {
		_, err := loadgen.ReadRequests(strings.NewReader(c.in), c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want %q", c.in, err, c.want)
		}
	}
}

func TestRunBounds(t *testing.T) {
	demo := []loadgen.Request{{Kind: loadgen.KindAuthDemo, Body: []byte(`{}`)}}
	for _, c := range []loadgen.Config{
		{Base: "https://x", Requests: nil},
		{Base: "https://x", Requests: demo, Clients: loadgen.MaxClients + 1},
		{Base: "https://x", Requests: demo, Count: loadgen.MaxCount + 1, Repeat: true},
		{Base: "https://x", Requests: demo, Duration: 2 * loadgen.MaxDuration},
		{Base: "ftp://x", Requests: demo},
	} {
		if _, err := loadgen.Run(context.Background(), c); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}
