package template

import (
	"encoding/binary"
	"fmt"
)

type writer struct{ b []byte }

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

// Marshal encodes the record in rec.Format with every length computed
// afresh (a record parsed with a tolerated quirk is written correctly).
func (rec *Record) Marshal() ([]byte, error) {
	if len(rec.Views) == 0 || len(rec.Views) > MaxViews {
		return nil, invalid("%d views", len(rec.Views))
	}
	if (rec.Format == ISO2005 || rec.Format == ANSI2004 || rec.Format == ANSI2009) && len(rec.Views) > 255 {
		return nil, invalid("%d views", len(rec.Views))
	}
	for i := range rec.Views {
		v := &rec.Views[i]
		if err := v.checkWrite(rec.Format); err != nil {
			return nil, fmt.Errorf("view %d: %w", i+1, err)
		}
	}
	w := &writer{}
	w.b = append(w.b, magic...)
	switch rec.Format {
	case ISO2005, ANSI2004:
		w.b = append(w.b, version2...)
		lenAt := len(w.b)
		if rec.Format == ANSI2004 {
			w.u16(0)
			w.u32(0) // 6-byte length form, fixed up below
			w.u16(rec.CBEFFOwner)
			w.u16(rec.CBEFFType)
		} else {
			w.u32(0)
		}
		w.u16(uint16(rec.EquipmentCompliance&0x0F)<<12 | rec.EquipmentID&0x0FFF)
		w.u16(rec.Width)
		w.u16(rec.Height)
		w.u16(rec.ResX)
		w.u16(rec.ResY)
		w.u8(uint8(len(rec.Views)))
		w.u8(0)
		for i := range rec.Views {
			v := &rec.Views[i]
			w.u8(v.Position)
			w.u8(v.ViewNumber<<4 | v.Impression&0x0F)
			w.u8(v.Quality)
			w.u8(uint8(len(v.Minutiae)))
			writeMinutiae(w, v, 6)
			if err := writeExtended(w, v, rec.Format); err != nil {
				return nil, fmt.Errorf("view %d: %w", i+1, err)
			}
		}
		if rec.Format == ANSI2004 {
			if len(w.b) < 1<<16 {
				// The short form: drop the 4 spare bytes.
				out := append(w.b[:lenAt:lenAt], w.b[lenAt+4:]...)
				binary.BigEndian.PutUint16(out[lenAt:], uint16(len(out)))
				return out, nil
			}
			binary.BigEndian.PutUint32(w.b[lenAt+2:], uint32(len(w.b)))
		} else {
			binary.BigEndian.PutUint32(w.b[lenAt:], uint32(len(w.b)))
		}
	case ANSI2009:
		w.b = append(w.b, version3...)
		w.u32(0)
		w.u16(rec.CBEFFOwner)
		w.u16(rec.CBEFFType)
		w.u16(uint16(rec.EquipmentCompliance&0x0F)<<12 | rec.EquipmentID&0x0FFF)
		w.u8(uint8(len(rec.Views)))
		w.u8(0)
		for i := range rec.Views {
			v := &rec.Views[i]
			w.u8(v.Position)
			w.u8(v.ViewNumber)
			w.u8(v.Impression)
			w.u8(v.Quality)
			w.u16(v.QualityVendor)
			w.u16(v.QualityAlgorithm)
			w.u16(v.Width)
			w.u16(v.Height)
			w.u16(v.ResX)
			w.u16(v.ResY)
			w.u8(uint8(len(v.Minutiae)))
			writeMinutiae(w, v, 6)
			if err := writeExtended(w, v, rec.Format); err != nil {
				return nil, fmt.Errorf("view %d: %w", i+1, err)
			}
		}
		binary.BigEndian.PutUint32(w.b[8:], uint32(len(w.b)))
	case ISO2011:
		w.b = append(w.b, version3...)
		w.u32(0)
		w.u16(uint16(len(rec.Views)))
		if rec.CertFlag {
			w.u8(1)
		} else {
			w.u8(0)
		}
		for i := range rec.Views {
			v := &rec.Views[i]
			start := len(w.b)
			w.u32(0)
			w.b = append(w.b, v.CaptureTime[:]...)
			w.u8(v.DeviceTech)
			w.u16(v.DeviceVendor)
			w.u16(v.DeviceType)
			w.u8(uint8(len(v.QualityBlocks)))
			for _, q := range v.QualityBlocks {
				w.u8(q.Score)
				w.u16(q.Vendor)
				w.u16(q.Algorithm)
			}
			if rec.CertFlag {
				w.u8(uint8(len(v.CertBlocks)))
				for _, c := range v.CertBlocks {
					w.u16(c.Authority)
					w.u8(c.Scheme)
				}
			}
			w.u8(v.Position)
			w.u8(v.ViewNumber)
			w.u16(v.ResX)
			w.u16(v.ResY)
			w.u8(v.Impression)
			w.u16(v.Width)
			w.u16(v.Height)
			size := v.MinutiaSize
			if size == 0 {
				size = 6
			}
			w.u8(size<<4 | v.EndingType&0x0F)
			w.u8(uint8(len(v.Minutiae)))
			writeMinutiae(w, v, int(size))
			if err := writeExtended(w, v, rec.Format); err != nil {
				return nil, fmt.Errorf("representation %d: %w", i+1, err)
			}
			binary.BigEndian.PutUint32(w.b[start:], uint32(len(w.b)-start))
		}
		binary.BigEndian.PutUint32(w.b[8:], uint32(len(w.b)))
	default:
		return nil, fmt.Errorf("%w: format %v", ErrInvalid, rec.Format)
	}
	if len(w.b) > MaxRecord {
		return nil, invalid("record of %d bytes exceeds %d", len(w.b), MaxRecord)
	}
	return w.b, nil
}

