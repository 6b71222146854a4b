package issuer

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/qr"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// MaxRecord bounds one input record (a photo in base64 fits comfortably):
// the JSON document, one JSONL line or one CSV row.
const MaxRecord = 1 << 20

// recordLimits decode one JSON or JSONL record strictly (internal/jsonx):
// the fields of claim169.ClaimsJSON only, no duplicated member, no invalid
// UTF-8, at most MaxRecord bytes. A credential is signed over exactly what
// the operator's file says, or not at all.
var recordLimits = jsonx.Limits{MaxBytes: MaxRecord, MaxDepth: 8, MaxArray: 64, MaxMembers: 64}

// Record is one credential to issue, with its position in the input.
type Record struct {
	Line int
	In   claim169.ClaimsJSON
}

// Read yields the records of r: format "json" (one object), "jsonl" (one
// object per line) or "csv" (a header row of field names: the claim169
// names such as id, fullName, dateOfBirth, gender, plus issuer, subject,
// expiresAt, notBefore, issuedAt).
func Read(r io.Reader, format string, yield func(Record) error) error {
	switch format {
	case "json":
		var in claim169.ClaimsJSON
		if err := jsonx.Decode(r, &in, recordLimits); err != nil {
			return fmt.Errorf("input: %w", err)
		}
		return yield(Record{Line: 1, In: in})
	case "jsonl":
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), MaxRecord)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var in claim169.ClaimsJSON
			if err := jsonx.Unmarshal([]byte(line), &in, recordLimits); err != nil {
				return fmt.Errorf("input line %d: %w", n, err)
			}
			if err := yield(Record{Line: n, In: in}); err != nil {
				return err
			}
		}
		if errors.Is(sc.Err(), bufio.ErrTooLong) {
			return fmt.Errorf("input: a line longer than %d bytes", MaxRecord)
		}
		return sc.Err()
	case "csv":
		return readCSV(r, yield)
	}
	return fmt.Errorf("input format %q: want json, jsonl or csv", format)
}

var intFields = map[string]bool{"gender": true, "maritalStatus": true, "photoFormat": true}
var cwtFields = map[string]bool{"issuer": true, "subject": true, "expiresAt": true, "notBefore": true, "issuedAt": true}

// errRowTooLarge is a CSV row (a quoted field may span lines) over MaxRecord.
var errRowTooLarge = fmt.Errorf("a row larger than %d bytes", MaxRecord)

// rowLimit fails a read once more than max bytes were read since the last
// reset, so one row cannot grow without bound inside encoding/csv. The
// reader buffers ahead, hence the slack over MaxRecord.
type rowLimit struct {
	r      io.Reader
	n, max int
}

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, errRowTooLarge
	}
	p = p[:min(len(p), l.max-l.n)]
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func readCSV(r io.Reader, yield func(Record) error) error {
	return scanCSV(r, func(rec Record, bad *RowError) error {
		if bad != nil {
			return fmt.Errorf("input line %d: %s", bad.Row, bad.detail())
		}
		return yield(rec)
	})
}

// scanCSV reads a CSV upload row by row. A row whose content cannot be
// issued is passed to yield as a *RowError and reading goes on; the
// header, CSV syntax and row size stop it with an error.
func scanCSV(r io.Reader, yield func(Record, *RowError) error) error {
	lim := &rowLimit{r: r, max: MaxRecord + 64<<10}
	cr := csv.NewReader(lim)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("input: CSV header: %w", err)
	}
	// A column named twice would leave the record to whichever comes last.
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if !utf8.ValidString(name) {
			return fmt.Errorf("input: CSV header: column %d is not UTF-8", i+1)
		}
		if seen[name] {
			return fmt.Errorf("input: CSV header: column %q given twice", name)
		}
		seen[name] = true
		header[i] = name
	}
	for n := 2; ; n++ {
		lim.n = 0
		start := cr.InputOffset()
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("input line %d: %w", n, err)
		}
		if cr.InputOffset()-start > MaxRecord {
			return fmt.Errorf("input line %d: %w", n, errRowTooLarge)
		}
		rec, bad := csvRecord(header, row, n)
		if err := yield(rec, bad); err != nil {
			return err
		}
	}
}

