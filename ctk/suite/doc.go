// Package suite holds MOSIP's SBI compliance test definitions and the JSON
// Schemas they name: the copies shipped inside edgetrust-ctk (see
// data/SOURCES.md, MPL-2.0) and loaders for newer sets a vendor supplies.
//
// A test definition file is the JSON array MOSIP keeps in
// mosip/compliance-toolkit-testcases (compliance_test_definitions_sbi.json).
// Parse checks it against MOSIP's own testcase_schema.json, then against the
// rules the runner relies on (unique ids, known methods, schemas present).
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (ctk/...), never another daemon.
package suite
