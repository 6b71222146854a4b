package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// peopleRoutes adds the admin API for people, VIDs, relying-party keys and
// appliance groups. UINs and VIDs travel in bodies, never in URLs (which
// end up in access logs).
func (h *api) peopleRoutes(route func(string, http.HandlerFunc), admin func(string, func(context.Context, *core.Admin, *http.Request) (any, error))) {
	c := h.svc
	route("POST /v1/admin/people", h.adminSized(people.MaxEnrolBytes, func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		q, err := decodePerson(r)
		if err != nil {
			return nil, err
		}
		return c.EnrolPerson(ctx, a, q)
	}))
	admin("POST /v1/admin/people/show", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		var q struct {
			UIN string `json:"uin"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.Person(ctx, q.UIN)
	})
	admin("POST /v1/admin/people/locks", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			UIN    string   `json:"uin"`
			Lock   []string `json:"lock"`
			Unlock []string `json:"unlock"`
		}
		if err := decodeJSON(r, &q, listBody(2*len(recordfeed.AuthTypes))); err != nil {
			return nil, err
		}
		return c.SetLocks(ctx, a, q.UIN, q.Lock, q.Unlock)
	})
	admin("POST /v1/admin/vids", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			UIN  string `json:"uin"`
			Kind string `json:"kind"`
			TTL  string `json:"ttl"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		var ttl time.Duration
		if q.TTL != "" {
			d, err := time.ParseDuration(q.TTL)
			if err != nil {
				return nil, badRequest("ttl %q: want a duration such as 30m", q.TTL)
			}
			ttl = d
		}
		return c.IssueVID(ctx, a, q.UIN, q.Kind, ttl)
	})
	admin("POST /v1/admin/vids/list", func(ctx context.Context, _ *core.Admin, r *http.Request) (any, error) {
		var q struct {
			UIN string `json:"uin"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.VIDs(ctx, q.UIN)
	})
	admin("POST /v1/admin/vids/revoke", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			VID    string `json:"vid"`
			Reason string `json:"reason"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.RevokeVID(ctx, a, q.VID, q.Reason)
	})
	admin("POST /v1/admin/relying-parties/{id}/keys", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		key, id, err := c.AddRPKey(ctx, a, r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return map[string]string{"key": key, "keyId": id}, nil
	})
	admin("POST /v1/admin/relying-parties/{id}/keys/{keyId}/revoke", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		return c.RevokeRPKey(ctx, a, r.PathValue("id"), r.PathValue("keyId"))
	})
	admin("POST /v1/admin/relying-parties/{id}/status", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q core.StatusChange
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetRelyingPartyStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("POST /v1/admin/appliances/{id}/group", func(ctx context.Context, a *core.Admin, r *http.Request) (any, error) {
		var q struct {
			Group string `json:"group"`
		}
		if err := decodeJSON(r, &q, adminBody); err != nil {
			return nil, err
		}
		return c.SetApplianceGroup(ctx, a, r.PathValue("id"), q.Group)
	})
}

// PersonLimits bound a person enrolment body while it is decoded
// (internal/jsonx): the captures (MaxEnrolCaptures), the biometrics of each
// RCAPTURE answer and the bio and subtype lists of its request
// (sbi.MaxBiometrics, 10 fingers; subtype lists of up to 16) are counted as
// they arrive; demographics are at most recordfeed.MaxDemographics
// members. The top level is a closed contract; the captures are SBI
// documents, whose members central does not all name, and are checked for
// duplicates, UTF-8, counts and depth like the rest.
var PersonLimits = jsonx.Limits{MaxBytes: people.MaxEnrolBytes, MaxDepth: 8, MaxArray: 16, MaxMembers: recordfeed.MaxDemographics}

// decodePerson reads a PersonRequest strictly.
func decodePerson(r *http.Request) (*people.PersonRequest, error) {
	var q people.PersonRequest
	if err := jsonx.Decode(r.Body, &q, PersonLimits); err != nil { // r.Body bounded by adminSized
		e := core.BodyError(err)
		e.Message = fmt.Sprintf("person enrolment must be JSON {demographics, captures, group, vidKind} of at most %d bytes: %s", people.MaxEnrolBytes, e.Message)
		return nil, e
	}
	return &q, nil
}
