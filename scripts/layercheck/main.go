package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

const module = "github.com/edgetrust/edgetrust"

// Package is what go list says of one package.
type Package struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

var daemons = []string{"agent", "appliance", "central", "ctk", "firmware-bridge"}

// harnesses drive daemons as a user would and may import them.
var harnesses = []string{"internal/e2e", "internal/demo", "internal/integration"}

// daemon is the daemon a module-relative path belongs to, or "".
func daemon(rel string) string {
	for _, d := range daemons {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return d
		}
	}
	return ""
}

func under(rel, root string) bool { return rel == root || strings.HasPrefix(rel, root+"/") }

// testSupport: a package whose last element ends in "test" (agenttest,
// storetest, swtpmtest, …) exists for tests.
func testSupport(rel string) bool {
	last := rel[strings.LastIndex(rel, "/")+1:]
	return strings.HasSuffix(last, "test") && last != "test"
}

func harness(rel string) bool {
	for _, h := range harnesses {
		if under(rel, h) {
			return true
		}
	}
	return testSupport(rel)
}

// Check returns one line per forbidden edge, sorted.
func Check(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		from, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		edges := func(imps []string, test bool) {
			for _, imp := range imps {
				to, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				if msg := forbidden(from, to, test); msg != "" {
					kind := ""
					if test {
						kind = " (in a test)"
					}
					out = append(out, fmt.Sprintf("%s imports %s%s: %s", from, to, kind, msg))
				}
			}
		}
		edges(p.Imports, false)
		edges(p.TestImports, true)
		edges(p.XTestImports, true)
	}
	sort.Strings(out)
	return out
}

func forbidden(from, to string, test bool) string {
	if testSupport(to) && !test && !harness(from) {
		return "a test-support package is for _test.go files only"
	}
	if harness(from) || (test && testSupport(to)) {
		return ""
	}
	df, dt := daemon(from), daemon(to)
	switch {
	case dt != "" && df == "":
		return "a library must not import a daemon; move the shared code into internal/ (or sbi/, claim169/)"
	case dt != "" && df != dt:
		return "daemons must not import each other; share a library in internal/ or talk over the documented wire format"
	case (under(from, "sbi") || under(from, "claim169")) && !under(to, "internal"):
		root := from[:strings.IndexByte(from+"/", '/')]
		if !under(to, root) {
			return "sbi and claim169 are public libraries: they may import only themselves and internal/"
		}
	}
	return ""
}

func main() {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "layercheck: go list:", err)
		os.Exit(2)
	}
	var pkgs []Package
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		var p Package
		if err := d.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "layercheck: reading go list:", err)
			os.Exit(2)
		}
		pkgs = append(pkgs, p)
	}
	bad := Check(pkgs)
	for _, l := range bad {
		fmt.Fprintln(os.Stderr, "layering:", l)
	}
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "layercheck: %d forbidden import(s); the rules are in docs/architecture.md (Layering)\n", len(bad))
		os.Exit(1)
	}
	fmt.Printf("layercheck: %d packages, layering holds\n", len(pkgs))
}
