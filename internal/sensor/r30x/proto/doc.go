// Package proto holds what the driver and the emulator must agree on beyond
// framing: instruction codes, confirmation codes, the layouts of the system
// parameter and product information replies, and the 4-bit image format.
//
// It imports only the standard library and internal/bytesx, which reads
// the reply fields.
package proto
