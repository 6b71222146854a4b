package r30x

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/packet"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

// Port is the serial line. go.bug.st/serial ports satisfy it; so does the
// pty wrapper the tests use. As with go.bug.st/serial, Read returns 0, nil
// when the read timeout expires.
type Port interface {
	io.ReadWriter
	SetReadTimeout(t time.Duration) error
}

// inputResetter is implemented by ports that can drop unread input.
type inputResetter interface {
	ResetInputBuffer() error
}

// Defaults.
const (
	DefaultTimeout = time.Second
	DefaultRetries = 2
	DefaultBaud    = 57600
)

// Config describes how to talk to the module.
type Config struct {
	// Address of the module. 0 means the factory default 0xFFFFFFFF.
	Address uint32
	// Password for VfyPwd; the factory password is 0.
	Password uint32
	// Timeout for each reply packet; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries after a missing or corrupted reply; 0 means DefaultRetries,
	// negative means none.
	Retries int
	// PortName and Baud only feed error messages.
	PortName string
	Baud     int
	// Width and Height of the image UpImage sends; 0 means 256 x 288.
	Width, Height int
	// Logger gets protocol events at debug level and retries at warn
	// level. It never sees image data.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Address == 0 {
		c.Address = packet.DefaultAddress
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Baud == 0 {
		c.Baud = DefaultBaud
	}
	if c.Width == 0 || c.Height == 0 {
		c.Width, c.Height = proto.DefaultWidth, proto.DefaultHeight
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Sensor is one module on one port. Its methods are safe for concurrent
// use; exchanges are serialised.
type Sensor struct {
	mu   sync.Mutex
	port Port
	cfg  Config
	dr   *deadlineReader
	rd   *packet.Reader
	wbuf []byte
	log  *slog.Logger
}

// New returns a driver for the module on p. It sends nothing.
func New(p Port, cfg Config) *Sensor {
	cfg = cfg.withDefaults()
	dr := &deadlineReader{p: p}
	return &Sensor{
		port: p,
		cfg:  cfg,
		dr:   dr,
		rd:   packet.NewReader(dr),
		log:  cfg.Logger,
	}
}

// Config returns the effective configuration.
func (s *Sensor) Config() Config { return s.cfg }

// SetImageSize changes the image geometry UpImage expects, for modules
// whose product information reports a different sensor size.
func (s *Sensor) SetImageSize(w, h int) error {
	if w <= 0 || h <= 0 || w > proto.MaxDim || h > proto.MaxDim {
		return fmt.Errorf("sensor: image size %dx%d out of range", w, h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Width, s.cfg.Height = w, h
	return nil
}

// Handshake verifies the module password (VfyPwd). It is the first thing
// to send: it proves a module is there, at this address and baud rate, and
// unlocks modules that have a password set.
func (s *Sensor) Handshake(ctx context.Context) error {
	var pw [4]byte
	binary.BigEndian.PutUint32(pw[:], s.cfg.Password)
	_, err := s.command(ctx, proto.CmdVfyPwd, pw[:], 0)
	return err
}

// SysParams reads the system parameters (ReadSysPara).
func (s *Sensor) SysParams(ctx context.Context) (proto.SysParams, error) {
	b, err := s.command(ctx, proto.CmdReadSysPara, nil, proto.SysParamsLen)
	if err != nil {
		return proto.SysParams{}, err
	}
	return proto.ParseSysParams(b)
}

// ProdInfo reads the product information (ReadProdInfo). Older modules
// such as the R307 do not have it and answer with a confirmation code.
func (s *Sensor) ProdInfo(ctx context.Context) (proto.ProdInfo, error) {
	b, err := s.command(ctx, proto.CmdReadProdInfo, nil, proto.ProdInfoLen)
	if err != nil {
		return proto.ProdInfo{}, err
	}
	return proto.ParseProdInfo(b)
}

// FirmwareVersion reads the firmware version string (GetFwVer).
func (s *Sensor) FirmwareVersion(ctx context.Context) (string, error) {
	b, err := s.command(ctx, proto.CmdGetFwVer, nil, proto.FwVerLen)
	if err != nil {
		return "", err
	}
	return proto.Text(b), nil
}

// GenImg asks the module to take an image into its buffer. It returns
// ErrNoFinger (wrapped) when nothing is on the glass.
func (s *Sensor) GenImg(ctx context.Context) error {
	_, err := s.command(ctx, proto.CmdGenImg, nil, 0)
	return err
}

// LEDMode is the Aura LED control code.
type LEDMode byte

// Aura LED modes.
const (
	LEDBreathing LEDMode = 0x01
	LEDFlashing  LEDMode = 0x02
	LEDOn        LEDMode = 0x03
	LEDOff       LEDMode = 0x04
	LEDFadeIn    LEDMode = 0x05
	LEDFadeOut   LEDMode = 0x06
)

// LEDColor is the Aura LED colour index.
type LEDColor byte

// Aura LED colours.
const (
	LEDRed    LEDColor = 0x01
	LEDBlue   LEDColor = 0x02
	LEDPurple LEDColor = 0x03
)

// LED sets the Aura ring (AuraLedConfig). Modules without a ring answer
// with a confirmation code, which callers may ignore.
func (s *Sensor) LED(ctx context.Context, mode LEDMode, color LEDColor, speed, count byte) error {
	_, err := s.command(ctx, proto.CmdAuraLedConfig, []byte{byte(mode), speed, byte(color), count}, 0)
	return err
}

// UpImage uploads the image buffer taken by GenImg and returns it as 8-bit
// grey (each 4-bit value v becomes v*17).
func (s *Sensor) UpImage(ctx context.Context) (*image.Gray, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, h := s.cfg.Width, s.cfg.Height
	want := proto.PackedLen(w, h)
	buf := make([]byte, 0, want)
	var lastErr error
	start := time.Now()
	before := s.dr.total
	for try := 0; try <= s.cfg.Retries; try++ {
		if try > 0 {
			s.log.Warn("retrying image upload", "try", try+1, "err", lastErr)
			s.drain()
		}
		buf = buf[:0]
		_, err := s.exchange(ctx, proto.CmdUpImage, nil, 0)
		if err == nil {
			buf, err = s.readData(ctx, buf, want)
		}
		if err == nil {
			s.log.Debug("image uploaded", "width", w, "height", h, "bytes", len(buf), "took", time.Since(start))
			return proto.Unpack(buf, w, h)
		}
		lastErr = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, s.finalError(ctx, "UpImage", lastErr, before)
}

// readData reads data packets up to and including the end-of-data packet.
func (s *Sensor) readData(ctx context.Context, buf []byte, want int) ([]byte, error) {
	for {
		s.dr.arm(ctx, s.cfg.Timeout)
		p, err := s.rd.Next()
		if err != nil {
			return buf, linkErr(err)
		}
		if p.Address != s.cfg.Address {
			return buf, fmt.Errorf("%w: address 0x%08x, want 0x%08x", ErrUnexpected, p.Address, s.cfg.Address)
		}
		if p.Kind != packet.Data && p.Kind != packet.End {
			return buf, fmt.Errorf("%w: %s packet during image upload", ErrUnexpected, p.Kind)
		}
		if len(buf)+len(p.Payload) > want {
			return buf, fmt.Errorf("%w: more than %d bytes", ErrImageData, want)
		}
		buf = append(buf, p.Payload...)
		if p.Kind == packet.End {
			if len(buf) != want {
				return buf, fmt.Errorf("%w: got %d bytes, want %d", ErrImageData, len(buf), want)
			}
			return buf, nil
		}
	}
}

// command runs one exchange with retries and returns the ack data after
// the confirmation code. If n > 0 the data must be exactly n bytes.
func (s *Sensor) command(ctx context.Context, cmd byte, args []byte, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	before := s.dr.total
	for try := 0; try <= s.cfg.Retries; try++ {
		if try > 0 {
			s.log.Warn("retrying command", "cmd", proto.CommandName(cmd), "try", try+1, "err", lastErr)
			s.drain()
		}
		data, err := s.exchange(ctx, cmd, args, n)
		if err == nil {
			return data, nil
		}
		lastErr = err
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, s.finalError(ctx, proto.CommandName(cmd), lastErr, before)
}

// finalError turns the last failure into what the caller sees. Silence on
// every try becomes a *NoAnswerError.
func (s *Sensor) finalError(ctx context.Context, op string, err error, before int64) error {
	var ce *CommandError
	if errors.As(err, &ce) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w", op, cerr)
	}
	if errors.Is(err, ErrTimeout) && s.dr.total == before {
		return &NoAnswerError{Port: s.cfg.PortName, Baud: s.cfg.Baud, Timeout: s.cfg.Timeout, Tries: s.cfg.Retries + 1}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// exchange sends one command and reads its ack.
func (s *Sensor) exchange(ctx context.Context, cmd byte, args []byte, n int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.flushInput()
	payload := append([]byte{cmd}, args...)
	var err error
	s.wbuf, err = packet.Packet{Address: s.cfg.Address, Kind: packet.Command, Payload: payload}.Append(s.wbuf[:0])
	if err != nil {
		return nil, err
	}
	if _, err := s.port.Write(s.wbuf); err != nil {
		return nil, fmt.Errorf("sensor: write: %w", err)
	}
	s.log.Debug("command sent", "cmd", proto.CommandName(cmd))

	s.dr.arm(ctx, s.cfg.Timeout)
	p, err := s.rd.Next()
	if err != nil {
		return nil, linkErr(err)
	}
	if p.Address != s.cfg.Address {
		return nil, fmt.Errorf("%w: address 0x%08x, want 0x%08x", ErrUnexpected, p.Address, s.cfg.Address)
	}
	if p.Kind != packet.Ack {
		return nil, fmt.Errorf("%w: %s packet instead of an ack", ErrUnexpected, p.Kind)
	}
	code := proto.Code(p.Payload[0])
	s.log.Debug("ack received", "cmd", proto.CommandName(cmd), "code", byte(code))
	if code != proto.OK {
		return nil, &CommandError{Command: proto.CommandName(cmd), Code: code}
	}
	data := p.Payload[1:]
	if n > 0 && len(data) != n {
		return nil, fmt.Errorf("%w: %s reply has %d data bytes, want %d", ErrUnexpected, proto.CommandName(cmd), len(data), n)
	}
	return append([]byte(nil), data...), nil
}

// retryable reports whether another try might succeed.
func retryable(err error) bool {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.Code == proto.PacketReceiveErr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnexpected) || errors.Is(err, ErrImageData) ||
		errors.Is(err, packet.ErrChecksum) || errors.Is(err, packet.ErrNoHeader)
}

func linkErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: reply cut short", ErrTimeout)
	}
	return err
}

// flushInput drops stale bytes so a late reply to an earlier command is
// not taken for the answer to this one.
func (s *Sensor) flushInput() {
	s.rd.Discard()
	if r, ok := s.port.(inputResetter); ok {
		_ = r.ResetInputBuffer()
	}
}

// drain reads and drops input until the line has been quiet for a short
// while, so the rest of an aborted transfer does not pollute the retry.
func (s *Sensor) drain() {
	const quiet = 30 * time.Millisecond
	s.rd.Discard()
	limit := time.Now().Add(2 * s.cfg.Timeout)
	buf := make([]byte, 512)
	dropped := 0
	for time.Now().Before(limit) {
		_ = s.port.SetReadTimeout(quiet)
		n, err := s.port.Read(buf)
		dropped += n
		s.dr.total += int64(n)
		if n == 0 || err != nil {
			break
		}
	}
	if dropped > 0 {
		s.log.Debug("drained line", "bytes", dropped)
	}
}

// deadlineReader turns the port's per-read timeout into a deadline for a
// whole reply, and counts bytes so silence can be told from noise.
type deadlineReader struct {
	p        Port
	deadline time.Time
	total    int64
}

func (d *deadlineReader) arm(ctx context.Context, timeout time.Duration) {
	d.deadline = time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d.deadline) {
		d.deadline = dl
	}
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	rem := time.Until(d.deadline)
	if rem <= 0 {
		return 0, ErrTimeout
	}
	if err := d.p.SetReadTimeout(rem); err != nil {
		return 0, err
	}
	n, err := d.p.Read(b)
	d.total += int64(n)
	if n == 0 && err == nil {
		return 0, ErrTimeout
	}
	return n, err
}
