package auth_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/sbi"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"4827364519283746","individualIdType":"VID","consent":true,` +
		`"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao","dateOfBirth":"1990-04-01"},"matchMode":"exact"}`))
	f.Add([]byte(`{"transactionId":"txn-1234","individualId":"4827364519283746","consent":true,"requestedAuth":{"bio":true,"demo":true},` +
		`"demographics":{"fullName":"Asha"},"matchMode":"partial","biometrics":{"biometrics":[{"specVersion":"0.9.5","data":"a.b.c","hash":"00","sessionKey":"k","thumbprint":"T","error":{"errorCode":"0","errorInfo":"Success"}}]}}`))
	f.Add([]byte(`{"transactionId":"x","requestedAuth":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := auth.ParseRequest(b)
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
