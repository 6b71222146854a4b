package template

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/edgetrust/edgetrust/internal/bytesx"
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

var (
	magic    = []byte("FMR\x00")
	version2 = []byte(" 20\x00")
	version3 = []byte("030\x00")
)

// Detect reports the format of b from its header, without validating the
// rest. Version "030" is ISO 2011 when its representation lengths add up
// to the record length, ANSI 2009 otherwise.
func Detect(b []byte) (Format, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], magic) {
		return 0, ErrFormat
	}
	switch {
	case bytes.Equal(b[4:8], version2):
		// ISO 2005 has a 4-byte length; ANSI 2004 a 2-byte one (or 0x0000
		// then 4 bytes) followed by a CBEFF product ID. A record is at
		// least 24 (ISO) or 26 (ANSI) bytes, which tells them apart.
		if len(b) < 12 {
			return 0, ErrTruncated
		}
		l16 := binary.BigEndian.Uint16(b[8:10])
		if l16 == 0 {
			if binary.BigEndian.Uint32(b[8:12]) >= 24 {
				return ISO2005, nil
			}
			return ANSI2004, nil
		}
		if l16 < 26 {
			return ISO2005, nil
		}
		return ANSI2004, nil
	case bytes.Equal(b[4:8], version3):
		if iso2011Framed(b) {
			return ISO2011, nil
		}
		return ANSI2009, nil
	}
	return 0, fmt.Errorf("%w: unknown version %q", ErrFormat, b[4:8])
}

// iso2011Framed checks the 19794-1:2011 framing: a 15-byte header and
// representations whose lengths sum to the record length.
func iso2011Framed(b []byte) bool {
	if len(b) < 15 {
		return false
	}
	total := int64(binary.BigEndian.Uint32(b[8:12]))
	n := int(binary.BigEndian.Uint16(b[12:14]))
	off := int64(15)
	for i := 0; i < n; i++ {
		if off+4 > int64(len(b)) {
			return false
		}
		l := int64(binary.BigEndian.Uint32(b[off : off+4]))
		if l < 34 {
			return false
		}
		off += l
	}
	return off == total
}

// Parse decodes a record in any supported format.
func Parse(b []byte) (*Record, error) {
	if len(b) > MaxRecord {
		return nil, invalid("record of %d bytes exceeds %d", len(b), MaxRecord)
	}
	f, err := Detect(b)
	if err != nil {
		return nil, err
	}
	rec := &Record{Format: f}
	r := bytesx.NewReader(b, ErrTruncated)
	r.Skip(8)
	switch f {
	case ISO2005, ANSI2004:
		err = rec.parseV2(r)
	case ISO2011:
		err = rec.parseISO2011(r)
	case ANSI2009:
		err = rec.parseANSI2009(r)
	}
	if err != nil {
		return nil, fmt.Errorf("template: %s: %w", f, err)
	}
	return rec, nil
}

// recordLength reads the length field and checks it against the data.
func recordLength(r *bytesx.Reader, ansi2004 bool) error {
	var l uint32
	if ansi2004 {
		l = uint32(r.U16())
		if l == 0 {
			l = r.U32()
		}
	} else {
		l = r.U32()
	}
	if r.Err() != nil {
		return r.Err()
	}
	have := r.Offset() + r.Len() // r reads the whole record
	if int64(l) > int64(have) {
		return fmt.Errorf("%w: record length says %d bytes, have %d", ErrTruncated, l, have)
	}
	if int64(l) < int64(have) {
		return invalid("record length says %d bytes, have %d", l, have)
	}
	return nil
}

// readEquipment reads the capture equipment field: 4 bits of compliance,
// 12 of identifier.
func (rec *Record) readEquipment(r *bytesx.Reader) {
	eq := r.U16()
	rec.EquipmentCompliance = uint8(eq >> 12)
	rec.EquipmentID = eq & 0x0FFF
}

// viewCount reads the number of views and the reserved byte after it.
func viewCount(r *bytesx.Reader) (int, error) {
	n := int(r.U8())
	r.U8() // reserved
	if r.Err() != nil {
		return 0, r.Err()
	}
	if n == 0 {
		return 0, invalid("no finger views")
	}
	return n, nil
}

// parseViewData reads what follows every view header: the minutiae, then
// the extended data.
func (rec *Record) parseViewData(r *bytesx.Reader, v *View, n, size int) error {
	if err := rec.parseMinutiae(r, v, n, size); err != nil {
		return err
	}
	return rec.parseExtended(r, v)
}

