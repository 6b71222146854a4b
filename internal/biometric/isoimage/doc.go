// Package isoimage turns the image data of ISO/IEC 19794-5 (face) and
// 19794-6 (iris) records into image.Image values, and builds such records
// from images, as the emulated sensors and tests need:
//
//   - DecodeIris and DecodeFace parse the record with sbi/iso, take its one
//     representation and decode the image by the record's own format code:
//     JPEG 2000 (internal/jp2: grey for irises, RGB for faces), JPEG or PNG
//     (standard library), or raw 8-bit grey (iris). Sizes are bounded before
//     any pixel is decoded: the record (iso.MaxRecordSize), the image's
//     pixels (MaxPixels), and the decoded image must have the dimensions the
//     record header declares.
//   - IrisRecord and FaceRecord write one-representation 2011-edition
//     records with the fields the MOSIP SBI profile checks (sbi/iso
//     CheckProfile), so what they build parses back to the same header.
//
// It owns the pixels of face and iris records, not their headers (sbi/iso)
// nor what is computed from them (internal/biometric/iris, .../face). It
// imports sbi/iso, internal/jp2 and the standard library.
package isoimage
