#!/bin/sh
# End-to-end timings of `tkc run` on the local backend (release build), beside their targets:
#   1. a TaskRun of 3 no-op steps                       (target ≤ 7 ms);
#   2. a TaskRun of 20 no-op steps: cost per extra step = (t20 - t3) / 17   (target ≤ 1 ms);
#   3. a Pipeline of 100 no-op tasks fanned out between a first and a last task (≤ 110 ms);
#   4. the same with 300 tasks (no target: cleanup of a big run must not hold the exit).
# Medians; hyperfine when installed (apt-get install -y hyperfine), else a `date +%s%N` loop.
#   bench/run.sh              # builds with --release (and the static entrypoint) first
#   bench/run.sh --isolate    # every step under bubblewrap (tkc run's default)
# Without --isolate the steps run with `--host` (plain processes): the targets of issue 12
# are the runner's own cost, which bubblewrap's start (~8 ms a step) would hide.
# The static (musl) entrypoint is used when `entrypoint/build-static.sh` could build it (it
# needs `rustup target add x86_64-unknown-linux-musl`); the run directories go where
# `tkc run` puts them (a tmpfs when there is one; see docs/run.md). On a loaded machine the
# figures are far above the targets: compare side by side in one session.
set -eu
cd "$(dirname "$0")/.."
isolate="--host"
[ "${1:-}" = "--isolate" ] && isolate="--isolate"
cargo build --release -q -p tkc -p tkc-entrypoint
if entrypoint/build-static.sh > /dev/null 2>&1; then
  echo "entrypoint: static (musl)"
else
  echo "entrypoint: dynamic (the static build failed: is the musl target installed?)"
fi
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
fan() { # count
  printf 'apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: fan\nspec:\n  tasks:\n'
  printf '    - name: start\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n'
  i=0
  while [ "$i" -lt "$1" ]; do
    printf '    - name: t%d\n      runAfter: [start]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' "$i"
    i=$((i + 1))
  done
  printf '    - name: end\n      runAfter: [%s]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' \
    "$(i=0; while [ $i -lt "$1" ]; do printf 't%d' $i; [ $i -lt $(($1 - 1)) ] && printf ', '; i=$((i + 1)); done)"
}
steps three 3 > "$dir/three.yaml"
steps twenty 20 > "$dir/twenty.yaml"
fan 100 > "$dir/fan.yaml"
fan 300 > "$dir/fan300.yaml"

# median_ms NAME RUNS: the median wall time of `tkc run NAME.yaml`, in ms (one decimal).
median_ms() {
  if command -v hyperfine > /dev/null; then
    hyperfine -N --style none --warmup 2 --runs "$2" --export-json "$dir/$1.json" \
      "$TKC run $isolate --output json $dir/$1.yaml" > /dev/null
    sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$dir/$1.json" | head -1 |
      awk '{ printf "%.1f", $1 * 1000 }'
  else
    n=0
    while [ "$n" -lt "$2" ]; do
      start=$(date +%s%N)
      "$TKC" run $isolate --output json "$dir/$1.yaml" > /dev/null 2>&1
      echo $(($(date +%s%N) - start))
      n=$((n + 1))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] / 1e6 }'
  fi
}

t3=$(median_ms three 30)
t20=$(median_ms twenty 20)
tfan=$(median_ms fan 10)
tfan300=$(median_ms fan300 5)
awk -v t3="$t3" -v t20="$t20" -v fan="$tfan" -v fan300="$tfan300" -v mode="${isolate#--}" 'BEGIN {
  printf "%-44s %10s   %s\n", "tkc run (" mode ", medians)", "figure", "target"
  printf "%-44s %7.1f ms   <= 7 ms\n", "3-step no-op task, end to end", t3
  printf "%-44s %7.2f ms   <= 1 ms\n", "each extra step ((20 steps - 3 steps) / 17)", (t20 - t3) / 17
  printf "%-44s %7.1f ms   <= 110 ms\n", "100-task fan-out/fan-in (102 tasks)", fan
  printf "%-44s %7.1f ms\n", "300-task fan-out/fan-in (302 tasks)", fan300
}'
