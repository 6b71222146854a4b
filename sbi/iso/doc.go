// Package iso is edgetrust's one codec for ISO/IEC 19794 biometric image
// records (2011 editions), the payload of an SBI bioValue:
//
//   - Parse reads the headers of finger (19794-4, "FIR\0"), face (19794-5,
//     "FAC\0") and iris (19794-6, "IIR\0") records and checks every length
//     against the record, so a record that parses is at least internally
//     consistent; image data is located but never decoded. CheckProfile
//     then applies the MOSIP SBI capture rules.
//   - ParseFinger and FingerRecord.Marshal read and write whole finger
//     image records, for the devices that build them; Marshal of a parsed
//     record gives back the same bytes.
//
// Both sit on one parser, so a record means the same thing to the agent
// that writes it, the verifier that checks it and the matcher that reads
// it. Every read goes through internal/bytesx, so hostile input cannot
// make it panic.
//
// It imports only the standard library and internal/bytesx; it must never
// import a daemon (agent, firmware-bridge, ...), which is why the finger
// codec that firmware-bridge once had lives here.
package iso
