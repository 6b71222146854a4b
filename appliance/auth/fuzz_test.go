package auth_test

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/sbi"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"4827364519283746","individualIdType":"VID","consent":true,` +
		`"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao","dateOfBirth":"1990-04-01"},"matchMode":"exact"}`))
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"4827364519283746","consent":true,"requestedAuth":{"bio":true,"demo":true},` +
		`"demographics":{"fullName":"Asha"},"matchMode":"partial","biometrics":{"biometrics":[{"specVersion":"0.9.5","data":"a.b.c","hash":"00","sessionKey":"k","thumbprint":"T","error":{"errorCode":"0","errorInfo":"Success"}}]}}`))
	f.Add([]byte(`{"transactionId":"x","requestedAuth":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"0000000000000000","individualId":"4827364519283746","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha"}}`))
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"4827364519283746","consent":true,"requestedAuth":{"bio":true},"biometrics":{"biometrics":[{},{},{},{}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r *auth.Request
		var err error
		// The memory budget of issue #19, for whatever the fuzzer finds.
		if n, budget := httpxtest.Allocated(func() { r, err = auth.ParseRequest(b) }), httpxtest.Budget(len(b)); n > budget {
			t.Fatalf("parsing %d bytes allocated %d (budget %d)", len(b), n, budget)
		}
		if err != nil {
			if !errors.Is(err, auth.ErrBadRequest) {
				t.Fatalf("error not wrapping ErrBadRequest: %v", err)
			}
			return
		}
		if !sbi.ValidTransactionID(r.TransactionID) || r.IndividualID == "" || len(r.IndividualID) > auth.MaxIndividualID ||
			r.IndividualIDType != "VID" || (!r.RequestedAuth.Demo && !r.RequestedAuth.Bio) ||
			(r.MatchMode != auth.MatchExact && r.MatchMode != auth.MatchPartial) {
			t.Fatalf("accepted %+v", r)
		}
		if r.RequestedAuth.Demo != (len(r.Demographics) > 0) || len(r.Demographics) > auth.MaxDemographics {
			t.Fatalf("demographics %d with demo %v", len(r.Demographics), r.RequestedAuth.Demo)
		}
		for k, v := range r.Demographics {
			if k == "" || v == "" || len(k) > auth.MaxAttrName || len(v) > auth.MaxAttrValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatal("an out-of-bounds attribute was accepted")
			}
		}
		if r.RequestedAuth.Bio != (len(r.Biometrics) > 0) {
			t.Fatal("biometrics without bio or bio without biometrics")
		}
	})
}

// FuzzVerifyJWS: a decision JWS from anywhere (relying parties run this)
// is refused or verified within the memory budget; its header is strict.
func FuzzVerifyJWS(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	f.Add(enc(`{"alg":"RS256","typ":"JWT","x5c":["MIIB"]}`) + "." + enc(`{}`) + ".c2ln")
	f.Add(enc(`{"alg":"none","alg":"RS256","x5c":["MIIB"]}`) + "." + enc(`{}`) + ".c2ln")
	f.Add(enc(`{"alg":"RS256","x5c":["a","b","c","d","e","f"]}`) + "..")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, jws string) {
		var payload []byte
		var chain []*x509.Certificate
		var err error
		if n, budget := httpxtest.Allocated(func() { payload, chain, err = auth.VerifyJWS(jws) }), httpxtest.Budget(len(jws)); n > budget {
			t.Fatalf("verifying %d bytes allocated %d (budget %d)", len(jws), n, budget)
		}
		if err == nil && (len(chain) == 0 || payload == nil) {
			t.Fatalf("verified without a chain or payload")
		}
	})
}

// TestVerifyJWSStrictHeader: a decision whose header repeats alg or x5c,
// or carries members the appliance never writes, is refused before any
// certificate is parsed.
func TestVerifyJWSStrictHeader(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		`{"alg":"RS256","alg":"RS256","x5c":["MIIB"]}`,
		`{"alg":"RS256","x5c":["MIIB"],"x5c":["MIIB"]}`,
		`{"alg":"RS256","x5c":["MIIB"],"jku":"https://example.invalid"}`,
		`{"Alg":"RS256","x5c":["MIIB"]}`,
		"{\"alg\":\"RS256\xff\",\"x5c\":[\"MIIB\"]}",
		`{"alg":"RS256","x5c":["1","2","3","4","5"]}`,
	} {
		_, _, err := auth.VerifyJWS(enc(h) + "." + enc(`{}`) + ".c2ln")
		if err == nil || err.Error() != "auth: JWS header is not RS256 or ES256 with an x5c chain" {
			t.Errorf("header %s: %v", h, err)
		}
	}
}
