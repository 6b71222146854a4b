// Package tpmkey holds the appliance's SBI decryption key: an RSA-2048
// RSA-OAEP-SHA256 key created in the TPM and saved as a TPM-wrapped blob in
// the state directory, and the certificate agents encrypt auth captures to.
//
// Until central issues appliance certificates (with enrolment), the
// certificate is issued by the appliance itself with a second TPM key (ECDSA
// P-256, signing only), whose self-signed certificate is saved beside it.
// Both certificates are made once and kept, so the thumbprint agents select
// the key by does not change across restarts.
//
// Certificates are made with internal/pki; the package imports the standard
// library, internal/tpm, internal/pki, internal/enrol and sbi.
package tpmkey
