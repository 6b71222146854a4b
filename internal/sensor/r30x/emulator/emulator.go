package emulator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/packet"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

// Config describes the emulated module.
type Config struct {
	// Address of the module; 0 means 0xFFFFFFFF.
	Address uint32
	// Password the module expects; 0 is the factory password and needs no
	// verification.
	Password uint32
	// Images are served in turn, one per successful GenImg. They are fitted
	// to Width x Height. Empty means synthetic prints.
	Images []*image.Gray
	// Width and Height of the sensor image; 0 means 256 x 288.
	Width, Height int
	// PacketSize of data packets: 32, 64, 128 or 256; 0 means 128.
	PacketSize int
	// Firmware is the GetFwVer answer; empty means "1.0.0".
	Firmware string
	// ProdInfo is the ReadProdInfo answer; a zero Model means defaults.
	ProdInfo proto.ProdInfo
	// Legacy makes the module behave like an R307 without ReadProdInfo,
	// GetFwVer, HandShake or the Aura LED: it answers those with 0x01.
	Legacy bool
	// Faults to inject from the start.
	Faults Faults
	// Logger receives one debug line per command; never image data.
	Logger *slog.Logger
}

// Faults are deliberate misbehaviours.
type Faults struct {
	// NoFinger makes GenImg always answer "no finger".
	NoFinger bool
	// Silent makes the module never answer.
	Silent bool
	// Garbage is the number of noise bytes sent before every reply.
	Garbage int
	// CorruptAfter packets are sent intact, then the checksum of the next
	// Corrupt packets (acks or image data) is broken.
	CorruptAfter int
	Corrupt      int
	// UnplugAfter, when positive, sends that many reply packets (counted
	// from SetFaults) and then nothing more, as if the module were pulled
	// out mid-exchange, e.g. half-way through an image upload; SetFaults
	// with it cleared plugs the module back in.
	UnplugAfter int
	// Stall delays every reply packet, as a module wedged or a line
	// stalled would (bounded to 10 s so a test cannot hang on it).
	Stall time.Duration
}

// Stats counts what the emulator has seen and done.
type Stats struct {
	Commands  map[string]int
	Packets   int // reply packets sent
	Corrupted int // reply packets sent with a broken checksum
	Images    int // images uploaded in full
	BadInput  int // packets from the host that failed to decode
	Dropped   int // reply packets not sent because the module was unplugged (Faults.UnplugAfter)
}

// maxStall bounds Faults.Stall.
const maxStall = 10 * time.Second

// Emulator is one emulated module.
type Emulator struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	f    Faults
	sent int // reply packets since the faults were set
	st   Stats

	finger   bool
	source   func(frame int) *image.Gray
	frame    int
	current  *image.Gray
	verified bool

	master *os.File
	tty    *os.File
	done   chan struct{}
}

// New returns an emulator that serves through Serve. Start opens a pty.
func New(cfg Config) (*Emulator, error) {
	if cfg.Address == 0 {
		cfg.Address = packet.DefaultAddress
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		cfg.Width, cfg.Height = proto.DefaultWidth, proto.DefaultHeight
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > proto.MaxDim || cfg.Height > proto.MaxDim {
		return nil, fmt.Errorf("emulator: image size %dx%d out of range", cfg.Width, cfg.Height)
	}
	if cfg.PacketSize == 0 {
		cfg.PacketSize = 128
	}
	if _, err := proto.PacketSizeCode(cfg.PacketSize); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "1.0.0"
	}
	if cfg.ProdInfo.Model == "" {
		cfg.ProdInfo = proto.ProdInfo{
			Model: "EDGETRUST-EMU", Batch: "0001", Serial: "EMU00001",
			HWMajor: 1, HWMinor: 0, SensorType: "EMULATED",
			SensorWidth: uint16(cfg.Width), SensorHeight: uint16(cfg.Height),
			TemplateSize: 1536, DatabaseSize: 200,
		}
	}
	frames := make([]*image.Gray, len(cfg.Images))
	for i, img := range cfg.Images {
		if img == nil {
			return nil, fmt.Errorf("emulator: image %d is nil", i)
		}
		frames[i] = Fit(img, cfg.Width, cfg.Height)
	}
	cfg.Images = frames
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Emulator{
		cfg:    cfg,
		log:    log,
		f:      cfg.Faults,
		finger: true,
		st:     Stats{Commands: map[string]int{}},
	}, nil
}

