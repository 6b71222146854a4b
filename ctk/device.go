package ctk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// Device is a device found at the target by discovery.
type Device struct {
	Discovery sbi.Discovery
	DigitalID sbi.DigitalID
}

// ID is the device's deviceId, or its serial number when it sends none.
func (d *Device) ID() string {
	if d.Discovery.DeviceID != "" {
		return d.Discovery.DeviceID
	}
	return d.DigitalID.SerialNo
}

// Type, SubType and Purpose as the device reports them.
func (d *Device) Type() string    { return d.DigitalID.Type }
func (d *Device) SubType() string { return d.DigitalID.DeviceSubType }
func (d *Device) Purpose() string { return d.Discovery.Purpose }

// SpecVersion is the version the device builds answers with.
func (d *Device) SpecVersion() string {
	if len(d.Discovery.SpecVersion) > 0 {
		return d.Discovery.SpecVersion[0]
	}
	return sbi.SpecVersion
}

// Report describes the device for a report.
func (d *Device) Report() report.Device {
	var subs []string
	for _, s := range d.Discovery.DeviceSubID {
		subs = append(subs, string(s))
	}
	return report.Device{ID: d.ID(), SerialNo: d.DigitalID.SerialNo, Type: d.Type(), SubType: d.SubType(),
		Purpose: d.Purpose(), Certification: d.Discovery.Certification, Status: d.Discovery.DeviceStatus,
		SubIDs: subs, Make: d.DigitalID.Make, Model: d.DigitalID.Model}
}

// Target is a parsed --target.
type Target struct {
	URL  string
	Host string
	Port int
}

// ParseTarget accepts http://HOST:PORT[/] (SBI is plain HTTP).
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return Target{}, fmt.Errorf("target %q: want http://HOST:PORT, e.g. http://127.0.0.1:4501", s)
	}
	host, ps, err := net.SplitHostPort(u.Host)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: give the port, e.g. http://127.0.0.1:4501", s)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return Target{}, fmt.Errorf("target %q: bad port", s)
	}
	return Target{URL: "http://" + net.JoinHostPort(host, ps), Host: host, Port: port}, nil
}

// Discover asks the target for all its devices.
func Discover(ctx context.Context, t Target) ([]*Device, error) {
	c := &client.Client{Host: t.Host, PortMin: t.Port, PortMax: t.Port, App: "edgetrust-ctk"}
	found, err := c.Discover(ctx, sbi.TypeAny)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no SBI device answered MOSIPDISC at %s", t.URL)
	}
	var out []*Device
	for _, d := range found[0].Devices {
		if !d.Error.OK() && d.DeviceStatus == "" {
			continue // an error entry
		}
		id, _, err := sbi.DecodeDigitalID(d.DigitalID)
		if err != nil {
			return nil, fmt.Errorf("device %q: discovery digitalId does not decode: %v", d.DeviceID, err)
		}
		out = append(out, &Device{Discovery: d, DigitalID: *id})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the device service at %s reports no devices", t.URL)
	}
	return out, nil
}

// Filter selects cases and devices.
type Filter struct {
	Cases   []string // ids or shell patterns (SBI10*); empty means all
	Purpose string   // Auth or Registration; empty means both
	Devices []string // device ids or serial numbers; empty means all
}

// ParseList splits a comma-separated flag value.
func ParseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks the patterns.
func (f Filter) Validate() error {
	for _, p := range f.Cases {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--case %q: bad pattern", p)
		}
	}
	if f.Purpose != "" && f.Purpose != sbi.PurposeAuth && f.Purpose != sbi.PurposeRegistration {
		return errors.New("--purpose must be Auth or Registration")
	}
	return nil
}

func (f Filter) caseMatches(id string) bool {
	if len(f.Cases) == 0 {
		return true
	}
	for _, p := range f.Cases {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

func (f Filter) deviceMatches(d *Device) bool {
	if f.Purpose != "" && d.Purpose() != f.Purpose {
		return false
	}
	return len(f.Devices) == 0 || slices.Contains(f.Devices, d.ID()) || slices.Contains(f.Devices, d.DigitalID.SerialNo)
}

// Planned is a case to run on a device.
type Planned struct {
	Case   *suite.Case
	Device *Device
}

// Applicable reports whether c applies to d: type, sub-type and purpose
// from discovery, and a spec version the device speaks.
func Applicable(c *suite.Case, d *Device) bool {
	return d.Purpose() != "" && c.Applies(d.Type(), d.SubType(), d.Purpose()) &&
		slices.Contains(d.Discovery.SpecVersion, c.SpecVersion)
}

// Plan lists the cases that apply to each selected device, devices in
// discovery order and cases by test id (as MOSIP's UI runs them).
func Plan(s *suite.Suite, devices []*Device, f Filter) []Planned {
	cases := make([]*suite.Case, 0, len(s.Cases))
	for i := range s.Cases {
		if f.caseMatches(s.Cases[i].ID) {
			cases = append(cases, &s.Cases[i])
		}
	}
	slices.SortStableFunc(cases, func(a, b *suite.Case) int { return strings.Compare(a.ID, b.ID) })
	var out []Planned
	for _, d := range devices {
		if !f.deviceMatches(d) {
			continue
		}
		for _, c := range cases {
			if Applicable(c, d) {
				out = append(out, Planned{Case: c, Device: d})
			}
		}
	}
	return out
}
