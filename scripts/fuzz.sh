#!/usr/bin/env bash
# Runs every fuzz target in the module, one after the other, for FUZZTIME
# each (default 10s; `make fuzz-long` sets 10m), and prints a table at the
# end: package, target, executions, new corpus entries, crashes. A crash's
# input is kept under the package's testdata/fuzz/<target>/ by go test (go
# stops a target at its first crash, so crashes is 0 or 1); the new corpus
# entries stay in go's cache ($(go env GOCACHE)/fuzz), copy the interesting
# ones into testdata/fuzz/<target>/ to keep them as seeds.
# FUZZ_MATCH (a grep -E pattern on "pkg target") narrows the run;
# FUZZ_PARALLEL sets go test -parallel (the fuzz workers; default GOMAXPROCS).
set -euo pipefail
FUZZTIME="${FUZZTIME:-10s}"
FUZZ_MATCH="${FUZZ_MATCH:-.}"
log=$(mktemp)
table=$(mktemp)
trap 'rm -f "$log" "$table"' EXIT
fail=0
targets=()
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    if echo "$pkg $target" | grep -Eq -- "$FUZZ_MATCH"; then targets+=("$pkg $target"); fi
  done
done
n=${#targets[@]}
i=0
for t in "${targets[@]}"; do
  i=$((i + 1))
  pkg=${t% *}
  target=${t#* }
  dir=$(go list -f '{{.Dir}}' "$pkg")
  printf 'fuzz [%d/%d] %s %s (%s)\n' "$i" "$n" "$pkg" "$target" "$FUZZTIME"
  result=0
  par=()
  if [ -n "${FUZZ_PARALLEL:-}" ]; then par=(-parallel="$FUZZ_PARALLEL"); fi
  if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "${par[@]}" "$pkg" >"$log" 2>&1; then
    cat "$log"
    echo "fuzz: $pkg $target FAILED (the failing input is under $dir/testdata/fuzz/$target)"
    result=1
    fail=1
  fi
  # The last progress line: "fuzz: elapsed: 10s, execs: 123 (12/sec), new interesting: 4 (total: 9)".
  last=$(grep 'fuzz: elapsed' "$log" | tail -1 || true)
  execs=$(echo "$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p')
  new=$(echo "$last" | sed -n 's/.*new interesting: \([0-9]*\).*/\1/p')
  printf '| %s | %s | %s | %s | %s |\n' "${pkg#github.com/edgetrust/edgetrust/}" "$target" "${execs:-?}" "${new:-?}" "$result" >>"$table"
done
echo
echo "| package | target | executions | new corpus entries | crashes |"
echo "|---|---|---|---|---|"
cat "$table"
echo
echo "$n targets, FUZZTIME=$FUZZTIME each; $(grep -c ' | 1 |$' "$table" || true) crashed"
exit $fail
