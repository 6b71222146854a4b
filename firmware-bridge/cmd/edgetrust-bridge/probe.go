package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/sensor/serialport"
)

// linkFlags are the flags every command that talks to a module shares.
type linkFlags struct {
	port     string
	baud     int
	address  string
	password string
	timeout  time.Duration
	retries  int
	minFile  string
}

func (l *linkFlags) register(fs *flagSet) {
	fs.StringVar(&l.port, "port", "", "serial port: a device such as /dev/ttyUSB0, usb:VID:PID (e.g. usb:1a86:7523), or auto")
	fs.IntVar(&l.baud, "baud", 57600, "baud rate (the module's factory setting is 57600)")
	fs.StringVar(&l.address, "address", "FFFFFFFF", "module address in hex")
	fs.StringVar(&l.password, "password", "0", "module password in hex")
	fs.DurationVar(&l.timeout, "timeout", time.Second, "how long to wait for each reply from the module")
	fs.IntVar(&l.retries, "retries", 2, "extra tries after a missing or damaged reply")
	fs.StringVar(&l.minFile, "min-version-file", "", "JSON file with the pinned minimum firmware version; older modules are refused")
}

func (l *linkFlags) config(fs *flagSet) (capture.Config, error) {
	if l.port == "" {
		return capture.Config{}, fmt.Errorf("--port is required")
	}
	addr, err := parseHex32(l.address)
	if err != nil {
		return capture.Config{}, fmt.Errorf("--address: %v", err)
	}
	pw, err := parseHex32(l.password)
	if err != nil {
		return capture.Config{}, fmt.Errorf("--password: %v", err)
	}
	retries := l.retries
	if retries == 0 {
		retries = -1 // the driver reads 0 as "default"
	}
	cfg := capture.Config{Port: l.port, Baud: l.baud, Address: addr, Password: pw, Timeout: l.timeout, Retries: retries}
	if l.minFile != "" {
		cfg.MinVersion = &firmware.FileStore{Path: l.minFile}
	}
	return cfg, nil
}

// open connects to the module the link flags name, with fs's logger;
// on failure it returns the exit code, having said why (cmd names the
// command in the message).
func (l *linkFlags) open(ctx context.Context, fs *flagSet, e *env, cmd string) (*capture.Device, int) {
	cfg, err := l.config(fs)
	if err != nil {
		return nil, fs.usageError("%v", err)
	}
	if cfg.Logger, err = fs.logger(); err != nil {
		return nil, fs.usageError("%v", err)
	}
	d, err := capture.Open(ctx, cfg)
	if err != nil {
		return nil, fail(e, cmd, err)
	}
	return d, 0
}

const probeHelp = `Usage: edgetrust-bridge probe --port PORT [flags]

Checks that a fingerprint module answers and prints what it reports: the
password handshake (VfyPwd), the system parameters (ReadSysPara), product
information (ReadProdInfo) and firmware version (GetFwVer) where the module
has them, and the SHA-256 measurement the agent extends into a TPM PCR.
No image is taken.

When nothing answers, the error names the port, baud rate and timeout:
check the cable, the baud rate (--baud) and the module address (--address).

Examples:
  edgetrust-bridge probe --port /dev/ttyUSB0
  edgetrust-bridge probe --port usb:1a86:7523 --json
`

type probeReport struct {
	Port        string `json:"port"`
	Address     string `json:"address"`
	SystemID    string `json:"system_id"`
	Library     int    `json:"library_size"`
	Security    int    `json:"security_level"`
	PacketSize  int    `json:"packet_size"`
	Baud        int    `json:"baud"`
	Model       string `json:"model,omitempty"`
	Serial      string `json:"serial,omitempty"`
	Batch       string `json:"batch,omitempty"`
	Hardware    string `json:"hardware,omitempty"`
	Sensor      string `json:"sensor,omitempty"`
	Firmware    string `json:"firmware,omitempty"`
	Measurement string `json:"measurement"`
	ModemLines  string `json:"modem_lines"`
}

