#!/usr/bin/env bash
# Times `tkc check` on generated pipelines of 200, 2,000, 5,000 and 20,000 tasks.
# Acceptance: 2,000 tasks in <= 50 ms; 20,000 in <= 10x that (linear).
# Usage: bench/dag.sh [sizes...]   (uses hyperfine if installed; CARGO_TARGET_DIR respected)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(200 2000 5000 20000)
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -p tkc --quiet)
tkc=$target/release/tkc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in "${sizes[@]}"; do
  "$here/gen-dag.sh" "$n" > "$work/dag-$n.yaml"
  # The pipeline must be clean: a benchmark of an error path measures the wrong thing.
  if ! "$tkc" check --format short --deny-warnings "$work/dag-$n.yaml" > "$work/out-$n.txt"; then
    echo "dag-$n.yaml has findings:" >&2; head "$work/out-$n.txt" >&2; exit 1
  fi
done
echo "tkc: $tkc"
if command -v hyperfine > /dev/null; then
  args=()
  for n in "${sizes[@]}"; do args+=(-n "$n tasks" "$tkc check $work/dag-$n.yaml"); done
  hyperfine --warmup 3 --min-runs 10 -N --export-markdown "$work/report.md" "${args[@]}" > /dev/null
  cat "$work/report.md"
else
  printf '| tasks | lines | mean of 10 (ms) |\n|---|---|---|\n'
  for n in "${sizes[@]}"; do
    total=0
    for _ in $(seq 10); do
      start=$(date +%s%N); "$tkc" check "$work/dag-$n.yaml" > /dev/null; end=$(date +%s%N)
      total=$((total + end - start))
    done
    printf '| %d | %d | %d.%02d |\n' "$n" "$(wc -l < "$work/dag-$n.yaml")" $((total / 10000000)) $(((total / 100000) % 100))
  done
fi
