package e2e

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/claim169/base45"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// TestClaim169IssueAndVerifyOffline: central issues identity QR codes and
// exports signed lists; an independent decoder (zbarimg) reads the PNG back
// to the exact text; the appliance verifies offline, by command and over
// HTTP, and rejects every bad input with the stage that failed.
func TestClaim169IssueAndVerifyOffline(t *testing.T) {
	root := t.TempDir()
	e := &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}}
	state := filepath.Join(root, "central")
	e.run("edgetrust-central", "issuer", "init", "--state", state, "--issuer", "https://id.example.org")
	people := filepath.Join(root, "people.csv")
	os.WriteFile(people, []byte("id,fullName,dateOfBirth,gender,email\n"+
		"3918592438,Janardhan BS,19840401,1,janardhan@example.org\n"+
		"5550001,Asha Rao,19900101,2,asha@example.org\n"), 0o644)
	qr := filepath.Join(root, "qr")
	e.run("edgetrust-central", "credential", "issue", "--state", state, "--in", people, "--out", qr, "--png")
	lists := filepath.Join(root, "lists")
	e.run("edgetrust-central", "trust", "export", "--state", state, "--out", lists)
	feedKey := filepath.Join(root, "feed.pem")
	os.WriteFile(feedKey, []byte(e.run("edgetrust-central", "feed-key", "--state", state)), 0o644)
	trustArgs := []string{"--trust", filepath.Join(lists, "trust-list.json"), "--revocations", filepath.Join(lists, "revocation-list.json"), "--list-key", feedKey}

	png := filepath.Join(qr, "000001-3918592438.png")
	text, _ := os.ReadFile(filepath.Join(qr, "000001-3918592438.txt"))
	qrText := strings.TrimSpace(string(text))

	// An independent decoder reads our PNG to the exact text.
	if _, err := exec.LookPath("zbarimg"); err == nil {
		out, err := exec.Command("zbarimg", "--raw", "-q", png).Output()
		if err != nil || strings.TrimSpace(string(out)) != qrText {
			t.Fatalf("zbarimg read %q (%v), we wrote %q", out, err, qrText)
		}
	} else if testtool.Required() {
		t.Fatal("zbarimg is not installed (apt-get install zbar-tools)")
	}

	verify := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := e.cmd(ctx, "edgetrust-appliance", append([]string{"verify-qr"}, args...)...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		return out.String() + errb.String(), err
	}
	out, err := verify(append([]string{"--image", png}, trustArgs...)...)
	if err != nil || !strings.Contains(out, `"fullName": "Janardhan BS"`) {
		t.Fatalf("a valid QR image was not accepted: %v\n%s", err, out)
	}

	// Every bad input is rejected with the stage that failed.
	tampered := []byte(qrText)
	tampered[len(tampered)/2] = map[bool]byte{true: 'B', false: 'A'}[tampered[len(tampered)/2] == 'A']
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(otherPub)
	otherKey := filepath.Join(root, "other.pem")
	os.WriteFile(otherKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	var bomb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"tampered", append([]string{"--text", string(tampered)}, trustArgs...), ""},
		{"expired", append([]string{"--text", qrText, "--now", time.Now().AddDate(6, 0, 0).Format(time.RFC3339)}, trustArgs...), "expired"},
		{"not yet valid (issued in the future)", append([]string{"--text", qrText, "--now", time.Now().AddDate(-1, 0, 0).Format(time.RFC3339)}, trustArgs...), "time:"},
		{"stale lists", append([]string{"--text", qrText, "--now", time.Now().Add(8 * 24 * time.Hour).Format(time.RFC3339)}, trustArgs...), "trust list stale"},
		{"wrong key", []string{"--text", qrText, "--issuer-key", otherKey}, "signature"},
		{"wrong algorithm", []string{"--text", qrText, "--issuer-key", filepath.Join(state, "issuer", "issuer.pub.pem"), "--alg", "ES256"}, "does not fit"},
		{"oversized", append([]string{"--text", strings.Repeat("A", 9000)}, trustArgs...), "size limit"},
		{"decompression bomb", append([]string{"--text", base45.EncodeToString(bomb.Bytes())}, trustArgs...), "decompress"},
	} {
		out, err := verify(c.args...)
		if err == nil {
			t.Errorf("%s: accepted\n%s", c.name, out)
			continue
		}
		if c.want != "" && !strings.Contains(out, c.want) {
			t.Errorf("%s: reason %q does not mention %q", c.name, strings.TrimSpace(out), c.want)
		}
	}

	// Revocation: after revoke + export, the same QR is refused.
	e.run("edgetrust-central", "credential", "revoke", "--state", state, "--id", "3918592438", "--reason", "lost card")
	e.run("edgetrust-central", "trust", "export", "--state", state, "--out", lists)
	if out, err := verify(append([]string{"--image", png}, trustArgs...)...); err == nil || !strings.Contains(out, "revocation: credential revoked") {
		t.Fatalf("revoked credential: %v %s", err, out)
	}

	// The same over HTTP on the appliance daemon, with the lists loaded at start.
	port := freePort(t)
	url := "https://127.0.0.1:" + itoa(port)
	p := e.start("edgetrust-appliance", "serve", "--state", filepath.Join(root, "appliance"), "--listen", "127.0.0.1:"+itoa(port),
		"--feed-key", feedKey, "--qr-trust", filepath.Join(lists, "trust-list.json"), "--qr-revocations", filepath.Join(lists, "revocation-list.json"))
	// Not enrolled with central: a self-signed certificate, trusted by pin.
	trustFile(t, filepath.Join(root, "appliance", "tls", "api-root.pem"), p)
	waitFor(t, "appliance up", 60*time.Second, p, func() bool { return httpOK(url + "/healthz") })
	other, _ := os.ReadFile(filepath.Join(qr, "000002-5550001.png"))
	var a struct {
		Valid  bool
		Stage  string
		Reason string
	}
	if code := postJSON(t, url+"/v1/qr/verify", map[string]any{"image": base64.StdEncoding.EncodeToString(other)}, &a); code != 200 || !a.Valid {
		t.Fatalf("HTTP verify of a valid image: %d %+v", code, a)
	}
	if postJSON(t, url+"/v1/qr/verify", map[string]any{"text": qrText}, &a); a.Valid || a.Stage != "revocation" {
		t.Fatalf("HTTP verify of a revoked credential: %+v", a)
	}
	r, _ := http.Post(url+"/v1/qr/verify", "image/png", bytes.NewReader(make([]byte, 9<<20)))
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d", r.StatusCode)
	}
	r.Body.Close()
}

func itoa(n int) string { return strconv.Itoa(n) }
