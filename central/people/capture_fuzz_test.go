package people

import (
	"encoding/base64"
	"testing"

	"github.com/edgetrust/edgetrust/sbi"
)

// FuzzPeekSerial: the serial is read from untrusted RCAPTURE data before
// verification (to pick registry rows); it must never panic and must give
// back only what a digital ID payload says.
func FuzzPeekSerial(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	did := b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(`{"serialNo":"ETFR000000001"}`)) + ".sig"
	f.Add(b64([]byte(`{"alg":"RS256"}`)) + "." + b64([]byte(`{"digitalId":"`+did+`"}`)) + ".sig")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, jws string) {
		if s := peekSerial(jws); s != "" && len(jws) > sbi.MaxJWSSize {
			t.Fatal("an oversized JWS was read")
		}
	})
}

// FuzzMinimalRequest: the request is rebuilt from untrusted data payloads
// when an RCAPTURE answer comes without its request.
func FuzzMinimalRequest(f *testing.F) {
	f.Add([]byte(`{"biometrics":[{"specVersion":"0.9.5","data":"eyJhIjoxfQ.eyJiaW9UeXBlIjoiRmluZ2VyIiwicHVycG9zZSI6IlJlZ2lzdHJhdGlvbiJ9.c2ln"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp, err := sbi.ParseCaptureResponse(raw)
		if err != nil {
			return
		}
		if req := sbi.MinimalRequest("", "", resp); req != nil && len(req.Bio) == 0 {
			t.Fatal("a request without bio elements")
		}
	})
}
