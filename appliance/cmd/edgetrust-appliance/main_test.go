package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/edgetrust/edgetrust/internal/cli/clitest"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/api"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"edgetrust-appliance": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// feeds holds each script's test feed server (the network boundary to
// central, see appliance/internal/feedtest).
var feeds sync.Map

func feedOf(ts *testscript.TestScript) *feedtest.Server {
	v, ok := feeds.Load(ts)
	if !ok {
		ts.Fatalf("no feedserver started in this script")
	}
	return v.(*feedtest.Server)
}

func caDER(ts *testscript.TestScript) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vendor CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	return der
}

// status polls a running appliance's /v1/status until cond holds.
func waitStatus(ts *testscript.TestScript, state string, what string, cond func(api.Status) bool) {
	var last api.Status
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(state, appliance.APIFile))
		if err != nil {
			continue
		}
		var f struct{ URL string }
		json.Unmarshal(b, &f)
		resp, err := localClient(state, f.URL).Get(f.URL + "/v1/status")
		if err != nil {
			continue
		}
		json.NewDecoder(resp.Body).Decode(&last)
		resp.Body.Close()
		if cond(last) {
			return
		}
	}
	ts.Fatalf("%s: not within 30s (last status %+v)", what, last)
}

func fakeAppliance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IndividualID string `json:"individualId"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	switch {
	case r.Header.Get("Authorization") != "Bearer etr_0123456789abcdef_secret" && r.URL.Path == "/v1/auth":
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"an API key is required"}`)
	case r.URL.Path == "/v1/captures/verify":
		fmt.Fprint(w, `{"valid":true,"reasons":[]}`)
	case strings.HasPrefix(req.IndividualID, "1"):
		fmt.Fprint(w, `{"jws":"x","decision":{"authStatus":true,"errors":[]}}`)
	case strings.HasPrefix(req.IndividualID, "2"):
		fmt.Fprint(w, `{"jws":"x","decision":{"authStatus":false,"errors":[{"code":"bio-mismatch","message":"no"}]}}`)
	default:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":"boom"}`)
	}
}

// TestScripts pins the command-line behaviour in testdata/*.txt.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonshape": clitest.JSONShape,
			"waitfile":  clitest.WaitFile(60 * time.Second),
			// feedserver: start a test feed server; sets $CENTRAL and writes feed.pem.
			"feedserver": func(ts *testscript.TestScript, neg bool, args []string) {
				srv, err := feedtest.New(trustfeed.Name)
				if err != nil {
					ts.Fatalf("%v", err)
				}
				ts.Defer(srv.Close)
				feeds.Store(ts, srv)
				ts.Setenv("CENTRAL", srv.URL())
				if err := os.WriteFile(ts.MkAbs("feed.pem"), srv.PublicKeyPEM(), 0o644); err != nil {
					ts.Fatalf("%v", err)
				}
			},
			// fakeappliance: an HTTPS server answering /v1/auth and
			// /v1/captures/verify as the appliance does (individualId
			// "1…" accepted, "2…" refused bio-mismatch, others a 500);
			// sets $APPLIANCE and writes its certificate to appliance-ca.pem.
			"fakeappliance": func(ts *testscript.TestScript, neg bool, args []string) {
				srv := httptest.NewTLSServer(http.HandlerFunc(fakeAppliance))
				ts.Defer(srv.Close)
				ts.Setenv("APPLIANCE", srv.URL)
				if err := os.WriteFile(ts.MkAbs("appliance-ca.pem"), pki.CertPEM(srv.Certificate()), 0o644); err != nil {
					ts.Fatalf("%v", err)
				}
			},
			// feedvendor ID STATUS: append a vendor (with a fresh CA certificate).
			"feedvendor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: feedvendor ID STATUS")
				}
				feedOf(ts).Append(trustfeed.KindVendor, trustfeed.Vendor{ID: args[0], Name: args[0], Status: args[1], CACert: caDER(ts)})
			},
			// feeddevice SERIAL VENDOR STATUS: append a device.
			"feeddevice": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: feeddevice SERIAL VENDOR STATUS")
				}
				feedOf(ts).Append(trustfeed.KindDevice, trustfeed.Device{Serial: args[0], VendorID: args[1], Status: args[2],
					DeviceCertSHA256: "AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01AB01"})
			},
			// feedfault none|badsig|unknownkey|oldtime|future: make the server misbehave.
			"feedfault": func(ts *testscript.TestScript, neg bool, args []string) {
				faults := map[string]feedtest.Fault{"none": feedtest.None, "badsig": feedtest.BadSignature,
					"unknownkey": feedtest.UnknownKey, "oldtime": feedtest.OldTime, "future": feedtest.FutureTime}
				f, ok := faults[args[0]]
				if len(args) != 1 || !ok {
					ts.Fatalf("usage: feedfault none|badsig|unknownkey|oldtime|future")
				}
				feedOf(ts).SetFault(f)
			},
			// feeddown / feedup: central unreachable / back.
			"feeddown": func(ts *testscript.TestScript, neg bool, args []string) { feedOf(ts).Down() },
			"feedup": func(ts *testscript.TestScript, neg bool, args []string) {
				if err := feedOf(ts).Up(); err != nil {
					ts.Fatalf("%v", err)
				}
			},
			// waitsynced STATE N: the appliance with that state has applied N entries.
			"waitsynced": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.ParseUint(args[1], 10, 64)
				if len(args) != 2 || err != nil {
					ts.Fatalf("usage: waitsynced STATE N")
				}
				waitStatus(ts, ts.MkAbs(args[0]), "synced to "+args[1], func(s api.Status) bool { return s.Trust.Size == n && !s.Stale })
			},
			// waitrefused STATE: the appliance has refused at least one batch.
			"waitrefused": func(ts *testscript.TestScript, neg bool, args []string) {
				waitStatus(ts, ts.MkAbs(args[0]), "a refused batch", func(s api.Status) bool { return s.Sync != nil && s.Sync.RefusedTotal > 0 })
			},
		},
	})
}
