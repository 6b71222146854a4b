package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/keys"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
)

// Registry holds vendors and their provider CAs, devices and relying
// parties.
type Registry struct {
	st   store.Store
	keys *keys.Keyring
	now  func() time.Time

	// Reinstated publishes, inside tx, the records a reinstated appliance
	// missed while suspended or revoked (the records backfill); Kick runs
	// the rest of it after the commit. Both must be set before use.
	Reinstated func(ctx context.Context, tx store.Tx, ap *store.Appliance) error
	Kick       func()

	// PerDeviceStatusEntries publishes a bulk status change as one whole
	// device entry per device, as before the device-status entry kind:
	// for appliances that do not know that kind yet (a rolling upgrade).
	PerDeviceStatusEntries bool

	caMu sync.Mutex
	cas  map[string]*keys.CA // vendor id → unlocked provider CA
}

// New makes a Registry on st, sealing vendor CA keys to k.
func New(st store.Store, k *keys.Keyring, now func() time.Time) *Registry {
	return &Registry{st: st, keys: k, now: now, cas: map[string]*keys.CA{}}
}

var (
	fail         = core.Fail
	badRequest   = core.BadRequest
	notFound     = core.NotFound
	checkText    = core.CheckText
	transition   = core.Transition
	statusAction = core.StatusAction
)

func (r *Registry) audit(ctx context.Context, tx store.Tx, actor, action, subject string, detail any) error {
	return core.Audit(ctx, tx, r.now(), actor, action, subject, detail)
}

func (r *Registry) publish(ctx context.Context, tx store.Tx, entries ...store.NewEntry) error {
	return feeds.Publish(ctx, tx, r.now(), entries...)
}

// Vendors.

