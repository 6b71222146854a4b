package console

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// PageSize is how many devices or audit rows one page shows.
const PageSize = 50

// expirySoon is how close to expiry a certificate raises an alert.
const expirySoon = 30 * 24 * time.Hour

func (c *Console) base(r *http.Request, title, nav string) page {
	s := sessionFrom(r.Context())
	return page{Title: title, Nav: nav, Admin: s.admin, CSRF: s.csrf, Notice: r.URL.Query().Get("notice")}
}

type counts struct{ Active, Suspended, Revoked, Total int }

func (n *counts) add(status string) {
	n.Total++
	switch status {
	case trustfeed.Active:
		n.Active++
	case trustfeed.Suspended:
		n.Suspended++
	case trustfeed.Revoked:
		n.Revoked++
	}
}

type alert struct{ Text, Link string }

type overviewData struct {
	Vendors, Devices, Appliances, RPs counts
	FeedSeq                           uint64
	Alerts                            []alert
	Counted                           time.Time // when Devices was counted
}

// countsTTL is how long device counts are reused: counting walks every
// device (1.5–3 s for 100k on 2 shared cores, docs/performance.md).
const countsTTL = 30 * time.Second

// deviceCounts counts devices by effective status, a page at a time,
// reusing a count younger than countsTTL (a change made here drops it).
func (c *Console) deviceCounts(r *http.Request) (counts, time.Time, error) {
	c.countMu.Lock()
	defer c.countMu.Unlock()
	now := c.c.Now()
	if !c.countAt.IsZero() && now.Sub(c.countAt) < countsTTL {
		return c.count, c.countAt, nil
	}
	var n counts
	after := ""
	for {
		ds, err := c.c.Service.Devices(r.Context(), store.DeviceFilter{After: after, Limit: 1000})
		if err != nil {
			return n, time.Time{}, err
		}
		for _, dv := range ds {
			n.add(dv.Effective)
		}
		if len(ds) < 1000 {
			break
		}
		after = ds[len(ds)-1].Serial
	}
	c.count, c.countAt = n, now
	return n, now, nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), c.c.Now()
	var d overviewData
	vs, err := c.c.Service.Vendors(ctx)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, v := range vs {
		d.Vendors.add(v.Status)
		if cert, err := x509.ParseCertificate(v.CACert); err == nil && cert.NotAfter.Sub(now) < expirySoon {
			d.Alerts = append(d.Alerts, alert{fmt.Sprintf("Vendor %s's provider CA expires %s", v.ID, cert.NotAfter.UTC().Format(time.DateOnly)), "/console/vendors"})
		}
	}
	if d.Devices, d.Counted, err = c.deviceCounts(r); err != nil {
		c.failErr(w, r, err)
		return
	}
	aps, err := c.c.Service.Appliances(ctx)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, a := range aps {
		d.Appliances.add(a.Status)
		if a.Status != trustfeed.Active {
			continue
		}
		for _, cr := range a.Certs {
			if cr.NotAfter.After(now) && cr.NotAfter.Sub(now) < expirySoon {
				d.Alerts = append(d.Alerts, alert{fmt.Sprintf("Appliance %s's %s certificate expires %s", a.ID, cr.Role, cr.NotAfter.UTC().Format(time.DateOnly)), "/console/appliances"})
			}
		}
	}
	rps, err := c.c.Service.RelyingParties(ctx)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, rp := range rps {
		d.RPs.add(rp.Status)
	}
	_, d.FeedSeq, err = c.st.ReadFeed(ctx, "trust", 0, 0)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if _, err := c.c.Service.VerifyAudit(ctx); err != nil {
		d.Alerts = append(d.Alerts, alert{"The audit log's hash chain does not verify: " + err.Error(), "/console/audit"})
	}
	p := c.base(r, "Overview", "overview")
	p.Data = d
	c.render(w, http.StatusOK, "overview", p)
}

func (c *Console) vendors(w http.ResponseWriter, r *http.Request) {
	vs, err := c.c.Service.Vendors(r.Context())
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	type row struct {
		registry.VendorView
		Expires time.Time
	}
	rows := make([]row, len(vs))
	for i, v := range vs {
		rows[i].VendorView = v
		if cert, err := x509.ParseCertificate(v.CACert); err == nil {
			rows[i].Expires = cert.NotAfter
		}
	}
	p := c.base(r, "Vendors", "vendors")
	p.Data = rows
	c.render(w, http.StatusOK, "vendors", p)
}

type devicesData struct {
	Q, Vendor, Status string
	Devices           []registry.DeviceView
	Next              string // URL of the next page ("" on the last)
	Vendors           []registry.VendorView
}

