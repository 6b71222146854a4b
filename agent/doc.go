// Package agent is the SBI 0.9.5 device service: it answers MOSIP clients on
// 127.0.0.1:4501–4600 for one or more biometric devices, captures through the
// firmware bridge (or emulated sensors), and signs every answer with keys that
// live in the TPM.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (agent/...), never another daemon.
//
// Device signing keys rotate on the SBI schedule (rotate.go: --key-rotation,
// default 30 days, or 2/3 of the certificate's life), attested as at
// enrolment; an expired certificate, or one central refused to renew, is
// never used.
//
// Size: about 2,200 lines, over the ~1,500 house limit: the SBI HTTP
// surface, device state, enrolment and rotation share one service object
// and its devices' locks; sensors and the device CA are already
// subpackages.
package agent
