package claim169

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// identityLimits bound an identity document: a photo and sixteen
// biometric lists fit; MaxArray bounds each list and bestQualityFingers.
var identityLimits = jsonx.Limits{MaxBytes: 4 << 20, MaxDepth: 4, MaxArray: 64, MaxMembers: 64}

// UnmarshalJSON reads the idpass "claim169" object (the form MarshalJSON
// writes): camelCase names, byte strings as base64. Unknown names are
// errors, so a misspelt field is not silently dropped from a credential;
// "unknownFields" cannot be written back from JSON and is refused.
func (id *Identity) UnmarshalJSON(b []byte) error {
	var j jsonIdentity
	// Strict (internal/jsonx): exact, case-sensitive names; a duplicated
	// name or invalid UTF-8 is an error, never resolved into what gets
	// signed; arrays bounded.
	if err := jsonx.Unmarshal(b, &j, identityLimits); err != nil {
		return fmt.Errorf("claim169: identity JSON: %w", err)
	}
	if len(j.UnknownFields) > 0 {
		return errors.New("claim169: identity JSON: unknownFields cannot be issued from JSON")
	}
	*id = Identity{
		ID: j.ID, Version: j.Version, Language: j.Language, FullName: j.FullName,
		FirstName: j.FirstName, MiddleName: j.MiddleName, LastName: j.LastName,
		DateOfBirth: j.DateOfBirth, Gender: Gender(j.Gender), Address: j.Address,
		Email: j.Email, Phone: j.Phone, Nationality: j.Nationality,
		MaritalStatus: MaritalStatus(j.MaritalStatus), Guardian: j.Guardian, Photo: j.Photo,
		PhotoFormat: PhotoFormat(j.PhotoFormat), BestQualityFingers: j.BestQualityFingers,
		SecondaryFullName: j.SecondaryFullName, SecondaryLanguage: j.SecondaryLanguage,
		LocationCode: j.LocationCode, LegalStatus: j.LegalStatus, CountryOfIssuance: j.CountryOfIssuance,
	}
	src := [...][]jsonBiometric{
		j.RightThumb, j.RightPointerFinger, j.RightMiddleFinger, j.RightRingFinger, j.RightLittleFinger,
		j.LeftThumb, j.LeftPointerFinger, j.LeftMiddleFinger, j.LeftRingFinger, j.LeftLittleFinger,
		j.RightIris, j.LeftIris, j.Face, j.RightPalm, j.LeftPalm, j.Voice,
	}
	for p := RightThumb; p <= Voice; p++ {
		in := src[p-RightThumb]
		if len(in) == 0 {
			continue
		}
		out := make([]Biometric, len(in))
		for i, jb := range in {
			if jb.Data == nil {
				return fmt.Errorf("claim169: identity JSON: %s[%d] has no data", p, i)
			}
			out[i] = Biometric{Data: jb.Data, Issuer: jb.Issuer}
			if jb.Format != nil {
				out[i].Format = new(BiometricFormat(*jb.Format))
			}
			if jb.SubFormat != nil {
				out[i].SubFormat = new(SubFormat(*jb.SubFormat))
			}
		}
		*id.biometric(p) = out
	}
	return nil
}

// ClaimsJSON is the input form of a credential to issue: the identity in the
// idpass "claim169" shape and the CWT claims, times as Unix seconds.
type ClaimsJSON struct {
	Claim169  json.RawMessage `json:"claim169"`
	Issuer    string          `json:"issuer,omitempty"`
	Subject   string          `json:"subject,omitempty"`
	ExpiresAt *int64          `json:"expiresAt,omitempty"`
	NotBefore *int64          `json:"notBefore,omitempty"`
	IssuedAt  *int64          `json:"issuedAt,omitempty"`
}

// Claims converts the input form to Claims.
func (c ClaimsJSON) Claims() (*Claims, error) {
	if len(c.Claim169) == 0 {
		return nil, errors.New("claim169: credential JSON has no claim169 object")
	}
	out := &Claims{Issuer: c.Issuer, Subject: c.Subject}
	if err := out.Identity.UnmarshalJSON(c.Claim169); err != nil {
		return nil, err
	}
	set := func(dst *time.Time, v *int64) {
		if v != nil {
			*dst = time.Unix(*v, 0).UTC()
		}
	}
	set(&out.ExpiresAt, c.ExpiresAt)
	set(&out.NotBefore, c.NotBefore)
	set(&out.IssuedAt, c.IssuedAt)
	return out, nil
}