func (c *Console) devices(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := devicesData{Q: strings.TrimSpace(q.Get("q")), Vendor: q.Get("vendor"), Status: q.Get("status")}
	if len(d.Q) > 128 || len(d.Vendor) > 128 || len(q.Get("after")) > 128 {
		c.fail(w, r, http.StatusBadRequest, "Search terms are at most 128 characters.")
		return
	}
	if d.Status != "" && !trustfeed.ValidStatus(d.Status) {
		c.fail(w, r, http.StatusBadRequest, "Status must be active, suspended or revoked.")
		return
	}
	f := store.DeviceFilter{VendorID: d.Vendor, Status: d.Status, After: q.Get("after"), Limit: PageSize + 1}
	if d.Q != "" && f.After == "" {
		// Serials starting with Q: the exact one, then those after it.
		if dv, err := c.c.Service.Device(ctx, d.Q); err == nil && (d.Vendor == "" || dv.VendorID == d.Vendor) && (d.Status == "" || dv.Status == d.Status) {
			dv.History = nil
			d.Devices = append(d.Devices, *dv)
		}
		f.After = d.Q
	}
	ds, err := c.c.Service.Devices(ctx, f)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, dv := range ds {
		if d.Q != "" && !strings.HasPrefix(dv.Serial, d.Q) {
			break
		}
		d.Devices = append(d.Devices, dv)
	}
	if len(d.Devices) > PageSize {
		d.Devices = d.Devices[:PageSize]
		nq := url.Values{"after": {d.Devices[PageSize-1].Serial}}
		for k, v := range map[string]string{"q": d.Q, "vendor": d.Vendor, "status": d.Status} {
			if v != "" {
				nq.Set(k, v)
			}
		}
		d.Next = "/console/devices?" + nq.Encode()
	}
	if d.Vendors, err = c.c.Service.Vendors(ctx); err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Devices", "devices")
	p.Data = d
	c.render(w, http.StatusOK, "devices", p)
}

