// Package appliance is the edge appliance, edgetrust-appliance serve: it
// follows central's signed trust feed into a badger store and verifies SBI
// captures against it over HTTP.
//
// Layout (each part grows on its own):
//
//	appliance/db                  badger, key layout
//	appliance/sync/follow         following one signed feed from central (long poll, verify, apply)
//	appliance/sync/truststate     the trust feed's state: vendors, devices, relying parties, trust anchors
//	appliance/sync/recordsink     the appliance's own records feed into internal/records
//	appliance/captureverify       verifying SBI captures against the trust state
//	appliance/tpmkey              the SBI decryption key in the TPM and its certificate
//	appliance/auth                POST /v1/auth: relying parties authenticate people offline
//	appliance/decisionlog         the audit log of decisions and its upload to central
//	appliance/api                 the HTTP interface
//	appliance/qrverify            Claim 169 QR verification
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package appliance
