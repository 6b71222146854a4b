package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// DefaultMaxVersion is the largest symbol (97x97 modules) New picks a
// stronger level for; a minimal credential (~250 characters) gets level H,
// one with a small face image (~1,160) gets L. Larger texts get level L at
// whatever version fits.
const DefaultMaxVersion = 20

// MaxTextLen is the alphanumeric capacity of version 40 at level L.
const MaxTextLen = 4296

const alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// Level is a QR error-correction level.
type Level int

const (
	L Level = iota // ~7% recovery
	M              // ~15%
	Q              // ~25%
	H              // ~30%
)

func (l Level) String() string {
	if l >= L && l <= H {
		return "LMQH"[l : l+1]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

var toSkip2 = [...]qrcode.RecoveryLevel{L: qrcode.Low, M: qrcode.Medium, Q: qrcode.High, H: qrcode.Highest}

// Code is a QR symbol ready to render.
type Code struct {
	q     *qrcode.QRCode
	level Level
}

// New encodes text with the strongest level that fits DefaultMaxVersion.
func New(text string) (*Code, error) { return NewMaxVersion(text, DefaultMaxVersion) }

// NewMaxVersion is New with a different size bound (1 to 40).
func NewMaxVersion(text string, maxVersion int) (*Code, error) {
	if maxVersion < 1 || maxVersion > 40 {
		return nil, fmt.Errorf("qr: maxVersion %d out of range 1..40", maxVersion)
	}
	if text == "" {
		return nil, errors.New("qr: empty text")
	}
	if len(text) > MaxTextLen {
		return nil, fmt.Errorf("qr: text is %d characters; a QR code holds at most %d in alphanumeric mode", len(text), MaxTextLen)
	}
	if i := strings.IndexFunc(text, func(r rune) bool { return !strings.ContainsRune(alphanumeric, r) }); i >= 0 {
		return nil, fmt.Errorf("qr: character %q at %d is not QR alphanumeric; pass Base45 text", text[i], i)
	}
	for _, l := range [...]Level{H, Q, M, L} {
		q, err := qrcode.New(text, toSkip2[l])
		if err == nil && (q.VersionNumber <= maxVersion || l == L) {
			return &Code{q: q, level: l}, nil
		}
	}
	return nil, errors.New("qr: text does not fit a QR code")
}

// Level returns the error-correction level chosen.
func (c *Code) Level() Level { return c.level }

// Version returns the symbol version (1 to 40).
func (c *Code) Version() int { return c.q.VersionNumber }

// Bitmap returns the modules, [y][x], true for dark, including the 4-module
// quiet zone.
func (c *Code) Bitmap() [][]bool { return c.q.Bitmap() }

// PNG renders the code with scale pixels per module (at least 1).
func (c *Code) PNG(scale int) ([]byte, error) {
	if scale < 1 {
		return nil, fmt.Errorf("qr: scale %d, want >= 1", scale)
	}
	c.q.ForegroundColor, c.q.BackgroundColor = color.Black, color.White
	return c.q.PNG(-scale)
}

// SVG renders the code as a scalable image whose user unit is one module,
// so printed size is set by the width/height the embedding document gives it.
func (c *Code) SVG() []byte {
	bm := c.q.Bitmap()
	n := len(bm)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<path fill="#fff" d="M0 0h%dv%dH0z"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			w := 1
			for x+w < len(row) && row[x+w] {
				w++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, w, w)
			x += w
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}
