// Package sensors are the agent's image sources: a fingerprint module on a
// serial port through the firmware bridge (a real one, or the R30x emulator
// on a pseudo-terminal in --dev), and emulated iris and face sensors that
// serve MOSIP's sample ISO records until a synthetic person is presented,
// then that person's eyes (internal/biometric/irissynth) or face (one of
// 12 portraits cut from face-api's sample photos, samples/faces: persons 12
// apart share a face), each capture a fresh image wrapped as an ISO/IEC
// 19794-6 or -5 record with JPEG 2000 as the MOSIP profile asks.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (agent/...), never another daemon.
package sensors