func (v *View) checkWrite(f Format) error {
	if len(v.Minutiae) > 255 {
		return invalid("%d minutiae (at most 255)", len(v.Minutiae))
	}
	if v.ViewNumber > 15 || (v.Impression > 15 && (f == ISO2005 || f == ANSI2004)) {
		return invalid("view number %d / impression %d", v.ViewNumber, v.Impression)
	}
	if f == ISO2011 {
		if v.MinutiaSize != 0 && v.MinutiaSize != 5 && v.MinutiaSize != 6 {
			return invalid("minutia size %d", v.MinutiaSize)
		}
		if len(v.QualityBlocks) > 255 || len(v.CertBlocks) > 255 {
			return invalid("too many quality or certification blocks")
		}
	}
	for j, m := range v.Minutiae {
		if m.X > 0x3FFF || m.Y > 0x3FFF || m.Type > Bifurcation || m.Reserved > 3 {
			return invalid("minutia %d out of range", j+1)
		}
		if f.ansi() && m.Angle > 179 {
			return invalid("minutia %d: angle %d exceeds 179", j+1, m.Angle)
		}
	}
	if len(v.RidgeCounts) > (0xFFFF-5)/3 {
		return invalid("%d ridge counts", len(v.RidgeCounts))
	}
	if v.RidgeCountMethod > 2 {
		return invalid("ridge count method %d", v.RidgeCountMethod)
	}
	if len(v.Cores) > 15 || len(v.Deltas) > 15 {
		return invalid("%d cores, %d deltas (at most 15 each)", len(v.Cores), len(v.Deltas))
	}
	if f.ansi() {
		for _, c := range v.Cores {
			if c.HasAngle != v.Cores[0].HasAngle {
				return invalid("ANSI cores must all have angles or none")
			}
		}
		for _, d := range v.Deltas {
			if d.HasAngles != v.Deltas[0].HasAngles {
				return invalid("ANSI deltas must all have angles or none")
			}
		}
	}
	return nil
}

func writeMinutiae(w *writer, v *View, size int) {
	for _, m := range v.Minutiae {
		w.u16(uint16(m.Type)<<14 | m.X&0x3FFF)
		w.u16(uint16(m.Reserved&3)<<14 | m.Y&0x3FFF)
		w.u8(m.Angle)
		if size == 6 {
			w.u8(m.Quality)
		}
	}
}

func writeExtended(w *writer, v *View, f Format) error {
	lenAt := len(w.b)
	w.u16(0)
	if v.HasRidgeCounts {
		w.u16(extRidgeCount)
		w.u16(uint16(4 + 1 + 3*len(v.RidgeCounts)))
		w.u8(v.RidgeCountMethod)
		for _, rc := range v.RidgeCounts {
			w.u8(rc.A)
			w.u8(rc.B)
			w.u8(rc.Count)
		}
	}
	if v.HasCoreDelta {
		w.u16(extCoreDelta)
		at := len(w.b)
		w.u16(0)
		if f.ansi() {
			var info uint8
			if len(v.Cores) > 0 && v.Cores[0].HasAngle {
				info = 0x40
			}
			w.u8(info | uint8(len(v.Cores)))
			for _, c := range v.Cores {
				w.u16(c.X & 0x3FFF)
				w.u16(c.Y & 0x3FFF)
				if c.HasAngle {
					w.u8(c.Angle)
				}
			}
			info = 0
			if len(v.Deltas) > 0 && v.Deltas[0].HasAngles {
				info = 0x40
			}
			w.u8(info | uint8(len(v.Deltas)))
			for _, d := range v.Deltas {
				w.u16(d.X & 0x3FFF)
				w.u16(d.Y & 0x3FFF)
				if d.HasAngles {
					w.b = append(w.b, d.Angles[:]...)
				}
			}
		} else {
			w.u8(uint8(len(v.Cores)))
			for _, c := range v.Cores {
				x := c.X & 0x3FFF
				if c.HasAngle {
					x |= 0x4000
				}
				w.u16(x)
				w.u16(c.Y & 0x3FFF)
				if c.HasAngle {
					w.u8(c.Angle)
				}
			}
			w.u8(uint8(len(v.Deltas)))
			for _, d := range v.Deltas {
				x := d.X & 0x3FFF
				if d.HasAngles {
					x |= 0x4000
				}
				w.u16(x)
				w.u16(d.Y & 0x3FFF)
				if d.HasAngles {
					w.b = append(w.b, d.Angles[:]...)
				}
			}
		}
		binary.BigEndian.PutUint16(w.b[at:], uint16(len(w.b)-at+2))
	}
	for _, e := range v.Extensions {
		if e.Type == extRidgeCount || e.Type == extCoreDelta || e.Type == 0 {
			return invalid("extension type 0x%04x is reserved or interpreted", e.Type)
		}
		if len(e.Data) > 0xFFFF-4 {
			return invalid("extension of %d bytes", len(e.Data))
		}
		w.u16(e.Type)
		w.u16(uint16(4 + len(e.Data)))
		w.b = append(w.b, e.Data...)
	}
	n := len(w.b) - lenAt - 2
	if n > 0xFFFF {
		return invalid("extended data of %d bytes", n)
	}
	binary.BigEndian.PutUint16(w.b[lenAt:], uint16(n))
	return nil
}
