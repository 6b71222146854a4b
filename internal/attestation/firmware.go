package attestation

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
)

// FirmwareEvent is what a verifier reads from a firmware-bridge measurement
// event (type firmware.EventType; data firmware.Measurement.Event): the
// tag, a zero byte, then fields of a 1-byte number, a 2-byte big-endian
// length and the value. Field 1 is the GetFwVer string, field 2 the model
// (empty when the module reports no product information).
type FirmwareEvent struct {
	Firmware string
	Model    string
}

// ParseFirmwareEvent decodes a firmware-bridge measurement event's data.
func ParseFirmwareEvent(data []byte) (*FirmwareEvent, error) {
	tag := []byte(firmware.EventType + "\x00")
	if !bytes.HasPrefix(data, tag) {
		return nil, errors.New("attest: not a firmware-bridge measurement (wrong tag)")
	}
	b := data[len(tag):]
	var fe FirmwareEvent
	seen := map[byte]bool{}
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, errors.New("attest: firmware measurement: truncated field")
		}
		id, n := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+n {
			return nil, errors.New("attest: firmware measurement: field longer than the event")
		}
		if seen[id] {
			return nil, errors.New("attest: firmware measurement: a field appears twice")
		}
		seen[id] = true
		v := b[3 : 3+n]
		switch id {
		case 1:
			fe.Firmware = string(v)
		case 2:
			fe.Model = string(v)
		}
		b = b[3+n:]
	}
	if !seen[1] {
		return nil, errors.New("attest: firmware measurement without a firmware field")
	}
	return &fe, nil
}
