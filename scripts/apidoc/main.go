// Command apidoc checks that every HTTP route the daemons serve is
// documented in docs/api/: it reads the Go source of agent/, appliance/,
// central/ and ctk/ (not tests), collects each string literal that is a
// route pattern ("POST /v1/auth", "GET /console/people/{uin}") or a path
// constant ("/v1/enrol/start"), and fails naming each one no page under
// docs/api/ mentions. A client written from docs/api alone must be able
// to reach everything; `make lint` runs it.
//
//	go run ./scripts/apidoc
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	roots   = []string{"agent", "appliance", "central", "ctk"}
	pattern = regexp.MustCompile(`^(?:(GET|POST|PUT|PATCH|DELETE|HEAD) )?(/(?:v1|console|verify|healthz|metrics)(?:/[A-Za-z0-9._{}$-]*)*/?)$`)
)

func main() {
	docs, err := readDocs("docs/api")
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err, "(run it from the module root)")
		os.Exit(1)
	}
	found := map[string][]string{} // path → where
	for _, r := range roots {
		err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "testdata") {
				return err
			}
			return scan(p, found)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "apidoc:", err)
			os.Exit(1)
		}
	}
	var missing []string
	for path, where := range found {
		if !documented(docs, path) {
			missing = append(missing, fmt.Sprintf("  %s (%s)", path, strings.Join(where, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "apidoc: %d route(s) served but named on no page under docs/api/; document each (method, fields, answers, errors):\n%s\n", len(missing), strings.Join(missing, "\n"))
		os.Exit(1)
	}
	fmt.Printf("apidoc: %d routes, each documented under docs/api/\n", len(found))
}

func readDocs(dir string) (string, error) {
	var b strings.Builder
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".md") {
			t, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return "", err
			}
			b.Write(t)
		}
	}
	return b.String(), nil
}

// documented: the path as written, without the mux's "{$}" end marker or
// a trailing slash, appears on a page.
func documented(docs, path string) bool {
	p := strings.TrimSuffix(path, "{$}")
	if strings.Contains(docs, p) {
		return true
	}
	return len(p) > 1 && strings.Contains(docs, strings.TrimSuffix(p, "/"))
}

func scan(file string, found map[string][]string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if m := pattern.FindStringSubmatch(s); m != nil && m[2] != "/" {
			where := fmt.Sprintf("%s:%d", file, fset.Position(lit.Pos()).Line)
			found[m[2]] = append(found[m[2]], where)
		}
		return true
	})
	return nil
}
