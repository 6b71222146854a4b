package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// maxDemographicsFile bounds the demographics file person enrol reads.
const maxDemographicsFile = 64 << 10

// personEnrol reads the demographics and RCAPTURE files and enrols.
func personEnrol(ctx context.Context, c *adminClient, demoFile string, captures []string, group, vidKind string,
	raw *json.RawMessage, show func(func(*tabwriter.Writer) error) error, stdout io.Writer, asJSON bool) error {
	if demoFile == "" || len(captures) == 0 {
		return cli.Usage(errors.New("--demographics FILE.json and at least one --capture RCAPTURE.json are required"))
	}
	db, err := readBounded(demoFile, maxDemographicsFile)
	if err != nil {
		return err
	}
	var demo map[string]string
	if err := json.Unmarshal(db, &demo); err != nil {
		return fmt.Errorf("%s: want a JSON object of attribute names to strings, e.g. {\"fullName\": \"Asha Rao\"}: %v", demoFile, err)
	}
	body := map[string]any{"demographics": demo, "group": group, "vidKind": vidKind}
	if len(captures) > central.MaxEnrolCaptures {
		return cli.Usage(fmt.Errorf("%d captures: at most %d per person", len(captures), central.MaxEnrolCaptures))
	}
	var caps []json.RawMessage
	total := 0
	for _, f := range captures {
		b, err := readBounded(f, central.MaxCaptureBytes)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON: give the SBI RCAPTURE answer as the device returned it", f)
		}
		if total += len(b); total > central.MaxCaptureBytes {
			return fmt.Errorf("the capture files come to more than %d bytes: enrol with fewer captures", central.MaxCaptureBytes)
		}
		caps = append(caps, b)
	}
	body["captures"] = caps
	if err := c.call(ctx, "POST", "/v1/admin/people", body, raw); err != nil {
		return err
	}
	if asJSON {
		fmt.Fprintln(stdout, string(*raw))
		return nil
	}
	var p struct {
		UIN, VID, VIDKind, Group string
		Templates                []string
	}
	json.Unmarshal(*raw, &p)
	return show(func(w *tabwriter.Writer) error {
		fmt.Fprintf(w, "UIN\t%s\t(never shown to relying parties)\n", p.UIN)
		fmt.Fprintf(w, "VID\t%s\t(%s; give this to the person)\n", p.VID, p.VIDKind)
		fmt.Fprintf(w, "group\t%s\n", p.Group)
		fmt.Fprintf(w, "templates\t%s\n", strings.Join(p.Templates, ", "))
		return nil
	})
}

func showPerson(raw json.RawMessage, show func(func(*tabwriter.Writer) error) error) error {
	var p struct {
		UIN, Group, Status string
		Locked, Templates  []string
		Demographics       map[string]string
		VIDs               []struct{ Number, Kind, Status string }
	}
	json.Unmarshal(raw, &p)
	return show(func(w *tabwriter.Writer) error {
		fmt.Fprintf(w, "UIN\t%s\nstatus\t%s\ngroup\t%s\nlocked\t%s\ntemplates\t%s\n", p.UIN, p.Status, p.Group,
			strings.Join(p.Locked, ", "), strings.Join(p.Templates, ", "))
		for _, k := range slices.Sorted(maps.Keys(p.Demographics)) {
			fmt.Fprintf(w, "%s\t%s\n", k, p.Demographics[k])
		}
		for _, v := range p.VIDs {
			fmt.Fprintf(w, "VID\t%s %s %s\n", v.Number, v.Kind, v.Status)
		}
		return nil
	})
}

// maskDigits hides all but the last four characters of an identifier.
func maskDigits(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

// maskVIDsIn masks the "number" of every VID in a JSON answer: the answer
// itself (an array) when field is "", else the array under field.
func maskVIDsIn(raw json.RawMessage, field string) json.RawMessage {
	var doc map[string]json.RawMessage
	arr := raw
	if field != "" {
		if json.Unmarshal(raw, &doc) != nil {
			return raw
		}
		arr = doc[field]
	}
	var vs []map[string]any
	if json.Unmarshal(arr, &vs) != nil {
		return raw
	}
	for _, v := range vs {
		if n, ok := v["number"].(string); ok {
			v["number"] = maskDigits(n)
		}
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return raw
	}
	if field == "" {
		return b
	}
	doc[field] = b
	if out, err := json.Marshal(doc); err == nil {
		return out
	}
	return raw
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
