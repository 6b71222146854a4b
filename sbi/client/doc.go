// Package client talks to SBI device services on 127.0.0.1:4501-4600 with
// the SBI custom HTTP methods: discovery over the whole port range in
// parallel, device info, capture, registration capture and MJPEG stream.
//
// As a library it never imports a daemon package.
package client
