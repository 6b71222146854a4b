package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Statuses of a case or a validator.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Origins of a verdict: a validator MOSIP's test case names, or a check
// edgetrust-ctk adds.
const (
	OriginMOSIP     = "mosip"
	OriginEdgetrust = "edgetrust"
)

// Report is one run.
type Report struct {
	Tool       string    `json:"tool"`
	Version    string    `json:"version"`
	Target     string    `json:"target"`
	Suite      Suite     `json:"suite"`
	Started    time.Time `json:"startedAt"`
	Finished   time.Time `json:"finishedAt"`
	DurationMS int64     `json:"durationMs"`
	Mode       string    `json:"mode"` // interactive, non-interactive; with or without control hook
	Devices    []Device  `json:"devices"`
	Summary    Summary   `json:"summary"`
	Cases      []Case    `json:"cases"`
}

// Suite identifies the test definitions used.
type Suite struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Cases  int    `json:"cases"`
}

// Device is a device found at the target.
type Device struct {
	ID            string   `json:"deviceId"`
	SerialNo      string   `json:"serialNo"`
	Type          string   `json:"type"`
	SubType       string   `json:"deviceSubType"`
	Purpose       string   `json:"purpose"`
	Certification string   `json:"certification"`
	Status        string   `json:"deviceStatus"`
	SubIDs        []string `json:"deviceSubId"`
	Make          string   `json:"make"`
	Model         string   `json:"model"`
}

// Summary counts case results.
type Summary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Case is the result of one test case on one device.
type Case struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Device      string     `json:"device"`
	Method      string     `json:"method"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"` // why skipped or failed, in one line
	DurationMS  int64      `json:"durationMs"`
	Validators  []Verdict  `json:"validators"`
	Notes       []string   `json:"notes,omitempty"` // problems outside the case's validators; they do not fail it
	Exchanges   []Exchange `json:"exchanges,omitempty"`
}

// Verdict is one validator's result.
type Verdict struct {
	Name    string `json:"name"`
	Origin  string `json:"origin"`
	Status  string `json:"status"`
	Message string `json:"message"`
	// Stricter says how this check goes beyond MOSIP's validator, if it does.
	Stricter string `json:"stricter,omitempty"`
}

// Exchange is one call to the device with biometric data redacted.
type Exchange struct {
	Step       string          `json:"step,omitempty"` // e.g. "before key rotation", "capture 2 of 3"
	Method     string          `json:"method"`
	URL        string          `json:"url"`
	Request    json.RawMessage `json:"request,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
	Error      string          `json:"error,omitempty"`
	ElapsedMS  int64           `json:"elapsedMs"`
	SentAt     time.Time       `json:"sentAt"`
	ReceivedAt time.Time       `json:"receivedAt"`
}

// Tally recomputes Summary from Cases.
func (r *Report) Tally() {
	r.Summary = Summary{Total: len(r.Cases)}
	for _, c := range r.Cases {
		switch c.Status {
		case Passed:
			r.Summary.Passed++
		case Failed:
			r.Summary.Failed++
		default:
			r.Summary.Skipped++
		}
	}
}

// OK reports whether no case failed.
func (r *Report) OK() bool { return r.Summary.Failed == 0 }

// CaseStatus derives a case status from its verdicts: failed if any
// failed, skipped (with the first skipped verdict's message) if any could
// not run, passed otherwise.
func CaseStatus(vs []Verdict) (status, reason string) {
	for _, v := range vs {
		if v.Status == Failed {
			return Failed, v.Name + ": " + v.Message
		}
	}
	for _, v := range vs {
		if v.Status == Skipped {
			return Skipped, v.Name + " could not run: " + v.Message
		}
	}
	if len(vs) == 0 {
		return Skipped, "no validator ran"
	}
	return Passed, ""
}

// WriteAll writes report.json, report.xml and report.html into dir.
func (r *Report) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<redacted>" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "report.json"), buf.Bytes()); err != nil {
		return err
	}
	x, err := r.JUnit()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "report.xml"), x); err != nil {
		return err
	}
	h, err := r.HTML()
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.html"), h)
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
