// Package bytesx owns Reader, the one bounds-checked big-endian cursor the
// binary record parsers share (ISO/IEC 19794 in sbi/iso, minutiae
// templates, the R30x serial protocol). Hostile input is the normal case
// for those parsers, so every read is checked here once instead of in each
// of them: a read past the end never panics, it returns zero values and
// the first overrun sticks in Err.
//
// It imports only the standard library.
package bytesx
