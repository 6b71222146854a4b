package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"` // minor, moderate, serious, critical
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
	Target string `json:"target"` // the first offending element's selector
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s, %d nodes, e.g. %s): %s", v.ID, v.Impact, v.Nodes, v.Target, v.Help)
}

// axeSource is axe.min.js from testdata/axe (npm ci --ignore-scripts,
// locked; scripts/install-deps.sh installs it).
func axeSource() ([]byte, error) {
	_, file, _, _ := goruntime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "testdata", "axe", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("axe-core not installed (run scripts/install-deps.sh, or npm ci --ignore-scripts --prefix internal/browsertest/testdata/axe): %w", err)
	}
	return b, nil
}

// Axe runs axe-core's WCAG 2.x A/AA rules on the page in ctx and returns
// every violation. The script goes in through DevTools, which a page's CSP
// does not govern, so the page under test keeps its own policy.
func Axe(ctx context.Context) ([]Violation, error) {
	src, err := axeSource()
	if err != nil {
		return nil, err
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[*cdpruntime.RemoteObject](string(src))); err != nil {
		return nil, fmt.Errorf("axe: loading axe-core: %w", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}, resultTypes: ["violations"]})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length, target: v.nodes.length ? String(v.nodes[0].target) : ""}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("axe result: %w", err)
	}
	return vs, nil
}

// Serious keeps the violations rated serious or critical: the ones the
// tests refuse.
func Serious(vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}
