package suite

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

//go:embed data/compliance_test_definitions_sbi.json
var embeddedCases []byte

//go:embed data/schemas/sbi/0.9.5/*.json data/schemas/testcase_schema.json
var embeddedSchemas embed.FS

// Bounds on a loaded definition file.
const (
	MaxFileSize = 16 << 20 // a definition file or a schema directory's total
	MaxCases    = 5000
	maxString   = 4096 // any one string attribute
	maxList     = 32   // any one list attribute
)

// SBI method names as the definitions spell them.
const (
	MethodDevice   = "device"
	MethodInfo     = "info"
	MethodCapture  = "capture"
	MethodRCapture = "rcapture"
)

// Validator names the definitions use.
const (
	ValSchema           = "SchemaValidator"
	ValSignature        = "SignatureValidator"
	ValResponseMismatch = "ResponseMismatchValidator"
	ValHash             = "HashValidator"
	ValTimeCheck        = "TimeCheckValidator"
	ValTimeout          = "TimeoutValidator"
	ValISO              = "ISOStandardsValidator"
	ValKeyRotation      = "KeyRotationValidator"
	ValQuality          = "BiometricsQualityCheckValidator"
)

// KnownValidators lists the validators edgetrust-ctk implements.
var KnownValidators = []string{ValSchema, ValSignature, ValResponseMismatch, ValHash,
	ValTimeCheck, ValTimeout, ValISO, ValKeyRotation, ValQuality}

// Case is one test definition.
type Case struct {
	Type               string           `json:"testCaseType"`
	Name               string           `json:"testName"`
	ID                 string           `json:"testId"`
	SpecVersion        string           `json:"specVersion"`
	Description        string           `json:"testDescription"`
	AndroidDescription string           `json:"androidTestDescription,omitempty"`
	Negative           bool             `json:"isNegativeTestcase"`
	Inactive           bool             `json:"inactive,omitempty"`
	InactiveForAndroid string           `json:"inactiveForAndroid,omitempty"`
	Methods            []string         `json:"methodName"`
	RequestSchemas     []string         `json:"requestSchema"`
	ResponseSchemas    []string         `json:"responseSchema"`
	ValidatorDefs      [][]ValidatorDef `json:"validatorDefs"`
	Attrs              Attributes       `json:"otherAttributes"`
}

// ValidatorDef names a validator and says what it checks.
type ValidatorDef struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Attributes are a case's otherAttributes: what to request and when the
// case applies.
type Attributes struct {
	Purpose                 []string `json:"purpose"`
	BiometricTypes          []string `json:"biometricTypes"`
	DeviceSubTypes          []string `json:"deviceSubTypes"`
	Segments                []string `json:"segments"`
	Exceptions              []string `json:"exceptions"`
	RequestedScore          string   `json:"requestedScore"`
	BioCount                string   `json:"bioCount"`
	DeviceSubID             string   `json:"deviceSubId"`
	Timeout                 string   `json:"timeout,omitempty"`
	ResumeBtn               bool     `json:"resumeBtn,omitempty"`
	ResumeAgainBtn          bool     `json:"resumeAgainBtn,omitempty"`
	KeyRotation             bool     `json:"keyRotationTestCase,omitempty"`
	HashValidation          bool     `json:"hashValidationTestCase,omitempty"`
	TransactionID           string   `json:"transactionId,omitempty"`
	InvalidRequestAttribute string   `json:"invalidRequestAttribute,omitempty"`
	QualityAssessment       bool     `json:"qualityAssessmentTestCase,omitempty"`
	AgeGroup                string   `json:"ageGroup,omitempty"`
	Gender                  string   `json:"gender,omitempty"`
	Occupation              string   `json:"occupation,omitempty"`
	Race                    string   `json:"race,omitempty"`
	RepeatCount             string   `json:"testCaseRepeatCount,omitempty"`
	Modalities              []string `json:"modalities,omitempty"`
}

// Method is the case's SBI method.
func (c *Case) Method() string { return c.Methods[0] }