func runProbe(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "probe", probeHelp)
	var lf linkFlags
	lf.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	d, code := lf.open(ctx, fs, e, "probe")
	if d == nil {
		return code
	}
	defer d.Close()
	info := d.Info()
	r := probeReport{
		Port:        info.Port,
		Address:     fmt.Sprintf("0x%08X", info.SysParams.Address),
		SystemID:    fmt.Sprintf("0x%04X", info.SysParams.SystemID),
		Library:     int(info.SysParams.LibrarySize),
		Security:    int(info.SysParams.SecurityLevel),
		PacketSize:  info.SysParams.PacketSize(),
		Baud:        info.SysParams.Baud(),
		Firmware:    info.Firmware,
		Measurement: "sha256:" + info.Measurement.Hex(),
	}
	if m, err := d.ModemLines(); err != nil {
		r.ModemLines = "not available (" + err.Error() + ")"
	} else {
		r.ModemLines = fmt.Sprintf("CTS=%s DSR=%s RI=%s DCD=%s", onOff(m.CTS), onOff(m.DSR), onOff(m.RI), onOff(m.DCD))
	}
	if p := info.ProdInfo; p != nil {
		r.Model, r.Serial, r.Batch = p.Model, p.Serial, p.Batch
		r.Hardware = fmt.Sprintf("%d.%d", p.HWMajor, p.HWMinor)
		r.Sensor = fmt.Sprintf("%s %dx%d", p.SensorType, p.SensorWidth, p.SensorHeight)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fail(e, "probe", err)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "port:\t%s\n", r.Port)
	fmt.Fprintf(tw, "handshake:\tok\n")
	fmt.Fprintf(tw, "address:\t%s\n", r.Address)
	fmt.Fprintf(tw, "system id:\t%s\n", r.SystemID)
	fmt.Fprintf(tw, "library:\t%d templates\n", r.Library)
	fmt.Fprintf(tw, "security level:\t%d\n", r.Security)
	fmt.Fprintf(tw, "packet size:\t%d bytes\n", r.PacketSize)
	fmt.Fprintf(tw, "baud:\t%d\n", r.Baud)
	unknown := func(s string) string {
		if s == "" {
			return "(not reported)"
		}
		return s
	}
	fmt.Fprintf(tw, "model:\t%s\n", unknown(r.Model))
	if r.Model != "" {
		fmt.Fprintf(tw, "serial:\t%s\n", r.Serial)
		fmt.Fprintf(tw, "batch:\t%s\n", r.Batch)
		fmt.Fprintf(tw, "hardware:\t%s\n", r.Hardware)
		fmt.Fprintf(tw, "sensor:\t%s\n", r.Sensor)
	}
	fmt.Fprintf(tw, "firmware:\t%s\n", unknown(r.Firmware))
	fmt.Fprintf(tw, "measurement:\t%s\n", r.Measurement)
	fmt.Fprintf(tw, "modem lines:\t%s\n", r.ModemLines)
	tw.Flush()
	return exitOK
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

const portsHelp = `Usage: edgetrust-bridge ports [flags]

Lists the serial ports of this machine with their USB vendor:product IDs, to
find the module's adapter. Pass the ID to other commands as --port usb:VID:PID,
or use --port auto when exactly one known USB-serial bridge (CH340, CP210x,
FT232R, FT231X, PL2303) is plugged in.

Example:
  edgetrust-bridge ports
`

func runPorts(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "ports", portsHelp)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	ports, err := serialport.List()
	if err != nil {
		return fail(e, "ports", err)
	}
	if len(ports) == 0 {
		fmt.Fprintln(e.stdout, "no serial ports found")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tUSB ID\tPRODUCT")
	for _, p := range ports {
		id := "-"
		if p.USB {
			id = p.VID + ":" + p.PID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, id, p.Product)
	}
	tw.Flush()
	return exitOK
}
