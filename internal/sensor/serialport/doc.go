// Package serialport opens the serial line to a fingerprint module and finds
// it by USB vendor and product ID. It is a thin layer over go.bug.st/serial
// (see docs/decisions/0005-serial-and-sensor.md for why that library).
//
// As a library it never imports a daemon package.
package serialport