// VendorView is a vendor as the admin API shows it (no key material).
type VendorView struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	CACert  []byte    `json:"caCert"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func vendorView(v *store.Vendor) VendorView {
	return VendorView{ID: v.ID, Name: v.Name, Status: v.Status, Reason: v.Reason, CACert: v.CACert, Created: v.Created, Updated: v.Updated}
}

// AddVendor registers a device provider and issues its provider CA.
func (r *Registry) AddVendor(ctx context.Context, a *core.Admin, id, name string) (*VendorView, error) {
	if err := enrol.CheckID("vendor id", id); err != nil {
		return nil, badRequest("%v", err)
	}
	if strings.TrimSpace(name) == "" {
		return nil, badRequest("vendor name is required (it becomes O= in its certificates)")
	}
	if err := checkText("vendor name", name, 64); err != nil {
		return nil, err
	}
	now := r.now().UTC()
	ca, err := keys.NewCA(pkix.Name{CommonName: name + " Device Provider CA", Organization: []string{name}}, now)
	if err != nil {
		return nil, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	sealed, err := r.keys.Seal(key)
	if err != nil {
		return nil, err
	}
	v := &store.Vendor{ID: id, Name: name, Status: trustfeed.Active, CACert: ca.Cert.Raw, CAKey: sealed, Created: now, Updated: now}
	err = r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Vendor(ctx, id); err == nil {
			return fail(http.StatusConflict, enrol.CodeConflict, "vendor %s already exists", id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutVendor(ctx, v); err != nil {
			return err
		}
		if err := r.audit(ctx, tx, a.Actor(), "vendor.add", "vendor:"+id, map[string]string{"name": name, "caSha256": sbi.Thumbprint(ca.Cert)}); err != nil {
			return err
		}
		return r.publish(ctx, tx, feeds.VendorEntry(v))
	})
	if err != nil {
		return nil, err
	}
	r.caMu.Lock()
	r.cas[id] = ca
	r.caMu.Unlock()
	vv := vendorView(v)
	return &vv, nil
}

// Vendors lists vendors.
func (r *Registry) Vendors(ctx context.Context) ([]VendorView, error) {
	var out []VendorView
	err := r.st.View(ctx, func(tx store.Tx) error {
		vs, err := tx.Vendors(ctx)
		for i := range vs {
			out = append(out, vendorView(&vs[i]))
		}
		return err
	})
	return out, err
}

// VendorCA returns a vendor's unlocked provider CA.
func (r *Registry) VendorCA(v *store.Vendor) (*keys.CA, error) {
	r.caMu.Lock()
	defer r.caMu.Unlock()
	if ca, ok := r.cas[v.ID]; ok && string(ca.Cert.Raw) == string(v.CACert) {
		return ca, nil
	}
	key, err := r.keys.Open(v.CAKey)
	if err != nil {
		return nil, err
	}
	ca, err := pki.ParseCA(v.CACert, key)
	if err != nil {
		return nil, fmt.Errorf("central/registry: vendor %s CA: %w", v.ID, err)
	}
	r.cas[v.ID] = ca
	return ca, nil
}

// SetVendorStatus suspends, reinstates or revokes a vendor — and with it,
// for every consumer of the trust feed, every device under its CA.
func (r *Registry) SetVendorStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*VendorView, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var out VendorView
	err := r.st.Update(ctx, func(tx store.Tx) error {
		v, err := tx.Vendor(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("vendor", id)
		}
		if err != nil {
			return err
		}
		if err := transition("vendor", id, v.Status, s); err != nil {
			return err
		}
		old := v.Status
		v.Status, v.Reason, v.Updated = s.Status, s.Reason, r.now().UTC()
		if err := tx.PutVendor(ctx, v); err != nil {
			return err
		}
		if err := r.audit(ctx, tx, a.Actor(), statusAction("vendor", s.Status), "vendor:"+id,
			map[string]string{"from": old, "to": s.Status, "reason": s.Reason}); err != nil {
			return err
		}
		out = vendorView(v)
		return r.publish(ctx, tx, feeds.VendorEntry(v))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Devices.

// DeviceView is a device as the admin API shows it.
type DeviceView struct {
	store.Device
	// Effective is the status verifiers apply: revoked or suspended if
	// the vendor is, else the device's own.
	Effective string             `json:"effectiveStatus"`
	History   []store.AuditEvent `json:"history,omitempty"`
}

// Effective is the status verifiers apply to a device: its vendor's if that
// is worse (revoked or suspended), else its own.
func Effective(vendorStatus, deviceStatus string) string {
	rank := map[string]int{trustfeed.Active: 0, trustfeed.Suspended: 1, trustfeed.Revoked: 2}
	if rank[vendorStatus] > rank[deviceStatus] {
		return vendorStatus
	}
	return deviceStatus
}

// Devices lists devices.
func (r *Registry) Devices(ctx context.Context, f store.DeviceFilter) ([]DeviceView, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	if f.Status != "" && !trustfeed.ValidStatus(f.Status) {
		return nil, badRequest("status %q: want active, suspended or revoked", f.Status)
	}
	var out []DeviceView
	err := r.st.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Devices(ctx, f)
		if err != nil {
			return err
		}
		vs := map[string]string{}
		for i := range ds {
			d := ds[i]
			vst, ok := vs[d.VendorID]
			if !ok {
				if v, err := tx.Vendor(ctx, d.VendorID); err == nil {
					vst = v.Status
				}
				vs[d.VendorID] = vst
			}
			out = append(out, DeviceView{Device: d, Effective: Effective(vst, d.Status)})
		}
		return nil
	})
	return out, err
}

// Device returns a device with its audit history.
func (r *Registry) Device(ctx context.Context, serial string) (*DeviceView, error) {
	var out DeviceView
	err := r.st.View(ctx, func(tx store.Tx) error {
		d, err := tx.Device(ctx, serial)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("device", serial)
		}
		if err != nil {
			return err
		}
		v, err := tx.Vendor(ctx, d.VendorID)
		if err != nil {
			return err
		}
		h, err := tx.Audit(ctx, store.AuditFilter{Subject: "device:" + serial, Limit: 1000})
		out = DeviceView{Device: *d, Effective: Effective(v.Status, d.Status), History: h}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// MaxBulk is the most devices one status change names.
const MaxBulk = 1000

// MaxAttributes is the most identity attributes a relying party may receive.
const MaxAttributes = 64

// SetDeviceStatus changes the status of devices, all or none, with one
// audit row and one feed entry each.
func (r *Registry) SetDeviceStatus(ctx context.Context, a *core.Admin, serials []string, s core.StatusChange) ([]string, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if len(serials) == 0 || len(serials) > MaxBulk {
		return nil, badRequest("name 1–%d devices per request", MaxBulk)
	}
	for _, sn := range serials {
		if err := enrol.CheckID("serial", sn); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	err := r.st.Update(ctx, func(tx store.Tx) error {
		found, err := tx.DevicesBySerial(ctx, serials)
		if err != nil {
			return err
		}
		now := r.now().UTC()
		devs := make([]*store.Device, 0, len(serials))
		events := make([]store.AuditEvent, 0, len(serials))
		entries := make([]store.NewEntry, 0, len(serials))
		seen := make(map[string]bool, len(serials))
		for _, sn := range serials {
			d, ok := found[sn]
			if !ok {
				return notFound("device", sn)
			}
			if seen[sn] {
				return badRequest("device %s is named twice", sn)
			}
			seen[sn] = true
			if err := transition("device", sn, d.Status, s); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]string{"from": d.Status, "to": s.Status, "reason": s.Reason})
			d.Status, d.Reason, d.Updated = s.Status, s.Reason, now
			devs = append(devs, d)
			events = append(events, store.AuditEvent{Time: now, Actor: a.Actor(), Action: statusAction("device", s.Status), Subject: "device:" + sn, Detail: detail})
			entries = append(entries, feeds.DeviceEntry(d))
		}
		if len(serials) > 1 && !r.PerDeviceStatusEntries {
			// A bulk change: one device-status entry per 500 serials
			// (≈ 20 bytes a device on the wire) instead of each device's
			// whole state (≈ 480 bytes).
			entries = feeds.DeviceStatusEntries(serials, s.Status, s.Reason)
		}
		if err := tx.PutDevices(ctx, devs...); err != nil {
			return err
		}
		if _, err := store.AppendAudit(ctx, tx, events...); err != nil {
			return err
		}
		return r.publish(ctx, tx, entries...)
	})
	if err != nil {
		return nil, err
	}
	return serials, nil
}

// Relying parties.

// AddRelyingParty registers a relying party, the identity attributes it
// may receive and the auth types it may use, and publishes it on the trust
// feed (without keys until one is added).
func (r *Registry) AddRelyingParty(ctx context.Context, a *core.Admin, id, name string, attrs, authTypes []string) (*store.RelyingParty, error) {
	if err := enrol.CheckID("relying party id", id); err != nil {
		return nil, badRequest("%v", err)
	}
	if err := checkText("name", name, 128); err != nil {
		return nil, err
	}
	if len(attrs) > MaxAttributes {
		return nil, badRequest("at most %d attributes", MaxAttributes)
	}
	for _, at := range attrs {
		if err := enrol.CheckID("attribute", at); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if len(authTypes) == 0 {
		return nil, badRequest("give the auth types the relying party may use (%s)", strings.Join(recordfeed.AuthTypes, ", "))
	}
	for _, t := range authTypes {
		if !recordfeed.ValidAuthType(t) {
			return nil, badRequest("auth type %q: want one of %s", t, strings.Join(recordfeed.AuthTypes, ", "))
		}
	}
	now := r.now().UTC()
	rp := &store.RelyingParty{ID: id, Name: name, Status: trustfeed.Active, Attributes: attrs, AuthTypes: authTypes, Created: now, Updated: now}
	err := r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.RelyingParty(ctx, id); err == nil {
			return fail(http.StatusConflict, enrol.CodeConflict, "relying party %s already exists", id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutRelyingParty(ctx, rp); err != nil {
			return err
		}
		if err := r.audit(ctx, tx, a.Actor(), "relying-party.add", "relying-party:"+id, map[string]any{"name": name, "attributes": attrs, "authTypes": authTypes}); err != nil {
			return err
		}
		return r.publish(ctx, tx, feeds.RPEntry(rp))
	})
	if err != nil {
		return nil, err
	}
	return rp, nil
}

// RelyingParties lists relying parties.
func (r *Registry) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	var out []store.RelyingParty
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.RelyingParties(ctx)
		return err
	})
	return out, err
}

// maxRPKeys bounds a relying party's live API keys (rotation needs two).
const maxRPKeys = 8

// updateRP runs f on a relying party and publishes the result.
func (r *Registry) updateRP(ctx context.Context, a *core.Admin, id, action string, detail any, f func(rp *store.RelyingParty) error) (*store.RelyingParty, error) {
	var out store.RelyingParty
	err := r.st.Update(ctx, func(tx store.Tx) error {
		rp, err := tx.RelyingParty(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("relying party", id)
		}
		if err != nil {
			return err
		}
		if err := f(rp); err != nil {
			return err
		}
		rp.Updated = r.now().UTC()
		if err := tx.PutRelyingParty(ctx, rp); err != nil {
			return err
		}
		if err := r.audit(ctx, tx, a.Actor(), action, "relying-party:"+id, detail); err != nil {
			return err
		}
		out = *rp
		return r.publish(ctx, tx, feeds.RPEntry(rp))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AddRPKey makes an API key for a relying party. The key is returned once;
// only the SHA-256 of its secret is stored and published.
func (r *Registry) AddRPKey(ctx context.Context, a *core.Admin, rpID string) (key, keyID string, err error) {
	idb := make([]byte, 8)
	sb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(sb); err != nil {
		return "", "", err
	}
	keyID = hex.EncodeToString(idb)
	secret := hex.EncodeToString(sb)
	sum := sha256.Sum256([]byte(secret))
	_, err = r.updateRP(ctx, a, rpID, "relying-party.key-add", map[string]string{"keyId": keyID}, func(rp *store.RelyingParty) error {
		if rp.Status == trustfeed.Revoked {
			return fail(http.StatusConflict, enrol.CodeNotActive, "relying party %s is revoked", rpID)
		}
		live := 0
		for _, k := range rp.Keys {
			if !k.Revoked {
				live++
			}
		}
		if live >= maxRPKeys {
			return badRequest("relying party %s has %d live keys; revoke one first", rpID, live)
		}
		rp.Keys = append(rp.Keys, store.RPKey{ID: keyID, SHA256: sum[:], Created: r.now().UTC()})
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return trustfeed.RPKeyPrefix + keyID + "_" + secret, keyID, nil
}

// RevokeRPKey revokes one API key of a relying party.
func (r *Registry) RevokeRPKey(ctx context.Context, a *core.Admin, rpID, keyID string) (*store.RelyingParty, error) {
	if _, err := hex.DecodeString(keyID); err != nil || len(keyID) != 16 {
		return nil, badRequest("key id %q: want the 16 hex digits after etr_ in the key", keyID)
	}
	return r.updateRP(ctx, a, rpID, "relying-party.key-revoke", map[string]string{"keyId": keyID}, func(rp *store.RelyingParty) error {
		for i := range rp.Keys {
			if rp.Keys[i].ID == keyID && !rp.Keys[i].Revoked {
				rp.Keys[i].Revoked = true
				return nil
			}
		}
		return notFound("live key of "+rpID, keyID)
	})
}

// NormalizeSerial reads a certificate serial as an operator may paste it
// (hex, any case, with or without colons or a 0x prefix) in the form
// central keeps and the trust feed carries: big.Int.Text(16).
func NormalizeSerial(s string) (string, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	t = strings.TrimPrefix(t, "0x")
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || t == "" || len(t) > 40 || n.Sign() <= 0 {
		return "", badRequest("serial %q: want the certificate's serial in hex (rp cert issue prints it; openssl x509 -noout -serial)", s)
	}
	return n.Text(16), nil
}

// RevokeRPCert revokes one TLS client certificate of a relying party,
// leaving the party and its other certificates and keys as they are. The
// serial is published on the trust feed until the certificate expires.
func (r *Registry) RevokeRPCert(ctx context.Context, a *core.Admin, rpID, serial, reason string) (*store.RelyingParty, error) {
	sn, err := NormalizeSerial(serial)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, badRequest("reason: say why the certificate is revoked (e.g. key leaked)")
	}
	if err := core.CheckText("reason", reason, 256); err != nil {
		return nil, err
	}
	now := r.now().UTC()
	return r.updateRP(ctx, a, rpID, "relying-party.cert-revoke", map[string]string{"serial": sn, "reason": reason}, func(rp *store.RelyingParty) error {
		rp.PruneCerts(now)
		for i := range rp.Certs {
			c := &rp.Certs[i]
			if c.Serial != sn {
				continue
			}
			if !c.Revoked.IsZero() {
				return fail(http.StatusConflict, enrol.CodeConflict, "certificate %s of relying party %s was revoked at %s", sn, rpID, c.Revoked.Format(time.RFC3339))
			}
			c.Revoked, c.Reason = now, reason
			return nil
		}
		return notFound("unexpired certificate of relying party "+rpID+" with serial", sn)
	})
}

// SetRelyingPartyStatus suspends, revokes or reinstates a relying party.
func (r *Registry) SetRelyingPartyStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.RelyingParty, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return r.updateRP(ctx, a, id, statusAction("relying-party", s.Status), map[string]string{"to": s.Status, "reason": s.Reason}, func(rp *store.RelyingParty) error {
		if err := transition("relying party", id, rp.Status, s); err != nil {
			return err
		}
		rp.Status, rp.Reason = s.Status, s.Reason
		return nil
	})
}

// Appliances.

// ApplianceView is an appliance with its history.
type ApplianceView struct {
	store.Appliance
	History []store.AuditEvent `json:"history,omitempty"`
}

// Appliances lists appliances.
func (r *Registry) Appliances(ctx context.Context) ([]store.Appliance, error) {
	var out []store.Appliance
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Appliances(ctx)
		return err
	})
	return out, err
}

// Appliance returns one appliance with its audit history.
func (r *Registry) Appliance(ctx context.Context, id string) (*ApplianceView, error) {
	var out ApplianceView
	err := r.st.View(ctx, func(tx store.Tx) error {
		a, err := tx.Appliance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", id)
		}
		if err != nil {
			return err
		}
		h, err := tx.Audit(ctx, store.AuditFilter{Subject: "appliance:" + id})
		out = ApplianceView{Appliance: *a, History: h}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetApplianceStatus suspends, reinstates or revokes an appliance.
func (r *Registry) SetApplianceStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.Appliance, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var out store.Appliance
	err := r.st.Update(ctx, func(tx store.Tx) error {
		ap, err := tx.Appliance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", id)
		}
		if err != nil {
			return err
		}
		if err := transition("appliance", id, ap.Status, s); err != nil {
			return err
		}
		old := ap.Status
		ap.Status, ap.Reason, ap.Updated = s.Status, s.Reason, r.now().UTC()
		if s.Status == trustfeed.Revoked {
			ap.Backfill = nil // a revoked appliance gets no more records
		}
		if err := tx.PutAppliance(ctx, ap); err != nil {
			return err
		}
		if err := r.audit(ctx, tx, a.Actor(), statusAction("appliance", s.Status), "appliance:"+id,
			map[string]string{"from": old, "to": s.Status, "reason": s.Reason}); err != nil {
			return err
		}
		if err := r.publish(ctx, tx, feeds.ApplianceEntry(ap)); err != nil {
			return err
		}
		if s.Status == trustfeed.Active {
			// While suspended (or revoked) it received deletions only:
			// publish its group's records again.
			if err := r.Reinstated(ctx, tx, ap); err != nil {
				return err
			}
		}
		out = *ap
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Kick()
	return &out, nil
}
