package central

import (
	"context"

	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
)

// Vendors, devices and relying parties live in central/registry; these
// methods keep Central's API.

type (
	// VendorView is a vendor as the admin API shows it (registry.VendorView).
	VendorView = registry.VendorView
	// DeviceView is a device as the admin API shows it (registry.DeviceView).
	DeviceView = registry.DeviceView
)

// ApplianceView is an appliance with its history (registry.ApplianceView).
type ApplianceView = registry.ApplianceView

// MaxBulk is the most devices one status change names.
const MaxBulk = registry.MaxBulk

// AddVendor registers a device provider and issues its provider CA.
func (c *Central) AddVendor(ctx context.Context, a *Admin, id, name string) (*VendorView, error) {
	return c.reg.AddVendor(ctx, a, id, name)
}

// Vendors lists vendors.
func (c *Central) Vendors(ctx context.Context) ([]VendorView, error) { return c.reg.Vendors(ctx) }

// SetVendorStatus suspends, reinstates or revokes a vendor.
func (c *Central) SetVendorStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*VendorView, error) {
	return c.reg.SetVendorStatus(ctx, a, id, s)
}

// Devices lists devices.
func (c *Central) Devices(ctx context.Context, f store.DeviceFilter) ([]DeviceView, error) {
	return c.reg.Devices(ctx, f)
}

// Device returns a device with its audit history.
func (c *Central) Device(ctx context.Context, serial string) (*DeviceView, error) {
	return c.reg.Device(ctx, serial)
}

// SetDeviceStatus changes the status of devices, all or none.
func (c *Central) SetDeviceStatus(ctx context.Context, a *Admin, serials []string, s StatusChange) ([]string, error) {
	return c.reg.SetDeviceStatus(ctx, a, serials, s)
}

// AddRelyingParty registers a relying party.
func (c *Central) AddRelyingParty(ctx context.Context, a *Admin, id, name string, attrs, authTypes []string) (*store.RelyingParty, error) {
	return c.reg.AddRelyingParty(ctx, a, id, name, attrs, authTypes)
}

// RelyingParties lists relying parties.
func (c *Central) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	return c.reg.RelyingParties(ctx)
}

// AddRPKey makes an API key for a relying party, returned once.
func (c *Central) AddRPKey(ctx context.Context, a *Admin, rpID string) (key, keyID string, err error) {
	return c.reg.AddRPKey(ctx, a, rpID)
}

// RevokeRPKey revokes one API key of a relying party.
func (c *Central) RevokeRPKey(ctx context.Context, a *Admin, rpID, keyID string) (*store.RelyingParty, error) {
	return c.reg.RevokeRPKey(ctx, a, rpID, keyID)
}

// RevokeRPCert revokes one TLS client certificate of a relying party.
func (c *Central) RevokeRPCert(ctx context.Context, a *Admin, rpID, serial, reason string) (*store.RelyingParty, error) {
	return c.reg.RevokeRPCert(ctx, a, rpID, serial, reason)
}

// SetRelyingPartyStatus suspends, revokes or reinstates a relying party.
func (c *Central) SetRelyingPartyStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*store.RelyingParty, error) {
	return c.reg.SetRelyingPartyStatus(ctx, a, id, s)
}

// Appliances lists appliances.
func (c *Central) Appliances(ctx context.Context) ([]store.Appliance, error) {
	return c.reg.Appliances(ctx)
}

// Appliance returns one appliance with its audit history.
func (c *Central) Appliance(ctx context.Context, id string) (*ApplianceView, error) {
	return c.reg.Appliance(ctx, id)
}

// SetApplianceStatus suspends, reinstates or revokes an appliance.
func (c *Central) SetApplianceStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*store.Appliance, error) {
	return c.reg.SetApplianceStatus(ctx, a, id, s)
}
