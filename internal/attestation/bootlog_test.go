package attestation

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

type bootLogFile struct {
	Source string            `json:"source"`
	PCRs   map[string]string `json:"pcrs"`
	Raw    string            `json:"raw"`
}

func readBootLog(t testing.TB, name string) ([]byte, map[int][]byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f bootLogFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Raw)
	if err != nil {
		t.Fatal(err)
	}
	pcrs := map[int][]byte{}
	for k, v := range f.PCRs {
		i, _ := strconv.Atoi(k)
		pcrs[i], _ = hex.DecodeString(v)
	}
	return raw, pcrs
}

// TestBootLogReplaysToRealQuote: a real Windows (GCP Shielded VM) boot log
// reproduces the PCR values quoted with it (SHA-1 bank); one PCR changed,
// or one digest in the log changed, and it does not.
func TestBootLogReplaysToRealQuote(t *testing.T) {
	raw, pcrs := readBootLog(t, "bootlog-windows-gcp.json")
	bl, err := ReplayBootLog(raw, pcrs, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl.PCRs) != 8 || bl.Events < 5 {
		t.Fatalf("replayed %+v", bl)
	}
	if bl.SecureBoot == nil {
		t.Fatal("secure boot state not read from PCR 7")
	}
	t.Logf("%d events into PCRs %v; secure boot %v", bl.Events, bl.PCRs, *bl.SecureBoot)

	for _, i := range []int{0, 4, 7} {
		bad := map[int][]byte{}
		for k, v := range pcrs {
			bad[k] = v
		}
		bad[i] = make([]byte, len(pcrs[i]))
		if _, err := ReplayBootLog(raw, bad, crypto.SHA1); err == nil || !strings.Contains(err.Error(), "does not reproduce") {
			t.Errorf("PCR %d zeroed: err = %v, want a replay failure", i, err)
		}
	}
	// Only PCRs 0–7 are checked: a wrong PCR 8 changes nothing.
	only := map[int][]byte{8: make([]byte, 20)}
	for i := 0; i < 8; i++ {
		only[i] = pcrs[i]
	}
	if _, err := ReplayBootLog(raw, only, crypto.SHA1); err != nil {
		t.Fatalf("PCR 8 is not the boot log's business: %v", err)
	}
	if _, err := ReplayBootLog(raw, map[int][]byte{14: make([]byte, 20)}, crypto.SHA1); err == nil {
		t.Fatal("a quote without PCRs 0–7 was accepted")
	}
	if _, err := ReplayBootLog(make([]byte, MaxBootLog+1), pcrs, crypto.SHA1); err == nil {
		t.Fatal("an oversized log was accepted")
	}
}

// replaySHA256 computes PCRs 0–7 from a crypto-agile log independently of
// go-attestation (TCG PFP 2.0: a SHA-1 format Spec ID header event, then
// TCG_PCR_EVENT2 records; EV_NO_ACTION is not extended).
func replaySHA256(t *testing.T, raw []byte) (map[int][]byte, []int) {
	t.Helper()
	le := binary.LittleEndian
	// Header: pcr, type, sha1[20], size, event.
	hsize := int(le.Uint32(raw[28:]))
	spec := raw[32 : 32+hsize]
	// Spec ID Event03: signature[16], platformClass, minor, major, errata, uintnSize, numAlgs, {alg, size}...
	n := int(le.Uint32(spec[24:]))
	sizes := map[uint16]int{}
	for i := 0; i < n; i++ {
		sizes[le.Uint16(spec[28+4*i:])] = int(le.Uint16(spec[30+4*i:]))
	}
	pcrs := map[int][]byte{}
	for i := 0; i < 8; i++ {
		pcrs[i] = make([]byte, 32)
	}
	b := raw[32+hsize:]
	var offsets []int // of each SHA-256 digest extended into PCRs 0–7
	for len(b) > 0 {
		idx, typ, cnt := int(le.Uint32(b)), le.Uint32(b[4:]), int(le.Uint32(b[8:]))
		b = b[12:]
		var d256 []byte
		for i := 0; i < cnt; i++ {
			alg := le.Uint16(b)
			sz := sizes[alg]
			if alg == 0x000b {
				d256 = b[2 : 2+sz]
				if idx < 8 && typ != 3 {
					offsets = append(offsets, len(raw)-len(b)+2)
				}
			}
			b = b[2+sz:]
		}
		esz := int(le.Uint32(b))
		ev := b[4 : 4+esz]
		b = b[4+esz:]
		if typ == 3 { // EV_NO_ACTION
			if idx == 0 && strings.HasPrefix(string(ev), "StartupLocality") {
				pcrs[0][31] = ev[len(ev)-1]
			}
			continue
		}
		if idx < 8 && d256 != nil {
			h := sha256.Sum256(append(append([]byte{}, pcrs[idx]...), d256...))
			pcrs[idx] = h[:]
		}
	}
	return pcrs, offsets
}

// TestCryptoAgileBootLogSHA256: a real crypto-agile Ubuntu boot log
// replays, in the SHA-256 bank central quotes, to the values an independent
// replay computes; Secure Boot reads off; an edited digest is caught.
func TestCryptoAgileBootLogSHA256(t *testing.T) {
	raw, _ := readBootLog(t, "bootlog-ubuntu-2104.json")
	want, offsets := replaySHA256(t, raw)
	bl, err := ReplayBootLog(raw, want, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if bl.SecureBoot == nil || *bl.SecureBoot {
		t.Fatalf("secure boot %v, want off (the log is of a VM without secure boot)", bl.SecureBoot)
	}
	// Flip one byte of each SHA-256 digest the log extends into 0–7 in
	// turn (an event edited, or hidden by replacing its digest).
	if len(offsets) < 10 {
		t.Fatalf("%d digests found", len(offsets))
	}
	for _, off := range offsets {
		tampered := append([]byte{}, raw...)
		tampered[off] ^= 0x01
		if _, err := ReplayBootLog(tampered, want, crypto.SHA256); err == nil {
			t.Fatalf("a log with the digest at byte %d edited replayed", off)
		}
	}
}

// FuzzReplayBootLog: no input crashes the boot-log replay; seeds are the
// real logs.
func FuzzReplayBootLog(f *testing.F) {
	for _, name := range []string{"bootlog-windows-gcp.json", "bootlog-ubuntu-2104.json"} {
		raw, _ := readBootLog(f, name)
		f.Add(raw)
	}
	f.Add([]byte{})
	pcrs := map[int][]byte{}
	for i := 0; i < 8; i++ {
		pcrs[i] = make([]byte, 32)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		bl, err := ReplayBootLog(raw, pcrs, crypto.SHA256)
		if err == nil && len(bl.PCRs) != 8 {
			t.Fatalf("accepted with %v", bl.PCRs)
		}
	})
}
