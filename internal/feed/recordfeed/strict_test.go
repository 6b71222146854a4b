package recordfeed

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// A signed record is applied exactly as it was signed: no duplicate,
// case-variant or non-UTF-8 member can make one reader see another record.
func TestUnmarshalRefusesDifferentials(t *testing.T) {
	b, _ := testRecord(t).Marshal()
	s := string(b)
	for name, c := range map[string]struct{ doc, kind string }{
		"duplicate uin":  {strings.Replace(s, `"uin":`, `"uin":"0000000000","uin":`, 1), jsonx.KindDuplicate},
		"case variant":   {strings.Replace(s, `"uin":`, `"UIN":"0000000000","uin":`, 1), jsonx.KindUnknown},
		"duplicate demo": {strings.Replace(s, `"demo":{`, `"demo":{"fullName":"A","fullName":"B",`, 1), jsonx.KindDuplicate},
		"invalid UTF-8":  {strings.Replace(s, `"demo":{`, "\"demo\":{\"x\":\"\xff\",", 1), jsonx.KindUTF8},
	} {
		if c.doc == s {
			t.Fatalf("%s: the record has no such member: %s", name, s)
		}
		_, err := Unmarshal([]byte(c.doc))
		var je *jsonx.Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &je) || je.Kind != c.kind {
			t.Errorf("%s: %v, want ErrInvalid of kind %s", name, err, c.kind)
		}
		if strings.Contains(err.Error(), "0000000000") {
			t.Errorf("%s: error quotes a value: %v", name, err)
		}
	}
}

func TestBatchAndSealedStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate ops":   `{"ops":[{"delete":"x"}],"ops":[{"delete":"y"}]}`,
		"duplicate field": `{"ops":[{"delete":"x","delete":"y"}]}`,
		"ops bomb":        httpxtest.CountBomb(`{"ops":`, MaxOps+1, `}`),
		"invalid UTF-8":   "{\"ops\":[{\"delete\":\"\xff\"}]}",
	} {
		b := []byte(doc)
		var err error
		n := httpxtest.Allocated(func() { _, err = DecodeBatch(b) })
		if err == nil || !strings.Contains(err.Error(), "malformed batch") {
			t.Errorf("batch %s: %v", name, err)
		}
		if n > httpxtest.Budget(len(b)) {
			t.Errorf("batch %s: %d bytes allocated", name, n)
		}
	}
	if _, err := DecodeSealed([]byte(`{"appliance":"a","appliance":"b","certSha256":"c"}`)); err == nil {
		t.Error("sealed batch with appliance twice accepted")
	}
	// A large count bomb costs nothing to refuse.
	bomb := []byte(httpxtest.CountBomb(`{"ops":`, 650000, `}`))
	if n := httpxtest.Allocated(func() { _, _ = DecodeBatch(bomb) }); n > 64<<10 {
		t.Errorf("a %d-byte ops bomb allocated %d bytes", len(bomb), n)
	}
}
