#!/usr/bin/env bash
# Instructions executed by `tkc check` (callgrind, whole program, all threads), a figure that
# does not depend on the load of the machine: the catalog-style tree (bench/gen-catalog.py) at
# N, 2N and 4N Tasks and one pipeline (bench/gen-dag.sh) at M, 2M and 4M tasks, with the ratio
# to the smallest size (linear: 2.0 and 4.0).
#
#   bench/instructions.sh                   # release build of this checkout
#   TKC=path/to/tkc bench/instructions.sh   # another binary (side by side: run it twice)
#   N=185 M=5000 bench/instructions.sh
#
# Needs valgrind (`apt-get install valgrind`); about a minute per binary on one core.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [[ -z ${TKC:-} ]]; then
  (cd "$root" && cargo build --release -p tkc --quiet)
  TKC=${CARGO_TARGET_DIR:-$root/target}/release/tkc
fi
n=${N:-185}
m=${M:-5000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One callgrind run; prints the instructions executed (the `summary:` line, all threads).
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$TKC" check --format short "$@" \
    > /dev/null 2> "$work/cg.err" || true
  awk '/^summary:/ { print $2 }' "$work/cg.out"
}

report() { # label base sizes...
  local label=$1 base=""
  shift
  for size in "$@"; do
    local count
    count=$(instructions "$work/$label-$size")
    [[ -z $base ]] && base=$count
    awk -v l="$label" -v s="$size" -v c="$count" -v b="$base" \
      'BEGIN { printf "%-8s %7d  %14.0f instructions  %.2fx\n", l, s, c, c / b }'
  done
}

for k in 1 2 4; do
  python3 "$here/gen-catalog.py" "$work/catalog-$((n * k))" "$((n * k))"
  mkdir -p "$work/dag-$((m * k))"
  "$here/gen-dag.sh" "$((m * k))" > "$work/dag-$((m * k))/dag.yaml"
done
report catalog "$n" "$((2 * n))" "$((4 * n))"
report dag "$m" "$((2 * m))" "$((4 * m))"
