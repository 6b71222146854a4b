// Command edgetrust-appliance is the edge appliance: it follows central's
// trust feed and answers verification and authentication requests. main.go
// is the command tree (internal/cli runs it); serve.go, status.go, cert.go,
// enrol.go, verifyqr.go and auditcmd.go turn flags into calls on package
// appliance; tls.go is its TLS (the certificate from central's TLS CA and
// its renewal, the self-signed one before enrolment, central's pinned
// clients). It may import appliance/..., sbi/, claim169/ and internal/...;
// never another daemon.
//
// Size: about 1,600 lines, a little over the ~1,500 house limit: tls.go
// (about 400 lines: requesting, renewing and serving the appliance's TLS
// certificate, and the pinned client of central) belongs with the flags
// that configure it; moving it into package appliance would put flag and
// file handling in the library.
package main
