#!/usr/bin/env bash
# Runs every fuzz target in the module for a short, bounded time each.
# FUZZTIME (default 10s) sets the time per target.
set -euo pipefail
FUZZTIME="${FUZZTIME:-10s}"
fail=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $target ($FUZZTIME)"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/edgetrust-fuzz.log 2>&1; then
      cat /tmp/edgetrust-fuzz.log
      echo "fuzz: $pkg $target FAILED (the failing input is under $dir/testdata/fuzz/$target)"
      fail=1
    fi
  done
done
exit $fail
