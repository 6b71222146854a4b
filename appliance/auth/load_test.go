package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/loadgen"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// TestLoadRealStack drives the whole authentication stack with the load
// generator of `edgetrust-appliance loadtest` (appliance/loadgen) over
// loopback mutual TLS (--rp-auth cert+key, kept-alive connections): a
// population of people enrolled from real registration captures, and one
// fresh auth capture per fingerprint request made ahead by the in-process
// agent, so every request is a first use (the replay check is on).
// Delegated decision signing and the TPM-sealed software unwrap key
// (decision 0017, the defaults) on the simulated TPM.
//
// Under EDGETRUST_TPM_COST the agent's TPM is cost-modelled too (one
// simulator per process), which makes the captures slow to prepare but
// does not touch the run: they are all made before it starts.
//
// By default it is small (correctness: every request answered 200, every
// decision accepted). For figures:
//
//	EDGETRUST_LOAD_PEOPLE=40 EDGETRUST_LOAD_CAPTURES=8 EDGETRUST_LOAD_CLIENTS=8 \
//	EDGETRUST_TPM_COST='discrete&costseed=1' \
//	  go test -p 1 -count=1 -run TestLoadRealStack -v -timeout 30m ./appliance/auth/
//
// It asserts no timing: the figures are logged (throughput, p50/p95/p99,
// and CPU time per request, which is robust to other load on the machine).
func TestLoadRealStack(t *testing.T) {
	people := envInt(t, "EDGETRUST_LOAD_PEOPLE", 3)
	captures := envInt(t, "EDGETRUST_LOAD_CAPTURES", 2)
	clients := envInt(t, "EDGETRUST_LOAD_CLIENTS", 4)
	demoCount := envInt(t, "EDGETRUST_LOAD_DEMO", 200)
	fixtureSoftUnwrap = true
	defer func() { fixtureSoftUnwrap = false }()
	t0 := time.Now()
	f := newFixture(t, func(c *auth.Config) {
		c.MaxInFlight, c.RPAuth = 2*clients, auth.RPAuthCertKey
		c.Delegate = mustDelegate(t, c)
	})
	// Captures are made before the run and used within minutes.
	f.capv.MaxAge = 30 * time.Minute
	ca := newTLSCA(t)
	ca.serveTLS(t, f)
	cert := ca.client(t, "rp", "kiosk-a", time.Now().Add(-time.Minute), time.Hour)
	t.Logf("fixture (%s=%q): %s", tpm.CostEnv, os.Getenv(tpm.CostEnv), time.Since(t0).Round(time.Millisecond))

	// The population: person i is synthetic finger owner i+100, with a
	// record holding demographics and the four templates of a left slap.
	t0 = time.Now()
	type person struct {
		vid  string
		seed uint64
	}
	var pop []person
	for i := range people {
		seed := uint64(100 + i)
		uin := fmt.Sprintf("%010d", 3000000000+i)
		demo := map[string]string{"fullName": fmt.Sprintf("Person %d", i), "dateOfBirth": "1990-04-01"}
		pop = append(pop, person{f.person(uin, "perpetual", demo, f.enrolFingers(seed), nil), seed})
	}
	t.Logf("enrolled %d people: %s", people, time.Since(t0).Round(time.Millisecond))

	// Fingerprint requests: captures made ahead, one per request,
	// interleaved across people so no two in a row share a VID.
	t0 = time.Now()
	perPerson := make([][]loadgen.Request, people)
	for i, p := range pop {
		f.present(p.seed, "Left IndexFinger")
		for range captures {
			txn := txnID()
			b, _ := json.Marshal(bioReq(p.vid, txn, f.authCapture(fingerAuth, sbi.TypeFinger, txn)))
			perPerson[i] = append(perPerson[i], loadgen.Request{Kind: loadgen.KindAuthBio, Body: b})
		}
	}
	bio := loadgen.Interleave(perPerson...)
	t.Logf("made %d auth captures: %s", len(bio), time.Since(t0).Round(time.Millisecond))
	var demo []loadgen.Request
	for i, p := range pop {
		b, _ := json.Marshal(demoReq(p.vid, map[string]string{"fullName": fmt.Sprintf("person %d", i), "dateOfBirth": "1990-04-01"}))
		demo = append(demo, loadgen.Request{Kind: loadgen.KindAuthDemo, Body: b})
	}

	hc := ca.httpClient(cert)
	h := http.Header{"Authorization": {"Bearer " + f.rpKeys["kiosk-a"].String()}}
	for _, phase := range []struct {
		name   string
		reqs   []loadgen.Request
		count  int
		repeat bool
	}{
		{"demographic", demo, demoCount, true},
		{"fingerprint", bio, len(bio), false},
	} {
		cpu0 := cpuTime()
		rep, err := loadgen.Run(context.Background(), loadgen.Config{Base: f.http.URL, Client: hc, Header: h, Requests: phase.reqs,
			Count: phase.count, Repeat: phase.repeat, Clients: clients, Duration: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		cpu := cpuTime() - cpu0
		s := rep.All
		t.Logf("%s: %d requests, %d clients, %s: %.1f/s, p50 %s p95 %s p99 %s max %s; %.2f cpu-ms per request (load generator included)",
			phase.name, s.Requests, clients, rep.Duration.Round(time.Millisecond), s.Throughput, s.P50, s.P95, s.P99, s.Max,
			float64(cpu.Microseconds())/1000/float64(s.Requests))
		var out strings.Builder
		rep.WriteText(&out)
		t.Logf("%s, as edgetrust-appliance loadtest prints it:\n%s", phase.name, out.String())
		// Every request is answered; a refusal may only be a genuine
		// false non-match (the matcher's FNMR, well under 10 %).
		bad := s.Accepted < phase.count*9/10
		for code := range s.Codes {
			bad = bad || code != "bio-mismatch"
		}
		if rep.Failed() != 0 || rep.Stopped != "count" || bad {
			b, _ := json.Marshal(rep)
			t.Errorf("%s: %d failed, stopped by %s, %d of %d accepted: %s", phase.name, rep.Failed(), rep.Stopped, s.Accepted, phase.count, b)
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
