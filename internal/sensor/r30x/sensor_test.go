package r30x_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/packet"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
	"github.com/edgetrust/edgetrust/internal/sensor/serialport"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rig starts an emulator on a pty and a driver on the other end, opened
// through go.bug.st/serial like a real module.
func rig(t testing.TB, ec emulator.Config, sc r30x.Config) (*emulator.Emulator, *r30x.Sensor) {
	t.Helper()
	e, err := emulator.Start(ec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	p, err := serialport.Open(e.Path(), 57600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	sc.PortName = e.Path()
	if sc.Timeout == 0 {
		sc.Timeout = 500 * time.Millisecond
	}
	if sc.Logger == nil {
		sc.Logger = testLogger(t)
	}
	return e, r30x.New(p, sc)
}

// gradient has every 4-bit level in every row and a different pattern per
// row, so a shifted or reordered upload cannot pass.
func gradient(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*w+x] = uint8((x*7 + y*13) % 256)
		}
	}
	return img
}

// quantised is what the module sends for img: the top nibble, scaled back.
func quantised(img *image.Gray) []byte {
	out := make([]byte, len(img.Pix))
	for i, v := range img.Pix {
		out[i] = (v >> 4) * 17
	}
	return out
}

func TestHandshakeAndInfo(t *testing.T) {
	ctx := context.Background()
	e, s := rig(t, emulator.Config{Firmware: "2.1.7"}, r30x.Config{})
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := s.SysParams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Address != packet.DefaultAddress || sp.PacketSize() != 128 || sp.SystemID != 9 || sp.Baud() != 57600 {
		t.Errorf("system parameters %+v", sp)
	}
	if sp.Status&(1<<2) == 0 {
		t.Errorf("status %#04x does not show the password as verified", sp.Status)
	}
	pi, err := s.ProdInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Model != "EDGETRUST-EMU" || pi.SensorWidth != 256 || pi.SensorHeight != 288 {
		t.Errorf("product info %+v", pi)
	}
	fw, err := s.FirmwareVersion(ctx)
	if err != nil || fw != "2.1.7" {
		t.Errorf("firmware %q, %v", fw, err)
	}
	if err := s.LED(ctx, r30x.LEDBreathing, r30x.LEDBlue, 0x40, 0); err != nil {
		t.Errorf("LED: %v", err)
	}
	if got := e.Stats().Commands["VfyPwd"]; got != 1 {
		t.Errorf("VfyPwd sent %d times, want 1", got)
	}
}

func TestUpImageExactPixels(t *testing.T) {
	for _, size := range []int{32, 128, 256} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			ctx := context.Background()
			src := gradient(256, 288)
			_, s := rig(t, emulator.Config{Images: []*image.Gray{src}, PacketSize: size}, r30x.Config{})
			if err := s.Handshake(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.GenImg(ctx); err != nil {
				t.Fatal(err)
			}
			img, err := s.UpImage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() != 256 || img.Bounds().Dy() != 288 {
				t.Fatalf("image is %v", img.Bounds())
			}
			if !bytes.Equal(img.Pix, quantised(src)) {
				t.Fatal("uploaded pixels differ from what the module holds")
			}
		})
	}
}

func TestGarbageBeforeEveryReply(t *testing.T) {
	ctx := context.Background()
	src := gradient(256, 288)
	e, s := rig(t, emulator.Config{Images: []*image.Gray{src}, Faults: emulator.Faults{Garbage: 37}}, r30x.Config{})
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.GenImg(ctx); err != nil {
		t.Fatal(err)
	}
	img, err := s.UpImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Pix, quantised(src)) {
		t.Fatal("pixels differ")
	}
	// Noise alone must not cost a retry.
	st := e.Stats()
	if st.Commands["VfyPwd"] != 1 || st.Commands["GenImg"] != 1 || st.Commands["UpImage"] != 1 {
		t.Errorf("commands %v: noise caused retries", st.Commands)
	}
}

func TestBadChecksumThenRetry(t *testing.T) {
	e, s := rig(t, emulator.Config{Faults: emulator.Faults{Corrupt: 1}}, r30x.Config{})
	if err := s.Handshake(context.Background()); err != nil {
		t.Fatalf("handshake after one corrupted ack: %v", err)
	}
	st := e.Stats()
	if st.Corrupted != 1 || st.Commands["VfyPwd"] != 2 {
		t.Fatalf("corrupted %d, VfyPwd %d: want 1 and 2", st.Corrupted, st.Commands["VfyPwd"])
	}
}

