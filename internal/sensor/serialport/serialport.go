package serialport

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// Adapter is a USB-to-serial bridge commonly wired to fingerprint modules.
type Adapter struct {
	VID, PID string // lower-case hex, as the enumerator reports them
	Name     string
}

// KnownAdapters are the bridges "auto" looks for.
var KnownAdapters = []Adapter{
	{"1a86", "7523", "WCH CH340"},
	{"10c4", "ea60", "Silicon Labs CP210x"},
	{"0403", "6001", "FTDI FT232R"},
	{"0403", "6015", "FTDI FT231X"},
	{"067b", "2303", "Prolific PL2303"},
}

// Info describes one serial port.
type Info struct {
	Name         string
	USB          bool
	VID, PID     string
	SerialNumber string
	Product      string
}

// lister is swapped in tests; enumeration needs real hardware otherwise.
var lister = func() ([]*enumerator.PortDetails, error) {
	return enumerator.GetDetailedPortsList()
}

// List returns the serial ports of the machine with their USB IDs.
func List() ([]Info, error) {
	ports, err := lister()
	if err != nil {
		return nil, fmt.Errorf("serialport: list ports: %w", err)
	}
	out := make([]Info, 0, len(ports))
	for _, p := range ports {
		out = append(out, Info{
			Name: p.Name, USB: p.IsUSB,
			VID: strings.ToLower(p.VID), PID: strings.ToLower(p.PID),
			SerialNumber: p.SerialNumber, Product: p.Product,
		})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ErrNotFound means no port matched; ErrAmbiguous means several did.
var (
	ErrNotFound  = errors.New("serialport: no matching serial port")
	ErrAmbiguous = errors.New("serialport: several serial ports match")
)

// Find returns the one port with the given USB IDs (hex, any case).
func Find(vid, pid string) (string, error) {
	return find([]Adapter{{VID: strings.ToLower(vid), PID: strings.ToLower(pid)}})
}

func find(want []Adapter) (string, error) {
	ports, err := List()
	if err != nil {
		return "", err
	}
	var hits []string
	for _, p := range ports {
		if !p.USB {
			continue
		}
		for _, a := range want {
			if p.VID == a.VID && p.PID == a.PID {
				hits = append(hits, fmt.Sprintf("%s (%s:%s)", p.Name, p.VID, p.PID))
				break
			}
		}
	}
	switch len(hits) {
	case 0:
		var ids []string
		for _, a := range want {
			ids = append(ids, a.VID+":"+a.PID)
		}
		return "", fmt.Errorf("%w for USB %s: is the module plugged in? (edgetrust-bridge ports lists what is there)", ErrNotFound, strings.Join(ids, ", "))
	case 1:
		return strings.SplitN(hits[0], " ", 2)[0], nil
	}
	return "", fmt.Errorf("%w: %s; pick one with --port", ErrAmbiguous, strings.Join(hits, ", "))
}

// Resolve turns a port spec into a device path:
//
//	/dev/ttyUSB0, COM3   used as is
//	usb:1a86:7523        the one port with that USB vendor:product ID
//	auto                 the one port behind a known USB-serial bridge
func Resolve(spec string) (string, error) {
	switch {
	case spec == "":
		return "", errors.New("serialport: no port given (use --port /dev/ttyUSB0, usb:VID:PID or auto)")
	case spec == "auto":
		return find(KnownAdapters)
	case strings.HasPrefix(spec, "usb:"):
		parts := strings.Split(strings.TrimPrefix(spec, "usb:"), ":")
		if len(parts) != 2 || !isHex4(parts[0]) || !isHex4(parts[1]) {
			return "", fmt.Errorf("serialport: %q: want usb:VID:PID with 4 hex digits each, e.g. usb:1a86:7523", spec)
		}
		return Find(parts[0], parts[1])
	}
	return spec, nil
}

func isHex4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Open opens name at baud, 8 data bits, no parity, one stop bit: the
// module's fixed framing. The modem lines are left as the driver sets them.
func Open(name string, baud int) (serial.Port, error) {
	p, err := serial.Open(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("serialport: open %s at %d baud: %w", name, baud, err)
	}
	return p, nil
}

// ModemLines reads CTS, DSR, RI and DCD for diagnostics. Pseudo-terminals
// and some adapters do not have them; the error says so.
func ModemLines(p serial.Port) (*serial.ModemStatusBits, error) {
	return p.GetModemStatusBits()
}
