package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// TestClockReachesSignedTimestamps: the service's clock (Options.Now, e.g.
// a host clock a day fast) is the one every signed timestamp carries, so a
// skewed device is caught by the verifier's rules instead of hidden by a
// second clock that happens to be right.
func TestClockReachesSignedTimestamps(t *testing.T) {
	skew := 24 * time.Hour
	ida := newAuthServer(t)
	cfg := Config{State: t.TempDir(), TPM: "sim", Dev: true, Devices: DevDevices("T"),
		EncryptionCerts: map[string]string{"*": ida.path}}
	svc, err := Start(ctx, cfg, Options{Now: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	req := authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN")
	_, raw, err := (&client.Client{}).Capture(ctx, svc.Port(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sbi.ParseCaptureResponse(raw)
	if err != nil || len(resp.Biometrics) != 1 {
		t.Fatalf("capture: %v\n%s", err, raw)
	}
	j, err := sbi.ParseJWS(resp.Biometrics[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sbi.ParseCaptureData(j.Payload)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"data.timestamp": d.Timestamp, "digitalId.dateTime": digitalIDTime(t, d.DigitalID)} {
		ts, err := sbi.ParseTime(s)
		if err != nil {
			t.Fatalf("%s %q: %v", what, s, err)
		}
		if off := time.Until(ts); off < skew-time.Minute || off > skew+time.Minute {
			t.Errorf("%s is %v from the host clock, want the service clock's %v", what, off.Round(time.Second), skew)
		}
	}
}

func digitalIDTime(t *testing.T, jws string) string {
	t.Helper()
	j, err := sbi.ParseJWS(jws)
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		DateTime string `json:"dateTime"`
	}
	if err := json.Unmarshal(j.Payload, &id); err != nil {
		t.Fatal(err)
	}
	return id.DateTime
}
