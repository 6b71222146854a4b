// Package match compares biometric templates. The Matcher interface takes
// ISO/IEC 19794 records: a finger image record (19794-4:2011, the bioValue
// of a MOSIP SBI capture) or a finger minutiae record (19794-2:2005/2011,
// ANSI 378-2004/2009) becomes a Template; two templates give a similarity
// score; Threshold turns a target false-match rate into a score threshold.
//
// Fingerprints use Minutia Cylinder-Code with LSS-R scoring over minutiae
// from package extract (see docs/decisions/0010-fingerprint-matching.md).
// Iris and face are admitted by the interface but have no matcher here:
// they answer with an *UnsupportedError ("modality not supported here"),
// score 0 and an unreachable threshold, never a silent pass.
//
// It imports the standard library, its sibling biometric packages
// (extract, template), internal/jp2 and sbi/iso for finger image records;
// never a daemon (agent, firmware-bridge, ...).
package match
