package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgetrust/edgetrust/internal/cli"
)

type stringList = cli.StringList

func adminCommand(ctx context.Context, group, verb string, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet(group + " " + verb)
	cli.SetHelp(fs, stderr, helpFor(group+" "+verb))
	centralURL := fs.String("central", envOr("EDGETRUST_CENTRAL_URL", "https://127.0.0.1:8443"), "central's URL")
	rootFile := fs.String("central-root", os.Getenv("EDGETRUST_CENTRAL_ROOT"), "PEM `FILE` of central's TLS root (STATE/tls/root.pem; default: the system roots, for a --tls-cert from a public CA)")
	rootPin := fs.String("central-root-sha256", os.Getenv("EDGETRUST_CENTRAL_ROOT_SHA256"), "SHA-256 of central's TLS root, as edgetrust-central tls root prints it (instead of --central-root)")
	tokenFile := fs.String("admin-token-file", os.Getenv("EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE"), "file holding an admin token (or set EDGETRUST_CENTRAL_ADMIN_TOKEN)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	id := fs.String("id", "", "vendor, appliance or relying-party id")
	fs.StringVar(id, "rp", "", "rp key add|revoke: the relying party's id (same as --id)")
	name := fs.String("name", "", "vendor or relying-party name")
	vendor := fs.String("vendor", "", "vendor id")
	status := fs.String("status", "", "filter: active, suspended or revoked")
	after := fs.String("after", "", "list after this serial (devices) or audit sequence number")
	subject := fs.String("subject", "", "audit subject, e.g. device:SN1 or vendor:ACME")
	reason := fs.String("reason", "", "why (kept in the registry, the audit log and the trust feed)")
	undo := fs.Bool("undo-revocation", false, "reinstate: allow reinstating a revoked vendor, device or appliance (needs --reason; audited)")
	ttl := fs.String("ttl", "", "token lifetime, e.g. 15m (default 15m, at most 24h)")
	appliance := fs.String("appliance", "", "token create: an appliance enrolment token, bound to this appliance id; attest status / quarantine lift: the appliance")
	var serials, attrs, authTypes, captures stringList
	fs.Var(&serials, "serial", "device serial; repeatable for revoke/suspend/reinstate")
	fs.Var(&attrs, "attr", "identity attribute a relying party may receive; repeatable")
	fs.Var(&authTypes, "auth-type", "rp add: an auth type it may use; person lock|unlock: the type; repeatable (demo, bio-Finger, bio-Iris, bio-Face)")
	fs.Var(&captures, "capture", "person enrol: a file with an SBI RCAPTURE answer (or {request, response}); repeatable")
	demoFile := fs.String("demographics", "", `person enrol: JSON file of demographic attributes, e.g. {"fullName": "...", "dateOfBirth": "1990-04-01"}`)
	grp := fs.String("group", "", "person enrol / appliance group: the records group (region) (default \"default\")")
	vidKindFlag := fs.String("vid-kind", "perpetual", "person enrol: the first VID's kind")
	kind := fs.String("kind", "perpetual", "vid issue: perpetual, temporary or one-time")
	uin := fs.String("uin", "", "person / vid: the person's UIN")
	vidNum := fs.String("vid", "", "vid revoke: the VID")
	keyID := fs.String("key", "", "rp key revoke: the key id (the 16 hex digits after etr_)")
	csrFile := fs.String("csr", "", "rp cert issue / attest signer issue: the PKCS#10 request `FILE` (PEM or DER), signed by the requester's own key")
	outFile := fs.String("out", "", "rp cert issue / attest signer issue / attest golden sign: write the result to this `FILE` (default: stdout)")
	days := fs.Int("days", 0, "rp cert issue: the certificate's life in days, 1-30 (default 30); attest signer issue: 1-730 (default 365)")
	af := attestFlags(fs)
	showNumbers := fs.Bool("show-numbers", false, "vid list, person show: print full VID numbers, also with --json (default: masked)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if group+" "+verb == "attest golden sign" {
		return goldenSign(af, *outFile, stdout, stderr) // offline, at the vendor: no central, no token
	}
	tok := strings.TrimSpace(os.Getenv("EDGETRUST_CENTRAL_ADMIN_TOKEN"))
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return cli.Usage(errors.New("no admin token: pass --admin-token-file FILE (serve wrote STATE/admin-token) or set EDGETRUST_CENTRAL_ADMIN_TOKEN"))
	}
	u, err := url.Parse(*centralURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cli.Usage(fmt.Errorf("--central %q: want http(s)://host:port", *centralURL))
	}
	hc, err := centralHTTP(*rootFile, *rootPin, 60*time.Second)
	if err != nil {
		return cli.Usage(err)
	}
	c := &adminClient{base: strings.TrimRight(*centralURL, "/"), token: tok, http: hc}
	need := func(v, flagName string) error {
		if v == "" {
			return cli.Usage(fmt.Errorf("--%s is required", flagName))
		}
		return nil
	}
	var raw json.RawMessage
	show := func(table func(w *tabwriter.Writer) error) error {
		if *asJSON {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			if v == nil && verb == "list" {
				v = []any{} // the API's empty list is null; a list's shape is an array
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		if err := table(w); err != nil {
			return err
		}
		return w.Flush()
	}
	statusVerb := map[string]string{"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}

	if group == "attest" {
		return attestAdmin(ctx, c, verb, af, attestArgs{appliance: *appliance, reason: *reason, vendor: *vendor, csr: *csrFile, out: *outFile, days: *days},
			&raw, show, stdout)
	}
	switch group + " " + verb {
	case "vendor add":
		if err := errors.Join(need(*id, "id"), need(*name, "name")); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/vendors", map[string]string{"id": *id, "name": *name}, &raw); err != nil {
			return err
		}
		var v vendorJSON
		json.Unmarshal(raw, &v)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "vendor %s (%s) added; provider CA SHA-256 %s\n", v.ID, v.Name, sha(v.CACert))
			return nil
		})
	case "vendor list":
		if err := c.call(ctx, "GET", "/v1/admin/vendors", nil, &raw); err != nil {
			return err
		}
		var vs []vendorJSON
		json.Unmarshal(raw, &vs)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "ID\tNAME\tSTATUS\tCA SHA-256\tREASON")
			for _, v := range vs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Name, v.Status, sha(v.CACert)[:16]+"…", v.Reason)
			}
			return nil
		})
	case "vendor revoke", "vendor suspend", "vendor reinstate":
		if err := need(*id, "id"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/vendors/"+url.PathEscape(*id)+"/status",
			map[string]any{"status": statusVerb[verb], "reason": *reason, "undoRevocation": *undo}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "vendor %s is now %s (every device under its CA with it)\n", *id, statusVerb[verb])
			return nil
		})
	case "device list":
		q := url.Values{}
		for k, v := range map[string]string{"vendor": *vendor, "status": *status, "after": *after} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if err := c.call(ctx, "GET", "/v1/admin/devices?"+q.Encode(), nil, &raw); err != nil {
			return err
		}
		var ds []deviceJSON
		json.Unmarshal(raw, &ds)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "SERIAL\tVENDOR\tTYPE\tSUBTYPE\tSTATUS\tEFFECTIVE\tENROLLED")
			for _, d := range ds {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Serial, d.VendorID, d.Type, d.SubType, d.Status, d.Effective, d.Enrolled.Format(time.RFC3339))
			}
			return nil
		})
	case "device show":
		if len(serials) != 1 {
			return cli.Usage(errors.New("--serial SN is required (once)"))
		}
		if err := c.call(ctx, "GET", "/v1/admin/devices/"+url.PathEscape(serials[0]), nil, &raw); err != nil {
			return err
		}
		var d deviceJSON
		json.Unmarshal(raw, &d)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "serial\t%s\nvendor\t%s\nmake/model\t%s / %s\ntype\t%s %s\nstatus\t%s (effective %s)\t%s\nEK\t%s\ndevice cert\t%s\nFTM cert\t%s\nenrolled\t%s\n",
				d.Serial, d.VendorID, d.Make, d.Model, d.Type, d.SubType, d.Status, d.Effective, d.Reason, d.EKFingerprint,
				sha(d.DeviceCert), sha(d.FTMCert), d.Enrolled.Format(time.RFC3339))
			fmt.Fprintln(w, "history:")
			for _, e := range d.History {
				fmt.Fprintf(w, "  %d\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Action, e.Actor, e.Detail)
			}
			return nil
		})
	case "device revoke", "device suspend", "device reinstate":
		if len(serials) == 0 {
			return cli.Usage(errors.New("--serial SN is required (repeatable)"))
		}
		for start := 0; start < len(serials); start += 1000 {
			chunk := serials[start:min(start+1000, len(serials))]
			if err := c.call(ctx, "POST", "/v1/admin/devices/status",
				map[string]any{"serials": chunk, "status": statusVerb[verb], "reason": *reason, "undoRevocation": *undo}, &raw); err != nil {
				return err
			}
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "%d device(s) now %s: %s\n", len(serials), statusVerb[verb], strings.Join(serials, ", "))
			return nil
		})
	case "token create":
		q := map[string]string{"ttl": *ttl}
		switch {
		case *appliance != "":
			q["kind"], q["appliance"] = "appliance", *appliance
		case *vendor != "":
			q["kind"], q["vendorId"] = "device", *vendor
		default:
			return cli.Usage(errors.New("--vendor ID (device token) or --appliance ID (appliance token) is required"))
		}
		if err := c.call(ctx, "POST", "/v1/admin/tokens", q, &raw); err != nil {
			return err
		}
		var t struct {
			Token   string    `json:"token"`
			Kind    string    `json:"kind"`
			Expires time.Time `json:"expires"`
		}
		json.Unmarshal(raw, &t)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, t.Token)
			fmt.Fprintf(stderr, "one-use %s enrolment token; expires %s. It is shown once: pass it to the enrolling agent or appliance.\n", t.Kind, t.Expires.Format(time.RFC3339))
			var root struct {
				SHA256 string `json:"sha256"`
			}
			if c.call(ctx, "GET", "/v1/tls/root", nil, &root) == nil && root.SHA256 != "" {
				fmt.Fprintf(stderr, "central's TLS root: --central-root-sha256 %s\n", root.SHA256)
			}
			return nil
		})
	case "appliance list":
		if err := c.call(ctx, "GET", "/v1/admin/appliances", nil, &raw); err != nil {
			return err
		}
		var as []applianceJSON
		json.Unmarshal(raw, &as)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "ID\tSTATUS\tEK\tENROLLED\tREASON")
			for _, a := range as {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.EKFingerprint[:min(16, len(a.EKFingerprint))]+"…", a.Enrolled.Format(time.RFC3339), a.Reason)
			}
			return nil
		})
	case "appliance show":
		if err := need(*id, "id"); err != nil {
			return err
		}
		if err := c.call(ctx, "GET", "/v1/admin/appliances/"+url.PathEscape(*id), nil, &raw); err != nil {
			return err
		}
		var a applianceJSON
		json.Unmarshal(raw, &a)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "id\t%s\nstatus\t%s\t%s\nEK\t%s\nencryption cert\t%s\nsigning cert\t%s\nenrolled\t%s\n", a.ID, a.Status, a.Reason,
				a.EKFingerprint, sha(a.EncryptionCert), sha(a.SigningCert), a.Enrolled.Format(time.RFC3339))
			for _, e := range a.History {
				fmt.Fprintf(w, "  %d\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Action, e.Actor)
			}
			return nil
		})
	case "appliance revoke", "appliance suspend", "appliance reinstate":
		if err := need(*id, "id"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/appliances/"+url.PathEscape(*id)+"/status",
			map[string]any{"status": statusVerb[verb], "reason": *reason, "undoRevocation": *undo}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "appliance %s is now %s\n", *id, statusVerb[verb])
			return nil
		})
	case "rp add":
		if err := errors.Join(need(*id, "id"), need(*name, "name")); err != nil {
			return err
		}
		if len(authTypes) == 0 {
			return cli.Usage(errors.New("--auth-type is required (demo, bio-Finger, bio-Iris, bio-Face; repeatable)"))
		}
		if err := c.call(ctx, "POST", "/v1/admin/relying-parties", map[string]any{"id": *id, "name": *name, "attributes": attrs, "authTypes": authTypes}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "relying party %s added (auth types: %s; attributes: %s); give it a key with: edgetrust-central rp key add --id %s\n",
				*id, strings.Join(authTypes, ", "), strings.Join(attrs, ", "), *id)
			return nil
		})
	case "rp key add":
		if err := need(*id, "id"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/relying-parties/"+url.PathEscape(*id)+"/keys", nil, &raw); err != nil {
			return err
		}
		var k struct{ Key, KeyID string }
		json.Unmarshal(raw, &k)
		if *asJSON {
			return show(nil)
		}
		fmt.Fprintln(stdout, k.Key)
		fmt.Fprintf(stderr, "API key %s for relying party %s: shown once, give it to the relying party (Authorization: Bearer ...)\n", k.KeyID, *id)
		return nil
	case "rp cert issue":
		if err := errors.Join(need(*id, "rp"), need(*csrFile, "csr")); err != nil {
			return err
		}
		return rpCertIssue(ctx, c, *id, *csrFile, *outFile, *days, *asJSON, stdout, stderr)
	case "rp key revoke":
		if err := errors.Join(need(*id, "id"), need(*keyID, "key")); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/relying-parties/"+url.PathEscape(*id)+"/keys/"+url.PathEscape(*keyID)+"/revoke", nil, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "key %s of %s revoked; appliances refuse it after their next trust-feed poll\n", *keyID, *id)
			return nil
		})
	case "rp revoke", "rp suspend", "rp reinstate":
		if err := need(*id, "id"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/relying-parties/"+url.PathEscape(*id)+"/status",
			map[string]any{"status": statusVerb[verb], "reason": *reason, "undoRevocation": *undo}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "relying party %s is now %s\n", *id, statusVerb[verb])
			return nil
		})
	case "appliance group":
		if err := errors.Join(need(*id, "id"), need(*grp, "group")); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/appliances/"+url.PathEscape(*id)+"/group", map[string]any{"group": *grp}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "appliance %s now receives the records of group %s\n", *id, *grp)
			return nil
		})
	case "person enrol":
		return personEnrol(ctx, c, *demoFile, captures, *grp, *vidKindFlag, &raw, show, stdout, *asJSON)
	case "person show":
		if err := need(*uin, "uin"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/people/show", map[string]any{"uin": *uin}, &raw); err != nil {
			return err
		}
		if !*showNumbers {
			raw = maskVIDsIn(raw, "vids")
		}
		return showPerson(raw, show)
	case "person lock", "person unlock":
		if err := need(*uin, "uin"); err != nil {
			return err
		}
		if len(authTypes) == 0 {
			return cli.Usage(errors.New("--auth-type is required (demo, bio-Finger, bio-Iris, bio-Face; repeatable)"))
		}
		body := map[string]any{"uin": *uin, "lock": authTypes}
		if verb == "unlock" {
			body = map[string]any{"uin": *uin, "unlock": authTypes}
		}
		if err := c.call(ctx, "POST", "/v1/admin/people/locks", body, &raw); err != nil {
			return err
		}
		return showPerson(raw, show)
	case "vid issue":
		if err := need(*uin, "uin"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/vids", map[string]any{"uin": *uin, "kind": *kind, "ttl": *ttl}, &raw); err != nil {
			return err
		}
		var v struct {
			Number, Kind string
			ExpiresAt    time.Time
		}
		json.Unmarshal(raw, &v)
		if *asJSON {
			out := map[string]any{"vid": v.Number, "kind": v.Kind}
			if !v.ExpiresAt.IsZero() {
				out["expiresAt"] = v.ExpiresAt.Format(time.RFC3339)
			}
			return json.NewEncoder(stdout).Encode(out)
		}
		fmt.Fprintln(stdout, v.Number)
		if !v.ExpiresAt.IsZero() {
			fmt.Fprintf(stderr, "%s VID, valid until %s\n", v.Kind, v.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	case "vid list":
		if err := need(*uin, "uin"); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/vids/list", map[string]any{"uin": *uin}, &raw); err != nil {
			return err
		}
		if !*showNumbers {
			raw = maskVIDsIn(raw, "")
		}
		var vs []struct {
			Number, Kind, Status, Reason string
			IssuedAt, ExpiresAt          time.Time
		}
		json.Unmarshal(raw, &vs)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "VID\tKIND\tSTATUS\tISSUED\tEXPIRES\tREASON")
			for _, v := range vs {
				n := v.Number
				exp := "never"
				if !v.ExpiresAt.IsZero() {
					exp = v.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n, v.Kind, v.Status, v.IssuedAt.Format(time.RFC3339), exp, v.Reason)
			}
			return nil
		})
	case "vid revoke":
		if err := errors.Join(need(*vidNum, "vid"), need(*reason, "reason")); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/v1/admin/vids/revoke", map[string]any{"vid": *vidNum, "reason": *reason}, &raw); err != nil {
			return err
		}
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "VID %s revoked; appliances delete its record at their next records-feed poll\n", maskDigits(*vidNum))
			return nil
		})
	case "rp list":
		if err := c.call(ctx, "GET", "/v1/admin/relying-parties", nil, &raw); err != nil {
			return err
		}
		var rps []struct {
			ID, Name, Status      string
			Attributes, AuthTypes []string
			Keys                  []struct {
				ID      string
				Revoked bool
			}
		}
		json.Unmarshal(raw, &rps)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "ID\tNAME\tSTATUS\tATTRIBUTES\tAUTH TYPES\tLIVE KEYS")
			for _, r := range rps {
				var live []string
				for _, k := range r.Keys {
					if !k.Revoked {
						live = append(live, k.ID)
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Status, orDash(strings.Join(r.Attributes, ",")),
					strings.Join(r.AuthTypes, ","), orDash(strings.Join(live, ",")))
			}
			return nil
		})
	case "audit list":
		q := url.Values{}
		if *subject != "" {
			q.Set("subject", *subject)
		}
		if *after != "" {
			q.Set("after", *after)
		}
		if err := c.call(ctx, "GET", "/v1/admin/audit?"+q.Encode(), nil, &raw); err != nil {
			return err
		}
		var rows []auditJSON
		json.Unmarshal(raw, &rows)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "SEQ\tTIME\tACTOR\tACTION\tSUBJECT\tDETAIL")
			for _, e := range rows {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Subject, e.Detail)
			}
			return nil
		})
	case "audit verify":
		if err := c.call(ctx, "POST", "/v1/admin/audit/verify", nil, &raw); err != nil {
			return err
		}
		var r struct {
			Rows uint64 `json:"rows"`
		}
		json.Unmarshal(raw, &r)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "audit log intact: %d rows, hash chain verified\n", r.Rows)
			return nil
		})
	}
	return cli.Usage(fmt.Errorf("unknown command %q; see edgetrust-central help", group+" "+verb))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func sha(der []byte) string {
	if len(der) == 0 {
		return "-"
	}
	h := sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

type vendorJSON struct {
	ID, Name, Status, Reason string
	CACert                   []byte `json:"caCert"`
}

type auditJSON struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Detail  json.RawMessage `json:"detail"`
}

type deviceJSON struct {
	Serial        string      `json:"serial"`
	VendorID      string      `json:"vendorId"`
	Make          string      `json:"make"`
	Model         string      `json:"model"`
	Type          string      `json:"type"`
	SubType       string      `json:"subType"`
	Status        string      `json:"status"`
	Effective     string      `json:"effectiveStatus"`
	Reason        string      `json:"reason"`
	EKFingerprint string      `json:"ekFingerprint"`
	DeviceCert    []byte      `json:"deviceCert"`
	FTMCert       []byte      `json:"ftmCert"`
	Enrolled      time.Time   `json:"enrolled"`
	History       []auditJSON `json:"history"`
}

type applianceJSON struct {
	ID             string      `json:"id"`
	Status         string      `json:"status"`
	Reason         string      `json:"reason"`
	EKFingerprint  string      `json:"ekFingerprint"`
	EncryptionCert []byte      `json:"encryptionCert"`
	SigningCert    []byte      `json:"signingCert"`
	Enrolled       time.Time   `json:"enrolled"`
	History        []auditJSON `json:"history"`
}
