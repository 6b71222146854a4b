package main

import (
	"bufio"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// agentProc is a running edgetrust-agent started the way a user would.
type agentProc struct {
	cmd   *exec.Cmd
	state string
	Port  int    `json:"port"`
	URL   string `json:"url"`
	DevCA string `json:"deviceCA"`
	FTMCA string `json:"ftmCA"`
}

func startAgent(ctx context.Context, bin, state string, extra ...string) (*agentProc, error) {
	exe := filepath.Join(bin, "edgetrust-agent")
	if _, err := os.Stat(exe); err != nil {
		return nil, fmt.Errorf("%s not found: run make build (make demo does)", exe)
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"serve", "--dev", "--state", state, "--log-level", "error"}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agentProc{cmd: cmd, state: state}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok {
			cmd.Wait()
			return nil, errors.New("edgetrust-agent exited before it was ready")
		}
		if err := json.Unmarshal([]byte(l), a); err != nil {
			a.stop()
			return nil, fmt.Errorf("reading the agent's start-up line: %w", err)
		}
	case <-time.After(60 * time.Second):
		a.stop()
		return nil, errors.New("edgetrust-agent did not start within 60 s")
	}
	return a, nil
}

func (a *agentProc) stop() {
	a.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		a.cmd.Process.Kill()
	}
}

func pool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return p, nil
}

func readKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

