package sbi

import "strconv"

// MinimalRequest builds the request the capture must answer from the
// transactionId ("" takes the first data payload's) and the (not yet
// verified) data payloads: the signed data
// is then checked against itself for purpose, env and domainUri, and
// against the caller for transactionId — the binding that matters.
func MinimalRequest(txn, previousHash string, resp *CaptureResponse) *CaptureRequest {
	req := &CaptureRequest{TransactionID: txn}
	counts := map[string]int{}
	var order []string
	for i := range resp.Biometrics[:min(len(resp.Biometrics), MaxBiometrics)] {
		e := &resp.Biometrics[i]
		d := peekData(e.Data)
		if d == nil {
			continue
		}
		if req.Purpose == "" {
			req.Purpose, req.Env, req.SpecVersion = d.Purpose, d.Env, e.SpecVersion
			if req.TransactionID == "" {
				req.TransactionID = d.TransactionID
			}
			if d.DomainURI != nil {
				req.DomainURI = *d.DomainURI
			}
		}
		if !ValidType(d.BioType) {
			continue
		}
		if counts[d.BioType] == 0 {
			order = append(order, d.BioType)
		}
		counts[d.BioType]++
	}
	for _, t := range order {
		req.Bio = append(req.Bio, BioRequest{Type: t, Count: NumString(strconv.Itoa(counts[t])), PreviousHash: previousHash})
	}
	if len(req.Bio) == 0 {
		return nil
	}
	return req
}

// peeked is what MinimalRequest needs from a data payload.
type peeked struct {
	BioType   string  `json:"bioType"`
	Purpose   string  `json:"purpose"`
	Env       string  `json:"env"`
	DomainURI *string `json:"domainUri"`
	// TransactionID is taken only when the caller gives none (an RCAPTURE
	// answer handed over without its request).
	TransactionID string `json:"transactionId"`
}

// peekData decodes the fields of a data JWS payload MinimalRequest needs,
// without verifying anything (the verifier does that, on the same bytes);
// nil when it does not decode.
func peekData(jws string) *peeked {
	payload, err := PeekPayload(jws)
	if err != nil {
		return nil
	}
	// The same strict decoding as the verifier's, so the request built
	// here is read from the bytes the verifier will judge.
	var d peeked
	if decodeSigned(payload, &d) != nil {
		return nil
	}
	return &d
}
