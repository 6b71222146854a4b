package ctk

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

// Options configure a run.
type Options struct {
	Target      Target
	Suite       *suite.Suite
	DeviceRoots *x509.CertPool // DEVICE partner domain (deviceInfo, data, L0 digital IDs)
	FTMRoots    *x509.CertPool // FTM partner domain (L1 digital IDs)
	Key         *EncryptionKey // the ctk's bioValue decryption key
	Control     Controller     // optional device control hook
	Prompter    Prompter       // nil: non-interactive
	Filter      Filter
	Env         string        // env sent in captures (default Developer, as MOSIP's CTK)
	DomainURI   string        // domainUri sent in auth captures
	Parallel    bool          // run different devices' cases at the same time
	ClockSkew   time.Duration // allowed between the ctk's clock and data.timestamp
	Slack       time.Duration // how late after its timeout a capture may answer
	Progress    io.Writer     // one line per case; nil for none
	Log         *slog.Logger
	HTTP        *http.Client
	Version     string
}

func (o *Options) defaults() {
	if o.Env == "" {
		o.Env = sbi.EnvDeveloper
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = 2 * time.Second
	}
	if o.Slack == 0 {
		o.Slack = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: &http.Transport{
			Proxy:             nil, // device traffic never goes through a proxy
			DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableKeepAlives: true,
		}}
	}
}

// Runner runs planned cases.
type Runner struct {
	o        Options
	verifier sbi.Verifier

	progressMu sync.Mutex
	done, all  int

	infoMu sync.Mutex
	info   map[string]*sbi.InfoResult // by device serial
}

