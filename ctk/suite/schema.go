package suite

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schemas are compiled JSON Schemas by spec version and name.
//
// MOSIP's schemas are draft 2019-09 and describe arrays with a one-element
// tuple ("items": [ {...} ]), which in that draft constrains only the first
// element: MOSIP's CTK schema-checks only the first biometric, device or
// info entry. Compile rewrites a one-element tuple to "items": {...} so
// every element is checked. Formats (date-time) are asserted.
type Schemas struct {
	byKey map[string]*jsonschema.Schema // "<spec>/<Name>"
}

// Get returns the schema, or nil.
func (s *Schemas) Get(spec, name string) *jsonschema.Schema {
	if s == nil {
		return nil
	}
	if sch := s.byKey[spec+"/"+name]; sch != nil {
		return sch
	}
	return s.byKey["/"+name] // a flat directory serves every version
}

// Names lists the loaded schemas as "<spec>/<Name>".
func (s *Schemas) Names() []string {
	var out []string
	for k := range s.byKey {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	embeddedOnce sync.Once
	embeddedSch  *Schemas
	embeddedErr  error
)

// EmbeddedSchemas returns the shipped 0.9.5 schemas.
func EmbeddedSchemas() (*Schemas, error) {
	embeddedOnce.Do(func() {
		files := map[string][]byte{}
		entries, err := fs.Glob(embeddedSchemas, "data/schemas/sbi/*/*.json")
		if err != nil {
			embeddedErr = err
			return
		}
		for _, p := range entries {
			b, err := embeddedSchemas.ReadFile(p)
			if err != nil {
				embeddedErr = err
				return
			}
			spec := path.Base(path.Dir(p))
			files[spec+"/"+strings.TrimSuffix(path.Base(p), ".json")] = b
		}
		embeddedSch, embeddedErr = Compile(files)
	})
	return embeddedSch, embeddedErr
}

// LoadSchemas reads *.json schemas from dir, laid out as MOSIP keeps them
// (dir/<specVersion>/<Name>.json) or flat (dir/<Name>.json, used for every
// spec version).
func LoadSchemas(dir string) (*Schemas, error) {
	files := map[string][]byte{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		spec := ""
		switch len(parts) {
		case 1:
		case 2:
			spec = parts[0]
		default:
			return nil // deeper files are not schemas for us
		}
		b, err := readBounded(p, 1<<20)
		if err != nil {
			return err
		}
		if total += int64(len(b)); total > MaxFileSize {
			return fmt.Errorf("schemas in %s exceed %d bytes", dir, MaxFileSize)
		}
		files[spec+"/"+strings.TrimSuffix(parts[len(parts)-1], ".json")] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.json schemas in %s", dir)
	}
	return Compile(files)
}

// Compile compiles schema documents keyed "<spec>/<Name>".
func Compile(files map[string][]byte) (*Schemas, error) {
	s := &Schemas{byKey: map[string]*jsonschema.Schema{}}
	for key, b := range files {
		sch, err := compileOne(key, b)
		if err != nil {
			return nil, err
		}
		s.byKey[key] = sch
	}
	return s, nil
}

func compileOne(key string, b []byte) (*jsonschema.Schema, error) {
	doc, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %v", key, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s: not a JSON object", key)
	}
	// Each schema is compiled on its own; drop $id so that two files with
	// the same $id (or MOSIP's misspelt ones) cannot collide, and refs stay
	// local to the document.
	delete(obj, "$id")
	untuple(obj)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	c.AssertFormat()
	url := "mem:///" + key + ".json"
	if err := c.AddResource(url, obj); err != nil {
		return nil, fmt.Errorf("schema %s: %v", key, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %v", key, err)
	}
	return sch, nil
}

// untuple rewrites every "items": [X] to "items": X (see Schemas).
func untuple(v any) {
	switch t := v.(type) {
	case map[string]any:
		if items, ok := t["items"].([]any); ok && len(items) == 1 {
			if _, isObj := items[0].(map[string]any); isObj {
				t["items"] = items[0]
			}
		}
		for _, c := range t {
			untuple(c)
		}
	case []any:
		for _, c := range t {
			untuple(c)
		}
	}
}

var (
	tcOnce   sync.Once
	tcSchema *jsonschema.Schema
	tcErr    error
)

func testcaseSchema() (*jsonschema.Schema, error) {
	tcOnce.Do(func() {
		b, err := embeddedSchemas.ReadFile("data/schemas/testcase_schema.json")
		if err != nil {
			tcErr = err
			return
		}
		tcSchema, tcErr = compileOne("testcase_schema", b)
	})
	return tcSchema, tcErr
}

// Validate checks a JSON document (as decoded by DecodeJSON) against a
// schema and returns at most max messages, each naming the JSON pointer
// that failed. nil means valid.
func Validate(sch *jsonschema.Schema, doc any, max int) []string {
	if err := sch.Validate(doc); err != nil {
		return Messages(err, max)
	}
	return nil
}

// DecodeJSON decodes b the way Validate expects (numbers as json.Number).
func DecodeJSON(b []byte) (any, error) { return decodeJSON(b) }

// Messages flattens a validation error to its leaf causes:
// "at /biometrics/0/error/errorCode: value must be '0'".
func Messages(err error, max int) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{clip(err.Error())}
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= max {
			return
		}
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			out = append(out, clip("at "+loc+": "+e.ErrorKind.LocalizedString(printer)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(out) == 0 {
		out = append(out, clip(ve.Error()))
	}
	return out
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

var printer = message.NewPrinter(language.English)
