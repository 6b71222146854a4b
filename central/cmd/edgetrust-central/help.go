package main

import (
	"strings"

	"github.com/edgetrust/edgetrust/internal/cli"
)

// adminHelp is each admin command's --help: synopsis, what it does, an
// example. They share one flag set; each help lists the flags its synopsis
// names (helpFor).
var adminHelp = map[string]cli.Help{
	"vendor add":          {Usage: "vendor add --id ID --name NAME", About: "Adds a device vendor; central makes its provider CA.", Example: `vendor add --id ACME --name "Acme Biometrics"`},
	"vendor list":         {Usage: "vendor list", About: "Lists the vendors and their status.", Example: "vendor list --json"},
	"vendor revoke":       {Usage: "vendor revoke --id ID [--reason TEXT]", About: "Revokes a vendor: its devices' certificates stop being trusted.", Example: `vendor revoke --id ACME --reason "key compromise"`},
	"vendor suspend":      {Usage: "vendor suspend --id ID [--reason TEXT]", About: "Suspends a vendor until reinstated.", Example: `vendor suspend --id ACME --reason audit`},
	"vendor reinstate":    {Usage: "vendor reinstate --id ID [--reason TEXT] [--undo-revocation]", About: "Reinstates a suspended (or, with --undo-revocation, revoked) vendor.", Example: "vendor reinstate --id ACME"},
	"device list":         {Usage: "device list [--vendor ID] [--status S] [--after SERIAL]", About: "Lists enrolled devices.", Example: "device list --vendor ACME --status active"},
	"device show":         {Usage: "device show --serial SN", About: "Shows one device: vendor, status, certificates, EK.", Example: "device show --serial SN1"},
	"device revoke":       {Usage: "device revoke --serial SN [--serial SN ...] [--reason TEXT]", About: "Revokes devices; appliances learn it from the trust feed.", Example: `device revoke --serial SN1 --serial SN2 --reason stolen`},
	"device suspend":      {Usage: "device suspend --serial SN [--serial SN ...] [--reason TEXT]", About: "Suspends devices until reinstated.", Example: "device suspend --serial SN1"},
	"device reinstate":    {Usage: "device reinstate --serial SN [--serial SN ...] [--reason TEXT] [--undo-revocation]", About: "Reinstates suspended (or, with --undo-revocation, revoked) devices.", Example: "device reinstate --serial SN1"},
	"token create":        {Usage: "token create --vendor ID | --appliance ID [--ttl 15m]", About: "Makes a one-use enrolment token for a vendor's device or for an appliance; it is shown once.", Example: "token create --vendor ACME --ttl 30m"},
	"appliance list":      {Usage: "appliance list", About: "Lists enrolled appliances.", Example: "appliance list"},
	"appliance show":      {Usage: "appliance show --id ID", About: "Shows one appliance.", Example: "appliance show --id edge-1"},
	"appliance revoke":    {Usage: "appliance revoke --id ID [--reason TEXT]", About: "Revokes an appliance.", Example: `appliance revoke --id edge-1 --reason decommissioned`},
	"appliance suspend":   {Usage: "appliance suspend --id ID [--reason TEXT]", About: "Suspends an appliance until reinstated.", Example: "appliance suspend --id edge-1"},
	"appliance reinstate": {Usage: "appliance reinstate --id ID [--reason TEXT] [--undo-revocation]", About: "Reinstates a suspended (or, with --undo-revocation, revoked) appliance.", Example: "appliance reinstate --id edge-1"},
	"appliance group":     {Usage: "appliance group --id ID --group G", About: "Moves an appliance to a records group: it then receives that group's people.", Example: "appliance group --id edge-1 --group north"},
	"rp add":              {Usage: "rp add --id ID --name NAME --auth-type demo|bio-Finger|... [--attr NAME ...]", About: "Adds a relying party that may ask appliances to authenticate people.", Example: `rp add --id bank --name "A Bank" --auth-type bio-Finger --attr fullName`},
	"rp list":             {Usage: "rp list", About: "Lists relying parties.", Example: "rp list"},
	"rp revoke":           {Usage: "rp revoke --id ID [--reason TEXT]", About: "Revokes a relying party.", Example: "rp revoke --id bank"},
	"rp suspend":          {Usage: "rp suspend --id ID [--reason TEXT]", About: "Suspends a relying party until reinstated.", Example: "rp suspend --id bank"},
	"rp reinstate":        {Usage: "rp reinstate --id ID [--reason TEXT]", About: "Reinstates a relying party.", Example: "rp reinstate --id bank"},
	"rp key add":          {Usage: "rp key add --id ID", About: "Makes an API key (etr_...) for a relying party; it is shown once.", Example: "rp key add --id bank"},
	"rp key revoke":       {Usage: "rp key revoke --id ID --key KEYID", About: "Revokes a relying party's API key.", Example: "rp key revoke --id bank --key 0123456789abcdef"},
	"rp cert issue":       {Usage: "rp cert issue --rp ID --csr FILE [--out FILE] [--days N]", About: "Issues a TLS client certificate for a relying party from its CSR (its key never leaves it), signed by central's TLS intermediate, naming urn:edgetrust:rp:ID, at most 30 days; audited. Appliances accept it on POST /v1/auth (--rp-auth).", Example: "rp cert issue --rp bank --csr bank.csr --out bank.pem   # openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bank.key -subj /CN=bank -out bank.csr"},
	"person enrol":        {Usage: "person enrol --demographics FILE.json --capture RCAPTURE.json [--capture ...] [--group G] [--vid-kind K]", About: "Enrols a person from demographics and registration captures and issues a first VID; the record reaches the appliances of the group, sealed to each.", Example: "person enrol --demographics jane.json --capture right-index.json --group north"},
	"person show":         {Usage: "person show --uin UIN [--show-numbers]", About: "Shows a person's record (VIDs masked unless --show-numbers).", Example: "person show --uin 1234567890"},
	"person lock":         {Usage: "person lock --uin UIN --auth-type T [--auth-type ...]", About: "Locks auth types for a person.", Example: "person lock --uin 1234567890 --auth-type bio-Finger"},
	"person unlock":       {Usage: "person unlock --uin UIN --auth-type T [--auth-type ...]", About: "Unlocks auth types for a person.", Example: "person unlock --uin 1234567890 --auth-type bio-Finger"},
	"vid issue":           {Usage: "vid issue --uin UIN [--kind perpetual|temporary|one-time] [--ttl 30m]", About: "Issues a VID for a person.", Example: "vid issue --uin 1234567890 --kind temporary --ttl 30m"},
	"vid list":            {Usage: "vid list --uin UIN [--show-numbers]", About: "Lists a person's VIDs (masked unless --show-numbers).", Example: "vid list --uin 1234567890"},
	"vid revoke":          {Usage: "vid revoke --vid VID --reason TEXT", About: "Revokes a VID.", Example: `vid revoke --vid 9876543210 --reason "lost card"`},
	"audit list":          {Usage: "audit list [--subject device:SN] [--after N]", About: "Lists the audit log.", Example: "audit list --subject vendor:ACME"},
	"audit verify":        {Usage: "audit verify", About: "Checks the audit log's hash chain.", Example: "audit verify"},
	"attest status": {Usage: "attest status [--device SERIAL | --appliance ID]", About: "Shows a node's attestation state — attested (with the time), failed (with the reason), stale or pending — the same on every replica; without a node, every node's and whether attestation rounds are running.",
		Example: "attest status --device SN1"},
	"attest quarantine lift": {Usage: "attest quarantine lift --device SERIAL | --appliance ID --reason TEXT", About: "Lifts an attestation quarantine (a suspension whose reason starts attestation-) after review; audited. The node is pending and must answer its next challenge within the policy's window, or it is quarantined again.",
		Example: `attest quarantine lift --device SN1 --reason "re-flashed with 1.3.0 by the field team"`},
	"attest policy show": {Usage: "attest policy show --scope VENDOR|appliance", About: "Shows a scope's attestation policy (version 0 is the default: log must replay, debug PCR zero, any firmware, stale nodes only reported).",
		Example: "attest policy show --scope ACME"},
	"attest policy set": {Usage: "attest policy set --scope VENDOR|appliance --file POLICY.json", About: "Stores a new version of a scope's policy (audited). The file's fields are in docs/api/central.md: releases names the vendor's signed golden releases whose firmware is allowed, minFirmware the remote downgrade floor.",
		Example: `attest policy set --scope ACME --file acme-policy.json   # {"releases": ["1.3.0"], "minFirmware": "1.3.0"}`},
	"attest golden sign": {Usage: "attest golden sign --release RELEASE.json --signing-key KEY.pem --cert CERT.pem [--out FILE]", About: "Run at the vendor, offline: signs a firmware release's golden values (the measurement edgetrust-bridge prints for each module) with the vendor's release-signing key, for attest golden add. Needs no central and no admin token.",
		Example: "attest golden sign --release r130.json --signing-key acme-release.key --cert acme-release.pem --out r130.signed.json"},
	"attest golden add": {Usage: "attest golden add --signed FILE", About: "Registers a vendor's signed golden release. Central refuses it unless the signature verifies under a release-signing certificate of that vendor's provider CA (attest signer issue); adding a release again makes its next version. Audited.",
		Example: "attest golden add --signed r130.signed.json"},
	"attest golden list": {Usage: "attest golden list --vendor ID", About: "Lists a vendor's golden releases (the newest version of each) and their measurements.",
		Example: "attest golden list --vendor ACME"},
	"attest signer issue": {Usage: "attest signer issue --vendor ID --csr FILE [--days N] [--out FILE]", About: "Certifies a vendor's release-signing key from its CSR under the vendor's provider CA (codeSigning, 1-730 days, default 365); the key never leaves the vendor. Audited.",
		Example: "attest signer issue --vendor ACME --csr acme-release.csr --out acme-release.pem   # openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout acme-release.key -subj /CN=acme-release -out acme-release.csr"},
}

