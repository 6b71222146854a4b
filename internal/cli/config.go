package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Resolve fills the flags fs.Parse did not see, in this order: the
// environment (EnvDefaults with prefix), then the config file at path
// ("" for none), then the flags' defaults. So flags win over the
// environment, which wins over the file. It returns the names of the flags
// that were set from any source.
//
// The config file is one JSON object whose keys are the flag names, as
// spelled (pg-dsn) or in camelCase (pgDsn). Values are strings, numbers,
// booleans or, for repeatable flags, arrays. A key naming no flag is an
// error that names it; null, "", false and 0 leave the flag at its
// default.
func Resolve(fs *flag.FlagSet, prefix, path string) (map[string]bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := EnvDefaults(fs, prefix, set); err != nil {
		return set, UsageError{err}
	}
	if path == "" {
		return set, nil
	}
	b, err := readConfig(path)
	if err != nil {
		return set, err
	}
	if err := ConfigFile(fs, b, set); err != nil {
		return set, UsageError{fmt.Errorf("config %s: %w", path, err)}
	}
	return set, nil
}

// MaxConfigSize bounds a config file.
const MaxConfigSize = 1 << 20

// configLimits are the strict-JSON bounds of a config file: one object of
// scalars and arrays of scalars (decision 0013).
var configLimits = jsonx.Limits{MaxBytes: MaxConfigSize, MaxDepth: 8, MaxArray: 1000, MaxMembers: 256}

func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, UsageError{fmt.Errorf("config %s: larger than %d bytes", path, MaxConfigSize)}
	}
	return b, nil
}

// ConfigFile applies the JSON object b (see Resolve) to the flags not in
// set, and adds them to set. b is read strictly: a key given twice, or
// twice under its two spellings (pgDsn and pg-dsn), invalid UTF-8 and
// nesting or counts past configLimits are errors, so no setting depends on
// which duplicate a reader happens to keep.
func ConfigFile(fs *flag.FlagSet, b []byte, set map[string]bool) error {
	if err := jsonx.Check(b, configLimits); err != nil {
		var je *jsonx.Error
		if !errors.As(err, &je) || (je.Kind != jsonx.KindSyntax && je.Kind != jsonx.KindTrailing) {
			return err
		}
		// Malformed JSON: encoding/json below says so in the words
		// the docs use (it scans for syntax before building anything).
	}
	var file map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&file); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON object")
	}
	spelled := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(file)) {
		name := Kebab(k)
		if other, ok := spelled[name]; ok {
			a, b := min(k, other), max(k, other)
			return fmt.Errorf("fields %q and %q name the same setting", a, b)
		}
		spelled[name] = k
	}
	// In sorted order, so the error a file with several problems gets is
	// always the same one (map order would pick a different one each run).
	for _, k := range slices.Sorted(maps.Keys(file)) {
		raw := file[k]
		name := Kebab(k)
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			return fmt.Errorf("unknown field %q", k)
		}
		vals, err := configValues(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if set[name] || len(vals) == 0 {
			continue
		}
		for _, v := range vals {
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		set[name] = true
	}
	return nil
}

// configValues reads one value, or several from an array; zero values
// yield none.
func configValues(raw json.RawMessage) ([]string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	one := func(v any) ([]string, error) {
		switch v := v.(type) {
		case nil:
			return nil, nil
		case string:
			if v == "" {
				return nil, nil
			}
			return []string{v}, nil
		case bool:
			if !v {
				return nil, nil
			}
			return []string{"true"}, nil
		case json.Number:
			if f, err := v.Float64(); err == nil && f == 0 {
				return nil, nil
			}
			return []string{v.String()}, nil
		}
		return nil, fmt.Errorf("want a string, number, boolean or array of them")
	}
	if a, ok := v.([]any); ok {
		var out []string
		for _, e := range a {
			s, err := one(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return one(v)
}

// Kebab turns a config key (pgDsn) into its flag name (pg-dsn); keys
// already in flag form pass through.
func Kebab(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ParseEnv is Parse, then the environment (EnvDefaults with prefix) for
// the flags not given. It returns the names of the flags set either way.
func ParseEnv(fs *flag.FlagSet, args []string, prefix string) (map[string]bool, error) {
	if err := Parse(fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := EnvDefaults(fs, prefix, set); err != nil {
		return nil, UsageError{err}
	}
	return set, nil
}

// NoArgs is a usage error when fs was given positional arguments.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
