package main

import (
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

// centralRootFile is central's TLS root, pinned at enrolment, under the
// agent's state directory: key rotation (through the running agent) talks
// to central with it.
const centralRootFile = tlsx.SavedRootFile

// pinCentral makes the process's default HTTP transport verify central
// against its pinned root (the agent package's enrolment and rotation
// clients use the default transport). With pin and no saved root, the
// root the first handshake verifies against is saved.
func pinCentral(state, central, caFile, pin string) error {
	if strings.HasPrefix(central, "http://") {
		return nil
	}
	o, err := tlsx.TrustFrom(state, caFile, pin)
	if err != nil {
		return err
	}
	if len(o.Roots) == 0 && o.Pin == "" {
		if central == "" { // serve without an enrolment: nothing to pin
			return nil
		}
		return errors.New("no trust for central's TLS certificate: pass --central-root-sha256 (edgetrust-central tls root, or token create, prints it) or --central-ca FILE")
	}
	if len(o.Roots) == 0 {
		var once sync.Once
		o.OnRoot = func(c *x509.Certificate) {
			once.Do(func() {
				os.MkdirAll(filepath.Join(state, "tls"), 0o700)
				tmp := filepath.Join(state, centralRootFile) + ".tmp"
				if os.WriteFile(tmp, pki.CertPEM(c), 0o644) == nil {
					os.Rename(tmp, filepath.Join(state, centralRootFile))
				}
			})
		}
	}
	cfg, err := tlsx.ClientConfig(o)
	if err != nil {
		return err
	}
	http.DefaultTransport = tlsx.Transport(cfg, 30*time.Second)
	return nil
}
