package trustfeed

import "testing"

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
