package claim169

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every decodable idpass vector's JSON view must validate against the
// idpass decode-result schema, except where the upstream data itself
// breaks the schema (listed here, with the reason).
var schemaExceptions = map[string]string{
	"refugee-identity": "dateOfBirth is 1975-04-04; the schema wants YYYYMMDD",
}

func TestJSONMatchesIdpassSchema(t *testing.T) {
	f, err := os.Open("testdata/idpass/claim169.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("claim169.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("claim169.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, v := range loadVectors(t) {
		cred, err := v.decoder(t, true).Decode(v.QRData)
		if err != nil {
			continue
		}
		n++
		out, err := json.Marshal(cred)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		err = sch.Validate(inst)
		if reason, ok := schemaExceptions[name]; ok {
			if err == nil || !strings.Contains(err.Error(), "dateOfBirth") {
				t.Errorf("%s: expected the known schema violation (%s), got %v", name, reason, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n != 12 {
		t.Fatalf("validated %d credentials, want the 12 decodable vectors", n)
	}
	// A broken view must fail, or the check above proves nothing.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"claim169":{"gender":"1"},"cwtMeta":{},"verificationStatus":"verified"}`))
	if sch.Validate(bad) == nil {
		t.Fatal("schema accepted a text gender")
	}
}

func TestJSONUnknownFields(t *testing.T) {
	v := loadVectors(t)["unknown-fields"]
	c, err := v.decoder(t, true).Decode(v.QRData)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&c.Identity)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		UnknownFields map[string]any `json:"unknownFields"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	// Key 30 text, 45 int, 70 bytes (base64), 99 true; see the vector's CBOR.
	want := map[string]any{"30": "reserved field 30", "45": 12345.0, "70": "AQID", "99": true}
	if !reflect.DeepEqual(got.UnknownFields, want) {
		t.Fatalf("unknownFields = %v, want %v", got.UnknownFields, want)
	}
}

func TestJSONOddUnknownValues(t *testing.T) {
	id := Identity{Unknown: map[uint64][]byte{
		80: mustEnc(t, map[any]any{int64(1): []byte{0xff}, "k": []any{1.5, nil}}),
		81: {0xf9, 0x7e, 0x00},       // NaN
		82: {0xc1, 0x1a, 0, 0, 0, 0}, // tag 1 (epoch time)
		83: {0xd8, 0x63, 0x01},       // unregistered tag 99
		84: {0xc2, 0x41, 0x01},       // bignum 1
	}}
	out, err := json.Marshal(&id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"80":{"1":"/w==","k":[1.5,null]}`, `"81":"NaN"`, `"82":"1970-01-01T00:00:00Z"`, `"83":1`, `"84":"1"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s missing from %s", want, out)
		}
	}
}

func TestJSONShape(t *testing.T) {
	v := loadVectors(t)["ed25519-signed"]
	c, err := v.decoder(t, false).Decode(v.QRData)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(c)
	want := `{"claim169":{"id":"ID-SIGNED-001","fullName":"Signed Test Person"},` +
		`"cwtMeta":{"issuer":"https://mosip.example.org","expiresAt":1800000000,"issuedAt":1700000000},` +
		`"verificationStatus":"verified"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}
