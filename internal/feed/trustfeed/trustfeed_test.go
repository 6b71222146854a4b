package trustfeed

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	v, err := Decode(KindDevice, []byte(`{"serial":"SN1","vendorId":"v1","status":"revoked"}`))
	if err != nil || v.(*Device).Status != Revoked {
		t.Fatalf("%v %v", v, err)
	}
	for _, c := range []struct{ kind, data string }{
		{KindDevice, `{"serial":"SN1","status":"revoked"}`},
		{KindDevice, `{"serial":"SN1","vendorId":"v","status":"gone"}`},
		{KindVendor, `{"status":"active"}`},
		{"mystery", `{}`},
		{KindAppliance, `[`},
	} {
		if _, err := Decode(c.kind, []byte(c.data)); err == nil {
			t.Errorf("%s %s accepted", c.kind, c.data)
		}
	}
}

func TestRelyingPartyEntry(t *testing.T) {
	h := make([]byte, 32)
	v, err := Decode(KindRP, []byte(`{"id":"kiosk","status":"active","authTypes":["demo"],"attributes":["fullName"],"keys":[{"id":"00112233445566ff","sha256":"`+base64.StdEncoding.EncodeToString(h)+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rp := v.(*RelyingParty)
	if rp.ID != "kiosk" || len(rp.Keys) != 1 || rp.AuthTypes[0] != "demo" {
		t.Fatalf("%+v", rp)
	}
	if v, err := Decode(KindRP, []byte(`{"id":"kiosk","status":"active","revokedCerts":["5f3a0c19d2e4b7a1"]}`)); err != nil ||
		!v.(*RelyingParty).RevokedCert("5f3a0c19d2e4b7a1") || v.(*RelyingParty).RevokedCert("5f3a") {
		t.Fatalf("revokedCerts: %v", err)
	}
	for _, bad := range []string{
		`{"id":"kiosk","status":"active","keys":[{"id":"short","sha256":"` + base64.StdEncoding.EncodeToString(h) + `"}]}`,
		`{"id":"kiosk","status":"active","keys":[{"id":"00112233445566ff","sha256":"AAAA"}]}`,
		`{"id":"","status":"active"}`,
		`{"id":"kiosk","status":"active","revokedCerts":["ABCDEF"]}`,
		`{"id":"kiosk","status":"active","revokedCerts":[""]}`,
		`{"id":"kiosk","status":"active","revokedCerts":["` + strings.Repeat("a", 41) + `"]}`,
		`{"id":"kiosk","status":"active","revokedCerts":[` + strings.Repeat(`"a",`, MaxRevokedRPCerts) + `"b"]}`,
	} {
		if _, err := Decode(KindRP, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestRPKey(t *testing.T) {
	secret := "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
	id, got, ok := ParseRPKey(RPKeyPrefix + "00112233445566ff_" + secret)
	if !ok || id != "00112233445566ff" || got != secret {
		t.Fatalf("%q %q %v", id, got, ok)
	}
	sum := sha256.Sum256([]byte(secret))
	k := RPKey{ID: id, SHA256: sum[:]}
	if !RPKeyMatches(secret, k) || RPKeyMatches(secret+"x", k) {
		t.Fatal("RPKeyMatches is wrong")
	}
	for _, bad := range []string{
		"", "etr_", "eta_00112233445566ff_" + secret, "etr_00112233445566f_" + secret,
		"etr_0011223344556zff_" + secret, "etr_00112233445566ff_short", "etr_00112233445566ff" + secret,
	} {
		if _, _, ok := ParseRPKey(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

// A trust entry reads the same in every follower: a device listed
// "active" and "revoked" at once, or a name that is not UTF-8, is refused.
func TestDecodeStrict(t *testing.T) {
	for _, data := range []string{
		`{"serial":"SN1","vendorId":"v1","status":"active","status":"revoked"}`,
		"{\"serial\":\"SN\xff\",\"vendorId\":\"v1\",\"status\":\"revoked\"}",
		`{"serial":"SN1","vendorId":"v1","status":"revoked","extra":{"a":1,"a":2}}`,
	} {
		if _, err := Decode(KindDevice, []byte(data)); err == nil {
			t.Errorf("%q accepted", data)
		}
	}
	// Members a later central adds are still read past.
	if _, err := Decode(KindDevice, []byte(`{"serial":"SN1","vendorId":"v1","status":"revoked","since":"2026"}`)); err != nil {
		t.Errorf("open contract: %v", err)
	}
}

// FuzzDecodeRelyingParty: a relying-party entry either is refused or has
// an id, a valid status and revoked serials within the bounds.
func FuzzDecodeRelyingParty(f *testing.F) {
	f.Add([]byte(`{"id":"kiosk","status":"active","revokedCerts":["5f3a0c19d2e4b7a1"]}`))
	f.Add([]byte(`{"id":"kiosk","status":"revoked","keys":[{"id":"00112233445566ff","sha256":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(KindRP, b)
		if err != nil {
			return
		}
		rp := v.(*RelyingParty)
		if rp.ID == "" || !ValidStatus(rp.Status) || len(rp.RevokedCerts) > MaxRevokedRPCerts {
			t.Fatalf("accepted %+v", rp)
		}
		for _, s := range rp.RevokedCerts {
			if s == "" || len(s) > 40 || strings.Trim(s, "0123456789abcdef") != "" {
				t.Fatalf("accepted serial %q", s)
			}
		}
	})
}

func TestDeviceStatusEntry(t *testing.T) {
	v, err := Decode(KindDeviceStatus, []byte(`{"status":"revoked","reason":"stolen","serials":["SN1","SN2"]}`))
	if err != nil {
		t.Fatal(err)
	}
	ds := v.(*DeviceStatus)
	if ds.Status != Revoked || ds.Reason != "stolen" || len(ds.Serials) != 2 || ds.Serials[1] != "SN2" {
		t.Fatalf("%+v", ds)
	}
	many := `"S0"`
	for i := 1; i <= MaxStatusSerials; i++ {
		many += fmt.Sprintf(`,"S%d"`, i)
	}
	long := strings.Repeat("x", MaxSerialLen+1)
	for _, bad := range []string{
		`{"status":"revoked","serials":[]}`,
		`{"status":"revoked"}`,
		`{"status":"gone","serials":["SN1"]}`,
		`{"status":"revoked","serials":["SN1","SN1"]}`,
		`{"status":"revoked","serials":[""]}`,
		`{"status":"revoked","serials":["S N"]}`,
		`{"status":"revoked","serials":["` + long + `"]}`,
		`{"status":"revoked","serials":[` + many + `]}`,
		`{"status":"revoked","serials":["SN1"],"status":"active"}`,
	} {
		if _, err := Decode(KindDeviceStatus, []byte(bad)); err == nil {
			t.Errorf("accepted %.80s", bad)
		}
	}
}

// FuzzDecode: any bytes under any kind decode or are refused, never panic;
// what decodes keeps the bounds consumers rely on.
func FuzzDecode(f *testing.F) {
	f.Add(KindDeviceStatus, []byte(`{"status":"revoked","reason":"r","serials":["SN1","SN2"]}`))
	f.Add(KindDevice, []byte(`{"serial":"SN1","vendorId":"v1","status":"revoked"}`))
	f.Add(KindVendor, []byte(`{"id":"v","status":"active","caCert":"AAAA"}`))
	f.Add(KindRP, []byte(`{"id":"kiosk","status":"active","keys":[]}`))
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		v, err := Decode(kind, data)
		if err != nil {
			return
		}
		if ds, ok := v.(*DeviceStatus); ok {
			if len(ds.Serials) == 0 || len(ds.Serials) > MaxStatusSerials || !ValidStatus(ds.Status) {
				t.Fatalf("out of bounds: %+v", ds)
			}
		}
	})
}