// Run discovers the devices at the target, plans the applicable cases and
// runs them. The report is complete even when cases fail; an error means the
// run could not start (no device, bad options) or was cancelled.
func Run(ctx context.Context, o Options) (*report.Report, error) {
	o.defaults()
	if o.Suite == nil || o.Key == nil {
		return nil, errors.New("ctk: suite and key required")
	}
	if err := o.Filter.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	devices, err := Discover(ctx, o.Target)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{Tool: "edgetrust-ctk", Version: o.Version, Target: o.Target.URL, Started: start,
		Suite: report.Suite{Source: o.Suite.Source, SHA256: o.Suite.SHA256, Cases: len(o.Suite.Cases)}}
	rep.Mode = "non-interactive"
	if o.Prompter != nil {
		rep.Mode = "interactive"
	}
	if o.Control != nil {
		rep.Mode += ", device control hook"
	}
	for _, d := range devices {
		rep.Devices = append(rep.Devices, d.Report())
		if d.Purpose() == "" {
			o.Log.Warn("device reports no purpose (Not Registered?); no case applies to it", "device", d.ID(), "status", d.Discovery.DeviceStatus)
		}
	}
	plan := Plan(o.Suite, devices, o.Filter)
	if len(plan) == 0 {
		return nil, errors.New("no test case applies to the selected devices (check --case, --purpose, --device)")
	}
	r := &Runner{o: o, all: len(plan), info: map[string]*sbi.InfoResult{}}
	r.verifier = sbi.Verifier{DeviceRoots: o.DeviceRoots, FTMRoots: o.FTMRoots,
		Keys: []sbi.DecryptionKey{o.Key.DecryptionKey()}, ISOProfile: true}
	o.Log.Info("run starting", "target", o.Target.URL, "devices", len(devices), "cases", len(plan),
		"suite", o.Suite.Source, "mode", rep.Mode)
	fmt.Fprintf(o.Progress, "edgetrust-ctk: %d applicable cases on %d device(s) at %s\n", len(plan), len(devices), o.Target.URL)

	results := make([]report.Case, len(plan))
	groups := map[string][]int{}
	var order []string
	for i, p := range plan {
		k := p.Device.DigitalID.SerialNo
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	runGroup := func(idx []int) {
		for _, i := range idx {
			if ctx.Err() != nil {
				results[i] = skippedCase(plan[i], "run cancelled")
				continue
			}
			results[i] = r.runCase(ctx, plan[i])
			r.progress(results[i])
		}
	}
	if o.Parallel && o.Prompter == nil {
		var wg sync.WaitGroup
		for _, k := range order {
			wg.Add(1)
			go func(idx []int) { defer wg.Done(); runGroup(idx) }(groups[k])
		}
		wg.Wait()
	} else {
		for _, k := range order {
			runGroup(groups[k])
		}
	}
	rep.Cases = results
	rep.Finished = time.Now()
	rep.DurationMS = rep.Finished.Sub(start).Milliseconds()
	rep.Tally()
	o.Log.Info("run finished", "passed", rep.Summary.Passed, "failed", rep.Summary.Failed,
		"skipped", rep.Summary.Skipped, "ms", rep.DurationMS)
	return rep, ctx.Err()
}

func skippedCase(p Planned, reason string) report.Case {
	c := report.Case{ID: p.Case.ID, Name: p.Case.Name, Device: p.Device.ID(), Method: p.Case.Method(),
		Status: report.Skipped, Reason: reason}
	for _, v := range p.Case.Validators() {
		c.Validators = append(c.Validators, report.Verdict{Name: v, Origin: report.OriginMOSIP, Status: report.Skipped, Message: reason})
	}
	return c
}

func (r *Runner) progress(c report.Case) {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	r.done++
	w := len(fmt.Sprint(r.all))
	fmt.Fprintf(r.o.Progress, "[%*d/%d] %-8s %-15s %-7s %6.2fs  %s\n", w, r.done, r.all, c.ID, c.Device,
		c.Status, float64(c.DurationMS)/1000, c.Name)
	if c.Status != report.Passed && c.Reason != "" {
		fmt.Fprintf(r.o.Progress, "%*s↳ %s\n", 2*w+4, "", oneLine(c.Reason, 240))
	}
	r.o.Log.Info("case", "id", c.ID, "device", c.Device, "status", c.Status, "ms", c.DurationMS, "reason", oneLine(c.Reason, 240))
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// deviceInfo returns the device's verified info, cached until a case
// changes the device's state or keys.
func (r *Runner) deviceInfo(ctx context.Context, d *Device) *sbi.InfoResult {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	if ir := r.info[d.DigitalID.SerialNo]; ir != nil {
		return ir
	}
	raw, _, err := r.call(ctx, sbi.MethodInfo, "info", nil, 15*time.Second)
	if err != nil {
		return nil
	}
	list, err := sbi.ParseInfoResponse(raw)
	if err != nil {
		return nil
	}
	for i := range list {
		if infoSerial(&list[i]) == d.DigitalID.SerialNo {
			ir, _ := r.verifier.VerifyInfo(&list[i], i)
			if ir != nil && ir.Info != nil && ir.Info.DeviceStatus == sbi.StatusReady {
				r.info[d.DigitalID.SerialNo] = ir
			}
			return ir
		}
	}
	return nil
}

func (r *Runner) forgetInfo(d *Device) {
	r.infoMu.Lock()
	delete(r.info, d.DigitalID.SerialNo)
	r.infoMu.Unlock()
}

// call sends one SBI request and reads the answer, bounded.
func (r *Runner) call(ctx context.Context, method, path string, body []byte, timeout time.Duration) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.o.Target.URL+"/"+path, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("EXT", "edgetrust-ctk")
	resp, err := r.o.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("no answer within %v", timeout)
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, sbi.MaxResponseSize+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading answer: %w", err)
	}
	if len(b) > sbi.MaxResponseSize {
		return nil, resp.StatusCode, fmt.Errorf("answer larger than %d bytes", sbi.MaxResponseSize)
	}
	if resp.StatusCode != http.StatusOK {
		return b, resp.StatusCode, fmt.Errorf("HTTP status %d (SBI answers every call, errors included, with 200)", resp.StatusCode)
	}
	return b, resp.StatusCode, nil
}

// infoSerial returns the serial number in an info entry's digital ID.
func infoSerial(e *sbi.InfoEntry) string {
	var payload []byte
	if strings.Count(e.DeviceInfo, ".") == 2 {
		j, err := sbi.ParseJWS(e.DeviceInfo)
		if err != nil {
			return ""
		}
		payload = j.Payload
	} else {
		p, err := sbi.DecodeUnsigned(e.DeviceInfo)
		if err != nil {
			return ""
		}
		payload = p
	}
	info, err := sbi.ParseDeviceInfo(payload)
	if err != nil {
		return ""
	}
	id, _, err := sbi.DecodeDigitalID(info.DigitalID)
	if err != nil {
		return ""
	}
	return id.SerialNo
}

// discoverySerial returns the serial number of a discovery element.
func discoverySerial(d *sbi.Discovery) string {
	id, _, err := sbi.DecodeDigitalID(d.DigitalID)
	if err != nil {
		return ""
	}
	return id.SerialNo
}