func runAgent(ctx context.Context, bin string) error {
	state, err := os.MkdirTemp("", "edgetrust-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ch, err := startChain(ctx, bin, state)
	if err != nil {
		return err
	}
	defer ch.stop()
	a, ctkKeys, encPath := ch.agent, ch.ctkKeys, ch.ctkCert

	cl := &client.Client{App: "edgetrust-demo"}
	start := time.Now()
	found, err := cl.Discover(ctx, sbi.TypeAny)
	if err != nil || len(found) == 0 {
		return fmt.Errorf("discovery found no device: %v", err)
	}
	var port int
	for _, f := range found {
		if f.Port == a.Port {
			port = f.Port
			step("discovery probed 127.0.0.1:%d-%d in %v: %d devices on port %d",
				sbi.PortMin, sbi.PortMax, time.Since(start).Round(time.Millisecond), len(f.Devices), f.Port)
			for _, d := range f.Devices {
				fmt.Printf("      %-14s %-3s %-13s %-6s %s\n", d.DeviceID, d.Certification, d.Purpose, d.DeviceStatus, d.CallbackID)
			}
		}
	}
	if port == 0 {
		return fmt.Errorf("discovery did not find the demo agent on port %d", a.Port)
	}
	devRoots, err := pool(a.DevCA)
	if err != nil {
		return err
	}
	ftmRoots, err := pool(a.FTMCA)
	if err != nil {
		return err
	}
	encKey, err := readKey(filepath.Join(ctkKeys, "encryption-key.pem"))
	if err != nil {
		return err
	}
	ec, err := readCert(encPath)
	if err != nil {
		return err
	}
	v := &sbi.Verifier{DeviceRoots: devRoots, FTMRoots: ftmRoots, ISOProfile: true,
		Keys: []sbi.DecryptionKey{{Cert: ec, Key: encKey}}}

	infos, _, err := cl.Info(ctx, port)
	if err != nil {
		return err
	}
	var fingerInfo *sbi.InfoResult
	for i := range infos {
		res, ps := v.VerifyInfo(&infos[i], i)
		if len(ps) > 0 {
			return fmt.Errorf("device info %d does not verify: %v", i, ps)
		}
		if res.Info.DeviceID == "ETFA000000001" {
			fingerInfo = res
		}
	}
	step("all %d deviceInfo JWS verify: RS256, x5c chains to the device-provider CA, digital IDs to the FTM CA", len(infos))
	if fingerInfo == nil {
		return errors.New("no finger auth device")
	}
	step("finger auth device %s: signed by %q, certificate valid until %s", fingerInfo.Info.DeviceID,
		fingerInfo.Leaf.Subject.CommonName, fingerInfo.Leaf.NotAfter.Format(time.DateOnly))

	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", DomainURI: "https://ida.example.org", TransactionID: fmt.Sprintf("demo-%d", time.Now().Unix()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"Left IndexFinger"},
			RequestedScore: "40", DeviceID: "ETFA000000001", DeviceSubID: "0"}}}
	sent := time.Now()
	_, raw, err := cl.Capture(ctx, port, req)
	if err != nil {
		return err
	}
	res, ps := v.VerifyCapture(raw, sbi.Expect{Request: req, Device: fingerInfo, Sent: sent.Add(-time.Second), Received: time.Now().Add(time.Second)})
	if len(ps) > 0 {
		return fmt.Errorf("capture does not verify: %v", ps)
	}
	seg := res.Segments[0]
	step("CAPTURE answered in %v; data JWS signed in the TPM verifies; transactionId bound; hash chain recomputes",
		time.Since(sent).Round(time.Millisecond))
	r := seg.Record.Representations[0]
	step("bioValue decrypted (AES-256-GCM, session key RSA-OAEP-SHA256): ISO/IEC 19794-4 %s record, %d bytes, %dx%d px, compression %s, quality %s",
		seg.Record.Modality, len(seg.ISO), r.Width, r.Height, compressionName(r.Compression), seg.Data.QualityScore)
	fmt.Printf("      timestamp %s  bioSubType %q\n", seg.Data.Timestamp, seg.Data.BioSubType)

	if err := ch.registryDemo(ctx); err != nil {
		return err
	}
	if err := ch.attestDemo(ctx); err != nil {
		return err
	}
	if err := ch.authDemo(ctx); err != nil {
		return err
	}
	if err := ch.claim169Demo(ctx); err != nil {
		return err
	}

	fmt.Println("\nCompliance: edgetrust-ctk runs MOSIP's SBI test suite against the agent")
	reportDir, err := filepath.Abs(filepath.Join("demo-out", "ctk-report"))
	if err != nil {
		return err
	}
	os.RemoveAll(reportDir)
	start = time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "edgetrust-ctk"), "run",
		"--target", a.URL, "--device-ca", a.DevCA, "--ftm-ca", a.FTMCA,
		"--control", "unix:"+filepath.Join(ch.state, "agent", "control.sock"), "--key-dir", ctkKeys,
		"--non-interactive", "--parallel", "--report-dir", reportDir)
	// The ctk prints a line per case on stderr; show them as progress.
	progress, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("edgetrust-ctk run: %w", err)
	}
	other := ctkProgress(progress, os.Stdout, isTerminal(os.Stdout), start)
	runErr := cmd.Wait()
	var rep struct {
		Summary struct{ Total, Passed, Failed, Skipped int }
	}
	if b, err := os.ReadFile(filepath.Join(reportDir, "report.json")); err == nil {
		json.Unmarshal(b, &rep)
	}
	if runErr != nil {
		for _, l := range other {
			fmt.Fprintln(os.Stderr, "      ctk:", l)
		}
		return fmt.Errorf("edgetrust-ctk run: %w (%d of %d cases failed; report in %s)", runErr, rep.Summary.Failed, rep.Summary.Total, reportDir)
	}
	step("%d applicable cases in %v: %d passed, %d failed, %d skipped with a stated reason (quality SDK, 10-person groups)",
		rep.Summary.Total, time.Since(start).Round(time.Second), rep.Summary.Passed, rep.Summary.Failed, rep.Summary.Skipped)
	fmt.Printf("      open the report: %s\n", filepath.Join(reportDir, "report.html"))
	return nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func compressionName(c uint8) string {
	switch c {
	case 2:
		return "WSQ"
	case 4:
		return "JPEG 2000 lossy"
	case 5:
		return "JPEG 2000 lossless"
	}
	return fmt.Sprintf("code %d", c)
}
