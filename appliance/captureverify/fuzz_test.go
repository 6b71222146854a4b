package captureverify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/sbi"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"transactionId":"txn-1","response":{"biometrics":[]}}`))
	f.Add([]byte(`{"transactionId":"txn-1","request":{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","transactionId":"txn-1","bio":[{"type":"Finger","count":"1"}]},"response":{"biometrics":[{"data":"a.b.c"}]}}`))
	f.Add([]byte(`{"transactionId":"txn-1","response":{"biometrics":[{"specVersion":"0.9.5","data":"eyJhbGciOiJSUzI1NiJ9.eyJiaW9UeXBlIjoiRmluZ2VyIiwicHVycG9zZSI6IkF1dGgifQ.c2ln","hash":"00"}]}}`))
	f.Add([]byte(`{"transactionId":"x","response":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"transactionId":"txn-1","transactionId":"txn-2","response":{"biometrics":[{},{},{}]}}`))
	f.Add([]byte(`{"transactionId":"txn-1","response":{"biometrics":[[[[[[[[[[1]]]]]]]]]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p *Parsed
		var err error
		// The memory budget of issue #19, for whatever the fuzzer finds.
		if n, budget := httpxtest.Allocated(func() { p, err = ParseRequest(b) }), httpxtest.Budget(len(b)); n > budget {
			t.Fatalf("parsing %d bytes allocated %d (budget %d)", len(b), n, budget)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error does not wrap ErrBadRequest: %v", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
			return
		}
		if p.TransactionID == "" || (p.Response == nil && p.ResponseErr == nil) {
			t.Fatalf("accepted without transactionId or response: %+v", p)
		}
		if p.Request != nil {
			if p.Request.TransactionID != p.TransactionID || len(p.Request.Bio) == 0 {
				t.Fatalf("request not bound to transactionId or empty: %+v", p.Request)
			}
			if _, err := json.Marshal(p.Request); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestParseRequestRefusals(t *testing.T) {
	big := make([]byte, MaxRequestSize+1)
	for _, c := range []struct{ name, body string }{
		{"not JSON", `{`},
		{"no transactionId", `{"response":{"biometrics":[]}}`},
		{"bad transactionId", `{"transactionId":"t x","response":{"biometrics":[]}}`},
		{"no response", `{"transactionId":"txn-1"}`},
		{"null response", `{"transactionId":"txn-1","response":null}`},
		{"bad previousHash", `{"transactionId":"txn-1","previousHash":"zz","response":{}}`},
		{"request for another transaction", `{"transactionId":"txn-1","request":{"purpose":"Auth","transactionId":"txn-2","bio":[{"type":"Finger","count":"1"}]},"response":{}}`},
		{"request without bio", `{"transactionId":"txn-1","request":{"purpose":"Auth","transactionId":"txn-1","bio":[]},"response":{}}`},
		{"trailing data", `{"transactionId":"txn-1","response":{}} {}`},
		{"too large", string(big)},
	} {
		if _, err := ParseRequest([]byte(c.body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: want ErrBadRequest, got %v", c.name, err)
		}
	}
	// The contract is closed (issue #19): an unknown member is refused,
	// and so is a name in another case, which encoding/json folded.
	for _, body := range []string{
		`{"transactionId":"txn-1","response":{},"extra":1}`,
		`{"TransactionId":"txn-1","response":{}}`,
		`{"transactionId":"txn-1","transactionId":"txn-2","response":{}}`,
		"{\"transactionId\":\"txn-1\",\"response\":{\"biometrics\":[{\"data\":\"a.b\xff\"}]}}",
	} {
		if _, err := ParseRequest([]byte(body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: want ErrBadRequest, got %v", body, err)
		}
	}
	// A response that is not an SBI answer is not a bad request: it is an invalid capture.
	for _, body := range []string{
		`{"transactionId":"txn-1","response":{"biometrics":"nope"}}`,
		`{"transactionId":"txn-1","response":{"biometrics":[{"data":"a.b.c","extra":1}]}}`,
	} {
		p, err := ParseRequest([]byte(body))
		if err != nil || p.Response != nil || p.ResponseErr == nil || p.TransactionID != "txn-1" {
			t.Fatalf("%s: %+v %v", body, p, err)
		}
	}
}

// FuzzParseCapture: the SBI capture of an authentication request, on its
// own, within the memory budget; whatever parses is bounded.
func FuzzParseCapture(f *testing.F) {
	f.Add([]byte(`{"biometrics":[{"specVersion":"0.9.5","data":"a.b.c","hash":"00","sessionKey":"k","thumbprint":"T","error":{"errorCode":"0","errorInfo":"Success"}}]}`))
	f.Add([]byte(`{"biometrics":[{"data":"a.b.c","data":"x"}]}`))
	f.Add([]byte(`{"biometrics":` + strings.Repeat("[", 20) + `]}`))
	f.Add([]byte(`{"biometrics":[` + strings.Repeat(`{},`, 100) + `{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p *Parsed
		var err error
		if n, budget := httpxtest.Allocated(func() { p, err = ParseCapture("txn-fuzz-1", b) }), httpxtest.Budget(len(b)); n > budget {
			t.Fatalf("parsing %d bytes allocated %d (budget %d)", len(b), n, budget)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error does not wrap ErrBadRequest: %v", err)
			}
			return
		}
		if (p.Response == nil) == (p.ResponseErr == nil) {
			t.Fatalf("response %v and its error %v", p.Response, p.ResponseErr)
		}
		// Request is nil when the entries carry nothing to build it from.
		if p.Response != nil && (len(p.Response.Biometrics) > sbi.MaxBiometrics || p.Request != nil && p.Request.TransactionID != "txn-fuzz-1") {
			t.Fatalf("accepted %d entries, request %+v", len(p.Response.Biometrics), p.Request)
		}
	})
}
