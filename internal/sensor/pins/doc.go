// Package pins drives the module's GPIO lines through periph.io: the
// finger-detect (touch-out, WAKEUP) output of R50x modules, and a plain LED
// for modules without an Aura ring. Polling GenImg over the serial line
// works without these; the detect line saves power and serial traffic.
//
// As a library it never imports a daemon package.
package pins
