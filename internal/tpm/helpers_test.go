package tpm

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// requireSwtpm is set by CI: there a missing swtpm is a failure, not a skip.
func requireSwtpm() bool { return os.Getenv("EDGETRUST_REQUIRE_SWTPM") == "1" }

func openSimT(t testing.TB) *TPM {
	t.Helper()
	tp, err := Open(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return tp
}

// swtpmProc is a real swtpm process on loopback, started for one test.
type swtpmProc struct {
	Port int
	URL  string
	TCTI string
	cmd  *exec.Cmd
}

func freePortPair(t testing.TB) int {
	for i := 0; i < 20; i++ {
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

// startSwtpm starts Debian's swtpm with a fresh state directory. It skips the
// test, saying why, when swtpm is not installed, unless CI requires it.
func startSwtpm(t testing.TB) *swtpmProc {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if requireSwtpm() {
			t.Fatal("swtpm is not installed but EDGETRUST_REQUIRE_SWTPM=1: apt-get install swtpm swtpm-tools")
		}
		t.Skip("swtpm not installed (apt-get install swtpm swtpm-tools); skipping the real-swtpm test")
	}
	dir := t.TempDir()
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
		p := &swtpmProc{Port: port, cmd: cmd,
			URL:  fmt.Sprintf("swtpm://127.0.0.1:%d", port),
			TCTI: fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", port)}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				return p
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Fatal("swtpm did not start listening")
	return nil
}

func openURL(t testing.TB, url string) *TPM {
	t.Helper()
	tp, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}

// backends runs f against the simulator and against a real swtpm.
func backends(t *testing.T, f func(t *testing.T, tp *TPM)) {
	t.Run("sim", func(t *testing.T) { f(t, openSimT(t)) })
	t.Run("swtpm", func(t *testing.T) {
		s := startSwtpm(t)
		f(t, openURL(t, s.URL))
	})
}
