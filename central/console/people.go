package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/store"
)

// People pages show people and their VIDs without biometrics; demographics
// only on an explicit, audited request with a reason.

type personRow struct {
	UIN, Group, Status string
	Locked             []string
	Created            time.Time
}

type peopleData struct {
	Group string
	Rows  []personRow
	Next  string
}

func (c *Console) peoplePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := peopleData{Group: strings.TrimSpace(q.Get("group"))}
	if d.Group == "" {
		d.Group = people.DefaultGroup
	}
	if len(d.Group) > 128 || len(q.Get("after")) > 128 {
		c.fail(w, r, http.StatusBadRequest, "Group and position are at most 128 characters.")
		return
	}
	var ps []store.Person
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		ps, err = tx.People(ctx, d.Group, q.Get("after"), PageSize+1)
		return err
	})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for _, p := range ps {
		d.Rows = append(d.Rows, personRow{UIN: p.UIN, Group: p.Group, Status: p.Status, Locked: p.Locked, Created: p.Created})
	}
	if len(d.Rows) > PageSize {
		d.Rows = d.Rows[:PageSize]
		d.Next = "/console/people?" + url.Values{"group": {d.Group}, "after": {d.Rows[PageSize-1].UIN}}.Encode()
	}
	p := c.base(r, "People", "people")
	p.Data = d
	c.render(w, http.StatusOK, "people", p)
}

type personData struct {
	UIN, Group, Status string
	Locked, Templates  []string
	VIDs               []store.VID
	Created            time.Time
	// Demographics is set only after an audited request.
	Demographics map[string]string
	Reason       string
}

func (c *Console) personView(r *http.Request) (*personData, *people.PersonView, error) {
	pv, err := c.c.Service.Person(r.Context(), r.PathValue("uin"))
	if err != nil {
		return nil, nil, err
	}
	return &personData{UIN: pv.UIN, Group: pv.Group, Status: pv.Status, Locked: pv.Locked, Templates: pv.Templates, VIDs: pv.VIDs, Created: pv.Created}, pv, nil
}

func (c *Console) person(w http.ResponseWriter, r *http.Request) {
	d, _, err := c.personView(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	p := c.base(r, "Person "+d.UIN, "people")
	p.Data = d
	c.render(w, http.StatusOK, "person", p)
}

// demographics shows a person's demographics after auditing who asked and why.
func (c *Console) demographics(w http.ResponseWriter, r *http.Request) {
	ctx, s := r.Context(), sessionFrom(r.Context())
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || core.CheckText("reason", reason, 256) != nil {
		c.fail(w, r, http.StatusBadRequest, "A reason (at most 256 characters) is required to see a person's demographics; it goes to the audit log.")
		return
	}
	d, pv, err := c.personView(r)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	now := c.c.Now()
	if err := c.st.Update(ctx, func(tx store.Tx) error {
		return core.Audit(ctx, tx, now, actor(s.admin), "person.demographics.view", "person:"+pv.UIN, map[string]string{"reason": reason})
	}); err != nil {
		c.failErr(w, r, err)
		return
	}
	d.Demographics, d.Reason = pv.Demographics, reason
	p := c.base(r, "Person "+d.UIN, "people")
	p.Data = d
	c.render(w, http.StatusOK, "person", p)
}
