package central

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// peopleRoutes adds the admin API for people, VIDs, relying-party keys and
// appliance groups. UINs and VIDs travel in bodies, never in URLs (which
// end up in access logs).
func (h *api) peopleRoutes(route func(string, http.HandlerFunc), admin func(string, func(context.Context, *Admin, *http.Request) (any, error))) {
	c := h.c
	route("POST /v1/admin/people", h.adminSized(MaxEnrolBytes, func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		q, err := decodePerson(r)
		if err != nil {
			return nil, err
		}
		return c.EnrolPerson(ctx, a, q)
	}))
	admin("POST /v1/admin/people/show", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		var q struct {
			UIN string `json:"uin"`
		}
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.Person(ctx, q.UIN)
	})
	admin("POST /v1/admin/people/locks", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			UIN    string   `json:"uin"`
			Lock   []string `json:"lock"`
			Unlock []string `json:"unlock"`
		}
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.SetLocks(ctx, a, q.UIN, q.Lock, q.Unlock)
	})
	admin("POST /v1/admin/vids", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			UIN  string `json:"uin"`
			Kind string `json:"kind"`
			TTL  string `json:"ttl"`
		}
		if err := decodeJSON(r, &q); err != nil {
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
	admin("POST /v1/admin/vids/list", func(ctx context.Context, _ *Admin, r *http.Request) (any, error) {
		var q struct {
			UIN string `json:"uin"`
		}
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.VIDs(ctx, q.UIN)
	})
	admin("POST /v1/admin/vids/revoke", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			VID    string `json:"vid"`
			Reason string `json:"reason"`
		}
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.RevokeVID(ctx, a, q.VID, q.Reason)
	})
	admin("POST /v1/admin/relying-parties/{id}/keys", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		key, id, err := c.AddRPKey(ctx, a, r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return map[string]string{"key": key, "keyId": id}, nil
	})
	admin("POST /v1/admin/relying-parties/{id}/keys/{key}/revoke", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		return c.RevokeRPKey(ctx, a, r.PathValue("id"), r.PathValue("key"))
	})
	admin("POST /v1/admin/relying-parties/{id}/status", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q StatusChange
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.SetRelyingPartyStatus(ctx, a, r.PathValue("id"), q)
	})
	admin("POST /v1/admin/appliances/{id}/group", func(ctx context.Context, a *Admin, r *http.Request) (any, error) {
		var q struct {
			Group string `json:"group"`
		}
		if err := decodeJSON(r, &q); err != nil {
			return nil, err
		}
		return c.SetApplianceGroup(ctx, a, r.PathValue("id"), q.Group)
	})
}

// decodePerson reads a PersonRequest strictly.
func decodePerson(r *http.Request) (*PersonRequest, error) {
	d := json.NewDecoder(r.Body) // bounded by adminSized
	d.DisallowUnknownFields()
	var q PersonRequest
	if err := d.Decode(&q); err != nil {
		return nil, badRequest("person enrolment must be JSON {demographics, captures, group, vidKind} of at most %d bytes: %v", MaxEnrolBytes, err)
	}
	if d.More() {
		return nil, badRequest("trailing data after the JSON object")
	}
	return &q, nil
}