// csvRecord converts one CSV row (row n of the file) to a record.
func csvRecord(header, row []string, n int) (Record, *RowError) {
	for i, v := range row {
		// encoding/json would turn invalid bytes into U+FFFD and
		// sign that: refuse instead (never quoting the value).
		if !utf8.ValidString(v) {
			return Record{}, &RowError{Row: n, Field: header[i], Msg: "is not UTF-8"}
		}
	}
	id := map[string]any{}
	var in claim169.ClaimsJSON
	for i, v := range row {
		name := header[i]
		if v == "" {
			continue
		}
		switch {
		case cwtFields[name]:
			switch name {
			case "issuer":
				in.Issuer = v
			case "subject":
				in.Subject = v
			default:
				t, err := parseTime(v)
				if err != nil {
					return Record{}, &RowError{Row: n, Field: name, Msg: err.Error()}
				}
				switch name {
				case "expiresAt":
					in.ExpiresAt = &t
				case "notBefore":
					in.NotBefore = &t
				case "issuedAt":
					in.IssuedAt = &t
				}
			}
		case intFields[name]:
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Record{}, &RowError{Row: n, Field: name, Msg: "must be a number"}
			}
			id[name] = x
		default:
			id[name] = v
		}
	}
	b, err := json.Marshal(id)
	if err != nil {
		return Record{}, &RowError{Row: n, Msg: err.Error()}
	}
	in.Claim169 = b
	return Record{Line: n, In: in}, nil
}

// parseTime takes Unix seconds or an RFC 3339 time.
func parseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, errors.New("want Unix seconds or an RFC 3339 time")
	}
	return t.Unix(), nil
}

// Options control a batch.
type Options struct {
	OutDir string
	PNG    bool // also write a QR PNG per credential
	SVG    bool
	// Defaults applied to records that do not set them.
	Issuer   string
	Validity time.Duration // expiresAt = issuedAt + Validity
	Now      func() time.Time
	Progress io.Writer // nil: no progress bar
	Total    int       // records expected, for the bar; 0 if unknown
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Summary counts what a batch did.
type Summary struct {
	Issued  int
	Elapsed time.Duration
}

// Issue signs every record and writes <n>-<id>.txt (Base45) and optionally
// .png/.svg into OutDir. It stops at the first bad record, saying which.
func Issue(ctx context.Context, is *claim169.Issuer, in io.Reader, format string, o Options) (Summary, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Summary{}, err
	}
	start := time.Now()
	bar := newBar(o.Progress, o.Total)
	var s Summary
	err := Read(in, format, func(r Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := r.In.Claims()
		if err != nil {
			return fmt.Errorf("record on line %d: %w", r.Line, err)
		}
		Defaults{Issuer: o.Issuer, Validity: o.Validity}.Apply(c, now())
		text, err := is.Issue(c)
		if err != nil {
			return fmt.Errorf("record on line %d: %w", r.Line, err)
		}
		s.Issued++
		name := fmt.Sprintf("%06d", s.Issued)
		if c.Identity.ID != "" {
			name += "-" + unsafeName.ReplaceAllString(c.Identity.ID, "_")
		}
		base := filepath.Join(o.OutDir, name)
		if err := os.WriteFile(base+".txt", []byte(text+"\n"), 0o644); err != nil {
			return err
		}
		if o.PNG || o.SVG {
			code, err := qr.New(text)
			if err != nil {
				return fmt.Errorf("record on line %d: QR: %w", r.Line, err)
			}
			if o.PNG {
				png, err := code.PNG(4)
				if err != nil {
					return err
				}
				if err := os.WriteFile(base+".png", png, 0o644); err != nil {
					return err
				}
			}
			if o.SVG {
				if err := os.WriteFile(base+".svg", code.SVG(), 0o644); err != nil {
					return err
				}
			}
		}
		bar.step(s.Issued)
		return nil
	})
	s.Elapsed = time.Since(start)
	bar.done(s.Issued)
	return s, err
}

// bar is a one-line progress bar on a terminal (or any writer).
type bar struct {
	w     io.Writer
	total int
	start time.Time
	last  time.Time
}

func newBar(w io.Writer, total int) *bar { return &bar{w: w, total: total, start: time.Now()} }

func (b *bar) step(n int) {
	if b.w == nil || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	b.draw(n)
}

func (b *bar) draw(n int) {
	rate := float64(n) / time.Since(b.start).Seconds()
	if b.total > 0 {
		const width = 30
		filled := min(width, n*width/b.total)
		fmt.Fprintf(b.w, "\r[%s%s] %d/%d  %.0f/s ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, b.total, rate)
		return
	}
	fmt.Fprintf(b.w, "\r%d issued  %.0f/s ", n, rate)
}

func (b *bar) done(n int) {
	if b.w == nil {
		return
	}
	b.draw(n)
	fmt.Fprintln(b.w)
}