// parseV2 reads ISO 2005 and ANSI 2004 records.
func (rec *Record) parseV2(r *bytesx.Reader) error {
	ansi := rec.Format == ANSI2004
	if err := recordLength(r, ansi); err != nil {
		return err
	}
	if ansi {
		rec.CBEFFOwner = r.U16()
		rec.CBEFFType = r.U16()
	}
	rec.readEquipment(r)
	rec.Width, rec.Height = r.U16(), r.U16()
	rec.ResX, rec.ResY = r.U16(), r.U16()
	n, err := viewCount(r)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		v := View{Width: rec.Width, Height: rec.Height, ResX: rec.ResX, ResY: rec.ResY}
		v.Position = r.U8()
		vi := r.U8()
		v.ViewNumber, v.Impression = vi>>4, vi&0x0F
		v.Quality = r.U8()
		m := int(r.U8())
		if r.Err() != nil {
			return r.Err()
		}
		if err := rec.parseViewData(r, &v, m, 6); err != nil {
			return fmt.Errorf("view %d: %w", i+1, err)
		}
		rec.Views = append(rec.Views, v)
	}
	return rec.finish(r)
}

// parseANSI2009 reads ANSI 378-2009 records (20-byte header, 17-byte view
// header).
func (rec *Record) parseANSI2009(r *bytesx.Reader) error {
	if err := recordLength(r, false); err != nil {
		return err
	}
	rec.CBEFFOwner = r.U16()
	rec.CBEFFType = r.U16()
	rec.readEquipment(r)
	n, err := viewCount(r)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var v View
		v.Position = r.U8()
		v.ViewNumber = r.U8()
		v.Impression = r.U8()
		v.Quality = r.U8()
		v.QualityVendor, v.QualityAlgorithm = r.U16(), r.U16()
		v.Width, v.Height = r.U16(), r.U16()
		v.ResX, v.ResY = r.U16(), r.U16()
		m := int(r.U8())
		if r.Err() != nil {
			return r.Err()
		}
		if v.ViewNumber > 15 {
			return invalid("view %d: view number %d", i+1, v.ViewNumber)
		}
		if err := rec.parseViewData(r, &v, m, 6); err != nil {
			return fmt.Errorf("view %d: %w", i+1, err)
		}
		rec.Views = append(rec.Views, v)
	}
	return rec.finish(r)
}

// parseISO2011 reads ISO/IEC 19794-2:2011 records.
func (rec *Record) parseISO2011(r *bytesx.Reader) error {
	if err := recordLength(r, false); err != nil {
		return err
	}
	n := int(r.U16())
	cert := r.U8()
	if r.Err() != nil {
		return r.Err()
	}
	if cert > 1 {
		return invalid("certification flag %d", cert)
	}
	rec.CertFlag = cert == 1
	if n == 0 || n > MaxViews {
		return invalid("%d finger representations", n)
	}
	for i := 0; i < n; i++ {
		l := int(r.U32())
		if r.Err() != nil {
			return r.Err()
		}
		if l < 4 || l-4 > r.Len() {
			return fmt.Errorf("%w: representation %d length %d", ErrTruncated, i+1, l)
		}
		// Read the representation inside its own bounds.
		sub := r.Sub(l - 4)
		var v View
		copy(v.CaptureTime[:], sub.Bytes(9))
		v.DeviceTech = sub.U8()
		v.DeviceVendor, v.DeviceType = sub.U16(), sub.U16()
		nq := int(sub.U8())
		for j := 0; j < nq && sub.Err() == nil; j++ {
			v.QualityBlocks = append(v.QualityBlocks, QualityBlock{sub.U8(), sub.U16(), sub.U16()})
		}
		if rec.CertFlag {
			nc := int(sub.U8())
			for j := 0; j < nc && sub.Err() == nil; j++ {
				v.CertBlocks = append(v.CertBlocks, CertBlock{sub.U16(), sub.U8()})
			}
		}
		v.Position = sub.U8()
		v.ViewNumber = sub.U8()
		v.ResX, v.ResY = sub.U16(), sub.U16()
		v.Impression = sub.U8()
		v.Width, v.Height = sub.U16(), sub.U16()
		flags := sub.U8()
		m := int(sub.U8())
		if sub.Err() != nil {
			return fmt.Errorf("representation %d: %w", i+1, sub.Err())
		}
		v.MinutiaSize, v.EndingType = flags>>4, flags&0x0F
		if v.MinutiaSize != 5 && v.MinutiaSize != 6 {
			return invalid("representation %d: minutia field length %d, want 5 or 6", i+1, v.MinutiaSize)
		}
		if v.EndingType > 1 {
			return invalid("representation %d: ridge ending type %d", i+1, v.EndingType)
		}
		if v.ViewNumber > 15 {
			return invalid("representation %d: view number %d", i+1, v.ViewNumber)
		}
		if err := rec.parseViewData(sub, &v, m, int(v.MinutiaSize)); err != nil {
			return fmt.Errorf("representation %d: %w", i+1, err)
		}
		if sub.Len() != 0 {
			return invalid("representation %d: %d bytes after its extended data", i+1, sub.Len())
		}
		rec.Views = append(rec.Views, v)
	}
	return rec.finish(r)
}

