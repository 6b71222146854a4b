#!/usr/bin/env bash
# Installs the Debian packages edgetrust's build and tests need, if missing.
# Safe to run again: it only installs what is absent. Used by `make test`,
# `make demo` and CI, so a fresh Debian machine with Go needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for:
#   libssl-dev        the go-tpm-tools TPM simulator (cgo)
#   swtpm swtpm-tools a real software TPM for the TPM layer's tests
#   tpm2-tools        interop: tpm2_sign / tpm2_verifysignature cross-checks
#   libopenjp2-7-dev  JPEG 2000 (OpenJPEG, cgo) for ISO 19794 image records
#   pkg-config        locating C libraries for cgo
#   g++ libzxing-dev  ZXing-C++ QR decoding (cgo shim) for Claim 169 camera images
#   libzbar-dev       zbar QR decoding (cgo), a stage of the QR pipeline
#   zbar-tools        zbarimg, an independent decoder the QR tests cross-check with
#   chromium          headless browser: the CTK HTML report is checked as a person would see it
#   postgresql        central's PostgreSQL store (the same test suite as badger)
#   systemd           systemd-analyze verify/security on the packaged units (packaging/)
#   openssl curl      independent TLS clients (s_client, curl --cert/--key) against central and the appliance
PKGS=(libssl-dev swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0 libopenjp2-7-dev pkg-config g++ libzxing-dev libzbar-dev zbar-tools chromium postgresql systemd openssl curl)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
install_npm_tools() {
  # Independent verifiers used by interop tests (npm jose; MOSIP pixelpass; axe-core for the browser tests; face-api with
  # TF.js for the face pipeline's goldens). Lock files pin them; no install
  # scripts run (TF.js's WASM binaries ship inside the package).
  if command -v npm >/dev/null 2>&1; then
    for d in agent/testdata/jose claim169/testdata/pixelpass internal/biometric/face/testdata/golden internal/browsertest/testdata/axe; do
      if [ -f "$d/package-lock.json" ] && [ ! -d "$d/node_modules" ]; then
        npm ci --prefix "$d" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
      fi
    done
  fi
}

if [ ${#missing[@]} -eq 0 ]; then install_npm_tools; exit 0; fi

echo "edgetrust: installing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "edgetrust: need root to install ${missing[*]}; run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_npm_tools
