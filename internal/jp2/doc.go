// Package jp2 encodes and decodes 8-bit grey (and, for faces, RGB) images as JPEG 2000 with
// OpenJPEG (libopenjp2, Debian package libopenjp2-7-dev), entirely in
// memory. Lossless uses the reversible 5/3 wavelet, lossy the irreversible
// 9/7 wavelet with a target compression ratio: what ISO/IEC 19794-4
// compression codes 5 and 4 mean.
//
// codec.c holds the cgo side and refuses an image over the pixel limit
// before decoding it. Besides libopenjp2 it imports only the standard
// library.
package jp2
