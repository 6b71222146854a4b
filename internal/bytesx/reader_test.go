package bytesx

import (
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	r := NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, nil)
	if v := r.U8(); v != 1 {
		t.Fatalf("U8 %d", v)
	}
	if v := r.U16(); v != 0x0203 {
		t.Fatalf("U16 %#x", v)
	}
	if v := r.U24(); v != 0x040506 {
		t.Fatalf("U24 %#x", v)
	}
	if v := r.U32(); v != 0x0708090A {
		t.Fatalf("U32 %#x", v)
	}
	if r.Offset() != 10 || r.Len() != 1 || r.Err() != nil {
		t.Fatalf("offset %d len %d err %v", r.Offset(), r.Len(), r.Err())
	}
	if v := r.U16(); v != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("overrun: %d %v", v, r.Err())
	}
	// The failure sticks, even for a read that would fit.
	if v := r.U8(); v != 0 || r.Offset() != 10 {
		t.Fatalf("after overrun: %d at %d", v, r.Offset())
	}
}

func TestReaderCallerError(t *testing.T) {
	mine := errors.New("mine")
	r := NewReader(nil, mine)
	if r.Bytes(-1) != nil || !errors.Is(r.Err(), mine) {
		t.Fatalf("negative length: %v", r.Err())
	}
}

func TestSub(t *testing.T) {
	r := NewReader([]byte{0, 1, 2, 3, 4, 5}, nil)
	r.U8()
	s := r.Sub(3)
	if r.Offset() != 4 || s.Offset() != 1 || s.Len() != 3 {
		t.Fatalf("parent at %d, sub at %d with %d", r.Offset(), s.Offset(), s.Len())
	}
	if b := s.Bytes(3); len(b) != 3 || cap(b) != 3 || b[0] != 1 {
		t.Fatalf("sub bytes % x cap %d", b, cap(b))
	}
	if s.U8(); s.Err() == nil || r.Err() != nil {
		t.Fatalf("sub overrun %v, parent %v", s.Err(), r.Err())
	}
	if bad := r.Sub(10); bad.Err() == nil || bad.U8() != 0 || r.Err() == nil {
		t.Fatal("oversized Sub did not fail")
	}
}

// FuzzReader: no sequence of reads panics, and offsets never pass the end.
func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{0, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, data, ops []byte) {
		r := NewReader(data, nil)
		for _, op := range ops {
			switch op % 7 {
			case 0:
				r.U8()
			case 1:
				r.U16()
			case 2:
				r.U24()
			case 3:
				r.U32()
			case 4:
				r.Bytes(int(op) - 128)
			case 5:
				r = r.Sub(int(op >> 3))
			case 6:
				r.Skip(int(op >> 4))
			}
			if r.Len() < 0 || r.Offset() > len(data) {
				t.Fatalf("offset %d len %d of %d", r.Offset(), r.Len(), len(data))
			}
		}
	})
}
