package sbi

import (
	"slices"
)

// Finger subtypes, in the order a multi-finger device returns UNKNOWN
// requests (index, middle, ring, little; [SBI1]).
var (
	LeftSlap   = []string{"Left IndexFinger", "Left MiddleFinger", "Left RingFinger", "Left LittleFinger"}
	RightSlap  = []string{"Right IndexFinger", "Right MiddleFinger", "Right RingFinger", "Right LittleFinger"}
	Thumbs     = []string{"Left Thumb", "Right Thumb"}
	Irises     = []string{"Left", "Right"}
	AllFingers = slices.Concat(LeftSlap, RightSlap, Thumbs)
)

// SubtypeUnknown is the "any segment" subtype.
const SubtypeUnknown = "UNKNOWN"

// ValidTransactionID applies §6.6: 4-50 characters of [A-Za-z0-9-].
func ValidTransactionID(id string) bool {
	if len(id) < 4 || len(id) > 50 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidSubtype reports whether s names a segment of bioType (UNKNOWN
// included). Face has no subtypes.
func ValidSubtype(bioType, s string) bool {
	switch bioType {
	case TypeFinger:
		return s == SubtypeUnknown || slices.Contains(AllFingers, s)
	case TypeIris:
		return s == SubtypeUnknown || slices.Contains(Irises, s)
	}
	return false
}

// SubtypeAllowed applies the §6.4 deviceSubId rules to one returned subtype:
// finger 1 left slap, 2 right slap, 3 thumbs, 0 or 4+ any finger; iris 1
// left, 2 right, 3 both, 0 any. Face allows only the empty subtype.
func SubtypeAllowed(bioType string, deviceSubID int, s string) bool {
	switch bioType {
	case TypeFace:
		return s == ""
	case TypeFinger:
		switch deviceSubID {
		case 1:
			return slices.Contains(LeftSlap, s)
		case 2:
			return slices.Contains(RightSlap, s)
		case 3:
			return slices.Contains(Thumbs, s)
		}
		return deviceSubID >= 0 && ValidSubtype(TypeFinger, s)
	case TypeIris:
		switch deviceSubID {
		case 0:
			return ValidSubtype(TypeIris, s)
		case 1:
			return s == "Left"
		case 2:
			return s == "Right"
		case 3:
			return s == "Left" || s == "Right"
		}
	}
	return false
}

// segmentSet returns the segments a registration device covers for a
// deviceSubId, or nil when the rule is "any".
func segmentSet(bioType string, subID int) []string {
	switch {
	case bioType == TypeFinger && subID == 1:
		return LeftSlap
	case bioType == TypeFinger && subID == 2:
		return RightSlap
	case bioType == TypeFinger && subID == 3:
		return Thumbs
	case bioType == TypeIris && subID == 1:
		return []string{"Left"}
	case bioType == TypeIris && subID == 2:
		return []string{"Right"}
	case bioType == TypeIris && subID == 3:
		return Irises
	}
	return nil
}

// ValidateCaptureRequest checks a CAPTURE (purpose Auth) or RCAPTURE
// (purpose Registration) body against the rules that need no device state:
// purpose, env, transactionId (§6.6), and per bio element the type, subtype,
// exception and count rules (§6.4, §6.5). It returns Success or the error
// object to send; count violations give 109 and transactionId 112 as the
// spec requires, the rest MockMDS vendor codes.
func ValidateCaptureRequest(purpose string, r *CaptureRequest) Error {
	switch {
	case r == nil:
		return NewError(CodeMalformedRequest)
	case r.Purpose != purpose:
		return NewError(CodePurposeMismatch)
	case !ValidEnv(r.Env):
		return NewError(CodeEnvMismatch)
	case !ValidTransactionID(r.TransactionID):
		return NewError(CodeInvalidTransactionID)
	case len(r.Bio) == 0 || len(r.Bio) > MaxBiometrics:
		return NewError(CodeMalformedRequest)
	}
	if r.Timeout != "" {
		if t, err := r.Timeout.Int(); err != nil || t < 0 {
			return NewError(CodeMalformedRequest)
		}
	}
	for i := range r.Bio {
		if e := CheckBio(purpose, &r.Bio[i]); !e.OK() {
			return e
		}
	}
	return Success
}

// CheckBio applies the type, subtype, exception and count rules to one bio
// element. See ValidateCaptureRequest.
func CheckBio(purpose string, b *BioRequest) Error {
	if !ValidType(b.Type) {
		return NewError(CodeTypeMismatch)
	}
	count, err := b.Count.Int()
	if err != nil || count < 0 {
		return NewError(CodeInvalidCount)
	}
	subID, err := b.DeviceSubID.Int()
	if b.DeviceSubID == "" {
		subID, err = 0, nil
	}
	if err != nil || subID < 0 {
		return NewError(CodeMalformedRequest)
	}
	if b.RequestedScore != "" {
		if f, err := b.RequestedScore.Float(); err != nil || f < 0 || f > 100 {
			return NewError(CodeMalformedRequest)
		}
	}
	if _, err := NewHashChain(b.PreviousHash); err != nil {
		return NewError(CodeMalformedRequest)
	}
	// Subtypes: null entries (read as "") are allowed, the CTK sends them for Face.
	var subs []string
	for _, s := range b.BioSubType {
		if s == "" {
			continue
		}
		if !ValidSubtype(b.Type, s) {
			return NewError(CodeInvalidSubtype)
		}
		subs = append(subs, s)
	}
	exc, e := checkExceptions(b)
	if !e.OK() {
		return e
	}
	if purpose == PurposeAuth {
		return authCount(b.Type, subID, count, subs, exc)
	}
	return regCount(b.Type, subID, count, subs, exc)
}

func checkExceptions(b *BioRequest) ([]string, Error) {
	var exc []string
	for _, s := range b.Exception {
		if s == "" {
			continue
		}
		ok := false
		switch b.Type {
		case TypeFace:
			// The exception photo lists missing fingers or irises.
			ok = s == SubtypeUnknown || slices.Contains(AllFingers, s) || slices.Contains(Irises, s)
		default:
			ok = s != SubtypeUnknown && ValidSubtype(b.Type, s)
		}
		if !ok || slices.Contains(exc, s) {
			return nil, NewError(CodeInvalidException)
		}
		exc = append(exc, s)
	}
	return exc, Success
}

func authCount(t string, subID, count int, subs, exc []string) Error {
	if len(exc) > 0 {
		return NewError(CodeInvalidException)
	}
	if subID != 0 {
		return NewError(CodeCountNotSupported)
	}
	limit := map[string]int{TypeFinger: 10, TypeIris: 2, TypeFace: 1}[t]
	if count < 1 || count > limit {
		return NewError(CodeCountNotSupported)
	}
	if t == TypeFace {
		if len(subs) > 0 {
			return NewError(CodeSubtypeVsType)
		}
		return Success
	}
	// bioSubType is optional in 0.9.5; when given it names count segments.
	if len(subs) > 0 && len(subs) != count {
		return NewError(CodeCountNotSupported)
	}
	if dup(subs) {
		return NewError(CodeInvalidSubtype)
	}
	return Success
}

func regCount(t string, subID, count int, subs, exc []string) Error {
	if t == TypeFace {
		if subID != 0 {
			return NewError(CodeCountNotSupported)
		}
		if count != 1 {
			return NewError(CodeCountNotSupported)
		}
		if len(subs) > 0 {
			return NewError(CodeSubtypeVsType)
		}
		return Success
	}
	set := segmentSet(t, subID)
	if set == nil {
		// deviceSubId 0 (or 4+): a single-segment sensor, not in the spec table.
		total := 10
		if t == TypeIris {
			total = 2
		}
		if count < 1 || count+len(exc) > total {
			return NewError(CodeCountNotSupported)
		}
	} else {
		for _, s := range exc {
			if !slices.Contains(set, s) {
				return NewError(CodeSubtypeVsType)
			}
		}
		if count+len(exc) != len(set) {
			return NewError(CodeCountNotSupported)
		}
		for _, s := range subs {
			if s != SubtypeUnknown && !slices.Contains(set, s) {
				return NewError(CodeSubtypeVsType)
			}
		}
	}
	if len(subs) > count {
		return NewError(CodeCountNotSupported)
	}
	for _, s := range subs {
		if slices.Contains(exc, s) {
			return NewError(CodeSubtypeVsType)
		}
	}
	if dup(subs) {
		return NewError(CodeInvalidSubtype)
	}
	return Success
}

// dup reports a repeated named subtype; UNKNOWN may repeat.
func dup(subs []string) bool {
	for i, s := range subs {
		if s != SubtypeUnknown && slices.Contains(subs[i+1:], s) {
			return true
		}
	}
	return false
}

// Segments returns the subtypes a device should return for a validated bio
// element, in response order: for a registration slap, thumbs or double
// iris the device's set minus exceptions (index to little); otherwise the
// requested subtypes, padded with UNKNOWN to count. Face gives one "".
func Segments(purpose string, b *BioRequest) []string {
	count, _ := b.Count.Int()
	if b.Type == TypeFace {
		if count < 1 {
			return nil
		}
		return []string{""}
	}
	subID, _ := b.DeviceSubID.Int()
	if purpose == PurposeRegistration {
		if set := segmentSet(b.Type, subID); set != nil {
			var out []string
			for _, s := range set {
				if !slices.Contains(b.Exception, s) {
					out = append(out, s)
				}
			}
			if len(out) > count {
				out = out[:count]
			}
			return out
		}
	}
	var out []string
	for _, s := range b.BioSubType {
		if s != "" && len(out) < count {
			out = append(out, s)
		}
	}
	for len(out) < count && len(out) < MaxBiometrics {
		out = append(out, SubtypeUnknown)
	}
	return out
}
