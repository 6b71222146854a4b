package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoadConfig: the agent's config file is untrusted input. LoadConfig
// must never panic, must refuse what is past ConfigLimits, and a config it
// accepts must write back to JSON and load again unchanged.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		// packaging/agent/agent.json
		`{"state": "/var/lib/edgetrust-agent", "tpm": "/dev/tpmrm0", "devices": [{"id": "CHANGE-ME-FINGER-1", "type": "Finger", "subType": "Single", "purpose": "Auth", "sensor": "auto"}]}`,
		`{"state": "s", "tpm": "sim", "dev": true, "port": 4501, "env": "Developer", "encryptionCerts": {"*": "c.pem", "https://x": "d.pem"}}`,
		`{"state": "s", "devices": [{"id": "a", "baud": 57600}, {"id": "b", "sensor": "usb:1a86:7523"}]}`,
		`{"state": "s", "state": "t"}`,
		`{"devices": [[[[[]]]]]}`,
		"{\"provider\": \"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "agent.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skip(err)
		}
		c, err := LoadConfig(p)
		if err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("an accepted config does not marshal: %v", err)
		}
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Skip(err)
		}
		again, err := LoadConfig(p)
		if err != nil {
			t.Fatalf("an accepted config, written back, does not load: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
	})
}
