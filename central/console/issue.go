package console

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// Claim 169 issuance from an uploaded CSV or JSONL file: the upload is
// checked whole (every bad row reported by number and field, nothing
// signed if any row is bad), then signed as a job whose progress the page
// polls; the QR PNGs are offered as one zip to the admin who uploaded.
// Every credential is audited (credential.issue) before its PNG joins the
// zip, and so are the batch and each download.

// Issuer is what the issuance page signs with: central's Claim 169 issuer
// key (STATE/issuer, internal/issuer).
type Issuer struct {
	Issuer *claim169.Issuer
	KID    string // hex, as issuer.json says
	// Defaults for rows that leave out issuer or expiresAt.
	URI      string
	Validity time.Duration
}

// Bounds of an upload and of the jobs kept.
const (
	// MaxUpload bounds the uploaded file (the multipart body).
	MaxUpload = 8 << 20
	// MaxRows bounds the records of one upload.
	MaxRows = 1000
	// MaxRowErrors is how many bad rows one answer lists.
	MaxRowErrors = 50
	// maxJobs bounds the jobs held (their zips are in memory).
	maxJobs = 8
	// JobTTL is how long a finished job's zip can be downloaded.
	JobTTL = time.Hour
	// auditBatch is how many credentials one audit transaction records.
	auditBatch = 25
)

