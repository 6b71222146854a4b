package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"github.com/edgetrust/edgetrust/internal/bytesx"
)

// Instruction codes (first payload byte of a command packet).
const (
	CmdGenImg        byte = 0x01
	CmdUpImage       byte = 0x0A
	CmdReadSysPara   byte = 0x0F
	CmdVfyPwd        byte = 0x13
	CmdCheckSensor   byte = 0x36
	CmdAuraLedConfig byte = 0x35
	CmdGetFwVer      byte = 0x3A
	CmdReadProdInfo  byte = 0x3C
	CmdHandShake     byte = 0x40
)

// CommandName names an instruction for logs and errors.
func CommandName(c byte) string {
	switch c {
	case CmdGenImg:
		return "GenImg"
	case CmdUpImage:
		return "UpImage"
	case CmdReadSysPara:
		return "ReadSysPara"
	case CmdVfyPwd:
		return "VfyPwd"
	case CmdCheckSensor:
		return "CheckSensor"
	case CmdAuraLedConfig:
		return "AuraLedConfig"
	case CmdGetFwVer:
		return "GetFwVer"
	case CmdReadProdInfo:
		return "ReadProdInfo"
	case CmdHandShake:
		return "HandShake"
	}
	return fmt.Sprintf("instruction 0x%02x", c)
}

// Code is a confirmation code, the first payload byte of an ack. Non-zero
// codes are errors, so Code implements error and the driver can return the
// constants below for errors.Is.
type Code byte

// Confirmation codes from the R30x / AS608 / R503 manuals.
const (
	OK                Code = 0x00
	PacketReceiveErr  Code = 0x01
	NoFinger          Code = 0x02
	EnrollFailed      Code = 0x03
	ImageMessy        Code = 0x06
	FeatureFail       Code = 0x07
	NoMatch           Code = 0x08
	NotFound          Code = 0x09
	CombineFailed     Code = 0x0A
	BadLocation       Code = 0x0B
	TemplateReadErr   Code = 0x0C
	UploadTemplateErr Code = 0x0D
	CannotReceive     Code = 0x0E
	UploadImageErr    Code = 0x0F
	DeleteFailed      Code = 0x10
	ClearFailed       Code = 0x11
	WrongPassword     Code = 0x13
	NoValidImage      Code = 0x15
	FlashErr          Code = 0x18
	Undefined         Code = 0x19
	InvalidRegister   Code = 0x1A
	BadRegisterConfig Code = 0x1B
	BadNotepadPage    Code = 0x1C
	PortOpFailed      Code = 0x1D
	MustVerifyPwd     Code = 0x21
	SensorAbnormal    Code = 0x29
)

var codeText = map[Code]string{
	OK:                "success",
	PacketReceiveErr:  "module reported an error receiving the packet",
	NoFinger:          "no finger on the sensor",
	EnrollFailed:      "failed to take the fingerprint image",
	ImageMessy:        "image too disordered to extract features",
	FeatureFail:       "too few feature points in the image",
	NoMatch:           "finger does not match",
	NotFound:          "no matching finger found",
	CombineFailed:     "failed to combine character files",
	BadLocation:       "template address beyond the library",
	TemplateReadErr:   "error reading template from the library",
	UploadTemplateErr: "error uploading template",
	CannotReceive:     "module cannot receive the following data packets",
	UploadImageErr:    "error uploading image",
	DeleteFailed:      "failed to delete template",
	ClearFailed:       "failed to clear the finger library",
	WrongPassword:     "wrong module password",
	NoValidImage:      "no valid primary image in the buffer",
	FlashErr:          "error writing flash",
	Undefined:         "undefined error",
	InvalidRegister:   "invalid register number",
	BadRegisterConfig: "incorrect register configuration",
	BadNotepadPage:    "wrong notepad page number",
	PortOpFailed:      "failed to operate the communication port",
	MustVerifyPwd:     "module requires the password to be verified first",
	SensorAbnormal:    "sensor abnormal",
}

func (c Code) String() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	return fmt.Sprintf("unknown confirmation code 0x%02x", byte(c))
}

func (c Code) Error() string {
	return fmt.Sprintf("fingerprint module: %s (code 0x%02x)", c.String(), byte(c))
}

// SysParamsLen is the size of the ReadSysPara reply after the confirmation code.
const SysParamsLen = 16

// SysParams is the ReadSysPara reply.
type SysParams struct {
	Status         uint16 // status register (busy, pass, password verified, image buffer valid)
	SystemID       uint16 // system identifier code, 0x0009 on R30x
	LibrarySize    uint16 // template library capacity
	SecurityLevel  uint16 // 1..5
	Address        uint32
	PacketSizeCode uint16 // 0..3 for 32, 64, 128, 256 bytes
	BaudMultiplier uint16 // baud = 9600 * N
}

// PacketSize returns the data packet size in bytes, or 0 if the code is
// out of range.
func (s SysParams) PacketSize() int {
	if s.PacketSizeCode > 3 {
		return 0
	}
	return 32 << s.PacketSizeCode
}

// Baud returns the configured baud rate.
func (s SysParams) Baud() int { return 9600 * int(s.BaudMultiplier) }

// PacketSizeCode returns the code for a packet size of 32, 64, 128 or 256.
func PacketSizeCode(size int) (uint16, error) {
	for c := uint16(0); c <= 3; c++ {
		if 32<<c == size {
			return c, nil
		}
	}
	return 0, fmt.Errorf("proto: packet size %d is not 32, 64, 128 or 256", size)
}

