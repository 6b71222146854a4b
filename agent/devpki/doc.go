// Package devpki is the development PKI the agent makes with --dev: a device
// provider CA and an FTM provider CA in the state directory, the MOSIP
// device-key certificate profile their leaves follow, and a stand-in for the
// auth partner's encryption certificate. It stands in for enrolment with
// central until a device is enrolled; verifiers are given the two CA
// certificates it writes. The CA keys are software keys in files (0600):
// good enough for a developer laptop, never for production.
//
// The X.509 mechanics (serials, key identifiers, signing) are internal/pki's;
// this package owns only the file layout and the profiles. It imports the
// standard library and internal/pki.
package devpki
