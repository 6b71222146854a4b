// Package centralint holds central's tests that run another daemon beside
// it: person enrolment from a real edgetrust agent's RCAPTURE answers, and
// appliance decision-log uploads from the appliance's own uploader, and an
// attestation quarantine reaching an appliance's trust registry. They
// live here because central must not import the agent or the appliance,
// even in tests (docs/architecture.md, Layering); test harnesses under
// internal/integration may.
//
// The tests use only central's exported API, its store and the other
// daemons' packages; central's own unit tests stay beside its code.
package centralint
