// Package capture is what the capture-device agent calls: open the
// fingerprint module (find the port, handshake, measure and check its
// firmware, extend a PCR) and capture one finger as an ISO/IEC 19794-4:2011
// record compressed as MOSIP SBI expects for Auth or Registration.
//
// It imports the standard library, go.bug.st/serial, the other
// internal/sensor packages, internal/jp2 and sbi/iso, which writes and
// checks the records; never a daemon (agent, firmware-bridge, ...), so that
// the agent and the bridge can both drive a module.
package capture