func TestCorruptDataPacketRestartsUpload(t *testing.T) {
	ctx := context.Background()
	src := gradient(256, 288)
	e, s := rig(t, emulator.Config{Images: []*image.Gray{src}}, r30x.Config{})
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.GenImg(ctx); err != nil {
		t.Fatal(err)
	}
	// The ack and 9 data packets arrive intact, the 10th is damaged.
	e.SetFaults(emulator.Faults{CorruptAfter: 10, Corrupt: 1})
	img, err := s.UpImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Pix, quantised(src)) {
		t.Fatal("pixels differ after the retried upload")
	}
	if st := e.Stats(); st.Commands["UpImage"] != 2 || st.Corrupted != 1 || st.Images != 2 {
		t.Fatalf("UpImage %d, corrupted %d, images %d", st.Commands["UpImage"], st.Corrupted, st.Images)
	}
}

func TestPersistentCorruptionFails(t *testing.T) {
	_, s := rig(t, emulator.Config{Faults: emulator.Faults{Corrupt: 1000}}, r30x.Config{Retries: 2})
	err := s.Handshake(context.Background())
	if !errors.Is(err, packet.ErrChecksum) {
		t.Fatalf("err = %v, want a checksum error", err)
	}
	if errors.Is(err, r30x.ErrNoAnswer) {
		t.Fatal("a module that answers must not be reported as silent")
	}
}

func TestNoAnswer(t *testing.T) {
	e, s := rig(t, emulator.Config{Faults: emulator.Faults{Silent: true}}, r30x.Config{Timeout: 100 * time.Millisecond, Retries: 1})
	start := time.Now()
	err := s.Handshake(context.Background())
	var na *r30x.NoAnswerError
	if !errors.As(err, &na) || !errors.Is(err, r30x.ErrNoAnswer) {
		t.Fatalf("err = %v, want *NoAnswerError", err)
	}
	want := "no fingerprint module answered on " + e.Path() + " at 57600 baud within 100ms (2 tries): check the cable, baud rate and module address"
	if err.Error() != want {
		t.Fatalf("message\n %q\nwant\n %q", err.Error(), want)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("gave up after %v, before two 100ms tries", el)
	}
}

func TestNoAnswerMessageSingleTry(t *testing.T) {
	err := &r30x.NoAnswerError{Port: "/dev/ttyUSB0", Baud: 57600, Timeout: time.Second, Tries: 1}
	want := "no fingerprint module answered on /dev/ttyUSB0 at 57600 baud within 1s: check the cable, baud rate and module address"
	if err.Error() != want {
		t.Fatalf("%q", err.Error())
	}
}

func TestWrongAddressIsSilence(t *testing.T) {
	_, s := rig(t, emulator.Config{}, r30x.Config{Address: 0x12345678, Timeout: 100 * time.Millisecond, Retries: -1})
	if err := s.Handshake(context.Background()); !errors.Is(err, r30x.ErrNoAnswer) {
		t.Fatalf("err = %v, want ErrNoAnswer", err)
	}
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	e, s := rig(t, emulator.Config{Password: 0x1234}, r30x.Config{})
	if err := s.GenImg(ctx); !errors.Is(err, r30x.ErrMustVerifyPwd) {
		t.Fatalf("GenImg before the password: %v", err)
	}
	err := s.Handshake(ctx)
	if !errors.Is(err, r30x.ErrWrongPassword) {
		t.Fatalf("err = %v, want ErrWrongPassword", err)
	}
	if c, ok := r30x.Code(err); !ok || c != proto.WrongPassword {
		t.Fatalf("code %v %v", c, ok)
	}
	if n := e.Stats().Commands["VfyPwd"]; n != 1 {
		t.Fatalf("a wrong password was retried: VfyPwd sent %d times", n)
	}
	_, s2 := rig(t, emulator.Config{Password: 0x1234}, r30x.Config{Password: 0x1234})
	if err := s2.Handshake(ctx); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := s2.GenImg(ctx); err != nil {
		t.Fatalf("GenImg after the password: %v", err)
	}
}

func TestNoFinger(t *testing.T) {
	e, s := rig(t, emulator.Config{Faults: emulator.Faults{NoFinger: true}}, r30x.Config{})
	err := s.GenImg(context.Background())
	if !errors.Is(err, r30x.ErrNoFinger) {
		t.Fatalf("err = %v, want ErrNoFinger", err)
	}
	if !strings.Contains(err.Error(), "no finger on the sensor") {
		t.Fatalf("message %q", err)
	}
	if n := e.Stats().Commands["GenImg"]; n != 1 {
		t.Fatalf("no finger is an answer, not a fault: GenImg sent %d times", n)
	}
}