func (c *Console) device(w http.ResponseWriter, r *http.Request) {
	dv, err := c.c.Service.Device(r.Context(), r.PathValue("serial"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Device "+dv.Serial, "devices")
	p.Data = dv
	c.render(w, http.StatusOK, "device", p)
}

func (c *Console) appliances(w http.ResponseWriter, r *http.Request) {
	aps, err := c.c.Service.Appliances(r.Context())
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Appliances", "appliances")
	p.Data = aps
	c.render(w, http.StatusOK, "appliances", p)
}

func (c *Console) rps(w http.ResponseWriter, r *http.Request) {
	rps, err := c.c.Service.RelyingParties(r.Context())
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Relying parties", "rps")
	p.Data = rps
	c.render(w, http.StatusOK, "rps", p)
}

type adminsData struct {
	Admins  []store.ConsoleAdmin
	Code    string
	Expires time.Time
}

func (c *Console) adminList(r *http.Request) ([]store.ConsoleAdmin, error) {
	var as []store.ConsoleAdmin
	err := c.st.View(r.Context(), func(tx store.Tx) error {
		var err error
		as, err = tx.ConsoleAdmins(r.Context())
		return err
	})
	return as, err
}

func (c *Console) admins(w http.ResponseWriter, r *http.Request) {
	as, err := c.adminList(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Admins", "admins")
	p.Data = adminsData{Admins: as}
	c.render(w, http.StatusOK, "admins", p)
}

// invite mints a one-time code for another admin, shown once.
func (c *Console) invite(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		c.fail(w, r, http.StatusBadRequest, "The invitee's name is required: it is how the audit log will show them.")
		return
	}
	code, rec, err := NewCode(r.Context(), c.st, c.c.Now(), actor(s.admin), name, c.c.CodeTTL)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	as, err := c.adminList(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Admins", "admins")
	p.Data = adminsData{Admins: as, Code: code, Expires: rec.Expires}
	c.render(w, http.StatusOK, "admins", p)
}

// target is what a status change is about.
type target struct {
	Kind, ID, Name, Status string // Status: the current one
	To                     string
	Effects                []string
	Back                   string
	Undo                   bool // reinstating a revoked subject
}

var verbs = map[string]string{trustfeed.Active: "Reinstate", trustfeed.Suspended: "Suspend", trustfeed.Revoked: "Revoke"}

func (t target) Verb() string { return verbs[t.To] }

// lookup finds the subject of a change and says what the change will stop
// (or restart).
func (c *Console) lookup(r *http.Request, kind, id, to string) (*target, error) {
	ctx := r.Context()
	if !trustfeed.ValidStatus(to) {
		return nil, core.BadRequest("status %q: want active, suspended or revoked", to)
	}
	if id == "" || len(id) > 128 {
		return nil, core.BadRequest("an id is required")
	}
	t := &target{Kind: kind, ID: id, To: to}
	stop := to != trustfeed.Active
	switch kind {
	case "device":
		dv, err := c.c.Service.Device(ctx, id)
		if err != nil {
			return nil, err
		}
		t.Name, t.Status, t.Back = dv.Make+" "+dv.Model+" ("+dv.VendorID+")", dv.Status, "/console/devices/"+url.PathEscape(id)
		if stop {
			t.Effects = []string{
				"Every appliance rejects captures signed by device " + id + " as soon as it applies the next trust-feed checkpoint.",
				"The device cannot renew its certificates at central.",
			}
		} else {
			t.Effects = []string{"Appliances accept captures from device " + id + " again (unless its vendor is suspended or revoked)."}
		}
	case "vendor":
		vs, err := c.c.Service.Vendors(ctx)
		if err != nil {
			return nil, err
		}
		found := false
		for _, v := range vs {
			if v.ID == id {
				t.Name, t.Status, found = v.Name, v.Status, true
			}
		}
		if !found {
			return nil, core.NotFound("vendor", id)
		}
		n, err := c.countDevices(r, id)
		if err != nil {
			return nil, err
		}
		t.Back = "/console/vendors"
		if stop {
			t.Effects = []string{
				fmt.Sprintf("All %d devices of vendor %s stop being trusted: appliances reject their captures from the next trust-feed checkpoint.", n, id),
				"The vendor cannot enrol new devices.",
			}
		} else {
			t.Effects = []string{fmt.Sprintf("The %d devices of vendor %s are trusted again, except those suspended or revoked on their own.", n, id)}
		}
	case "appliance":
		av, err := c.c.Service.Appliance(ctx, id)
		if err != nil {
			return nil, err
		}
		t.Name, t.Status, t.Back = "group "+groupName(av.Group), av.Status, "/console/appliances"
		if stop {
			t.Effects = []string{
				"Central stops publishing people's records to appliance " + id + " (its records feed carries deletions only) and refuses its audit uploads and records-feed requests.",
			}
		} else {
			t.Effects = []string{"Appliance " + id + " gets its group's records again and can serve authentications."}
		}
	case "rp":
		rps, err := c.c.Service.RelyingParties(ctx)
		if err != nil {
			return nil, err
		}
		found := false
		for _, rp := range rps {
			if rp.ID == id {
				t.Name, t.Status, found = rp.Name, rp.Status, true
			}
		}
		if !found {
			return nil, core.NotFound("relying party", id)
		}
		t.Back = "/console/rps"
		if stop {
			t.Effects = []string{"Every API key of relying party " + id + " stops working at every appliance once it applies the next trust-feed checkpoint: its authentication requests are refused."}
		} else {
			t.Effects = []string{"Relying party " + id + "'s unrevoked API keys work again."}
		}
	default:
		return nil, core.BadRequest("kind %q: want device, vendor, appliance or rp", kind)
	}
	if t.Status == trustfeed.Revoked {
		if to != trustfeed.Active {
			return nil, core.Fail(http.StatusConflict, enrol.CodeNotActive, "%s %s is revoked already; revocation is final", kind, id)
		}
		t.Undo = true
	}
	if t.Status == to {
		return nil, core.Fail(http.StatusConflict, enrol.CodeConflict, "%s %s is already %s", kind, id, to)
	}
	return t, nil
}

func groupName(g string) string {
	if g == "" {
		return "default"
	}
	return g
}

func (c *Console) countDevices(r *http.Request, vendor string) (int, error) {
	n, after := 0, ""
	for {
		ds, err := c.c.Service.Devices(r.Context(), store.DeviceFilter{VendorID: vendor, After: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		n += len(ds)
		if len(ds) < 1000 {
			return n, nil
		}
		after = ds[len(ds)-1].Serial
	}
}

// confirm shows what a change will do and asks for a reason.
func (c *Console) confirm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t, err := c.lookup(r, q.Get("kind"), q.Get("id"), q.Get("status"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, t.Verb()+" "+t.Kind+" "+t.ID, "")
	p.Data = t
	c.render(w, http.StatusOK, "confirm", p)
}

// change applies a confirmed status change through central's registry
// (which audits it with the admin's identity).
func (c *Console) change(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := sessionFrom(ctx)
	t, err := c.lookup(r, r.PostFormValue("kind"), r.PostFormValue("id"), r.PostFormValue("status"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		c.fail(w, r, http.StatusBadRequest, "A reason is required: it goes to the audit log and to the appliances.")
		return
	}
	sc := core.StatusChange{Status: t.To, Reason: reason, UndoRevocation: t.Undo && r.PostFormValue("undo") == "yes"}
	if t.Undo && !sc.UndoRevocation {
		c.fail(w, r, http.StatusBadRequest, "Reinstating a revoked "+t.Kind+" undoes a revocation: tick the box that says so.")
		return
	}
	a := asAdmin(s.admin)
	switch t.Kind {
	case "device":
		_, err = c.c.Service.SetDeviceStatus(ctx, a, []string{t.ID}, sc)
	case "vendor":
		_, err = c.c.Service.SetVendorStatus(ctx, a, t.ID, sc)
	case "appliance":
		_, err = c.c.Service.SetApplianceStatus(ctx, a, t.ID, sc)
	case "rp":
		_, err = c.c.Service.SetRelyingPartyStatus(ctx, a, t.ID, sc)
	}
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	c.countMu.Lock()
	c.countAt = time.Time{}
	c.countMu.Unlock()
	c.c.Log.Info("console change", "admin", s.admin.ID, "kind", t.Kind, "id", t.ID, "status", t.To)
	_, seq, err := c.st.ReadFeed(ctx, "trust", 0, 0)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	notice := fmt.Sprintf("%s %s is now %s.", t.Kind, t.ID, t.To)
	http.Redirect(w, r, "/console/propagation?"+url.Values{"seq": {strconv.FormatUint(seq, 10)}, "notice": {notice}}.Encode(), http.StatusSeeOther)
}

type propRow struct {
	ID, Status string
	After      uint64
	Seen       time.Time
	Applied    bool
	Known      bool
}

type propData struct {
	Seq              uint64
	Applied, Total   int
	Rows             []propRow
	Pending          []propRow
	PositionsUnknown bool
}

// propagation shows which appliances have applied trust-feed entry Seq.
func (c *Console) propagation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d propData
	_, head, err := c.st.ReadFeed(ctx, "trust", 0, 0)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	d.Seq = head
	if s := r.URL.Query().Get("seq"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > head {
			c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("seq must be a trust-feed checkpoint up to %d.", head))
			return
		}
		d.Seq = n
	}
	aps, err := c.c.Service.Appliances(ctx)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	var pos map[string]Position
	if c.c.Positions != nil {
		pos = c.c.Positions.FeedPositions()
	} else {
		d.PositionsUnknown = true
	}
	for _, a := range aps {
		if a.Status != trustfeed.Active {
			continue
		}
		p, ok := pos[a.ID]
		row := propRow{ID: a.ID, Status: a.Status, After: p.After, Seen: p.Seen, Known: ok, Applied: ok && p.After >= d.Seq}
		d.Total++
		if row.Applied {
			d.Applied++
		} else {
			d.Pending = append(d.Pending, row)
		}
		d.Rows = append(d.Rows, row)
	}
	sort.Slice(d.Pending, func(i, j int) bool { return d.Pending[i].Seen.Before(d.Pending[j].Seen) })
	p := c.base(r, "Propagation", "propagation")
	p.Data = d
	c.render(w, http.StatusOK, "propagation", p)
}

type auditData struct {
	Rows     []store.AuditEvent
	Verified uint64
	Broken   string
	Older    string
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d auditData
	var head uint64
	if err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		head, _, err = tx.AuditHead(ctx)
		return err
	}); err != nil {
		c.failErr(w, r, err)
		return
	}
	upto := head
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			c.fail(w, r, http.StatusBadRequest, "before must be an audit row number.")
			return
		}
		upto = min(n-1, head)
	}
	from := uint64(0)
	if upto > PageSize {
		from = upto - PageSize
	}
	rows, err := c.c.Service.Audit(ctx, store.AuditFilter{After: from, Limit: int(upto - from)})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for i := len(rows) - 1; i >= 0; i-- {
		d.Rows = append(d.Rows, rows[i])
	}
	if from > 0 {
		d.Older = strconv.FormatUint(from+1, 10)
	}
	n, err := c.c.Service.VerifyAudit(ctx)
	d.Verified = n
	if err != nil {
		var e *enrol.Error
		if errors.As(err, &e) {
			d.Broken = e.Message
		} else {
			d.Broken = err.Error()
		}
	}
	p := c.base(r, "Audit log", "audit")
	p.Data = d
	c.render(w, http.StatusOK, "audit", p)
}