// Validators returns the validator names of the case's first (and, for
// SBI, only) method.
func (c *Case) Validators() []string {
	if len(c.ValidatorDefs) == 0 {
		return nil
	}
	out := make([]string, 0, len(c.ValidatorDefs[0]))
	for _, v := range c.ValidatorDefs[0] {
		out = append(out, v.Name)
	}
	return out
}

// Has reports whether the case names validator v.
func (c *Case) Has(v string) bool { return slices.Contains(c.Validators(), v) }

// RequestSchema and ResponseSchema name the schemas of the first method.
func (c *Case) RequestSchema() string  { return first(c.RequestSchemas) }
func (c *Case) ResponseSchema() string { return first(c.ResponseSchemas) }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// Repeat is how many persons a quality-assessment case wants (1 otherwise).
func (c *Case) Repeat() int {
	if !c.Attrs.QualityAssessment {
		return 1
	}
	n, err := strconv.Atoi(c.Attrs.RepeatCount)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Applies reports whether the case applies to a device of this type,
// deviceSubType and purpose. purpose "" (a Not Registered device) matches
// every purpose.
func (c *Case) Applies(typ, subType, purpose string) bool {
	return slices.Contains(c.Attrs.BiometricTypes, typ) &&
		slices.Contains(c.Attrs.DeviceSubTypes, subType) &&
		(purpose == "" || slices.Contains(c.Attrs.Purpose, purpose))
}

// Suite is a loaded set of test definitions with its schemas.
type Suite struct {
	Cases   []Case
	Source  string // "embedded" or the file it was read from
	SHA256  string // of the definition file's bytes
	Schemas *Schemas
}

// Case returns the case with the given id, or nil.
func (s *Suite) Case(id string) *Case {
	for i := range s.Cases {
		if s.Cases[i].ID == id {
			return &s.Cases[i]
		}
	}
	return nil
}

// Embedded returns the definitions and schemas shipped with edgetrust-ctk.
func Embedded() (*Suite, error) {
	sch, err := EmbeddedSchemas()
	if err != nil {
		return nil, err
	}
	cases, err := Parse(embeddedCases, sch)
	if err != nil {
		return nil, fmt.Errorf("embedded test definitions: %w", err)
	}
	return &Suite{Cases: cases, Source: "embedded", SHA256: digest(embeddedCases), Schemas: sch}, nil
}

// Load reads a definition file (and, when schemaDir is not "", schemas from
// that directory instead of the embedded ones).
func Load(path, schemaDir string) (*Suite, error) {
	sch, err := EmbeddedSchemas()
	if schemaDir != "" {
		sch, err = LoadSchemas(schemaDir)
	}
	if err != nil {
		return nil, err
	}
	b, err := readBounded(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	cases, err := Parse(b, sch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Suite{Cases: cases, Source: path, SHA256: digest(b), Schemas: sch}, nil
}

func digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// ErrDefinitions marks a definition file that cannot be used.
var ErrDefinitions = errors.New("invalid test definitions")

// Parse decodes a definition file, checks every element against MOSIP's
// testcase_schema.json and returns the SBI cases. Cases of other types
// (SDK, ABIS) are dropped. schemas, when not nil, must hold every schema an
// SBI case names.
func Parse(b []byte, schemas *Schemas) ([]Case, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrDefinitions, MaxFileSize)
	}
	raw, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDefinitions, err)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON array of test cases", ErrDefinitions)
	}
	if len(list) > MaxCases {
		return nil, fmt.Errorf("%w: more than %d cases", ErrDefinitions, MaxCases)
	}
	tcSchema, err := testcaseSchema()
	if err != nil {
		return nil, err
	}
	var all []Case
	if err := jsonx.Unmarshal(b, &all, casesLimits); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDefinitions, err)
	}
	seen := map[string]bool{}
	var out []Case
	for i := range all {
		if err := tcSchema.Validate(list[i]); err != nil {
			return nil, fmt.Errorf("%w: case %d (%.40q) does not fit MOSIP's testcase schema: %s",
				ErrDefinitions, i, all[i].ID, firstLine(Messages(err, 1)))
		}
		c := all[i]
		if c.Type != "SBI" || c.Inactive {
			continue
		}
		if err := check(&c, schemas); err != nil {
			return nil, fmt.Errorf("%w: case %d (%.40q): %v", ErrDefinitions, i, c.ID, err)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("%w: test id %q appears twice", ErrDefinitions, c.ID)
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no SBI test cases", ErrDefinitions)
	}
	return out, nil
}