// Marshal encodes s as the 16 data bytes of the reply.
func (s SysParams) Marshal() []byte {
	b := make([]byte, 0, SysParamsLen)
	b = binary.BigEndian.AppendUint16(b, s.Status)
	b = binary.BigEndian.AppendUint16(b, s.SystemID)
	b = binary.BigEndian.AppendUint16(b, s.LibrarySize)
	b = binary.BigEndian.AppendUint16(b, s.SecurityLevel)
	b = binary.BigEndian.AppendUint32(b, s.Address)
	b = binary.BigEndian.AppendUint16(b, s.PacketSizeCode)
	b = binary.BigEndian.AppendUint16(b, s.BaudMultiplier)
	return b
}

// ParseSysParams decodes the 16 data bytes of the reply.
func ParseSysParams(b []byte) (SysParams, error) {
	if len(b) != SysParamsLen {
		return SysParams{}, fmt.Errorf("proto: system parameters are %d bytes, want %d", len(b), SysParamsLen)
	}
	r := bytesx.NewReader(b, nil) // the length is checked: no read can fail
	s := SysParams{
		Status:         r.U16(),
		SystemID:       r.U16(),
		LibrarySize:    r.U16(),
		SecurityLevel:  r.U16(),
		Address:        r.U32(),
		PacketSizeCode: r.U16(),
		BaudMultiplier: r.U16(),
	}
	if s.PacketSize() == 0 {
		return SysParams{}, fmt.Errorf("proto: packet size code %d out of range", s.PacketSizeCode)
	}
	return s, nil
}

// ProdInfoLen is the size of the ReadProdInfo reply after the confirmation code.
const ProdInfoLen = 46

// ProdInfo is the ReadProdInfo reply of R50x-class modules.
type ProdInfo struct {
	Model        string // 16 bytes ASCII
	Batch        string // 4 bytes ASCII
	Serial       string // 8 bytes ASCII
	HWMajor      uint8
	HWMinor      uint8
	SensorType   string // 8 bytes ASCII
	SensorWidth  uint16
	SensorHeight uint16
	TemplateSize uint16
	DatabaseSize uint16
}

// Marshal encodes p as the 46 data bytes of the reply. Strings longer than
// their field are cut.
func (p ProdInfo) Marshal() []byte {
	b := make([]byte, 0, ProdInfoLen)
	b = appendField(b, p.Model, 16)
	b = appendField(b, p.Batch, 4)
	b = appendField(b, p.Serial, 8)
	b = append(b, p.HWMajor, p.HWMinor)
	b = appendField(b, p.SensorType, 8)
	b = binary.BigEndian.AppendUint16(b, p.SensorWidth)
	b = binary.BigEndian.AppendUint16(b, p.SensorHeight)
	b = binary.BigEndian.AppendUint16(b, p.TemplateSize)
	b = binary.BigEndian.AppendUint16(b, p.DatabaseSize)
	return b
}

// ParseProdInfo decodes the 46 data bytes of the reply.
func ParseProdInfo(b []byte) (ProdInfo, error) {
	if len(b) != ProdInfoLen {
		return ProdInfo{}, fmt.Errorf("proto: product info is %d bytes, want %d", len(b), ProdInfoLen)
	}
	r := bytesx.NewReader(b, nil) // the length is checked: no read can fail
	return ProdInfo{
		Model:        Text(r.Bytes(16)),
		Batch:        Text(r.Bytes(4)),
		Serial:       Text(r.Bytes(8)),
		HWMajor:      r.U8(),
		HWMinor:      r.U8(),
		SensorType:   Text(r.Bytes(8)),
		SensorWidth:  r.U16(),
		SensorHeight: r.U16(),
		TemplateSize: r.U16(),
		DatabaseSize: r.U16(),
	}, nil
}

// FwVerLen is the size of the GetFwVer reply after the confirmation code.
const FwVerLen = 32

// FwVer encodes a firmware version string as the 32-byte reply field.
func FwVer(s string) []byte { return appendField(nil, s, FwVerLen) }

func appendField(b []byte, s string, n int) []byte {
	f := make([]byte, n)
	copy(f, s)
	return append(b, f...)
}

// Text turns a fixed-size ASCII field into a string: it stops at the first
// NUL and replaces anything that is not printable ASCII with '?', so module
// output cannot smuggle control characters into logs.
func Text(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return string(bytes.TrimRight(out, " "))
}

// Image geometry of the R307 / AS608: 256 x 288 pixels, sent as 4 bits per
// pixel, two pixels per byte, high nibble first.
const (
	DefaultWidth  = 256
	DefaultHeight = 288
	// MaxDim bounds what a module may claim as its image size.
	MaxDim = 1024
)

// PackedLen is the number of bytes UpImage sends for a w x h image.
func PackedLen(w, h int) int { return (w*h + 1) / 2 }

// ErrImageSize is returned when an image buffer does not match its geometry.
var ErrImageSize = errors.New("proto: image data does not match the image size")

// Unpack turns 4-bit image data into an 8-bit grey image. Each nibble v
// becomes v*17 so 0x0 maps to 0 and 0xF to 255.
func Unpack(data []byte, w, h int) (*image.Gray, error) {
	if w <= 0 || h <= 0 || w > MaxDim || h > MaxDim {
		return nil, ErrImageSize
	}
	if len(data) != PackedLen(w, h) {
		return nil, ErrImageSize
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		b := data[i/2]
		if i%2 == 0 {
			b >>= 4
		} else {
			b &= 0x0F
		}
		img.Pix[i] = b * 17
	}
	return img, nil
}

// Pack turns an 8-bit grey image into 4-bit image data, keeping the top
// nibble of each pixel as the module does.
func Pack(img *image.Gray) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, PackedLen(w, h))
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := img.GrayAt(x, y).Y >> 4
			if i%2 == 0 {
				out[i/2] = v << 4
			} else {
				out[i/2] |= v
			}
			i++
		}
	}
	return out
}
