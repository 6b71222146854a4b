package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaultBadgerDiskFull (issue #14): central's badger store on a small
// tmpfs that the test fills up. Writes fail with a clear error, central
// keeps serving reads (vendor list, the trust feed), and once space
// returns writes succeed again with nothing lost. It needs root to mount
// the tmpfs: skipped otherwise, and a failure under
// EDGETRUST_REQUIRE_TOOLS=1 when root cannot mount.
func TestFaultBadgerDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (run as root, e.g. in CI's container)")
	}
	root := t.TempDir()
	mnt := filepath.Join(root, "small")
	os.MkdirAll(mnt, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("EDGETRUST_REQUIRE_TOOLS") == "1" {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (%v %s): skipped", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s", mnt, err, out)
		}
	})
	w := &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(mnt, "central")}
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port)}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	added := []string{}
	for i := range 5 {
		id := fmt.Sprintf("VENDOR.%02d", i)
		w.run("edgetrust-central", "vendor", "add", "--id", id, "--name", "before the disk filled")
		added = append(added, id)
	}
	before := fetchTrustFeed(t, w.centralURL, feedKey)

	// Fill the filesystem.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	var st syscall.Statfs_t
	syscall.Statfs(mnt, &st)
	t.Logf("tmpfs full: %d bytes free", st.Bavail*uint64(st.Bsize))

	// Writes fail, clearly; reads go on.
	failed := 0
	var msg string
	for i := range 20 {
		out, err := w.tryRun(time.Minute, "edgetrust-central", "vendor", "add", "--id", fmt.Sprintf("FULL.%02d", i), "--name", "while full")
		if err == nil {
			added = append(added, fmt.Sprintf("FULL.%02d", i)) // absorbed by memory before the disk: must still be kept
			continue
		}
		failed++
		msg = strings.TrimSpace(out)
		if !w.central.alive() {
			t.Fatalf("central died on a full disk:\n%s\n%s", out, w.central.Output())
		}
	}
	if failed == 0 {
		t.Fatal("20 writes on a full filesystem all succeeded: the test did not fill the store's disk")
	}
	t.Logf("full disk: %d of 20 writes refused; the client saw: %s", failed, msg)
	if !httpOK(w.centralURL + "/healthz") {
		t.Log("healthz is not OK while the disk is full")
	}
	list := w.run("edgetrust-central", "vendor", "list")
	for _, id := range added[:5] {
		if !strings.Contains(list, id) {
			t.Fatalf("vendor %s not listed while the disk is full:\n%s", id, list)
		}
	}
	fetchTrustFeed(t, w.centralURL, feedKey).extends(t, before)

	// Space returns: writes succeed, nothing lost.
	os.Remove(filler)
	waitFor(t, "writes succeed again once space returns", 60*time.Second, w.central, func() bool {
		_, err := w.tryRun(time.Minute, "edgetrust-central", "vendor", "add", "--id", "AFTER.00", "--name", "after")
		return err == nil
	})
	added = append(added, "AFTER.00")
	w.central.stop(syscall.SIGTERM)
	w.startCentral()
	list = w.run("edgetrust-central", "vendor", "list")
	for _, id := range added {
		if !strings.Contains(list, id) {
			t.Fatalf("vendor %s lost after the disk filled and central restarted:\n%s", id, list)
		}
	}
	fetchTrustFeed(t, w.centralURL, feedKey).extends(t, before)
	t.Logf("audit after recovery: %s", w.auditVerify(t))
}