func firstLine(ms []string) string {
	if len(ms) == 0 {
		return "invalid"
	}
	return ms[0]
}

// DecodeLimits bound every JSON document the CTK reads: definition files,
// schemas, device answers and decoded payloads. Every document is checked
// with them (internal/jsonx: duplicate names, invalid UTF-8, depth and
// counts refused while the tokens stream by) before anything is built.
var DecodeLimits = jsonx.Limits{MaxBytes: 32 << 20, MaxDepth: 32, MaxArray: MaxCases, MaxMembers: 1024}

// casesLimits read a definition file into []Case: strict, and open, since
// MOSIP's definitions carry members the runner does not use.
var casesLimits = jsonx.Limits{MaxBytes: MaxFileSize, MaxDepth: 32, MaxArray: MaxCases, MaxMembers: 1024, Open: true}

// decodeJSON decodes b keeping numbers as json.Number, as the schema
// library wants, and refuses trailing data. b is first checked strictly
// (jsonx.Check); encoding/json then only builds the generic value of a
// document that has no duplicate names, no invalid UTF-8 and fits the
// bounds, so it reads it as any other parser would.
func decodeJSON(b []byte) (any, error) {
	if err := jsonx.Check(b, DecodeLimits); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

var idChars = func(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// check applies the rules the runner relies on beyond MOSIP's schema.
func check(c *Case, schemas *Schemas) error {
	switch {
	case c.ID == "" || len(c.ID) > 64 || strings.IndexFunc(c.ID, idChars) >= 0:
		return errors.New("testId must be 1-64 characters of [A-Za-z0-9._-]")
	case len(c.Methods) == 0:
		return errors.New("no methodName")
	case len(c.RequestSchemas) == 0 || len(c.ResponseSchemas) == 0:
		return errors.New("requestSchema and responseSchema must name a schema")
	case len(c.ValidatorDefs) == 0 || len(c.ValidatorDefs[0]) == 0:
		return errors.New("no validatorDefs")
	case len(c.Name) > maxString || len(c.Description) > maxString || len(c.AndroidDescription) > maxString:
		return errors.New("a text attribute is too long")
	}
	switch c.Method() {
	case MethodDevice, MethodInfo, MethodCapture, MethodRCapture:
	default:
		return fmt.Errorf("method %q is not an SBI method this tool can call", c.Method())
	}
	a := &c.Attrs
	for _, l := range [][]string{a.Purpose, a.BiometricTypes, a.DeviceSubTypes, a.Segments, a.Exceptions, a.Modalities} {
		if len(l) > maxList {
			return errors.New("an attribute list is too long")
		}
	}
	for _, s := range []string{a.RequestedScore, a.BioCount, a.DeviceSubID, a.Timeout, a.TransactionID,
		a.InvalidRequestAttribute, a.AgeGroup, a.Gender, a.Occupation, a.Race, a.RepeatCount} {
		if len(s) > maxString {
			return errors.New("an attribute is too long")
		}
	}
	for _, v := range c.ValidatorDefs[0] {
		if len(v.Name) > 128 || len(v.Description) > maxString {
			return errors.New("a validator definition is too long")
		}
	}
	if schemas != nil {
		for _, n := range []string{c.RequestSchema(), c.ResponseSchema()} {
			if schemas.Get(c.SpecVersion, n) == nil {
				return fmt.Errorf("schema %s/%s is not available", c.SpecVersion, n)
			}
		}
	}
	return nil
}
