package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// personEnrol reads the demographics and RCAPTURE files and enrols.
func personEnrol(ctx context.Context, c *adminClient, demoFile string, captures []string, group, vidKind string,
	raw *json.RawMessage, show func(func(*tabwriter.Writer) error) error, stdout io.Writer, asJSON bool) error {
	if demoFile == "" || len(captures) == 0 {
		return usageError{errors.New("--demographics FILE.json and at least one --capture RCAPTURE.json are required")}
	}
	db, err := os.ReadFile(demoFile)
	if err != nil {
		return err
	}
	var demo map[string]string
	if err := json.Unmarshal(db, &demo); err != nil {
		return fmt.Errorf("%s: want a JSON object of attribute names to strings, e.g. {\"fullName\": \"Asha Rao\"}: %v", demoFile, err)
	}
	body := map[string]any{"demographics": demo, "group": group, "vidKind": vidKind}
	var caps []json.RawMessage
	for _, f := range captures {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON: give the SBI RCAPTURE answer as the device returned it", f)
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
		for k, v := range p.Demographics {
			fmt.Fprintf(w, "%s\t%s\n", k, v)
		}
		for _, v := range p.VIDs {
			fmt.Fprintf(w, "VID\t%s %s %s\n", maskDigits(v.Number), v.Kind, v.Status)
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
