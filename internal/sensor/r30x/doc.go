// Package r30x drives an R30x / ZFM / AS608 / R50x fingerprint module over
// a serial line: password handshake, system parameters, product and
// firmware information, image capture and upload, and the Aura LED.
//
// Every exchange has a per-reply timeout and is retried when the reply is
// corrupted, missing or the module reports a receive error. Noise on the
// line is skipped by scanning for the 0xEF01 header.
//
// As a library it never imports a daemon package.
package r30x
