package capture_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/sensor/pins"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startEmu(t testing.TB, cfg emulator.Config) *emulator.Emulator {
	t.Helper()
	e, err := emulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func open(t testing.TB, cfg capture.Config) *capture.Device {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = logger(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	d, err := capture.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func pinStore(t testing.TB, v string) firmware.MinVersionStore {
	s := &firmware.FileStore{Path: filepath.Join(t.TempDir(), "min.json")}
	if v != "" {
		if err := s.RaiseMinVersion(context.Background(), firmware.MustParseVersion(v)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

type fakeTPM struct {
	mu      sync.Mutex
	extends [][]byte
	idx     []int
}

func (f *fakeTPM) ExtendPCR(_ context.Context, idx int, d []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idx = append(f.idx, idx)
	f.extends = append(f.extends, append([]byte(nil), d...))
	return nil
}

func quantised(img *image.Gray) []byte {
	out := make([]byte, len(img.Pix))
	for i, v := range img.Pix {
		out[i] = (v >> 4) * 17
	}
	return out
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

// The whole path: driver -> go.bug.st/serial -> pty -> emulator -> 4-bit
// image -> JPEG 2000 -> ISO/IEC 19794-4 record, checked by the SBI rules.
func TestCaptureAuthOverPty(t *testing.T) {
	frame := emulator.Synthetic(256, 288, 42)
	e := startEmu(t, emulator.Config{Images: []*image.Gray{frame}, Firmware: "1.3.0"})
	tpm := &fakeTPM{}
	d := open(t, capture.Config{Port: e.Path(), MinVersion: pinStore(t, "1.2.0"), PCR: tpm, PCRIndex: firmware.SuggestedPCR})

	info := d.Info()
	if info.Firmware != "1.3.0" || info.Version != (firmware.Version{Major: 1, Minor: 3}) || info.ProdInfo == nil || info.ProdInfo.Model != "EDGETRUST-EMU" {
		t.Fatalf("info %+v", info)
	}
	if len(tpm.extends) != 1 || tpm.idx[0] != 14 || !bytes.Equal(tpm.extends[0], info.Measurement.Digest[:]) {
		t.Fatalf("PCR extends %v %x", tpm.idx, tpm.extends)
	}

	before := time.Now().UTC().Truncate(time.Millisecond)
	res, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 2, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(res.Record, capture.Auth); err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(res.Record, capture.Registration); err == nil {
		t.Fatal("a lossy record passed the registration rules")
	}
	img, rec, err := capture.DecodeRecord(res.Record)
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Representations[0]
	if r.Compression != iso.JPEG2000Lossy || r.Position != 2 || r.Width != 256 || r.Height != 288 || r.ImageResH != 500 || r.BitDepth != 8 {
		t.Fatalf("representation %+v", r)
	}
	if at, ok := r.CaptureTime.Time(); !ok || at.Before(before) || at.After(time.Now()) {
		t.Fatalf("capture time %v", at)
	}
	if len(r.Quality) != 1 || r.Quality[0].Score != res.Quality || res.Quality < 40 {
		t.Fatalf("quality %+v / %d", r.Quality, res.Quality)
	}
	if ratio := float64(256*288) / float64(len(r.Image)); ratio > 15 {
		t.Fatalf("compression %.1f:1 exceeds MOSIP's 15:1", ratio)
	}
	if p := psnr(img.Pix, quantised(frame)); p < 28 {
		t.Fatalf("decoded image PSNR %.1f dB against what the module sent", p)
	}
}

func TestCaptureRegistrationIsLossless(t *testing.T) {
	frame := emulator.Synthetic(256, 288, 7)
	e := startEmu(t, emulator.Config{Images: []*image.Gray{frame}})
	d := open(t, capture.Config{Port: e.Path()})
	res, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Registration, Position: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(res.Record, capture.Registration); err != nil {
		t.Fatal(err)
	}
	img, rec, err := capture.DecodeRecord(res.Record)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Representations[0].Compression != iso.JPEG2000Lossless {
		t.Fatalf("compression %s", rec.Representations[0].Compression)
	}
	if !bytes.Equal(img.Pix, quantised(frame)) {
		t.Fatal("registration record does not hold exactly the pixels the module sent")
	}
}

func TestCaptureThroughNoisyLine(t *testing.T) {
	e := startEmu(t, emulator.Config{Faults: emulator.Faults{Garbage: 23, CorruptAfter: 20, Corrupt: 2}})
	d := open(t, capture.Config{Port: e.Path()})
	res, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(res.Record, capture.Auth); err != nil {
		t.Fatal(err)
	}
	if e.Stats().Corrupted != 2 {
		t.Fatalf("corrupted %d packets, want 2", e.Stats().Corrupted)
	}
}

func TestFirmwareBelowMinimumRefused(t *testing.T) {
	e := startEmu(t, emulator.Config{Firmware: "1.1.9"})
	tpm := &fakeTPM{}
	_, err := capture.Open(context.Background(), capture.Config{Port: e.Path(), MinVersion: pinStore(t, "1.2.0"), PCR: tpm, PCRIndex: 23})
	if !errors.Is(err, firmware.ErrTooOld) {
		t.Fatalf("err = %v, want ErrTooOld", err)
	}
	if len(tpm.extends) != 1 {
		t.Fatal("a refused module must still be measured into the PCR")
	}
}

func TestLegacyModule(t *testing.T) {
	e := startEmu(t, emulator.Config{Legacy: true})
	_, err := capture.Open(context.Background(), capture.Config{Port: e.Path(), MinVersion: pinStore(t, "1.0.0")})
	if !errors.Is(err, firmware.ErrUnknownVersion) {
		t.Fatalf("pinned minimum with an R307: %v", err)
	}
	d := open(t, capture.Config{Port: e.Path(), MinVersion: pinStore(t, "")})
	if d.Info().ProdInfo != nil || d.Info().Firmware != "" {
		t.Fatalf("info %+v", d.Info())
	}
	withInfo := startEmu(t, emulator.Config{})
	if d.Info().Measurement.Digest == open(t, capture.Config{Port: withInfo.Path()}).Info().Measurement.Digest {
		t.Fatal("modules with and without product info measure the same")
	}
	res, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != proto.DefaultWidth || res.Height != proto.DefaultHeight {
		t.Fatalf("image %dx%d", res.Width, res.Height)
	}
	if n := e.Stats().Commands["AuraLedConfig"]; n != 0 {
		t.Fatalf("Aura LED commands sent to an R307: %d", n)
	}
}

func TestCaptureNoFingerWaitsForTimeout(t *testing.T) {
	e := startEmu(t, emulator.Config{Faults: emulator.Faults{NoFinger: true}})
	d := open(t, capture.Config{Port: e.Path()})
	start := time.Now()
	_, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, capture.ErrNoFinger) {
		t.Fatalf("err = %v, want ErrNoFinger", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Fatalf("answered after %v; MOSIP wants no earlier than the timeout", el)
	}
	if n := e.Stats().Commands["GenImg"]; n < 3 {
		t.Fatalf("GenImg polled %d times", n)
	}
}

func TestCaptureFingerArrivesLate(t *testing.T) {
	e := startEmu(t, emulator.Config{})
	e.SetFinger(false)
	d := open(t, capture.Config{Port: e.Path()})
	go func() {
		time.Sleep(150 * time.Millisecond)
		e.SetFinger(true)
	}()
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Timeout: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
}

func TestCaptureWithFingerDetectLine(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO27", Num: 27, EdgesChan: make(chan gpio.Level, 1)}
	led := &gpiotest.Pin{N: "GPIO22", Num: 22}
	e := startEmu(t, emulator.Config{})
	d := open(t, capture.Config{Port: e.Path(),
		FingerDetect: &pins.FingerDetect{Pin: pin, Pull: gpio.PullDown},
		LED:          &pins.LED{Pin: led}})

	// No touch: the module must not even be asked for an image.
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Timeout: 150 * time.Millisecond}); !errors.Is(err, capture.ErrNoFinger) {
		t.Fatalf("err = %v", err)
	}
	if n := e.Stats().Commands["GenImg"]; n != 0 {
		t.Fatalf("GenImg sent %d times without a touch", n)
	}
	if led.Read() != gpio.Low {
		t.Fatal("LED left on after the capture")
	}
	go func() {
		time.Sleep(80 * time.Millisecond)
		pin.EdgesChan <- gpio.High
	}()
	if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if n := e.Stats().Commands["GenImg"]; n != 1 {
		t.Fatalf("GenImg sent %d times after a touch, want 1", n)
	}
}

func TestCaptureRejectsBadRequest(t *testing.T) {
	e := startEmu(t, emulator.Config{})
	d := open(t, capture.Config{Port: e.Path()})
	for _, r := range []capture.Request{{Purpose: capture.Registration, Position: 0}, {Purpose: capture.Auth, Position: 11}, {Purpose: 9}} {
		if _, err := d.Capture(context.Background(), r); err == nil {
			t.Errorf("request %+v accepted", r)
		}
	}
	if n := e.Stats().Commands["GenImg"]; n != 0 {
		t.Fatal("a bad request reached the module")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := capture.Open(ctx, capture.Config{Port: "usb:xyz"}); err == nil {
		t.Error("bad USB spec accepted")
	}
	if _, err := capture.Open(ctx, capture.Config{Port: "/dev/does-not-exist"}); err == nil {
		t.Error("missing port accepted")
	}
}

func mosip(t testing.TB, name string) []byte {
	b, err := os.ReadFile("../testdata/mosip/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckRecordOnMOSIPSamples(t *testing.T) {
	if err := capture.CheckRecord(mosip(t, "auth_left_index.iso"), capture.Auth); err != nil {
		t.Errorf("MOSIP auth JP2 record: %v", err)
	}
	if err := capture.CheckRecord(mosip(t, "auth_left_index_wsq.iso"), capture.Auth); err != nil {
		t.Errorf("MOSIP auth WSQ record: %v", err)
	}
	if err := capture.CheckRecord(mosip(t, "registration_right_middle.iso"), capture.Registration); err != nil {
		t.Errorf("MOSIP registration record: %v", err)
	}
	if err := capture.CheckRecord(mosip(t, "auth_left_index.iso"), capture.Registration); !errors.Is(err, capture.ErrNonConformant) {
		t.Errorf("lossy record as registration: %v", err)
	}
	// finger2.iso says "lossless" but holds a 9/7 codestream.
	err := capture.CheckRecord(mosip(t, "finger2.iso"), capture.Registration)
	if !errors.Is(err, capture.ErrNonConformant) || !strings.Contains(err.Error(), "9/7") {
		t.Errorf("mislabelled codestream: %v", err)
	}
	img, _, err := capture.DecodeRecord(mosip(t, "auth_left_index.iso"))
	if err != nil || img.Bounds().Dx() != 280 || img.Bounds().Dy() != 448 {
		t.Errorf("decode MOSIP image: %v %v", err, img.Bounds())
	}
}

func TestBuildRecordBounds(t *testing.T) {
	img := emulator.Synthetic(64, 64, 1)
	if _, err := capture.BuildRecord(img, capture.RecordOptions{Purpose: capture.Auth, LossyRatio: 20}); err == nil {
		t.Error("20:1 accepted")
	}
	if _, err := capture.BuildRecord(img, capture.RecordOptions{Purpose: capture.Auth, Quality: iso.Quality{Score: 101}}); err == nil {
		t.Error("quality 101 accepted")
	}
	if _, err := capture.BuildRecord(image.NewGray(image.Rect(0, 0, 0, 0)), capture.RecordOptions{Purpose: capture.Auth}); err == nil {
		t.Error("empty image accepted")
	}
	b, err := capture.BuildRecord(img, capture.RecordOptions{Purpose: capture.Auth, Quality: iso.Quality{Score: 255}})
	if err != nil {
		t.Fatal(err)
	}
	if err := capture.CheckRecord(b, capture.Auth); err != nil {
		t.Fatalf("quality 255 (failed) is allowed: %v", err)
	}
}

func TestEstimateQuality(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 256, 288))
	for i := range blank.Pix {
		blank.Pix[i] = 235
	}
	if q := capture.EstimateQuality(blank); q != 0 {
		t.Errorf("empty sensor scored %d", q)
	}
	print := emulator.Synthetic(256, 288, 3)
	if q := capture.EstimateQuality(print); q < 50 || q > 100 {
		t.Errorf("synthetic print scored %d", q)
	}
	// Half the pad covered must score lower than the whole pad.
	half := emulator.Synthetic(256, 288, 3)
	for i := len(half.Pix) / 2; i < len(half.Pix); i++ {
		half.Pix[i] = 235
	}
	if capture.EstimateQuality(half) >= capture.EstimateQuality(print) {
		t.Error("partial print did not score lower")
	}
}

func TestParsePurpose(t *testing.T) {
	for in, want := range map[string]capture.Purpose{"auth": capture.Auth, "Auth": capture.Auth, "Registration": capture.Registration, "reg": capture.Registration} {
		if got, err := capture.ParsePurpose(in); err != nil || got != want {
			t.Errorf("ParsePurpose(%q) = %v %v", in, got, err)
		}
	}
	if _, err := capture.ParsePurpose("verify"); err == nil {
		t.Error("unknown purpose accepted")
	}
}

func BenchmarkCaptureAuth(b *testing.B) {
	e := startEmu(b, emulator.Config{})
	d := open(b, capture.Config{Port: e.Path(), Logger: slog.New(slog.DiscardHandler)})
	for b.Loop() {
		if _, err := d.Capture(context.Background(), capture.Request{Purpose: capture.Auth, Position: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