// Start opens a pseudo-terminal and serves on it until Close. Open Path()
// as a serial port to talk to the module.
func Start(cfg Config) (*Emulator, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	m, t, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("emulator: open pty: %w", err)
	}
	if err := makeRaw(t); err != nil {
		m.Close()
		t.Close()
		return nil, fmt.Errorf("emulator: raw mode: %w", err)
	}
	master, err := pollable(m)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// Keep our own handle on the tty open: with no slave open, reads on
	// the master fail with EIO, and clients may come and go.
	e.master, e.tty, e.done = master, t, make(chan struct{})
	go func() {
		defer close(e.done)
		// Serve returns only when reading fails; a closed master is the normal end.
		if err := e.Serve(master); !errors.Is(err, os.ErrClosed) {
			e.log.Debug("emulator stopped", "err", err)
		}
	}()
	e.log.Debug("emulator listening", "port", t.Name())
	return e, nil
}

// Path is the device to open as the serial port.
func (e *Emulator) Path() string {
	if e.tty == nil {
		return ""
	}
	return e.tty.Name()
}

// Close stops serving and releases the pty.
func (e *Emulator) Close() error {
	if e.master == nil {
		return nil
	}
	err := e.master.Close()
	<-e.done
	e.tty.Close()
	e.master = nil
	return err
}

// SetFaults replaces the injected faults; the packet count for
// CorruptAfter restarts.
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.f = f
	e.sent = 0
}

// SetFinger puts a finger on the glass or takes it off.
func (e *Emulator) SetFinger(present bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.finger = present
}

// SetSource makes GenImg take its frames from src (called with the frame
// number, its image fitted to the sensor), e.g. impressions of one
// synthetic finger (internal/biometric/synth); nil goes back to Config.Images
// or the built-in pattern.
func (e *Emulator) SetSource(src func(frame int) *image.Gray) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.source = src
}

// Stats returns a copy of the counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st
	s.Commands = make(map[string]int, len(e.st.Commands))
	for k, v := range e.st.Commands {
		s.Commands[k] = v
	}
	return s
}

// Serve answers commands read from rw until reading fails.
func (e *Emulator) Serve(rw io.ReadWriter) error {
	rd := packet.NewReader(rw)
	for {
		p, err := rd.Next()
		if errors.Is(err, packet.ErrChecksum) {
			// A real module tells the host its packet was damaged.
			e.mu.Lock()
			e.st.BadInput++
			e.mu.Unlock()
			if err := e.reply(rw, proto.PacketReceiveErr, nil); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, packet.ErrNoHeader) {
			continue
		}
		if err != nil {
			return err
		}
		if p.Address != e.cfg.Address || p.Kind != packet.Command {
			continue // not for us: stay quiet like a module on a shared bus
		}
		if err := e.handle(rw, p.Payload); err != nil {
			return err
		}
	}
}

func (e *Emulator) handle(w io.Writer, payload []byte) error {
	cmd, args := payload[0], payload[1:]
	e.mu.Lock()
	e.st.Commands[proto.CommandName(cmd)]++
	silent := e.f.Silent
	e.mu.Unlock()
	e.log.Debug("emulator command", "cmd", proto.CommandName(cmd))
	if silent {
		return nil
	}
	if e.cfg.Password != 0 && !e.verified && cmd != proto.CmdVfyPwd && cmd != proto.CmdHandShake {
		return e.reply(w, proto.MustVerifyPwd, nil)
	}
	legacyOnly := cmd == proto.CmdReadProdInfo || cmd == proto.CmdGetFwVer ||
		cmd == proto.CmdAuraLedConfig || cmd == proto.CmdHandShake
	if e.cfg.Legacy && legacyOnly {
		return e.reply(w, proto.PacketReceiveErr, nil)
	}
	switch cmd {
	case proto.CmdVfyPwd:
		if len(args) != 4 {
			return e.reply(w, proto.PacketReceiveErr, nil)
		}
		if binary.BigEndian.Uint32(args) != e.cfg.Password {
			e.verified = false
			return e.reply(w, proto.WrongPassword, nil)
		}
		e.verified = true
		return e.reply(w, proto.OK, nil)
	case proto.CmdHandShake, proto.CmdCheckSensor:
		return e.reply(w, proto.OK, nil)
	case proto.CmdReadSysPara:
		return e.reply(w, proto.OK, e.sysParams().Marshal())
	case proto.CmdReadProdInfo:
		return e.reply(w, proto.OK, e.cfg.ProdInfo.Marshal())
	case proto.CmdGetFwVer:
		return e.reply(w, proto.OK, proto.FwVer(e.cfg.Firmware))
	case proto.CmdAuraLedConfig:
		if len(args) != 4 {
			return e.reply(w, proto.PacketReceiveErr, nil)
		}
		return e.reply(w, proto.OK, nil)
	case proto.CmdGenImg:
		return e.genImg(w)
	case proto.CmdUpImage:
		return e.upImage(w)
	}
	return e.reply(w, proto.PacketReceiveErr, nil)
}

