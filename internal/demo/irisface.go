package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// Issue #18's part of the demo: the person's eyes and face are enrolled
// with the fingers, and authenticate offline on their own.

// irisFaceCaptures presents synthetic person to the emulated iris and face
// cameras and returns `--capture FILE` arguments for person enrol: an
// RCAPTURE of both eyes and one of the face.
func (c *chain) irisFaceCaptures(ctx context.Context, aState, person string) ([]string, error) {
	for _, dev := range []string{"ETIR000000001", "ETIA000000001", "ETCR000000001", "ETCA000000001"} {
		if _, err := c.run(ctx, "edgetrust-agent", "present", "--state", aState, "--device", dev, "--present=true", "--person", person); err != nil {
			return nil, err
		}
	}
	var args []string
	for _, b := range []sbi.BioRequest{
		{Type: sbi.TypeIris, Count: "2", RequestedScore: "40", DeviceID: "ETIR000000001", DeviceSubID: "3"},
		{Type: sbi.TypeFace, Count: "1", RequestedScore: "40", DeviceID: "ETCR000000001", DeviceSubID: "0"},
	} {
		req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
			Timeout: "10000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()), Bio: []sbi.BioRequest{b}}
		_, raw, err := (&client.Client{App: "edgetrust-demo"}).RCapture(ctx, c.agent.Port, req)
		if err != nil {
			return nil, fmt.Errorf("%s RCAPTURE: %w", b.Type, err)
		}
		f := filepath.Join(c.state, "rcapture-"+b.Type+".json")
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--capture", f)
	}
	return args, nil
}

// irisFaceAuth authenticates vid by a fresh iris capture, then by a fresh
// face capture, each alone, through auth (POST /v1/auth).
func (c *chain) irisFaceAuth(ctx context.Context, vid string, auth func(map[string]any) (map[string]any, time.Duration, error)) error {
	for _, b := range []sbi.BioRequest{
		{Type: sbi.TypeIris, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: "ETIA000000001", DeviceSubID: "0"},
		{Type: sbi.TypeFace, Count: "1", RequestedScore: "40", DeviceID: "ETCA000000001", DeviceSubID: "0"},
	} {
		txn := fmt.Sprintf("demo-%d", time.Now().UnixNano())
		req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
			Timeout: "10000", DomainURI: applianceDomain, TransactionID: txn, Bio: []sbi.BioRequest{b}}
		_, raw, err := (&client.Client{App: "edgetrust-demo"}).Capture(ctx, c.agent.Port, req)
		if err != nil {
			return fmt.Errorf("%s CAPTURE: %w", b.Type, err)
		}
		d, took, err := auth(map[string]any{"transactionId": txn, "individualId": vid, "individualIdType": "VID", "consent": true,
			"requestedAuth": map[string]bool{"bio": true}, "biometrics": json.RawMessage(raw)})
		if err != nil {
			return err
		}
		if d["authStatus"] != true {
			return fmt.Errorf("a fresh %s capture of the enrolled person was refused: %v", b.Type, d["errors"])
		}
		what := map[string]string{sbi.TypeIris: "iris (synthetic eye; iris code, masked Hamming distance)",
			sbi.TypeFace: "face (sample portrait; dlib ResNet descriptor, distance)"}[b.Type]
		step("fresh CAPTURE of the %s: authStatus true in %v", what, took.Round(time.Millisecond))
	}
	return nil
}
