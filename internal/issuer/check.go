package issuer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/qr"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// RowError says which record of an upload cannot be issued, and why. Its
// message names the row and the field, never the value (uploads carry
// identity data).
type RowError struct {
	// Row is the CSV row (the header is row 1) or the JSONL line.
	Row int `json:"row"`
	// Field is the column or JSON member at fault, "" for the row as a whole.
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
}

func (e *RowError) detail() string {
	switch {
	case e.Field == "":
		return e.Msg
	case strings.HasPrefix(e.Msg, "must ") || strings.HasPrefix(e.Msg, "is "):
		return e.Field + " " + e.Msg
	}
	return e.Field + ": " + e.Msg
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %s", e.Row, e.detail()) }

// rowError turns a record's conversion error into a RowError, naming the
// JSON member a strict decode refused where it can.
func rowError(row int, err error) *RowError {
	var je *jsonx.Error
	if errors.As(err, &je) {
		field := strings.TrimPrefix(je.Pointer, "/")
		if field == "" && je.Kind == jsonx.KindUnknown {
			if i := strings.IndexByte(je.Msg, '"'); i >= 0 {
				field = strings.Trim(je.Msg[i:], `"`)
			}
		}
		return &RowError{Row: row, Field: field, Msg: je.Msg}
	}
	return &RowError{Row: row, Msg: strings.TrimPrefix(err.Error(), "claim169: ")}
}

// CheckLimits bound an upload checked by Check.
type CheckLimits struct {
	MaxRows   int // records; more is an error
	MaxErrors int // bad rows reported before Check gives up (default 50)
}

// Checked is one record ready to sign.
type Checked struct {
	Row    int
	Claims *claim169.Claims
}

// ErrTooManyRows is returned by Check for an upload over MaxRows.
var ErrTooManyRows = errors.New("too many records")

// Check reads every record of r (format "csv" or "jsonl", the shapes Read
// takes) and converts each to claims without signing anything. Rows that
// cannot be issued come back as RowErrors (at most MaxErrors, then it
// stops reading); the rest as Checked, in input order. A broken file (CSV
// header or quoting, a record over MaxRecord, more than MaxRows records) is
// the error.
func Check(r io.Reader, format string, l CheckLimits) ([]Checked, []*RowError, error) {
	if l.MaxErrors <= 0 {
		l.MaxErrors = 50
	}
	var ok []Checked
	var bad []*RowError
	errStop := errors.New("stop")
	n := 0
	yield := func(rec Record, re *RowError) error {
		if n++; l.MaxRows > 0 && n > l.MaxRows {
			return fmt.Errorf("input: %w: at most %d per upload", ErrTooManyRows, l.MaxRows)
		}
		if re == nil {
			c, err := rec.In.Claims()
			if err == nil {
				ok = append(ok, Checked{Row: rec.Line, Claims: c})
				return nil
			}
			re = rowError(rec.Line, err)
		}
		if bad = append(bad, re); len(bad) >= l.MaxErrors {
			return errStop
		}
		return nil
	}
	var err error
	switch format {
	case "csv":
		err = scanCSV(r, yield)
	case "jsonl":
		err = scanJSONL(r, yield)
	default:
		return nil, nil, fmt.Errorf("input format %q: want csv or jsonl", format)
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	if len(ok)+len(bad) == 0 {
		return nil, nil, errors.New("input: no records")
	}
	return ok, bad, nil
}

// scanJSONL is Read's jsonl case that goes on past a bad line.
func scanJSONL(r io.Reader, yield func(Record, *RowError) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxRecord)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var in claim169.ClaimsJSON
		var re *RowError
		if err := jsonx.Unmarshal(line, &in, recordLimits); err != nil {
			re = rowError(n, err)
		}
		if err := yield(Record{Line: n, In: in}, re); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("input: a line longer than %d bytes", MaxRecord)
	}
	return sc.Err()
}

// Defaults fill in what a record leaves out.
type Defaults struct {
	Issuer   string
	Validity time.Duration // expiresAt = issuedAt + Validity
}

// Apply fills c's issuer, issuedAt (now, to the second) and expiresAt.
func (d Defaults) Apply(c *claim169.Claims, now time.Time) {
	if c.Issuer == "" {
		c.Issuer = d.Issuer
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now.UTC().Truncate(time.Second)
	}
	if c.ExpiresAt.IsZero() && d.Validity > 0 {
		c.ExpiresAt = c.IssuedAt.Add(d.Validity)
	}
}

// QRScale is the pixels per QR module of the PNGs this package writes.
const QRScale = 4

// IssuePNG signs c and renders its QR code as a PNG; it returns the
// Base45 text too.
func IssuePNG(is *claim169.Issuer, c *claim169.Claims) (string, []byte, error) {
	text, err := is.Issue(c)
	if err != nil {
		return "", nil, err
	}
	code, err := qr.New(text)
	if err != nil {
		return "", nil, fmt.Errorf("QR: %w", err)
	}
	png, err := code.PNG(QRScale)
	return text, png, err
}

// FileName is a safe file name stem for a credential: its id, or
// row-N when it has none.
func FileName(c *claim169.Claims, row int) string {
	if id := unsafeName.ReplaceAllString(c.Identity.ID, "_"); id != "" && id != "." && id != ".." && len(id) <= 64 {
		return id
	}
	return fmt.Sprintf("row-%d", row)
}
