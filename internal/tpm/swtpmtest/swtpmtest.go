package swtpmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Required reports whether CI demands swtpm (EDGETRUST_REQUIRE_SWTPM=1):
// then a missing swtpm fails the test instead of skipping it.
func Required() bool { return os.Getenv("EDGETRUST_REQUIRE_SWTPM") == "1" }

// Swtpm is a running swtpm.
type Swtpm struct {
	URL  string // swtpm://127.0.0.1:PORT, for tpm.Open
	Addr string // 127.0.0.1:PORT (data channel)
	TCTI string // for tpm2-tools: swtpm:host=127.0.0.1,port=PORT
	Dir  string // its state directory
}

func freePortPair(t testing.TB) int {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p >= 65535 {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	t.Fatal("no free port pair on loopback")
	return 0
}

// Start starts a swtpm with a fresh state. It skips the test, saying why,
// when swtpm is not installed, unless Required.
func Start(t testing.TB) *Swtpm {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if Required() {
			t.Fatal("swtpm is not installed but EDGETRUST_REQUIRE_SWTPM=1: apt-get install swtpm swtpm-tools")
		}
		t.Skip("swtpm not installed (apt-get install swtpm swtpm-tools); skipping the real-TPM test")
	}
	// Not t.TempDir: subtest names may hold commas, which swtpm's option
	// syntax cannot take in a path.
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for attempt := 0; attempt < 3; attempt++ {
		port := freePortPair(t)
		cmd := exec.Command(bin, "socket", "--tpm2",
			"--tpmstate", "dir="+dir,
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--flags", "not-need-init,startup-clear",
			"--log", "file="+filepath.Join(dir, "swtpm.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting swtpm: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				return &Swtpm{URL: "swtpm://" + addr, Addr: addr, Dir: dir,
					TCTI: fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", port)}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		log, _ := os.ReadFile(filepath.Join(dir, "swtpm.log"))
		t.Logf("swtpm on port %d did not listen (attempt %d): %s", port, attempt+1, log)
	}
	t.Fatal("swtpm did not start listening")
	return nil
}