// finish checks that the views used the record exactly and that views are
// consistent.
func (rec *Record) finish(r *bytesx.Reader) error {
	if r.Err() != nil {
		return r.Err()
	}
	if r.Len() != 0 {
		return invalid("%d bytes after the last view", r.Len())
	}
	if len(rec.Views) > MaxViews {
		return invalid("%d views", len(rec.Views))
	}
	for i, v := range rec.Views {
		if err := v.check(rec.Format); err != nil {
			return fmt.Errorf("view %d: %w", i+1, err)
		}
	}
	return nil
}

func (v *View) check(f Format) error {
	if v.Position > 15 {
		return invalid("finger position %d", v.Position)
	}
	if v.Width == 0 || v.Height == 0 || v.Width > 0x3FFF || v.Height > 0x3FFF {
		return invalid("image size %dx%d", v.Width, v.Height)
	}
	if v.ResX == 0 || v.ResY == 0 {
		return invalid("resolution %dx%d px/cm", v.ResX, v.ResY)
	}
	for j, m := range v.Minutiae {
		if m.Type > Bifurcation {
			return invalid("minutia %d: type 3 is reserved", j+1)
		}
		if f.ansi() && m.Angle > 179 {
			return invalid("minutia %d: angle %d exceeds 179 (2-degree units)", j+1, m.Angle)
		}
		if f == ISO2011 && v.MinutiaSize == 5 {
			continue
		}
		if m.Quality > 100 && !(f == ISO2011 && (m.Quality == 254 || m.Quality == 255)) {
			return invalid("minutia %d: quality %d", j+1, m.Quality)
		}
	}
	for _, rc := range v.RidgeCounts {
		if int(rc.A) > len(v.Minutiae) || int(rc.B) > len(v.Minutiae) {
			return invalid("ridge count refers to minutia %d/%d of %d", rc.A, rc.B, len(v.Minutiae))
		}
	}
	return nil
}

func (rec *Record) parseMinutiae(r *bytesx.Reader, v *View, n, size int) error {
	if n*size > r.Len() {
		return fmt.Errorf("%w: %d minutiae need %d bytes, have %d", ErrTruncated, n, n*size, r.Len())
	}
	v.Minutiae = make([]Minutia, n)
	for i := range v.Minutiae {
		tx := r.U16()
		ry := r.U16()
		m := Minutia{Type: MinutiaType(tx >> 14), X: tx & 0x3FFF, Reserved: uint8(ry >> 14), Y: ry & 0x3FFF}
		m.Angle = r.U8()
		if size == 6 {
			m.Quality = r.U8()
		} else {
			m.Quality = 254
		}
		v.Minutiae[i] = m
	}
	return r.Err()
}

// Extended data block type codes.
const (
	extRidgeCount = 0x0001
	extCoreDelta  = 0x0002
)

