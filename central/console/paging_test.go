package console_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
)

var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// TestNextPageLinks follows the devices page's "Next page" link as a
// browser would: the link must carry after= as a query parameter (an
// escaped "=" once sent every click back to the first page).
func TestNextPageLinks(t *testing.T) {
	e := setup(t, console.Config{})
	if _, err := e.ce.AddVendor(ctx, &central.Admin{TokenID: "t", Name: "t"}, "ACME", "Acme"); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	err := e.st.Update(ctx, func(tx store.Tx) error {
		for i := range 2*console.PageSize + 5 {
			d := &store.Device{Serial: fmt.Sprintf("SN-%03d", i), VendorID: "ACME", Make: "Acme", Model: "F1", Type: "Finger", SubType: "Single", Status: "active", Enrolled: now, Updated: now}
			if err := tx.PutDevices(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cookie, _ := e.session(t)
	path := "/console/devices?vendor=ACME"
	for page, first := range []string{"SN-000", "SN-050", "SN-100"} {
		st, body := e.do(t, "GET", path, cookie, "", "")
		if st != http.StatusOK {
			t.Fatalf("%s: %d", path, st)
		}
		if i := strings.Index(body, "<tbody>"); i < 0 || !strings.Contains(body[i:i+300], first) {
			t.Fatalf("page %d (%s) does not start at %s", page+1, path, first)
		}
		m := nextLink.FindStringSubmatch(body)
		if page == 2 {
			if m != nil {
				t.Fatalf("the last page links to %s", m[1])
			}
			break
		}
		if m == nil {
			t.Fatalf("page %d has no next link", page+1)
		}
		path = html.UnescapeString(m[1])
		if !strings.Contains(path, "after=SN-") || !strings.Contains(path, "vendor=ACME") {
			t.Fatalf("next link %q", path)
		}
	}
}
