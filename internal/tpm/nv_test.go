package tpm

import "testing"

func TestVersionFloor(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		const idx = NVFirmwareFloor
		if f, err := tp.Floor(ctx, idx); err != nil || f != -1 {
			t.Fatalf("fresh TPM floor = %d, %v; want -1", f, err)
		}
		if err := tp.RaiseFloor(ctx, idx, 3); err != nil {
			t.Fatal(err)
		}
		if f, err := tp.Floor(ctx, idx); err != nil || f != 3 {
			t.Fatalf("floor = %d, %v; want 3", f, err)
		}
		// Lowering is impossible: the bit for 1 is set, the floor stays 3.
		if err := tp.RaiseFloor(ctx, idx, 1); err != nil {
			t.Fatal(err)
		}
		if f, _ := tp.Floor(ctx, idx); f != 3 {
			t.Fatalf("floor went to %d after raising to a lower value", f)
		}
		if err := tp.RaiseFloor(ctx, idx, MaxSVN); err != nil {
			t.Fatal(err)
		}
		if f, _ := tp.Floor(ctx, idx); f != MaxSVN {
			t.Fatalf("floor = %d, want %d", f, MaxSVN)
		}
		if err := tp.RaiseFloor(ctx, idx, MaxSVN+1); err == nil {
			t.Fatal("SVN 64 accepted")
		}
		if err := tp.RaiseFloor(ctx, 0x01000000, 1); err == nil {
			t.Fatal("index outside the owner range accepted")
		}
		if err := tp.DeleteFloor(ctx, idx); err != nil {
			t.Fatal(err)
		}
		if f, err := tp.Floor(ctx, idx); err != nil || f != -1 {
			t.Fatalf("after delete floor = %d, %v", f, err)
		}
	})
}