// parseExtended reads the extended data of one view.
func (rec *Record) parseExtended(r *bytesx.Reader, v *View) error {
	total := int(r.U16())
	if r.Err() != nil {
		return r.Err()
	}
	remaining := total
	for remaining > 0 {
		start := r.Offset()
		typ := r.U16()
		l := int(r.U16())
		if r.Err() != nil {
			return r.Err()
		}
		if l < 4 {
			return invalid("extended data block 0x%04x: length %d", typ, l)
		}
		if l > remaining {
			return invalid("extended data block 0x%04x: length %d exceeds the %d bytes left in the view's extended data", typ, l, remaining)
		}
		switch typ {
		case extRidgeCount:
			if v.HasRidgeCounts {
				return invalid("two ridge count blocks")
			}
			if err := rec.parseRidgeCounts(r, v, l-4); err != nil {
				return err
			}
		case extCoreDelta:
			if v.HasCoreDelta {
				return invalid("two core/delta blocks")
			}
			used, err := rec.parseCoreDelta(r, v)
			if err != nil {
				return err
			}
			if used != l-4 {
				// libbiomeval's test records (fmr.ansi2004 view 3 and
				// fmr.iso2005 view 2) have a core/delta length field off
				// by up to 2 bytes; the view's extended-data length repeats
				// the error. Accept exactly that: a small mismatch in the
				// last block, the record continuing where its content ends.
				if d := used - (l - 4); d < -2 || d > 2 || l != remaining {
					return invalid("core/delta block length %d, content %d bytes", l, used+4)
				}
				rec.Warnings = append(rec.Warnings, fmt.Sprintf("core/delta block length field says %d bytes, content occupies %d (tolerated: libbiomeval test-record quirk)", l, used+4))
				return r.Err()
			}
		default:
			data := r.Bytes(l - 4)
			if r.Err() != nil {
				return r.Err()
			}
			v.Extensions = append(v.Extensions, Extension{Type: typ, Data: append([]byte(nil), data...)})
		}
		if r.Offset()-start != l {
			return invalid("extended data block 0x%04x: read %d of %d bytes", typ, r.Offset()-start, l)
		}
		remaining -= l
	}
	return r.Err()
}

func (rec *Record) parseRidgeCounts(r *bytesx.Reader, v *View, n int) error {
	if n < 1 || (n-1)%3 != 0 {
		return invalid("ridge count block of %d bytes", n+4)
	}
	v.HasRidgeCounts = true
	v.RidgeCountMethod = r.U8()
	if v.RidgeCountMethod > 2 {
		return invalid("ridge count extraction method %d", v.RidgeCountMethod)
	}
	for i := 0; i < (n-1)/3; i++ {
		v.RidgeCounts = append(v.RidgeCounts, RidgeCount{r.U8(), r.U8(), r.U8()})
	}
	return r.Err()
}

// parseCoreDelta reads a core/delta block and returns how many content
// bytes it used. The content is read by its own counts, within the
// record's bytes; the caller compares that with the declared length.
func (rec *Record) parseCoreDelta(r *bytesx.Reader, v *View) (int, error) {
	start := r.Offset()
	v.HasCoreDelta = true
	if rec.Format.ansi() {
		// Info byte: bits 7-6 info type (01 = angles), bits 3-0 count.
		info := r.U8()
		typ, cnt := info>>6, int(info&0x0F)
		if typ > 1 {
			return 0, invalid("core info type %d", typ)
		}
		for i := 0; i < cnt; i++ {
			c := Core{X: r.U16() & 0x3FFF, Y: r.U16() & 0x3FFF, HasAngle: typ == 1}
			if c.HasAngle {
				c.Angle = r.U8()
			}
			v.Cores = append(v.Cores, c)
		}
		info = r.U8()
		typ, cnt = info>>6, int(info&0x0F)
		if typ > 1 {
			return 0, invalid("delta info type %d", typ)
		}
		for i := 0; i < cnt; i++ {
			d := Delta{X: r.U16() & 0x3FFF, Y: r.U16() & 0x3FFF, HasAngles: typ == 1}
			if d.HasAngles {
				d.Angles = [3]uint8{r.U8(), r.U8(), r.U8()}
			}
			v.Deltas = append(v.Deltas, d)
		}
	} else {
		// ISO: count byte; each point carries its info type in the top
		// two bits of X (01 = angle present).
		cnt := int(r.U8())
		if cnt > 15 {
			return 0, invalid("%d cores", cnt)
		}
		for i := 0; i < cnt; i++ {
			x := r.U16()
			if x>>14 > 1 {
				return 0, invalid("core info type %d", x>>14)
			}
			c := Core{X: x & 0x3FFF, Y: r.U16() & 0x3FFF, HasAngle: x>>14 == 1}
			if c.HasAngle {
				c.Angle = r.U8()
			}
			v.Cores = append(v.Cores, c)
		}
		cnt = int(r.U8())
		if cnt > 15 {
			return 0, invalid("%d deltas", cnt)
		}
		for i := 0; i < cnt; i++ {
			x := r.U16()
			if x>>14 > 1 {
				return 0, invalid("delta info type %d", x>>14)
			}
			d := Delta{X: x & 0x3FFF, Y: r.U16() & 0x3FFF, HasAngles: x>>14 == 1}
			if d.HasAngles {
				d.Angles = [3]uint8{r.U8(), r.U8(), r.U8()}
			}
			v.Deltas = append(v.Deltas, d)
		}
	}
	if r.Err() != nil {
		return 0, r.Err()
	}
	return r.Offset() - start, nil
}