func TestUpImageWithoutGenImg(t *testing.T) {
	_, s := rig(t, emulator.Config{}, r30x.Config{})
	if _, err := s.UpImage(context.Background()); !errors.Is(err, r30x.ErrUploadImage) {
		t.Fatalf("err = %v, want ErrUploadImage", err)
	}
}

func TestLegacyModule(t *testing.T) {
	ctx := context.Background()
	_, s := rig(t, emulator.Config{Legacy: true}, r30x.Config{Retries: -1})
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ProdInfo(ctx); !errors.Is(err, r30x.ErrPacketReceive) {
		t.Fatalf("ProdInfo on an R307: %v", err)
	}
	if _, err := s.FirmwareVersion(ctx); !errors.Is(err, r30x.ErrPacketReceive) {
		t.Fatalf("FirmwareVersion on an R307: %v", err)
	}
}

func TestImageLargerThanExpected(t *testing.T) {
	ctx := context.Background()
	// The module sends 256x288 but the driver was told 128x128: the upload
	// must stop at the bound, not grow.
	_, s := rig(t, emulator.Config{}, r30x.Config{Width: 128, Height: 128, Retries: -1})
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.GenImg(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpImage(ctx); !errors.Is(err, r30x.ErrImageData) {
		t.Fatalf("err = %v, want ErrImageData", err)
	}
}

func TestCancelledContext(t *testing.T) {
	_, s := rig(t, emulator.Config{}, r30x.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Handshake(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// scriptPort is an in-memory port: it records what the driver writes and
// answers with canned bytes, for byte-exact checks.
type scriptPort struct {
	mu      sync.Mutex
	written bytes.Buffer
	replies [][]byte // one per write
	pending []byte
	timeout time.Duration
}

func (p *scriptPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written.Write(b)
	if len(p.replies) > 0 {
		p.pending = append(p.pending, p.replies[0]...)
		p.replies = p.replies[1:]
	}
	return len(b), nil
}

func (p *scriptPort) Read(b []byte) (int, error) {
	p.mu.Lock()
	if len(p.pending) == 0 {
		d := p.timeout
		p.mu.Unlock()
		time.Sleep(d)
		return 0, nil
	}
	defer p.mu.Unlock()
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

func (p *scriptPort) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeout = d
	return nil
}

func TestCommandBytesOnTheWire(t *testing.T) {
	ack := []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x03, 0x00, 0x00, 0x0A}
	p := &scriptPort{replies: [][]byte{ack, ack, ack}}
	s := r30x.New(p, r30x.Config{Password: 0x01020304, Timeout: 50 * time.Millisecond})
	ctx := context.Background()
	if err := s.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.GenImg(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.LED(ctx, r30x.LEDFlashing, r30x.LEDRed, 0x10, 3); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x13, 0x01, 0x02, 0x03, 0x04, 0x00, 0x25, // VfyPwd
		0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05, // GenImg
		0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x35, 0x02, 0x10, 0x01, 0x03, 0x00, 0x53, // AuraLedConfig
	}
	if got := p.written.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("wrote\n% X\nwant\n% X", got, want)
	}
}

func TestAckWithWrongLength(t *testing.T) {
	// A ReadSysPara ack with 3 data bytes instead of 16 must be refused.
	ack, _ := packet.Packet{Address: packet.DefaultAddress, Kind: packet.Ack, Payload: []byte{0, 1, 2, 3}}.Encode()
	p := &scriptPort{replies: [][]byte{ack}}
	s := r30x.New(p, r30x.Config{Timeout: 50 * time.Millisecond, Retries: -1})
	if _, err := s.SysParams(context.Background()); !errors.Is(err, r30x.ErrUnexpected) {
		t.Fatalf("err = %v, want ErrUnexpected", err)
	}
}

func TestDataPacketInsteadOfAck(t *testing.T) {
	data, _ := packet.Packet{Address: packet.DefaultAddress, Kind: packet.Data, Payload: []byte{0}}.Encode()
	p := &scriptPort{replies: [][]byte{data}}
	s := r30x.New(p, r30x.Config{Timeout: 50 * time.Millisecond, Retries: -1})
	if err := s.GenImg(context.Background()); !errors.Is(err, r30x.ErrUnexpected) {
		t.Fatalf("err = %v, want ErrUnexpected", err)
	}
}

func BenchmarkUpImagePty(b *testing.B) {
	ctx := context.Background()
	_, s := rig(b, emulator.Config{Images: []*image.Gray{gradient(256, 288)}}, r30x.Config{Logger: slog.New(slog.DiscardHandler)})
	if err := s.Handshake(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(proto.PackedLen(256, 288)))
	for b.Loop() {
		if err := s.GenImg(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := s.UpImage(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
