package console_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryRouteDocumented: each route console.go mounts is named in
// docs/api/central.md, so a client written from the docs finds them all.
func TestEveryRouteDocumented(t *testing.T) {
	src, err := os.ReadFile("console.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/api/central.md")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`m\.Handle(?:Func)?\("(?:[A-Z]+ )?(/console/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 20 {
		t.Fatalf("found only %d routes in console.go: has the mux moved?", len(routes))
	}
	for _, m := range routes {
		p := strings.TrimSuffix(m[1], "{$}")
		if p == "/console/" {
			continue // the catch-all and the overview: "GET /console/" is in the table
		}
		re := regexp.QuoteMeta(p)
		if !strings.HasSuffix(p, "/") {
			re += `(?:[^A-Za-z0-9_/{}-]|$)`
		}
		if !regexp.MustCompile(re).Match(doc) {
			t.Errorf("route %s is not in docs/api/central.md", m[1])
		}
	}
	if !strings.Contains(string(doc), "`GET /console/`") {
		t.Error("the overview GET /console/ is not in docs/api/central.md")
	}
}
