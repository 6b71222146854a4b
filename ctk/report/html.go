package report

import (
	"bytes"
	"encoding/json"
	"html/template"
	"strings"
)

// HTML renders a self-contained page (inline CSS, no scripts, no external
// resources): the summary, the devices, and every case with its validator
// verdicts, notes and redacted exchanges.
func (r *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pretty": func(m json.RawMessage) string {
		if len(m) == 0 {
			return ""
		}
		var v bytes.Buffer
		if json.Indent(&v, m, "", "  ") != nil {
			return string(m)
		}
		return v.String()
	},
	"anchor": func(c Case) string {
		return "case-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '-'
		}, c.ID+"-"+c.Device)
	},
	"secs": func(ms int64) string { return secs(ms) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgetrust-ctk report: {{.Target}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.passed{color:#116329}.failed{color:#b3261e;font-weight:600}.skipped{color:#7d5b00}
.badge{display:inline-block;min-width:4.5rem;text-align:center;border-radius:.8rem;padding:0 .5rem;font-size:.8rem;font-weight:600}
.badge.passed{background:#dafbe1}.badge.failed{background:#ffebe9}.badge.skipped{background:#fff8c5}
#summary{display:flex;gap:1rem;margin:.5rem 0 1rem}
#summary div{border:1px solid #d0d7de;border-radius:.4rem;padding:.5rem 1rem;min-width:6rem}
#summary b{display:block;font-size:1.6rem}
details{border:1px solid #d0d7de;border-radius:.4rem;margin:.4rem 0;padding:.3rem .6rem}
details[open]{background:#fbfcfd}
summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:.5rem;font-size:.8rem;max-height:30rem;overflow:auto}
.meta{color:#57606a;font-size:.85rem}
</style>
</head>
<body>
<h1>MOSIP SBI compliance report</h1>
<p class="meta">Target <code>{{.Target}}</code> · {{.Tool}} {{.Version}} · test definitions {{.Suite.Source}} ({{.Suite.Cases}} cases, sha256 <code>{{printf "%.12s" .Suite.SHA256}}</code>) · started {{.Started.UTC.Format "2006-01-02 15:04:05Z"}} · {{secs .DurationMS}} s · {{.Mode}}</p>
<section id="summary" aria-label="summary">
<div>Total<b id="total">{{.Summary.Total}}</b></div>
<div class="passed">Passed<b id="passed">{{.Summary.Passed}}</b></div>
<div class="failed">Failed<b id="failed">{{.Summary.Failed}}</b></div>
<div class="skipped">Skipped<b id="skipped">{{.Summary.Skipped}}</b></div>
<div>Verdict<b id="verdict" class="{{if .OK}}passed{{else}}failed{{end}}">{{if .OK}}PASS{{else}}FAIL{{end}}</b></div>
</section>
<h2>Devices</h2>
<table id="devices">
<tr><th>Device</th><th>Type</th><th>Sub-type</th><th>Purpose</th><th>Certification</th><th>Status at start</th><th>Make / model</th></tr>
{{range .Devices}}<tr><td>{{.ID}}{{if ne .SerialNo .ID}} (serial {{.SerialNo}}){{end}}</td><td>{{.Type}}</td><td>{{.SubType}}</td><td>{{.Purpose}}</td><td>{{.Certification}}</td><td>{{.Status}}</td><td>{{.Make}} / {{.Model}}</td></tr>
{{end}}</table>
<h2>Cases</h2>
<table id="cases">
<tr><th>Case</th><th>Device</th><th>Name</th><th>Status</th><th>Reason</th></tr>
{{range .Cases}}<tr class="case-row" data-status="{{.Status}}"><td><a href="#{{anchor .}}">{{.ID}}</a></td><td>{{.Device}}</td><td>{{.Name}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td><td>{{.Reason}}</td></tr>
{{end}}</table>
<h2>Details</h2>
{{range .Cases}}<details id="{{anchor .}}" class="case" data-status="{{.Status}}"{{if eq .Status "failed"}} open{{end}}>
<summary><span class="badge {{.Status}}">{{.Status}}</span> <b>{{.ID}}</b> {{.Name}} <span class="meta">— {{.Device}}, {{.Method}}, {{secs .DurationMS}} s</span></summary>
{{if .Reason}}<p class="{{.Status}}">{{.Reason}}</p>{{end}}
{{if .Description}}<p class="meta">{{.Description}}</p>{{end}}
<table class="validators">
<tr><th>Validator</th><th>Origin</th><th>Status</th><th>Message</th></tr>
{{range .Validators}}<tr><td>{{.Name}}</td><td>{{.Origin}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Message}}{{if .Stricter}}<br><span class="meta">Stricter than MOSIP: {{.Stricter}}</span>{{end}}</td></tr>
{{end}}</table>
{{if .Notes}}<p>Notes (outside this case's validators; they do not fail it):</p><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Exchanges}}<details><summary>{{.Method}} {{.URL}}{{if .Step}} — {{.Step}}{{end}} ({{.ElapsedMS}} ms){{if .Error}} — <span class="failed">{{.Error}}</span>{{end}}</summary>
{{if .Request}}<p>Request</p><pre>{{pretty .Request}}</pre>{{end}}
{{if .Response}}<p>Response (biometric data redacted)</p><pre>{{pretty .Response}}</pre>{{end}}
</details>{{end}}
</details>
{{end}}
</body>
</html>
`))
