package claim169

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestIdentityJSONRoundTrip(t *testing.T) {
	in := `{"id":"3918592438","fullName":"Janardhan BS","dateOfBirth":"19870101","gender":1,
		"email":"janardhan@example.com","bestQualityFingers":[1,2],
		"face":[{"data":"AQID","format":0,"subFormat":1,"issuer":"VendorA"}]}`
	var id Identity
	if err := json.Unmarshal([]byte(in), &id); err != nil {
		t.Fatal(err)
	}
	if id.FullName != "Janardhan BS" || id.Gender != 1 || len(id.Face) != 1 || string(id.Face[0].Data) != "\x01\x02\x03" || *id.Face[0].SubFormat != 1 {
		t.Fatalf("decoded %+v", id)
	}
	out, err := json.Marshal(&id)
	if err != nil {
		t.Fatal(err)
	}
	var again Identity
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	out2, _ := json.Marshal(&again)
	if string(out) != string(out2) {
		t.Fatalf("JSON round trip differs:\n%s\n%s", out, out2)
	}
	for _, bad := range []string{`{"fulName":"typo"}`, `{"unknownFields":{"99":1}}`, `{"face":[{"format":1}]}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &id); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestIssueFromJSONVerifies(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	exp := time.Now().Add(time.Hour).Unix()
	in := ClaimsJSON{Claim169: json.RawMessage(`{"id":"42","fullName":"A Person"}`), Issuer: "https://issuer.example", ExpiresAt: &exp}
	c, err := in.Claims()
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(priv, &IssuerOptions{KeyID: []byte("k1")})
	if err != nil {
		t.Fatal(err)
	}
	text, err := is.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	var ks KeySet
	ks.Add([]byte("k1"), pub)
	cred, err := Decode(text, &ks)
	if err != nil || cred.Identity.FullName != "A Person" || cred.ExpiresAt.Unix() != exp {
		t.Fatalf("%+v %v", cred, err)
	}
	if _, err := (ClaimsJSON{}).Claims(); err == nil {
		t.Fatal("empty credential JSON accepted")
	}
}

// TestIdentityJSONStrict: what would be signed is exactly what was sent or
// refused: a repeated name, a case variant or invalid UTF-8 is an error
// (encoding/json took the last, folded the case, and replaced the bytes).
func TestIdentityJSONStrict(t *testing.T) {
	for _, in := range []string{
		`{"id":"1","fullName":"Asha","fullName":"Mallory"}`,
		`{"id":"1","FULLNAME":"Asha"}`,
		"{\"id\":\"1\",\"fullName\":\"Asha\xff\"}",
		`{"id":"1","bestQualityFingers":[` + strings.Repeat("1,", 100) + `1]}`,
	} {
		var id Identity
		if err := id.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("accepted %q as %+v", in, id)
		}
	}
	var id Identity
	if err := id.UnmarshalJSON([]byte(`{"id":"1","fullName":"Asha"}`)); err != nil || id.FullName != "Asha" {
		t.Fatalf("a plain identity: %v %+v", err, id)
	}
}