func (e *Emulator) sysParams() proto.SysParams {
	code, _ := proto.PacketSizeCode(e.cfg.PacketSize)
	var status uint16
	if e.verified {
		status |= 1 << 2
	}
	if e.current != nil {
		status |= 1 << 3
	}
	return proto.SysParams{
		Status: status, SystemID: 0x0009, LibrarySize: e.cfg.ProdInfo.DatabaseSize,
		SecurityLevel: 3, Address: e.cfg.Address, PacketSizeCode: code, BaudMultiplier: 6,
	}
}

func (e *Emulator) genImg(w io.Writer) error {
	e.mu.Lock()
	present := e.finger && !e.f.NoFinger
	src := e.source
	e.mu.Unlock()
	if !present {
		return e.reply(w, proto.NoFinger, nil)
	}
	if src != nil {
		img := src(e.frame)
		if img.Rect.Dx() != e.cfg.Width || img.Rect.Dy() != e.cfg.Height {
			img = Fit(img, e.cfg.Width, e.cfg.Height)
		}
		e.current = img
	} else if len(e.cfg.Images) > 0 {
		e.current = e.cfg.Images[e.frame%len(e.cfg.Images)]
	} else {
		e.current = Synthetic(e.cfg.Width, e.cfg.Height, int64(e.frame))
	}
	e.frame++
	return e.reply(w, proto.OK, nil)
}

func (e *Emulator) upImage(w io.Writer) error {
	if e.current == nil {
		return e.reply(w, proto.UploadImageErr, nil)
	}
	if err := e.reply(w, proto.OK, nil); err != nil {
		return err
	}
	data := proto.Pack(e.current)
	for len(data) > 0 {
		n := min(e.cfg.PacketSize, len(data))
		kind := packet.Data
		if n == len(data) {
			kind = packet.End
		}
		if err := e.send(w, kind, data[:n], false); err != nil {
			return err
		}
		data = data[n:]
	}
	e.mu.Lock()
	e.st.Images++
	e.mu.Unlock()
	return nil
}

func (e *Emulator) reply(w io.Writer, code proto.Code, data []byte) error {
	return e.send(w, packet.Ack, append([]byte{byte(code)}, data...), true)
}

// garbage is noise with the traps a resynchronising reader must survive:
// a lone 0xEF, a false 0xEF01 header with an impossible kind, CR and LF
// (mangled by a tty not in raw mode) and XON/XOFF.
var garbage = []byte{0x00, 0xEF, 0x55, 0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x55, 0x00, 0x03, 0x0D, 0x0A, 0x11, 0x13, 0xAA, 0xEF}

func (e *Emulator) send(w io.Writer, kind packet.Kind, payload []byte, withNoise bool) error {
	b, err := packet.Packet{Address: e.cfg.Address, Kind: kind, Payload: payload}.Encode()
	if err != nil {
		return err
	}
	e.mu.Lock()
	noise := 0
	if withNoise {
		noise = e.f.Garbage
	}
	e.sent++
	if e.f.UnplugAfter > 0 && e.sent > e.f.UnplugAfter {
		e.st.Dropped++
		e.mu.Unlock()
		return nil // unplugged: the bytes go nowhere
	}
	corrupt := e.f.Corrupt > 0 && e.sent > e.f.CorruptAfter && e.sent <= e.f.CorruptAfter+e.f.Corrupt
	e.st.Packets++
	if corrupt {
		e.st.Corrupted++
	}
	stall := min(e.f.Stall, maxStall)
	e.mu.Unlock()
	if stall > 0 {
		time.Sleep(stall)
	}
	if corrupt {
		b[len(b)-1] ^= 0xFF
	}
	if noise > 0 {
		pre := make([]byte, noise)
		for i := range pre {
			pre[i] = garbage[i%len(garbage)]
		}
		b = append(pre, b...)
	}
	if f, ok := w.(*os.File); ok {
		// A host that went away must not wedge the emulator.
		_ = f.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
	_, err = w.Write(b)
	return err
}

// makeRaw puts the tty in raw mode before any client opens it, so the line
// discipline neither echoes nor rewrites bytes.
func makeRaw(t *os.File) error {
	fd := int(t.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// pollable returns a non-blocking copy of f registered with the Go
// poller, so Close interrupts a pending Read and deadlines work.
// (pty.Open hands back a blocking descriptor.)
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}
