package firmware

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

// PCRExtender extends a TPM PCR with a SHA-256 digest. internal/tpm
// implements it; tests use a fake.
type PCRExtender interface {
	ExtendPCR(ctx context.Context, idx int, digest []byte) error
}

// EventExtender is a PCRExtender that also keeps an event log
// (tpm.EventLog): Extend hands it the measured bytes and EventType, so a
// verifier can replay the log and read the firmware version measured.
type EventExtender interface {
	ExtendPCREvent(ctx context.Context, idx int, typ string, digest, data []byte) error
}

// EventType is the event-log type of a sensor measurement; the event's data
// is Measurement.Event.
const EventType = measurementTag

// SuggestedPCR is the PCR for the sensor measurement: 14, the index
// internal/tpm reserves for sensor-module firmware (tpm.PCRFirmware). It is
// repeated here so the bridge does not import the TPM layer.
const SuggestedPCR = 14

// Report is what the module says about itself.
type Report struct {
	// Firmware is the GetFwVer string, "" if the module has no such command.
	Firmware string
	// ProdInfo is the ReadProdInfo answer, nil if the module has none.
	ProdInfo *proto.ProdInfo
	// SystemID and LibrarySize come from ReadSysPara. Settings the host can
	// change (address, baud, packet size, security level) are left out so
	// the measurement only moves when the module itself changes.
	SystemID    uint16
	LibrarySize uint16
}

// Measurement is the canonical encoding of a Report and its SHA-256.
type Measurement struct {
	Report Report
	// Event is the exact byte string that was hashed, for a TPM event log.
	Event  []byte
	Digest [32]byte
}

// measurementTag separates this digest from any other SHA-256 in a PCR.
const measurementTag = "edgetrust/firmware-bridge/sensor-measurement/v1"

// Measure encodes r canonically (tag, then each field as a 1-byte field
// number, a 2-byte length and the value) and hashes it.
func Measure(r Report) Measurement {
	var b []byte
	b = append(b, measurementTag...)
	b = append(b, 0)
	field := func(id byte, v []byte) {
		b = append(b, id)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	field(1, []byte(r.Firmware))
	if p := r.ProdInfo; p != nil {
		field(2, []byte(p.Model))
		field(3, []byte(p.Batch))
		field(4, []byte(p.Serial))
		field(5, []byte{p.HWMajor, p.HWMinor})
		field(6, []byte(p.SensorType))
		field(7, u16(p.SensorWidth))
		field(8, u16(p.SensorHeight))
		field(9, u16(p.TemplateSize))
		field(10, u16(p.DatabaseSize))
	} else {
		field(2, nil) // no product information: a different digest, not a missing one
	}
	field(11, u16(r.SystemID))
	field(12, u16(r.LibrarySize))
	return Measurement{Report: r, Event: b, Digest: sha256.Sum256(b)}
}

// Hex returns the digest in lower-case hex.
func (m Measurement) Hex() string { return hex.EncodeToString(m.Digest[:]) }

// Extend extends PCR idx with the digest.
func (m Measurement) Extend(ctx context.Context, tpm PCRExtender, idx int) error {
	if tpm == nil {
		return errors.New("firmware: no PCR extender")
	}
	if idx < 0 || idx > 23 {
		return fmt.Errorf("firmware: PCR index %d out of range 0..23", idx)
	}
	var err error
	if el, ok := tpm.(EventExtender); ok {
		err = el.ExtendPCREvent(ctx, idx, EventType, m.Digest[:], m.Event)
	} else {
		err = tpm.ExtendPCR(ctx, idx, m.Digest[:])
	}
	if err != nil {
		return fmt.Errorf("firmware: extend PCR %d: %w", idx, err)
	}
	return nil
}