// Job states.
const (
	JobWaiting = "waiting"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

type job struct {
	ID, Admin, Format string
	Created           time.Time
	Total             int

	mu     sync.Mutex
	state  string
	done   int
	errs   []*issuer.RowError
	fail   string
	zip    []byte
	ended  time.Time
	expiry time.Time
}

// jobView is a job's state as pages and the status API show it.
type jobView struct {
	ID      string             `json:"id"`
	State   string             `json:"state"`
	Total   int                `json:"total"`
	Done    int                `json:"done"`
	Percent int                `json:"percent"`
	Failed  int                `json:"failed"`
	Errors  []*issuer.RowError `json:"errors,omitempty"`
	Error   string             `json:"error,omitempty"`
	Zip     string             `json:"zip,omitempty"`
	Created time.Time          `json:"created"`
	expiry  time.Time
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{ID: j.ID, State: j.state, Total: j.Total, Done: j.done, Failed: len(j.errs), Errors: j.errs, Error: j.fail, Created: j.Created, expiry: j.expiry}
	if j.Total > 0 {
		v.Percent = (j.done + len(j.errs)) * 100 / j.Total
	}
	if j.state == JobDone && j.done > 0 {
		v.Zip = "/console/issue/" + j.ID + "/zip"
	}
	return v
}

// jobs holds the issuance jobs of this process.
type jobs struct {
	mu   sync.Mutex
	m    map[string]*job
	slot chan struct{} // one job signs at a time
}

func newJobs() *jobs { return &jobs{m: map[string]*job{}, slot: make(chan struct{}, 1)} }

// add keeps j, dropping expired jobs; it refuses when maxJobs are held.
func (js *jobs) add(j *job, now time.Time) error {
	js.mu.Lock()
	defer js.mu.Unlock()
	for id, o := range js.m {
		o.mu.Lock()
		gone := !o.expiry.IsZero() && now.After(o.expiry)
		o.mu.Unlock()
		if gone {
			delete(js.m, id)
		}
	}
	if len(js.m) >= maxJobs {
		return core.Fail(http.StatusTooManyRequests, enrol.CodeRateLimited, "central holds %d issuance jobs already; download their zips or wait up to %v for them to expire", maxJobs, JobTTL)
	}
	js.m[j.ID] = j
	return nil
}

func (js *jobs) get(id, admin string, now time.Time) (*job, bool) {
	js.mu.Lock()
	j := js.m[id]
	js.mu.Unlock()
	if j == nil || j.Admin != admin {
		return nil, false
	}
	j.mu.Lock()
	gone := !j.expiry.IsZero() && now.After(j.expiry)
	j.mu.Unlock()
	return j, !gone
}

// mine lists an admin's jobs, newest first.
func (js *jobs) mine(admin string, now time.Time) []jobView {
	js.mu.Lock()
	var out []jobView
	for _, j := range js.m {
		if j.Admin == admin {
			if v := j.view(); v.expiry.IsZero() || now.Before(v.expiry) {
				out = append(out, v)
			}
		}
	}
	js.mu.Unlock()
	for i := 1; i < len(out); i++ {
		for k := i; k > 0 && out[k].Created.After(out[k-1].Created); k-- {
			out[k], out[k-1] = out[k-1], out[k]
		}
	}
	return out
}

type issueData struct {
	Enabled  bool
	KID, URI string
	Validity string
	MaxRows  int
	MaxBytes int
	Errors   []*issuer.RowError
	More     bool // more bad rows than listed
	Problem  string
	Jobs     []jobView
}

func (c *Console) issueData(r *http.Request) issueData {
	d := issueData{Enabled: c.c.Issuer != nil, MaxRows: MaxRows, MaxBytes: MaxUpload >> 20}
	if d.Enabled {
		d.KID, d.URI = c.c.Issuer.KID, c.c.Issuer.URI
		d.Validity = validityText(c.c.Issuer.Validity)
	}
	d.Jobs = c.jobs.mine(sessionFrom(r.Context()).admin.ID, c.c.Now())
	return d
}

func (c *Console) issuePage(w http.ResponseWriter, r *http.Request) {
	p := c.base(r, "Issue Claim 169 credentials", "issue")
	p.Data = c.issueData(r)
	c.render(w, http.StatusOK, "issue", p)
}

func (c *Console) issueRefused(w http.ResponseWriter, r *http.Request, status int, d issueData) {
	p := c.base(r, "Issue Claim 169 credentials", "issue")
	p.Data = d
	c.render(w, status, "issue", p)
}

// uploadFormat is the format a file is read as: the form's choice, else
// its name's extension.
func uploadFormat(choice, name string) (string, error) {
	switch choice {
	case "csv", "jsonl":
		return choice, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("format %q: choose CSV or JSON lines", choice)
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return "csv", nil
	case ".jsonl", ".ndjson":
		return "jsonl", nil
	}
	return "", errors.New("the file's name ends neither in .csv nor in .jsonl: choose its format")
}

// issueUpload checks an upload and, if every row can be issued, starts a job.
func (c *Console) issueUpload(w http.ResponseWriter, r *http.Request) {
	ctx, s, now := r.Context(), sessionFrom(r.Context()), c.c.Now()
	d := c.issueData(r)
	if c.c.Issuer == nil {
		d.Problem = "Central was started without a Claim 169 issuer key, so nothing can be issued here."
		c.issueRefused(w, r, http.StatusConflict, d)
		return
	}
	f, fh, err := r.FormFile("file")
	if err != nil {
		d.Problem = "Choose a CSV or JSON lines file to upload."
		c.issueRefused(w, r, http.StatusBadRequest, d)
		return
	}
	defer f.Close()
	format, err := uploadFormat(r.PostFormValue("format"), fh.Filename)
	if err != nil {
		d.Problem = "The file was not read: " + err.Error() + "."
		c.issueRefused(w, r, http.StatusBadRequest, d)
		return
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(f); err != nil {
		c.failErr(w, r, err)
		return
	}
	ok, bad, err := issuer.Check(bytes.NewReader(raw.Bytes()), format, issuer.CheckLimits{MaxRows: MaxRows, MaxErrors: MaxRowErrors})
	if err != nil {
		// Check's errors name lines and fields, never values.
		d.Problem = "The file was not read: " + err.Error() + ". Nothing was issued."
		c.issueRefused(w, r, http.StatusBadRequest, d)
		return
	}
	if len(bad) > 0 {
		d.Problem = fmt.Sprintf("%d rows cannot be issued as they are; fix them and upload the file again. Nothing was issued.", len(bad))
		if len(bad) == 1 {
			d.Problem = "1 row cannot be issued as it is; fix it and upload the file again. Nothing was issued."
		}
		d.Errors, d.More = bad, len(bad) >= MaxRowErrors
		c.issueRefused(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	sum := sha256.Sum256(raw.Bytes())
	j := &job{ID: "job-" + randomHex(12), Admin: s.admin.ID, Format: format, Created: now.UTC(), Total: len(ok), state: JobWaiting}
	if err := c.jobs.add(j, now); err != nil {
		c.failErr(w, r, err)
		return
	}
	err = c.st.Update(ctx, func(tx store.Tx) error {
		return core.Audit(ctx, tx, now, actor(s.admin), "credential.batch.start", "issuance:"+j.ID, map[string]string{
			"format": format, "records": strconv.Itoa(len(ok)), "bytes": strconv.Itoa(raw.Len()),
			"sha256": hex.EncodeToString(sum[:]), "kid": c.c.Issuer.KID})
	})
	if err != nil {
		c.jobs.mu.Lock()
		delete(c.jobs.m, j.ID)
		c.jobs.mu.Unlock()
		c.failErr(w, r, err)
		return
	}
	c.c.Log.Info("console issuance started", "admin", s.admin.ID, "job", j.ID, "records", len(ok), "format", format)
	go c.runJob(j, s.admin, ok)
	http.Redirect(w, r, "/console/issue/"+j.ID, http.StatusSeeOther)
}

// runJob signs the records, audits each credential and builds the zip.
func (c *Console) runJob(j *job, admin *store.ConsoleAdmin, recs []issuer.Checked) {
	ctx := context.Background()
	c.jobs.slot <- struct{}{}
	defer func() { <-c.jobs.slot }()
	j.mu.Lock()
	j.state = JobRunning
	j.mu.Unlock()
	is := c.c.Issuer
	defaults := issuer.Defaults{Issuer: is.URI, Validity: is.Validity}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := map[string]bool{}
	type made struct {
		row        int
		name, text string
		png        []byte
	}
	finish := func(err error) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.ended = c.c.Now()
		j.expiry = j.ended.Add(JobTTL)
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			j.state, j.fail = JobFailed, "issuance stopped: see central's log ("+j.ID+")"
			c.c.Log.Error("console issuance failed", "job", j.ID, "err", err)
			return
		}
		j.state, j.zip = JobDone, buf.Bytes()
	}
	var pending []made
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		now := c.c.Now()
		err := c.st.Update(ctx, func(tx store.Tx) error {
			for _, m := range pending {
				h := sha256.Sum256([]byte(m.text))
				if err := core.Audit(ctx, tx, now, actor(admin), "credential.issue", "credential:"+m.name, map[string]string{
					"job": j.ID, "row": strconv.Itoa(m.row), "kid": is.KID, "sha256": hex.EncodeToString(h[:])}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range pending {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: m.name + ".png", Method: zip.Store, Modified: now})
			if err != nil {
				return err
			}
			if _, err := fw.Write(m.png); err != nil {
				return err
			}
		}
		j.mu.Lock()
		j.done += len(pending)
		j.mu.Unlock()
		pending = pending[:0]
		return nil
	}
	for _, rec := range recs {
		defaults.Apply(rec.Claims, c.c.Now())
		text, png, err := issuer.IssuePNG(is.Issuer, rec.Claims)
		if err != nil {
			j.mu.Lock()
			j.errs = append(j.errs, &issuer.RowError{Row: rec.Row, Msg: strings.TrimPrefix(err.Error(), "claim169: ")})
			j.mu.Unlock()
			continue
		}
		name := issuer.FileName(rec.Claims, rec.Row)
		if names[name] {
			name = fmt.Sprintf("%s-row-%d", name, rec.Row)
		}
		names[name] = true
		pending = append(pending, made{row: rec.Row, name: name, text: text, png: png})
		if len(pending) >= auditBatch {
			if err := flush(); err != nil {
				finish(err)
				return
			}
		}
	}
	if err := flush(); err != nil {
		finish(err)
		return
	}
	v := j.view()
	err := c.st.Update(ctx, func(tx store.Tx) error {
		return core.Audit(ctx, tx, c.c.Now(), actor(admin), "credential.batch.done", "issuance:"+j.ID,
			map[string]string{"issued": strconv.Itoa(v.Done), "failed": strconv.Itoa(v.Failed)})
	})
	finish(err)
	c.c.Log.Info("console issuance done", "admin", admin.ID, "job", j.ID, "issued", v.Done, "failed", v.Failed)
}

func (c *Console) jobFrom(w http.ResponseWriter, r *http.Request) *job {
	j, live := c.jobs.get(r.PathValue("job"), sessionFrom(r.Context()).admin.ID, c.c.Now())
	if j == nil || !live {
		msg := "No such issuance job: it may have expired (zips are kept " + JobTTL.String() + "), belong to another admin, or have run on another central replica."
		if strings.HasSuffix(r.URL.Path, "/status") {
			writeJSONError(w, http.StatusNotFound, msg)
		} else {
			c.fail(w, r, http.StatusNotFound, msg)
		}
		return nil
	}
	return j
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request) {
	j := c.jobFrom(w, r)
	if j == nil {
		return
	}
	p := c.base(r, "Issuance "+j.ID, "issue")
	p.Data = j.view()
	c.render(w, http.StatusOK, "job", p)
}

func (c *Console) jobStatus(w http.ResponseWriter, r *http.Request) {
	if j := c.jobFrom(w, r); j != nil {
		writeJSON(w, http.StatusOK, j.view())
	}
}

// jobZip sends the job's QR PNGs, auditing the download (the zip holds
// identity data).
func (c *Console) jobZip(w http.ResponseWriter, r *http.Request) {
	j := c.jobFrom(w, r)
	if j == nil {
		return
	}
	j.mu.Lock()
	state, b := j.state, j.zip
	j.mu.Unlock()
	if state != JobDone || len(b) == 0 {
		c.fail(w, r, http.StatusConflict, "This job has no zip to download (still running, failed, or nothing was issued).")
		return
	}
	ctx, s, now := r.Context(), sessionFrom(r.Context()), c.c.Now()
	if err := c.st.Update(ctx, func(tx store.Tx) error {
		return core.Audit(ctx, tx, now, actor(s.admin), "credential.batch.download", "issuance:"+j.ID, map[string]string{"bytes": strconv.Itoa(len(b))})
	}); err != nil {
		c.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="claim169-`+j.ID+`.zip"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// validityText says a validity in days or hours.
func validityText(v time.Duration) string {
	switch {
	case v <= 0:
		return "never (no default validity)"
	case v%(24*time.Hour) == 0:
		return strconv.Itoa(int(v/(24*time.Hour))) + " days"
	}
	return v.String()
}
