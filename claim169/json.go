package claim169

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The JSON view follows the idpass/claim-169 decode-result schema
// (schema/claim169.schema.json): camelCase names, byte strings as standard
// base64, unknown claim 169 keys under "unknownFields".

type jsonBiometric struct {
	Data      []byte `json:"data"`
	Format    *int64 `json:"format,omitempty"`
	SubFormat *int64 `json:"subFormat,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
}

type jsonIdentity struct {
	ID                 string           `json:"id,omitempty"`
	Version            string           `json:"version,omitempty"`
	Language           string           `json:"language,omitempty"`
	FullName           string           `json:"fullName,omitempty"`
	FirstName          string           `json:"firstName,omitempty"`
	MiddleName         string           `json:"middleName,omitempty"`
	LastName           string           `json:"lastName,omitempty"`
	DateOfBirth        string           `json:"dateOfBirth,omitempty"`
	Gender             int64            `json:"gender,omitempty"`
	Address            string           `json:"address,omitempty"`
	Email              string           `json:"email,omitempty"`
	Phone              string           `json:"phone,omitempty"`
	Nationality        string           `json:"nationality,omitempty"`
	MaritalStatus      int64            `json:"maritalStatus,omitempty"`
	Guardian           string           `json:"guardian,omitempty"`
	Photo              []byte           `json:"photo,omitempty"`
	PhotoFormat        int64            `json:"photoFormat,omitempty"`
	BestQualityFingers []FingerPosition `json:"bestQualityFingers,omitempty"`
	SecondaryFullName  string           `json:"secondaryFullName,omitempty"`
	SecondaryLanguage  string           `json:"secondaryLanguage,omitempty"`
	LocationCode       string           `json:"locationCode,omitempty"`
	LegalStatus        string           `json:"legalStatus,omitempty"`
	CountryOfIssuance  string           `json:"countryOfIssuance,omitempty"`

	RightThumb         []jsonBiometric `json:"rightThumb,omitempty"`
	RightPointerFinger []jsonBiometric `json:"rightPointerFinger,omitempty"`
	RightMiddleFinger  []jsonBiometric `json:"rightMiddleFinger,omitempty"`
	RightRingFinger    []jsonBiometric `json:"rightRingFinger,omitempty"`
	RightLittleFinger  []jsonBiometric `json:"rightLittleFinger,omitempty"`
	LeftThumb          []jsonBiometric `json:"leftThumb,omitempty"`
	LeftPointerFinger  []jsonBiometric `json:"leftPointerFinger,omitempty"`
	LeftMiddleFinger   []jsonBiometric `json:"leftMiddleFinger,omitempty"`
	LeftRingFinger     []jsonBiometric `json:"leftRingFinger,omitempty"`
	LeftLittleFinger   []jsonBiometric `json:"leftLittleFinger,omitempty"`
	RightIris          []jsonBiometric `json:"rightIris,omitempty"`
	LeftIris           []jsonBiometric `json:"leftIris,omitempty"`
	Face               []jsonBiometric `json:"face,omitempty"`
	RightPalm          []jsonBiometric `json:"rightPalm,omitempty"`
	LeftPalm           []jsonBiometric `json:"leftPalm,omitempty"`
	Voice              []jsonBiometric `json:"voice,omitempty"`

	UnknownFields map[string]any `json:"unknownFields,omitempty"`
}

type jsonCWTMeta struct {
	Issuer    string `json:"issuer,omitempty"`
	Subject   string `json:"subject,omitempty"`
	ExpiresAt *int64 `json:"expiresAt,omitempty"`
	NotBefore *int64 `json:"notBefore,omitempty"`
	IssuedAt  *int64 `json:"issuedAt,omitempty"`
}

type jsonResult struct {
	Claim169           *jsonIdentity `json:"claim169"`
	CWTMeta            jsonCWTMeta   `json:"cwtMeta"`
	VerificationStatus string        `json:"verificationStatus"`
}

// MarshalJSON returns the idpass decode-result object: {"claim169": ...,
// "cwtMeta": ..., "verificationStatus": "verified" | "skipped"}.
func (c *Credential) MarshalJSON() ([]byte, error) {
	id, err := c.Identity.jsonView()
	if err != nil {
		return nil, err
	}
	r := jsonResult{
		Claim169: id,
		CWTMeta: jsonCWTMeta{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			ExpiresAt: unixOrNil(c.ExpiresAt),
			NotBefore: unixOrNil(c.NotBefore),
			IssuedAt:  unixOrNil(c.IssuedAt),
		},
		VerificationStatus: "skipped",
	}
	if c.Verified {
		r.VerificationStatus = "verified"
	}
	return json.Marshal(r)
}

// MarshalJSON returns the idpass "claim169" object.
func (id *Identity) MarshalJSON() ([]byte, error) {
	v, err := id.jsonView()
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func unixOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	return new(t.Unix())
}

func (id *Identity) jsonView() (*jsonIdentity, error) {
	j := &jsonIdentity{
		ID: id.ID, Version: id.Version, Language: id.Language, FullName: id.FullName,
		FirstName: id.FirstName, MiddleName: id.MiddleName, LastName: id.LastName,
		DateOfBirth: id.DateOfBirth, Gender: int64(id.Gender), Address: id.Address,
		Email: id.Email, Phone: id.Phone, Nationality: id.Nationality,
		MaritalStatus: int64(id.MaritalStatus), Guardian: id.Guardian, Photo: id.Photo,
		PhotoFormat: int64(id.PhotoFormat), BestQualityFingers: id.BestQualityFingers,
		SecondaryFullName: id.SecondaryFullName, SecondaryLanguage: id.SecondaryLanguage,
		LocationCode: id.LocationCode, LegalStatus: id.LegalStatus, CountryOfIssuance: id.CountryOfIssuance,
	}
	dst := [...]*[]jsonBiometric{
		&j.RightThumb, &j.RightPointerFinger, &j.RightMiddleFinger, &j.RightRingFinger, &j.RightLittleFinger,
		&j.LeftThumb, &j.LeftPointerFinger, &j.LeftMiddleFinger, &j.LeftRingFinger, &j.LeftLittleFinger,
		&j.RightIris, &j.LeftIris, &j.Face, &j.RightPalm, &j.LeftPalm, &j.Voice,
	}
	for p := RightThumb; p <= Voice; p++ {
		bs := id.Biometric(p)
		if len(bs) == 0 {
			continue
		}
		out := make([]jsonBiometric, len(bs))
		for i, b := range bs {
			out[i] = jsonBiometric{Data: b.Data, Issuer: b.Issuer}
			if b.Data == nil {
				out[i].Data = []byte{}
			}
			if b.Format != nil {
				out[i].Format = new(int64(*b.Format))
			}
			if b.SubFormat != nil {
				out[i].SubFormat = new(int64(*b.SubFormat))
			}
		}
		*dst[p-RightThumb] = out
	}
	if len(id.Unknown) > 0 {
		j.UnknownFields = make(map[string]any, len(id.Unknown))
		for k, raw := range id.Unknown {
			v, err := cborToJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("claim169: unknown key %d: %w", k, err)
			}
			j.UnknownFields[strconv.FormatUint(k, 10)] = v
		}
	}
	return j, nil
}

// cborToJSON converts a raw CBOR item to a value encoding/json can write:
// byte strings become base64, map keys strings, tags their content,
// non-finite floats strings.
func cborToJSON(raw []byte) (any, error) {
	var v any
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return toJSONValue(v), nil
}

func toJSONValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case cbor.ByteString:
		return base64.StdEncoding.EncodeToString([]byte(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case big.Int:
		return x.String()
	case *big.Int:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = toJSONValue(x[i])
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[jsonKey(k)] = toJSONValue(val)
		}
		return out
	case cbor.Tag:
		return toJSONValue(x.Content)
	case cbor.SimpleValue:
		return int64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v // nil, bool, string, int64, uint64
}

func jsonKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case cbor.ByteString:
		return base64.StdEncoding.EncodeToString([]byte(x))
	}
	return fmt.Sprint(k)
}
