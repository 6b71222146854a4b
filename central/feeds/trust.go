package feeds

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
)

// The trust feed: vendors, devices, appliances and relying parties, each
// entry a subject's whole current state.

// Publish appends entries to the trust feed inside tx.
func Publish(ctx context.Context, tx store.Tx, now time.Time, entries ...store.NewEntry) error {
	_, err := store.AppendFeed(ctx, tx, trustfeed.Name, now, entries...)
	return err
}

// Thumb is how the feeds name a certificate: the upper-case hex SHA-256 of
// its DER ("" for none).
func Thumb(der []byte) string {
	if len(der) == 0 {
		return ""
	}
	h := pki.Thumbprint(der)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// VendorEntry is a vendor's trust-feed entry.
func VendorEntry(v *store.Vendor) store.NewEntry {
	return store.NewEntry{Kind: trustfeed.KindVendor, Data: trustfeed.Vendor{ID: v.ID, Name: v.Name, Status: v.Status, CACert: v.CACert, Reason: v.Reason}}
}

// DeviceEntry is a device's trust-feed entry.
func DeviceEntry(d *store.Device) store.NewEntry {
	return store.NewEntry{Kind: trustfeed.KindDevice, Data: trustfeed.Device{Serial: d.Serial, VendorID: d.VendorID,
		Type: d.Type, SubType: d.SubType, Status: d.Status, DeviceCertSHA256: Thumb(d.DeviceCert), FTMCertSHA256: Thumb(d.FTMCert), Reason: d.Reason,
		AttestedAt: d.AttestedAt.UTC(), AttestedUntil: d.AttestedUntil.UTC()}}
}

// DeviceStatusEntries are the trust-feed entries of one status change of
// many devices: one device-status entry per trustfeed.MaxStatusSerials
// serials, in order. Only for devices already published (a follower keeps
// the rest of each device's state).
func DeviceStatusEntries(serials []string, status, reason string) []store.NewEntry {
	var es []store.NewEntry
	for i := 0; i < len(serials); i += trustfeed.MaxStatusSerials {
		part := serials[i:min(i+trustfeed.MaxStatusSerials, len(serials))]
		es = append(es, store.NewEntry{Kind: trustfeed.KindDeviceStatus, Data: trustfeed.DeviceStatus{
			Status: status, Reason: reason, Serials: append([]string(nil), part...)}})
	}
	return es
}

// ApplianceEntry is an appliance's trust-feed entry.
func ApplianceEntry(a *store.Appliance) store.NewEntry {
	return store.NewEntry{Kind: trustfeed.KindAppliance, Data: trustfeed.Appliance{ID: a.ID, Status: a.Status,
		CertSHA256: Thumb(a.SigningCert), Reason: a.Reason}}
}

// RPEntry is a relying party's trust-feed entry: its complete state, keys
// included (appliances replace what they had).
func RPEntry(rp *store.RelyingParty) store.NewEntry {
	e := trustfeed.RelyingParty{ID: rp.ID, Name: rp.Name, Status: rp.Status, AuthTypes: rp.AuthTypes,
		Attributes: rp.Attributes, Reason: rp.Reason, Keys: []trustfeed.RPKey{}}
	for _, k := range rp.Keys {
		if !k.Revoked {
			e.Keys = append(e.Keys, trustfeed.RPKey{ID: k.ID, SHA256: k.SHA256})
		}
	}
	for _, c := range rp.Certs {
		if !c.Revoked.IsZero() {
			e.RevokedCerts = append(e.RevokedCerts, c.Serial)
		}
	}
	return store.NewEntry{Kind: trustfeed.KindRP, Data: e}
}
