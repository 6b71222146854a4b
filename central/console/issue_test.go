package console_test

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/qrscan"
)

type testIssuer struct {
	cfg  *console.Issuer
	keys *claim169.KeySet
}

func newTestIssuer(t testing.TB) testIssuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	is, err := claim169.NewIssuer(priv, &claim169.IssuerOptions{KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	ks := &claim169.KeySet{}
	if err := ks.Add(kid, pub); err != nil {
		t.Fatal(err)
	}
	return testIssuer{&console.Issuer{Issuer: is, KID: "0102030405060708", URI: "https://id.example", Validity: 365 * 24 * time.Hour}, ks}
}

// upload posts file as the issuance form would (csrf "" leaves it out).
func (e *env) upload(t testing.TB, cookie, csrf, name, file string) (int, string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if csrf != "" {
		mw.WriteField("csrf", csrf)
	}
	mw.WriteField("format", "auto")
	fw, _ := mw.CreateFormFile("file", name)
	io.WriteString(fw, file)
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/issue", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", origin)
	req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) csrf(t testing.TB, cookie string) string {
	t.Helper()
	_, page := e.do(t, "GET", "/console/issue", cookie, "", "")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the issuance page: %.300s", page)
	}
	return m[1]
}

type jobStatus struct {
	State   string `json:"state"`
	Total   int    `json:"total"`
	Done    int    `json:"done"`
	Percent int    `json:"percent"`
	Zip     string `json:"zip"`
}

