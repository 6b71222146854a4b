package appliance_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/edgetrust/edgetrust/appliance"
)

// FuzzLoadConfig: the appliance's config file is untrusted input. LoadConfig
// and Validate must never panic; a config they accept must write back to
// JSON and load again to the same settings (so what `config show`-style
// tooling prints is what runs).
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		// packaging/appliance/appliance.json
		`{"state": "/var/lib/edgetrust-appliance", "listen": "127.0.0.1:8443", "tpm": "/dev/tpmrm0", "stalePolicy": "reject"}`,
		`{"state": "s", "central": "https://central.example.org", "feedKeys": ["k.pem"], "pollWait": "30s", "maxStaleness": "10m"}`,
		`{"state": "s", "rateLimit": -1, "maxInFlight": 0, "rpRateLimit": 20, "rpBurst": 40, "targetFMR": 1e-4}`,
		`{"state": "s", "lockoutFailures": 5, "lockoutDuration": "15m", "rpAuth": "cert+key", "decisionSigning": "tpm"}`,
		`{"state": "s", "state": "t"}`,
		`{"State": "s"}`,
		`{"state": "s", "pollWait": "-1h"}`,
		`{"state": "s", "pollWait": 30}`,
		`{"state": "s", "centralReplicas": ["ftp://x", "https://y"]}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "appliance.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skip(err)
		}
		c, err := appliance.LoadConfig(p)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a validated config does not marshal: %v", err)
		}
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Skip(err)
		}
		again, err := appliance.LoadConfig(p)
		if err != nil {
			t.Fatalf("a validated config, written back, does not load: %v\n%s", err, out)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("a validated config, written back, does not validate: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
	})
}
