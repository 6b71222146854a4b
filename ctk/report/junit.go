package report

import (
	"encoding/xml"
	"fmt"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Time    string        `xml:"time,attr"`
	Failure *junitMessage `xml:"failure,omitempty"`
	Skipped *junitMessage `xml:"skipped,omitempty"`
	Out     string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func secs(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

// JUnit renders the report as JUnit XML: one testsuite per device, one
// testcase per case, the validator verdicts in the body.
func (r *Report) JUnit() ([]byte, error) {
	out := junitSuites{Name: "edgetrust-ctk " + r.Target, Tests: r.Summary.Total, Failures: r.Summary.Failed,
		Skipped: r.Summary.Skipped, Time: secs(r.DurationMS)}
	idx := map[string]int{}
	for _, c := range r.Cases {
		i, ok := idx[c.Device]
		if !ok {
			i = len(out.Suites)
			idx[c.Device] = i
			out.Suites = append(out.Suites, junitSuite{Name: "SBI 0.9.5 device " + c.Device,
				Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05")})
		}
		s := &out.Suites[i]
		jc := junitCase{Class: "sbi." + c.Device, Name: c.ID + " " + c.Name, Time: secs(c.DurationMS)}
		var body strings.Builder
		for _, v := range c.Validators {
			fmt.Fprintf(&body, "[%s] %s (%s): %s\n", v.Status, v.Name, v.Origin, v.Message)
		}
		for _, n := range c.Notes {
			fmt.Fprintf(&body, "note: %s\n", n)
		}
		switch c.Status {
		case Failed:
			jc.Failure = &junitMessage{Message: c.Reason, Type: "validator", Body: body.String()}
			s.Failures++
		case Skipped:
			jc.Skipped = &junitMessage{Message: c.Reason}
			s.Skipped++
			jc.Out = body.String()
		default:
			jc.Out = body.String()
		}
		s.Tests++
		s.Time = secs(parseMS(s.Time) + c.DurationMS)
		s.Cases = append(s.Cases, jc)
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func parseMS(s string) int64 {
	var f float64
	fmt.Sscanf(s, "%f", &f)
	return int64(f*1000 + 0.5)
}
