// Package template reads and writes finger minutiae records: ISO/IEC
// 19794-2:2005, ISO/IEC 19794-2:2011, ANSI INCITS 378-2004 and ANSI INCITS
// 378-2009 (version "030", the layout libbiomeval calls ANSI2007), so that
// templates made by other vendors' extractors can be stored, exchanged and
// matched. Every length and count is checked against the bytes present;
// the parser tolerates exactly one documented producer quirk (a core/delta
// block whose length field disagrees with its content, found in NIST's
// libbiomeval test records) and reports it in Record.Warnings.
//
// Records convert to and from Set, the common internal minutiae form used
// by the extractor and the matcher: positions in pixels at 500 ppi, angles
// in radians.
//
// It imports only the standard library and internal/bytesx, whose Reader
// does every bounds check.
package template
