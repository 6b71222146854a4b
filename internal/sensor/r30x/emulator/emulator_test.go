package emulator

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/packet"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

func TestSyntheticLooksLikeAPrint(t *testing.T) {
	a := Synthetic(256, 288, 1)
	if !bytes.Equal(a.Pix, Synthetic(256, 288, 1).Pix) {
		t.Fatal("same seed, different image")
	}
	if bytes.Equal(a.Pix, Synthetic(256, 288, 2).Pix) {
		t.Fatal("different seeds, same image")
	}
	mean := func(x0, y0, x1, y1 int) (m, sd float64) {
		var s, q float64
		n := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				v := float64(a.GrayAt(x, y).Y)
				s += v
				q += v * v
				n++
			}
		}
		m = s / float64(n)
		return m, math.Sqrt(q/float64(n) - m*m)
	}
	if m, _ := mean(0, 0, 12, 12); m < 200 {
		t.Errorf("corner mean %.0f: background should be bright", m)
	}
	if _, sd := mean(96, 112, 160, 176); sd < 40 {
		t.Errorf("centre deviation %.0f: ridges should have strong contrast", sd)
	}
}

func TestFitCoversAndCrops(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 100, 50))
	for y := 0; y < 50; y++ {
		for x := 50; x < 100; x++ {
			src.Pix[y*100+x] = 255
		}
	}
	got := Fit(src, 40, 40)
	if got.Bounds().Dx() != 40 || got.Bounds().Dy() != 40 {
		t.Fatalf("size %v", got.Bounds())
	}
	if l, r := got.GrayAt(5, 20).Y, got.GrayAt(35, 20).Y; l > 10 || r < 245 {
		t.Fatalf("left %d right %d: aspect not kept", l, r)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	// PNG
	var buf bytes.Buffer
	if err := png.Encode(&buf, Synthetic(64, 64, 3)); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.png", buf.Bytes())
	// PGM with a comment and maxval 15
	pgm := append([]byte("P5\n# 4-bit\n2 2\n15\n"), 0, 5, 10, 15)
	write("a.pgm", pgm)
	// MOSIP stream frame (JPEG, RGB)
	jpg, err := os.ReadFile("../../testdata/mosip/finger_slap_1.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	write("c.jpeg", jpg)
	write("notes.txt", []byte("ignored"))

	frames, err := LoadDir(dir, 256, 288)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3", len(frames))
	}
	for i, f := range frames {
		if f.Bounds() != image.Rect(0, 0, 256, 288) {
			t.Errorf("frame %d is %v", i, f.Bounds())
		}
	}
	// a.pgm sorts first: its top-left pixel is 0, bottom-right 255.
	if frames[0].GrayAt(0, 0).Y != 0 || frames[0].GrayAt(255, 287).Y != 255 {
		t.Errorf("PGM scaling: %d %d", frames[0].GrayAt(0, 0).Y, frames[0].GrayAt(255, 287).Y)
	}
}

func TestLoadDirRejects(t *testing.T) {
	if _, err := LoadDir(t.TempDir(), 256, 288); err == nil {
		t.Error("empty directory accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.pgm"), []byte("P5\n99999 2\n255\n"), 0o644)
	if _, err := LoadDir(dir, 256, 288); err == nil {
		t.Error("oversized PGM accepted")
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.png"), []byte("not a png"), 0o644)
	if _, err := LoadDir(dir, 256, 288); err == nil {
		t.Error("broken PNG accepted")
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Config{PacketSize: 100}); err == nil {
		t.Error("packet size 100 accepted")
	}
	if _, err := New(Config{Width: proto.MaxDim + 1, Height: 10}); err == nil {
		t.Error("oversized sensor accepted")
	}
}

// pipeRW joins the two ends of an in-memory conversation.
type pipeRW struct {
	io.Reader
	io.Writer
}

func TestDamagedCommandGetsReceiveError(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := packet.Packet{Address: packet.DefaultAddress, Kind: packet.Command, Payload: []byte{proto.CmdGenImg}}.Encode()
	cmd[len(cmd)-1] ^= 1
	var out bytes.Buffer
	if err := e.Serve(pipeRW{bytes.NewReader(cmd), &out}); err != io.EOF {
		t.Fatalf("Serve = %v, want EOF at the end of input", err)
	}
	p, _, err := packet.Parse(out.Bytes())
	if err != nil || p.Kind != packet.Ack || proto.Code(p.Payload[0]) != proto.PacketReceiveErr {
		t.Fatalf("reply %+v %v, want ack 0x01", p, err)
	}
	if e.Stats().BadInput != 1 {
		t.Fatal("damaged packet not counted")
	}
}

func TestOtherAddressIgnored(t *testing.T) {
	e, _ := New(Config{})
	cmd, _ := packet.Packet{Address: 7, Kind: packet.Command, Payload: []byte{proto.CmdGenImg}}.Encode()
	var out bytes.Buffer
	e.Serve(pipeRW{bytes.NewReader(cmd), &out})
	if out.Len() != 0 {
		t.Fatalf("answered a packet for another address: % X", out.Bytes())
	}
}

func TestPtyPathAndClose(t *testing.T) {
	e, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.Path()); err != nil {
		t.Fatalf("pty %q: %v", e.Path(), err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestSetSource(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.SetFinger(true)
	var frames []int
	e.SetSource(func(frame int) *image.Gray {
		frames = append(frames, frame)
		img := image.NewGray(image.Rect(0, 0, 10, 10)) // not the sensor's size: fitted
		img.Pix[0] = byte(frame + 1)
		return img
	})
	var w bytes.Buffer
	for i := 0; i < 2; i++ {
		if err := e.genImg(&w); err != nil {
			t.Fatal(err)
		}
		if e.current.Rect.Dx() != e.cfg.Width || e.current.Rect.Dy() != e.cfg.Height {
			t.Fatalf("frame %v not fitted to the sensor", e.current.Rect)
		}
	}
	if len(frames) != 2 || frames[0] != 0 || frames[1] != 1 {
		t.Fatalf("source called with frames %v", frames)
	}
	e.SetSource(nil)
	e.genImg(&w)
	if len(frames) != 2 {
		t.Fatal("source still used after SetSource(nil)")
	}
}
