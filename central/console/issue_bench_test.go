package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/central/console"
)

// BenchmarkIssueJob100 is one console issuance of 100 credentials: the
// upload checked, the job signing (Ed25519), rendering each QR PNG,
// auditing each credential (badger, in memory) and zipping, then the zip
// downloaded. Per credential: divide by 100.
//
//	scripts/icount.sh ./central/console IssueJob100 3
//	go test -p 1 -run '^$' -bench IssueJob100 -benchtime 5x ./central/console/
func BenchmarkIssueJob100(b *testing.B) {
	ti := newTestIssuer(b)
	e := setup(b, console.Config{Issuer: ti.cfg})
	var csv strings.Builder
	csv.WriteString("id,fullName,dateOfBirth,gender,address,email,phone,nationality\n")
	for i := range 100 {
		fmt.Fprintf(&csv, "39185%05d,Person Number %d,19840401,%d,\"12 Long Street, New City\",p%d@example.org,+91987654%04d,IN\n", i, i, i%3+1, i, i)
	}
	for b.Loop() {
		e.clk.Add(console.JobTTL + console.DefaultIdle) // earlier jobs and sessions expire
		cookie, _ := e.session(b)
		st, loc, body := e.upload(b, cookie, e.csrf(b, cookie), "people.csv", csv.String())
		if st != http.StatusSeeOther {
			b.Fatalf("upload: %d %.300s", st, body)
		}
		s := e.waitJob(b, cookie, loc)
		if s.Done != 100 {
			b.Fatalf("job: %+v", s)
		}
		if st, zb := e.do(b, "GET", s.Zip, cookie, "", ""); st != http.StatusOK || len(zb) < 100*500 {
			b.Fatalf("zip: %d, %d bytes", st, len(zb))
		}
	}
}
