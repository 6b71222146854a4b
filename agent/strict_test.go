package agent

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// The control socket reads each line strictly: a second "device" must not
// pick another device than the first, and nothing undefined is obeyed.
func TestControlSocketStrict(t *testing.T) {
	state := t.TempDir()
	startDev(t, state)
	c, err := net.Dial("unix", filepath.Join(state, ControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, line := range []string{
		`{"op":"set-status","device":"nope","device":"TFA000000001","status":"Not Ready"}`,
		`{"op":"set-status","device":"TFA000000001","Status":"Not Ready"}`,
		`{"op":"set-status","device":"TFA000000001","status":"Not Ready","extra":1}`,
		"{\"op\":\"set-status\",\"device\":\"TFA000000001\",\"status\":\"Not \xffReady\"}",
		`{"op":"list"} {"op":"list"}`,
		`{"op":"list","ms":[[[1]]]}`,
	} {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		ans, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ans, `"ok":false`) || !strings.Contains(ans, "not a JSON control request") {
			t.Errorf("%q: %s", line, ans)
		}
	}
	resp, err := Control(ctx, state, ControlRequest{Op: "list"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Devices {
		if d.ID == "TFA000000001" && d.Status != "Ready" {
			t.Errorf("a refused line changed the device: %s", d.Status)
		}
	}
}

func TestLoadConfigStrict(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ body, kind string }{
		"duplicate env":  {`{"state":"/s","env":"Production","env":"Developer"}`, jsonx.KindDuplicate},
		"invalid UTF-8":  {"{\"state\":\"/s\xff\"}", jsonx.KindUTF8},
		"case variant":   {`{"state":"/s","ENV":"Production"}`, jsonx.KindUnknown},
		"unknown field":  {`{"state":"/s","devcies":[]}`, jsonx.KindUnknown},
		"duplicate deep": {`{"devices":[{"id":"a","id":"b"}]}`, jsonx.KindDuplicate},
		"trailing":       {`{"state":"/s"}{}`, jsonx.KindTrailing},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(p)
		var je *jsonx.Error
		if !asJSONX(err, &je) || je.Kind != c.kind {
			t.Errorf("%s: %v, want a %s error", name, err, c.kind)
		}
	}
	p := filepath.Join(dir, "good.json")
	os.WriteFile(p, []byte(`{"state":"/s","env":"Staging","encryptionCerts":{"*":"/ida.pem"},"devices":[{"id":"a","type":"Face","subType":"Full face","purpose":"Auth"}]}`), 0o600)
	if c, err := LoadConfig(p); err != nil || c.Env != "Staging" || len(c.Devices) != 1 {
		t.Fatalf("good config: %+v %v", c, err)
	}
}

func TestCentralEnrolmentStrict(t *testing.T) {
	state := t.TempDir()
	os.WriteFile(filepath.Join(state, CentralFile), []byte(`{"url":"https://a","url":"https://b"}`), 0o600)
	if _, err := LoadCentralEnrolment(state); err == nil {
		t.Fatal("duplicate url in central.json accepted")
	}
}

func asJSONX(err error, je **jsonx.Error) bool { return errors.As(err, je) }
