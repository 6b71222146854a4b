#!/usr/bin/env bash
# Installs the Debian packages edgetrust's build and tests need, if missing.
# Safe to run again: it only installs what is absent. Used by `make test`,
# `make demo` and CI, so a fresh Debian machine with Go needs nothing else.
set -euo pipefail

# What each package is for:
#   libssl-dev        the go-tpm-tools TPM simulator (cgo)
#   swtpm swtpm-tools a real software TPM for the TPM layer's tests
#   tpm2-tools        interop: tpm2_sign / tpm2_verifysignature cross-checks
#   libopenjp2-7-dev  JPEG 2000 (OpenJPEG, cgo) for ISO 19794 image records
#   pkg-config        locating C libraries for cgo
PKGS=(libssl-dev swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0 libopenjp2-7-dev pkg-config)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