func (e *env) waitJob(t testing.TB, cookie, job string) jobStatus {
	t.Helper()
	for range 600 {
		st, body := e.do(t, "GET", job+"/status", cookie, "", "")
		if st != http.StatusOK {
			t.Fatalf("job status: %d %s", st, body)
		}
		var s jobStatus
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		if s.State == console.JobDone || s.State == console.JobFailed {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the job never ended")
	return jobStatus{}
}

func TestIssueFromCSV(t *testing.T) {
	ti := newTestIssuer(t)
	e := setup(t, console.Config{Issuer: ti.cfg})
	cookie, admin := e.session(t)
	tok := e.csrf(t, cookie)
	csv := "id,fullName,dateOfBirth,gender\n" +
		"3918592438,Janardhan BS,19840401,1\n" +
		"3918592439,\"Rao, Asha\",19900212,2\n" +
		",No Id,20000101,3\n"
	st, loc, body := e.upload(t, cookie, tok, "people.csv", csv)
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/issue/job-") {
		t.Fatalf("upload: %d %q %.300s", st, loc, body)
	}
	s := e.waitJob(t, cookie, loc)
	if s.State != console.JobDone || s.Done != 3 || s.Total != 3 || s.Percent != 100 || s.Zip == "" {
		t.Fatalf("job: %+v", s)
	}
	if st, page := e.do(t, "GET", loc, cookie, "", ""); st != http.StatusOK || !strings.Contains(page, `value="3"`) || strings.Contains(page, "data-refresh") {
		t.Fatalf("job page after the end: %d %.500s", st, page)
	}

	// Another admin's session cannot see or download the job.
	other := e.otherSession(t)
	if st, _ := e.do(t, "GET", s.Zip, other, "", ""); st != http.StatusNotFound {
		t.Fatalf("another admin's download: %d", st)
	}

	st, zb := e.do(t, "GET", s.Zip, cookie, "", "")
	if st != http.StatusOK {
		t.Fatalf("zip: %d", st)
	}
	t.Logf("zip of 3 credentials: %d bytes", len(zb))
	zr, err := zip.NewReader(strings.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	got := map[string]string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		png, _ := io.ReadAll(rc)
		rc.Close()
		text, err := qrscan.DecodeBytes(png)
		if err != nil {
			t.Fatalf("%s: QR: %v", f.Name, err)
		}
		cred, err := claim169.Decode(text, ti.keys)
		if err != nil || !cred.Verified {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if cred.Issuer != "https://id.example" || cred.ExpiresAt.Sub(cred.IssuedAt) != 365*24*time.Hour {
			t.Errorf("%s: defaults not applied: iss %q, %v..%v", f.Name, cred.Issuer, cred.IssuedAt, cred.ExpiresAt)
		}
		got[f.Name] = cred.Identity.FullName
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "3918592438.png 3918592439.png row-4.png" || got["3918592439.png"] != "Rao, Asha" || got["row-4.png"] != "No Id" {
		t.Fatalf("zip: %v %v", names, got)
	}

	// Audited: the batch, each credential and the download, as this admin.
	rows, err := e.ce.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range rows {
		if strings.HasPrefix(r.Action, "credential.") {
			if r.Actor != "admin:console-"+admin.ID {
				t.Errorf("%s audited as %q", r.Action, r.Actor)
			}
			if strings.Contains(string(r.Detail), "Janardhan") {
				t.Errorf("a name in the audit log: %s", r.Detail)
			}
			n[r.Action]++
		}
	}
	if n["credential.batch.start"] != 1 || n["credential.issue"] != 3 || n["credential.batch.done"] != 1 || n["credential.batch.download"] != 1 {
		t.Fatalf("audit rows: %v", n)
	}
}

// otherSession signs in a second admin.
func (e *env) otherSession(t testing.TB) string {
	t.Helper()
	secret, _ := e.sessionFor(t, "fedcba9876543210fedcba9876543210", "Bo")
	return secret
}

func TestIssueRefusesBadRows(t *testing.T) {
	ti := newTestIssuer(t)
	e := setup(t, console.Config{Issuer: ti.cfg})
	cookie, _ := e.session(t)
	tok := e.csrf(t, cookie)
	for _, tc := range []struct {
		name, file string
		status     int
		want       []string
	}{
		{"p.csv", "id,fullName,gender,expiresAt\n1,A,1,\n2,B,male,\n3,C,1,tomorrow\n", http.StatusUnprocessableEntity,
			[]string{"Row 3, field <code>gender</code>: must be a number", "Row 4, field <code>expiresAt</code>", "2 rows cannot be issued"}},
		{"p.csv", "id,fulName\n1,A\n", http.StatusUnprocessableEntity, []string{"Row 2, field <code>fulName</code>"}},
		{"p.jsonl", "{\"claim169\":{\"id\":\"1\"}}\n{\"claim169\":{\"id\":\"2\",\"id\":\"3\"}}\nnot json\n", http.StatusUnprocessableEntity,
			[]string{"Row 2", "given twice", "Row 3"}},
		{"p.csv", "id,id\n1,2\n", http.StatusBadRequest, []string{"given twice"}},
		{"p.txt", "id\n1\n", http.StatusBadRequest, []string{"choose its format"}},
		{"p.csv", "id\n" + strings.Repeat("1\n", console.MaxRows+1), http.StatusBadRequest, []string{"too many records"}},
		{"p.csv", "id\n", http.StatusBadRequest, []string{"no records"}},
	} {
		st, _, body := e.upload(t, cookie, tok, tc.name, tc.file)
		if st != tc.status {
			t.Errorf("%.40q: %d, want %d: %.300s", tc.file, st, tc.status, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%.40q: the answer does not say %q: %.2000s", tc.file, w, body)
			}
		}
	}
	// Nothing was issued.
	rows, _ := e.ce.Audit(ctx, store.AuditFilter{})
	for _, r := range rows {
		if strings.HasPrefix(r.Action, "credential.") {
			t.Fatalf("a refused upload was audited as %s", r.Action)
		}
	}
}

func TestIssueNeedsCSRFAndBoundsUploads(t *testing.T) {
	ti := newTestIssuer(t)
	e := setup(t, console.Config{Issuer: ti.cfg})
	cookie, _ := e.session(t)
	if st, _, body := e.upload(t, cookie, "", "p.csv", "id\n1\n"); st != http.StatusForbidden || !strings.Contains(body, "form token") {
		t.Fatalf("upload without a CSRF token: %d %.200s", st, body)
	}
	tok := e.csrf(t, cookie)
	big := "id,fullName\n" + strings.Repeat("1,"+strings.Repeat("a", 1000)+"\n", console.MaxUpload/1000+10)
	if st, _, _ := e.upload(t, cookie, tok, "p.csv", big); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload over MaxUpload: %d", st)
	}
	// Plain form posts elsewhere keep their small bound.
	if st, _ := e.do(t, "POST", "/console/change", cookie, origin, "csrf="+tok+"&reason="+strings.Repeat("a", 70<<10)); st != http.StatusBadRequest {
		t.Fatalf("large url-encoded form: %d", st)
	}

	// Without an issuer key the page says how to get one and refuses uploads.
	e2 := setup(t, console.Config{})
	c2, _ := e2.session(t)
	_, page := e2.do(t, "GET", "/console/issue", c2, "", "")
	if !strings.Contains(page, "issuer init") {
		t.Fatalf("page without an issuer: %.500s", page)
	}
	if st, _, _ := e2.upload(t, c2, e2.csrf(t, c2), "p.csv", "id\n1\n"); st != http.StatusConflict {
		t.Fatalf("upload without an issuer: %d", st)
	}
}
