// Command layercheck enforces edgetrust's layering (docs/architecture.md):
//
//   - a library (sbi/…, claim169/…, internal/…) never imports a daemon
//     (agent/…, appliance/…, central/…, ctk/…, firmware-bridge/…);
//   - a daemon never imports another daemon;
//   - sbi and claim169 import nothing of the module but themselves and
//     internal/…;
//   - test-support packages (named …test) are imported by tests only.
//
// Test harnesses (internal/e2e, internal/demo, internal/integration) and
// test-support packages
// may import daemons: they drive them as a user would. Test files are
// checked too, except their imports of test-support packages.
//
// Run it from the module root: go run ./scripts/layercheck (make lint does).
//
// As a library it never imports a daemon package.
package main