// adminNote is what every admin command's help ends with.
const adminNote = `Admin commands find central with --central URL (EDGETRUST_CENTRAL_URL, default
https://127.0.0.1:8443), trust its TLS root from --central-root FILE
(EDGETRUST_CENTRAL_ROOT, e.g. STATE/tls/root.pem) or --central-root-sha256,
and take the token from --admin-token-file FILE
(EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE) or EDGETRUST_CENTRAL_ADMIN_TOKEN.`

// adminCommon are the flags every admin command uses.
var adminCommon = []string{"central", "central-root", "central-root-sha256", "admin-token-file", "json"}

// usageFlags are the flags a synopsis names (--id ID [--reason TEXT]).
func usageFlags(usage string) []string {
	var names []string
	for _, w := range strings.Fields(usage) {
		w = strings.Trim(w, "[]|()")
		if n, ok := strings.CutPrefix(w, "--"); ok {
			names = append(names, strings.SplitN(n, "=", 2)[0])
		}
	}
	return names
}

// helpFor is the --help of admin command key: its own flags in full, the
// rest of the shared set only named.
func helpFor(key string) cli.Help {
	h := adminHelp[key]
	h.Flags = append(usageFlags(h.Usage), adminCommon...)
	if strings.HasPrefix(key, "rp key ") {
		h.Flags = append(h.Flags, "rp")
	}
	h.Usage = "edgetrust-central " + h.Usage
	h.About += "\n\n" + adminNote
	h.Example = "  edgetrust-central " + h.Example
	return h
}
