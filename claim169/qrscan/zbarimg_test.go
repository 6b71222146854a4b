package qrscan

import (
	"bytes"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

// TestCrossCheckZbarimg writes images to disk and reads them with the
// zbarimg command-line tool (Debian zbar-tools), an implementation
// independent of this package's code paths (its own file loading and
// conversion), and checks both agree with the encoded text.
func TestCrossCheckZbarimg(t *testing.T) {
	zbarimg := testtool.Need(t, "apt-get install zbar-tools", "zbarimg")
	dir := t.TempDir()
	set := samples(t, ratesSeed, 8) // one of each degradation
	agreed := 0
	for _, s := range set {
		var data []byte
		name := filepath.Join(dir, string(s.Kind))
		if s.Kind == "frame" {
			var b bytes.Buffer
			if err := jpeg.Encode(&b, s.Image, &jpeg.Options{Quality: 95}); err != nil {
				t.Fatal(err)
			}
			data, name = b.Bytes(), name+".jpg"
		} else {
			data, name = encodePNG(t, s.Image), name+".png"
		}
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", name).Output()
		ext := strings.TrimSuffix(string(out), "\n")
		ours, ourErr := DecodeBytes(data)
		if s.Kind == "clean" && (err != nil || ext != s.Text) {
			t.Errorf("zbarimg could not read the clean code (%v): generator or tool broken", err)
		}
		if err != nil {
			// zbarimg exits 4 when it finds nothing; that is a data point,
			// not a failure, for degraded images.
			t.Logf("%s: zbarimg found nothing; pipeline ok=%v", s.Kind, ourErr == nil)
			continue
		}
		if ext != s.Text {
			t.Errorf("%s: zbarimg text differs from the encoded text", s.Kind)
			continue
		}
		if ourErr != nil || ours != ext {
			t.Errorf("%s: zbarimg read it but DecodeBytes did not agree (%v)", s.Kind, ourErr)
			continue
		}
		agreed++
	}
	t.Logf("zbarimg and DecodeBytes agreed on %d/%d images", agreed, len(set))
}
