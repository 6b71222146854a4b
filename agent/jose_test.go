package agent

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/sbi"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// The agent's JWS verify with an independent implementation: the npm jose
// library, run by node from testdata/jose (npm ci there installs it; CI does).
func TestJoseVerifiesAgentJWS(t *testing.T) {
	dir, _ := filepath.Abs("testdata/jose")
	node := testtool.Node(t, dir, "jose", "npm ci --prefix agent/testdata/jose")
	h := startDev(t, t.TempDir())
	var jws []string
	entries, _, err := h.cl.Info(ctx, h.port)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		jws = append(jws, e.DeviceInfo)
	}
	resp, _, err := h.cl.Capture(ctx, h.port, authReq("TFA000000001", sbi.TypeFinger, 2, "Left IndexFinger", "Left MiddleFinger"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range resp.Biometrics {
		jws = append(jws, b.Data)
		j, err := sbi.ParseJWS(b.Data)
		if err != nil {
			t.Fatal(err)
		}
		d, err := sbi.ParseCaptureData(j.Payload)
		if err != nil {
			t.Fatal(err)
		}
		jws = append(jws, d.DigitalID) // the FTM-signed digital ID
	}
	resp, _, err = h.cl.RCapture(ctx, h.port, regReq("TIR000000001", sbi.TypeIris, 3, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range resp.Biometrics {
		jws = append(jws, b.Data)
	}
	run := func(input []string) (string, error) {
		cmd := exec.Command(node, "verify.mjs")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run(jws)
	if err != nil {
		t.Fatalf("jose rejected the agent's JWS: %v\n%s", err, out)
	}
	if want := "ok " + strconv.Itoa(len(jws)); strings.TrimSpace(out) != want {
		t.Fatalf("jose said %q, want %q", strings.TrimSpace(out), want)
	}
	// And jose does reject a tampered one, so the check above means something.
	bad := jws[len(jws)-1]
	parts := strings.Split(bad, ".")
	parts[1] = parts[1][:len(parts[1])-4] + "AAAA"
	if out, err := run([]string{strings.Join(parts, ".")}); err == nil {
		t.Fatalf("jose accepted a tampered JWS: %s", out)
	}
}
