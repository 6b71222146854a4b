package serialport

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.bug.st/serial/enumerator"
)

func fakePorts(t *testing.T, ports ...*enumerator.PortDetails) {
	old := lister
	lister = func() ([]*enumerator.PortDetails, error) { return ports, nil }
	t.Cleanup(func() { lister = old })
}

func TestResolve(t *testing.T) {
	fakePorts(t,
		&enumerator.PortDetails{Name: "/dev/ttyS0"},
		&enumerator.PortDetails{Name: "/dev/ttyUSB1", IsUSB: true, VID: "10C4", PID: "EA60"},
		&enumerator.PortDetails{Name: "/dev/ttyACM0", IsUSB: true, VID: "2341", PID: "0043"},
	)
	cases := map[string]string{
		"/dev/ttyS3":    "/dev/ttyS3",
		"usb:10c4:ea60": "/dev/ttyUSB1",
		"usb:10C4:EA60": "/dev/ttyUSB1",
		"usb:2341:0043": "/dev/ttyACM0",
		"auto":          "/dev/ttyUSB1",
	}
	for spec, want := range cases {
		got, err := Resolve(spec)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	if _, err := Resolve("usb:1a86:7523"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "1a86:7523") {
		t.Errorf("absent adapter: %v", err)
	}
	for _, bad := range []string{"", "usb:1a86", "usb:1a86:75230", "usb:xyzw:0001"} {
		if _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%q) accepted", bad)
		}
	}
}

func TestResolveAmbiguous(t *testing.T) {
	fakePorts(t,
		&enumerator.PortDetails{Name: "/dev/ttyUSB0", IsUSB: true, VID: "1a86", PID: "7523"},
		&enumerator.PortDetails{Name: "/dev/ttyUSB1", IsUSB: true, VID: "0403", PID: "6001"},
	)
	_, err := Resolve("auto")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "/dev/ttyUSB0") || !strings.Contains(err.Error(), "/dev/ttyUSB1") {
		t.Fatalf("err = %v", err)
	}
}

func TestList(t *testing.T) {
	fakePorts(t,
		&enumerator.PortDetails{Name: "/dev/ttyUSB1", IsUSB: true, VID: "10C4", PID: "EA60", Product: "CP2102"},
		&enumerator.PortDetails{Name: "/dev/ttyS0"},
	)
	got, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "/dev/ttyS0" || got[1].VID != "10c4" || got[1].Product != "CP2102" {
		t.Fatalf("List = %+v", got)
	}
}

func TestOpenPtyAndTimeout(t *testing.T) {
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	p, err := Open(s.Name(), 57600)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Raw mode: CR and LF pass untouched, nothing is echoed.
	if _, err := m.Write([]byte{0xEF, 0x01, 0x0D, 0x0A, 0x03}); err != nil {
		t.Fatal(err)
	}
	p.SetReadTimeout(time.Second)
	buf := make([]byte, 16)
	n, err := p.Read(buf)
	if err != nil || string(buf[:n]) != "\xEF\x01\x0D\x0A\x03" {
		t.Fatalf("read % X, %v", buf[:n], err)
	}
	p.SetReadTimeout(50 * time.Millisecond)
	start := time.Now()
	if n, err := p.Read(buf); n != 0 || err != nil || time.Since(start) < 40*time.Millisecond {
		t.Fatalf("timeout read = %d, %v after %v", n, err, time.Since(start))
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open("/dev/does-not-exist", 57600); err == nil || !strings.Contains(err.Error(), "/dev/does-not-exist") {
		t.Fatalf("err = %v", err)
	}
}
