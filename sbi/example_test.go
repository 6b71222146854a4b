package sbi_test

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/edgetrust/edgetrust/sbi"
)

// A device service reads a capture request tolerantly, applies the spec
// rules and starts the hash chain from previousHash.
func Example() {
	body := []byte(`{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":10000,
		"domainUri":"https://ida.example.org","transactionId":"abcd-1234",
		"bio":[{"type":"Finger","count":1,"bioSubType":["UNKNOWN"],"requestedScore":40,
		"deviceId":"1","deviceSubId":0,"previousHash":null}]}`)
	req, err := sbi.ParseCaptureRequest(body)
	if err != nil {
		panic(err)
	}
	fmt.Println(sbi.ValidateCaptureRequest(sbi.PurposeAuth, req).OK())
	fmt.Println(sbi.Segments(sbi.PurposeAuth, &req.Bio[0]))
	chain, _ := sbi.NewHashChain(req.Bio[0].PreviousHash)
	fmt.Println(chain.Next([]byte("FIR\x00020\x00")))
	// Output:
	// true
	// [UNKNOWN]
	// 3C997DDAEBD6E5A8814EC253A8B913A63DBFC0A77246FEFE55512296E94E8904
}

// An appliance verifies a capture answer against the request it sent and
// branches on the problems found.
func Example_verify() {
	var (
		deviceRoots, ftmRoots *x509.CertPool    // partner CA certificates
		idaCert               *x509.Certificate // IDA-FIR encryption certificate
		idaKey                crypto.Decrypter  // e.g. a TPM-held key
		req                   *sbi.CaptureRequest
		raw                   []byte // the CAPTURE answer
	)
	v := &sbi.Verifier{
		DeviceRoots: deviceRoots,
		FTMRoots:    ftmRoots,
		Keys:        []sbi.DecryptionKey{{Cert: idaCert, Key: idaKey}},
	}
	res, problems := v.VerifyCapture(raw, sbi.Expect{Request: req})
	if problems.Has(sbi.CheckSignature) || problems.Has(sbi.CheckChain) {
		fmt.Println("untrusted device")
	}
	for _, p := range problems {
		fmt.Println(p.Segment, p.Check, p.Err)
	}
	if len(problems) == 0 {
		_ = res.Segments[0].ISO // the decrypted ISO record
	}
}
