#!/usr/bin/env bash
# Instructions per iteration of one Go benchmark, counted by valgrind's
# callgrind: repeatable whatever else the machine runs, unlike wall time.
# Usage: scripts/icount.sh PKG BENCH [N]   e.g. scripts/icount.sh ./claim169 VerifyPipeline 1000
# It runs the benchmark N times and once (GOMAXPROCS=1, async preemption off,
# which callgrind's signal handling needs) and prints (I(N) - I(1)) / (N - 1),
# so setup cancels out. Garbage collection is counted (GOGC as set, 100 by default).
set -euo pipefail
pkg=$1 bench=$2 n=${3:-1000}
command -v valgrind >/dev/null || { echo "icount: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" "$pkg"
count() {
  (cd "$pkg" && GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" -test.run '^$' -test.bench "^Benchmark$bench\$" -test.benchtime "${1}x" -test.cpu 1 2>&1) |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a=$(count "$n") z=$(count 1)
[ -n "$a" ] && [ -n "$z" ] || { echo "icount: callgrind did not finish (is Benchmark$bench in $pkg?)" >&2; exit 1; }
echo "Benchmark$bench $(((a - z) / (n - 1))) instructions/op"
