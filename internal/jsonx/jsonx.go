package jsonx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound one JSON document. Zero fields take the defaults.
type Limits struct {
	// MaxBytes bounds the document (Decode reads at most this much).
	MaxBytes int64
	// MaxDepth bounds nesting: {"a":[1]} has depth 2.
	MaxDepth int
	// MaxArray bounds the elements of any one array.
	MaxArray int
	// MaxMembers bounds the members of any one object.
	MaxMembers int
	// MaxValues bounds every value in the document together (objects,
	// arrays, strings, numbers, literals): what the decoded form can cost.
	MaxValues int
	// Open accepts members the Go type does not name (an open contract);
	// by default they are an error.
	Open bool
}

// Defaults for zero Limits fields.
const (
	DefaultMaxBytes   = 1 << 20
	DefaultMaxDepth   = 16
	DefaultMaxArray   = 1000
	DefaultMaxMembers = 256
)

func (l Limits) norm() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxArray <= 0 {
		l.MaxArray = DefaultMaxArray
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	if l.MaxValues <= 0 {
		// A value costs at least 2 bytes of input ("1,"); this is the
		// most a document of MaxBytes could hold anyway, so the default
		// changes nothing but names the bound.
		l.MaxValues = int(min(l.MaxBytes/2+1, 1<<30))
	}
	return l
}

// Kinds of Error.
const (
	KindSyntax    = "syntax"        // not JSON
	KindTooLarge  = "too-large"     // over MaxBytes (HTTP 413)
	KindLimit     = "limit"         // depth, count or value bound
	KindDuplicate = "duplicate-key" // a member name given twice
	KindUTF8      = "invalid-utf8"
	KindUnknown   = "unknown-field"
	KindType      = "wrong-type" // the JSON does not fit the Go type
	KindTrailing  = "trailing-data"
)

// Error is a refused document. Its message names where (a JSON Pointer,
// RFC 6901) and what, never the offending value: bodies carry secrets and
// identity data.
type Error struct {
	Kind    string
	Pointer string
	Msg     string
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return "json: " + e.Msg
	}
	return "json: " + e.Msg + " at " + e.Pointer
}

// ErrTooLarge is returned (wrapped in *Error) for documents over MaxBytes.
var ErrTooLarge = errors.New("too large")

func (e *Error) Unwrap() error {
	if e.Kind == KindTooLarge {
		return ErrTooLarge
	}
	return nil
}

// Decode reads one JSON document from r, at most l.MaxBytes, checks it
// (Check) and unmarshals it into v. Nothing may follow the document but
// white space.
func Decode(r io.Reader, v any, l Limits) error {
	l = l.norm()
	b, err := io.ReadAll(io.LimitReader(r, l.MaxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Kind: KindTooLarge, Msg: fmt.Sprintf("body larger than %d bytes", mbe.Limit)}
		}
		return err
	}
	return Unmarshal(b, v, l)
}

// Unmarshal checks b (Check) and unmarshals it into v.
func Unmarshal(b []byte, v any, l Limits) error {
	l = l.norm()
	if err := Check(b, l); err != nil {
		return err
	}
	err := json.Unmarshal(b, v, json.RejectUnknownMembers(!l.Open))
	if err == nil {
		return nil
	}
	return describe(err)
}

// Check tokenizes b without building anything and enforces l: size, depth,
// counts, duplicate names, UTF-8, one document only.
func Check(b []byte, l Limits) error {
	l = l.norm()
	if int64(len(b)) > l.MaxBytes {
		return &Error{Kind: KindTooLarge, Msg: fmt.Sprintf("document larger than %d bytes", l.MaxBytes)}
	}
	d := jsontext.NewDecoder(bytes.NewBuffer(b)) // a Buffer is read in place, a Reader copied in chunks
	values, complete := 0, false
	for {
		tok, err := d.ReadToken()
		if err == io.EOF {
			if values == 0 {
				return &Error{Kind: KindSyntax, Msg: "empty document"}
			}
			return nil
		}
		if err != nil {
			return describe(err)
		}
		if complete {
			return &Error{Kind: KindTrailing, Msg: "data after the JSON document"}
		}
		complete = d.StackDepth() == 0
		kind := tok.Kind()
		if kind == '}' || kind == ']' {
			continue
		}
		depth := d.StackDepth()
		if kind == '{' || kind == '[' {
			if depth > l.MaxDepth {
				return &Error{Kind: KindLimit, Pointer: string(d.StackPointer()), Msg: fmt.Sprintf("nested deeper than %d", l.MaxDepth)}
			}
			depth-- // the container this one is in
		}
		// StackIndex counts the tokens read in a container: in an object
		// names and values alternate, so an odd count is a name.
		c, n := d.StackIndex(depth)
		if c == '{' && n%2 == 1 {
			if n/2+1 > int64(l.MaxMembers) {
				return &Error{Kind: KindLimit, Pointer: string(d.StackPointer()), Msg: fmt.Sprintf("an object with more than %d members", l.MaxMembers)}
			}
			continue
		}
		if c == '[' && n > int64(l.MaxArray) {
			return &Error{Kind: KindLimit, Pointer: string(parent(d.StackPointer())), Msg: fmt.Sprintf("an array with more than %d elements", l.MaxArray)}
		}
		if values++; values > l.MaxValues {
			return &Error{Kind: KindLimit, Msg: fmt.Sprintf("more than %d values", l.MaxValues)}
		}
	}
}

// describe turns a json/jsontext error into an *Error.
func describe(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		e := &Error{Kind: KindSyntax, Pointer: string(se.JSONPointer), Msg: "malformed JSON"}
		switch {
		case errors.Is(se.Err, jsontext.ErrDuplicateName):
			e.Kind, e.Msg = KindDuplicate, fmt.Sprintf("member %q given twice", se.JSONPointer.LastToken())
			e.Pointer = string(parent(se.JSONPointer))
		case isUTF8(se):
			e.Kind, e.Msg = KindUTF8, "invalid UTF-8"
		case errors.Is(se.Err, io.ErrUnexpectedEOF):
			e.Msg = "truncated JSON"
		}
		return e
	}
	var me *json.SemanticError
	if errors.As(err, &me) {
		e := &Error{Kind: KindType, Pointer: string(me.JSONPointer)}
		switch {
		case errors.Is(me.Err, json.ErrUnknownName):
			e.Kind, e.Msg = KindUnknown, fmt.Sprintf("unknown member %q", me.JSONPointer.LastToken())
			e.Pointer = string(parent(me.JSONPointer))
		case me.GoType != nil && me.JSONKind != 0:
			e.Msg = fmt.Sprintf("a JSON %s cannot be a %s", kindName(me.JSONKind), me.GoType)
		case me.Err != nil:
			// An UnmarshalJSON method's own error: its words, which
			// this project's methods keep free of input values.
			var inner *Error
			if errors.As(me.Err, &inner) {
				return inner
			}
			e.Msg = me.Err.Error()
		default:
			e.Msg = "a value of the wrong type"
		}
		return e
	}
	var mine *Error
	if errors.As(err, &mine) {
		return mine
	}
	return &Error{Kind: KindSyntax, Msg: err.Error()}
}

func isUTF8(se *jsontext.SyntacticError) bool {
	return se.Err != nil && bytes.Contains([]byte(se.Err.Error()), []byte("UTF-8"))
}

func parent(p jsontext.Pointer) jsontext.Pointer {
	s := string(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return jsontext.Pointer(s[:i])
		}
	}
	return ""
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}
