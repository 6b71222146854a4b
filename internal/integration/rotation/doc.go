// Package rotationint tests automatic device-key rotation end to end with
// an injected clock: a real central (in-memory badger), an agent enrolled
// with it on a TPM (the simulator, and swtpm), an appliance following
// central's trust feed, and MOSIP's compliance cases (ctk) against the
// rotated agent. It lives under internal/integration because it runs three
// daemons' packages side by side, which none of them may import.
package rotationint
