#!/bin/sh
# End-to-end timings of `tkc run` on the local backend (release build):
#   1. a TaskRun of 3 no-op steps;
#   2. a Pipeline of 100 no-op tasks fanned out between a first and a last task;
#   3. a TaskRun of 20 no-op steps (step hand-off cost: (t20 - t3) / 17).
# Uses hyperfine when installed (apt-get install -y hyperfine), else a `date +%s%N` loop.
#   bench/run.sh            # builds with --release first
set -eu
cd "$(dirname "$0")/.."
cargo build --release -q -p tkc -p tkc-entrypoint
target=${CARGO_TARGET_DIR:-target}
TKC="$target/release/tkc"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

steps() { # name count
  printf 'apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: %s\nspec:\n  taskSpec:\n    steps:\n' "$1"
  i=0
  while [ "$i" -lt "$2" ]; do
    printf '      - name: s%d\n        image: busybox\n        command: ["true"]\n' "$i"
    i=$((i + 1))
  done
}
steps three 3 > "$dir/three.yaml"
steps twenty 20 > "$dir/twenty.yaml"
{
  printf 'apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: fan\nspec:\n  tasks:\n'
  printf '    - name: start\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n'
  i=0
  while [ "$i" -lt 100 ]; do
    printf '    - name: t%d\n      runAfter: [start]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' "$i"
    i=$((i + 1))
  done
  printf '    - name: end\n      runAfter: [%s]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' \
    "$(i=0; while [ $i -lt 100 ]; do printf 't%d' $i; [ $i -lt 99 ] && printf ', '; i=$((i + 1)); done)"
} > "$dir/fan.yaml"

run() { "$TKC" run --output json "$@" > /dev/null 2>&1; }
if command -v hyperfine > /dev/null; then
  hyperfine -N --warmup 3 --runs 30 \
    "$TKC run --output json $dir/three.yaml" \
    "$TKC run --output json $dir/twenty.yaml"
  hyperfine -N --warmup 1 --runs 10 "$TKC run --output json $dir/fan.yaml"
else
  for f in three twenty fan; do
    start=$(date +%s%N); n=0
    while [ $n -lt 10 ]; do run "$dir/$f.yaml"; n=$((n + 1)); done
    echo "$f: $(( ($(date +%s%N) - start) / 10000000 )) ms per run (mean of 10)"
  done
fi
