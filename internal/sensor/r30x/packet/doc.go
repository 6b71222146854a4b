// Package packet frames the serial protocol of the R30x / ZFM / AS608
// family of fingerprint modules.
//
// A packet on the wire is
//
//	header   2 bytes  0xEF 0x01
//	address  4 bytes  big endian, 0xFFFFFFFF by default
//	kind     1 byte   0x01 command, 0x02 data, 0x07 ack, 0x08 end of data
//	length   2 bytes  big endian, len(payload) + 2 (the checksum)
//	payload  length-2 bytes
//	checksum 2 bytes  low 16 bits of kind + both length bytes + every payload byte
//
// The package only frames; what a payload means lives in package proto.
//
// It imports only the standard library and internal/bytesx, which reads
// the header fields.
package packet
