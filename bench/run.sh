#!/bin/sh
# End-to-end timings of `tkc run` on the local backend (release build), beside their targets:
#   1. a TaskRun of 3 no-op steps                       (target <= 7 ms);
#   2. a TaskRun of 20 no-op steps: cost per extra step = (t20 - t3) / 17   (target <= 1 ms);
#   3. a Pipeline of 100 no-op tasks fanned out between a first and a last task (<= 110 ms);
#   4. the same with 300 tasks (no target: cleanup of a big run must not hold the exit).
# Each figure is given as the median and the minimum of many runs (the minimum is what the
# machine can do without other load, and moves least on a shared machine), beside a floor.
# The median of an extra step is that of 50 pairs of runs (3 steps, then 20) taken one pair
# at a time, so that a change of load between two blocks of runs does not count as steps;
# its minimum is that of the two blocks. The floor is
# what the same processes cost without tkc's runner, built from two measures:
#   start  `tkc --version`: tkc's own start-up, which every run pays once;
#   step   the entrypoint running `true` with no wait and no files (no termination message
#          either): one step's processes.
# Floors: 3 steps = start + 3 step; extra step = step; fan-out of N = start + 2 step +
# N step / CPUs (the N tasks run side by side, one per CPU at a time).
# hyperfine when installed (apt-get install -y hyperfine), else a `date +%s%N` loop.
#   bench/run.sh              # builds with --release (and the static entrypoint) first
#   bench/run.sh --isolate    # every step under bubblewrap (tkc run's default)
#   TKC=path/to/tkc TKC_ENTRYPOINT=path/to/tkc-entrypoint bench/run.sh   # other builds, no build
# Without --isolate the steps run with `--host` (plain processes): the targets of issue 12
# are the runner's own cost, which bubblewrap's start (~8 ms a step) would hide.
# The static (musl) entrypoint is used when `entrypoint/build-static.sh` could build it (it
# needs `rustup target add x86_64-unknown-linux-musl`); the run directories go where
# `tkc run` puts them (a tmpfs when there is one; see docs/run.md). On a loaded machine the
# medians are far above the targets: compare side by side in one session.
set -eu
cd "$(dirname "$0")/.."
isolate="--host"
[ "${1:-}" = "--isolate" ] && isolate="--isolate"
target=${CARGO_TARGET_DIR:-target}
if [ -z "${TKC:-}" ]; then
  cargo build --release -q -p tkc -p tkc-entrypoint
  if entrypoint/build-static.sh > /dev/null 2>&1; then
    echo "entrypoint: static (musl)"
  else
    echo "entrypoint: dynamic (the static build failed: is the musl target installed?)"
  fi
  TKC="$target/release/tkc"
fi
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

# timed NAME RUNS COMMAND...: "median min" wall time of COMMAND, in ms.
timed() {
  name=$1 runs=$2
  shift 2
  if command -v hyperfine > /dev/null; then
    # One command line for hyperfine (-N splits it like a shell): an empty argument is ''.
    line=""
    for arg in "$@"; do
      [ -z "$arg" ] && arg="''"
      line="$line${line:+ }$arg"
    done
    hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$dir/$name.json" \
      "$line" > /dev/null
    for key in median min; do
      sed -n "s/.*\"$key\": *\([0-9.e-]*\).*/\1/p" "$dir/$name.json" | head -1
    done | awk '{ t[NR] = $1 * 1000 } END { printf "%.2f %.2f", t[1], t[2] }'
  else
    n=0
    while [ "$n" -lt "$runs" ]; do
      start=$(date +%s%N)
      "$@" > /dev/null 2>&1 || true
      echo $(($(date +%s%N) - start))
      n=$((n + 1))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.2f %.2f", t[int((NR + 1) / 2)] / 1e6, t[1] / 1e6 }'
  fi
}
run_times() { # NAME RUNS
  timed "$1" "$2" "$TKC" run $isolate --output json "$dir/$1.yaml"
}
# per_step PAIRS: the median over PAIRS interleaved runs of the 3-step and the 20-step task
# of (t20 - t3) / 17, in ms. Taken a pair at a time, the difference does not move with the
# machine's load between two blocks of runs; the date(1) calls cost both sides the same, and
# every other pair runs the 20-step task first, so that neither always follows the other.
per_step() {
  n=0
  while [ "$n" -lt "$1" ]; do
    first=three second=twenty
    [ $((n % 2)) -eq 1 ] && first=twenty second=three
    a=$(date +%s%N)
    "$TKC" run $isolate --output json "$dir/$first.yaml" > /dev/null 2>&1 || true
    b=$(date +%s%N)
    "$TKC" run $isolate --output json "$dir/$second.yaml" > /dev/null 2>&1 || true
    c=$(date +%s%N)
    if [ "$first" = three ]; then
      echo $(((c - b) - (b - a)))
    else
      echo $(((b - a) - (c - b)))
    fi
    n=$((n + 1))
  done | sort -n | awk '{ t[NR] = $1 } END { printf "%.3f", t[int((NR + 1) / 2)] / 17e6 }'
}

# The entrypoint `tkc run` uses: TKC_ENTRYPOINT, else the static twin that build-static.sh
# leaves, else the one beside tkc (see `locate_entrypoint` in cli/src/run/mod.rs).
ep=${TKC_ENTRYPOINT:-}
if [ -z "$ep" ]; then
  ep="$(dirname "$TKC")/tkc-entrypoint"
  twin="$(dirname "$TKC")/../$(uname -m)-unknown-linux-musl/entrypoint/tkc-entrypoint"
  [ -x "$twin" ] && [ ! "$twin" -ot "$ep" ] && ep=$twin
fi
cpus=$(nproc 2> /dev/null || echo 1)

start=$(timed start 200 "$TKC" --version)
step=$(timed step 200 "$ep" -termination_path "" -entrypoint true --)
t3=$(run_times three 100)
t20=$(run_times twenty 50)
tfan=$(run_times fan 20)
tfan300=$(run_times fan300 5)
paired=$(per_step 50)
echo "$start $step $t3 $t20 $tfan $tfan300" | awk -v mode="${isolate#--}" -v cpus="$cpus" -v paired="$paired" '{
  split($0, f, " ")
  start = f[2]; step = f[4]
  printf "%-44s %9s %9s %9s   %s\n", "tkc run (" mode "), ms", "median", "min", "floor", "target"
  printf "%-44s %9.1f %9.1f %9.1f   <= 7\n", "3-step no-op task, end to end", f[5], f[6], start + 3 * step
  printf "%-44s %9.2f %9.2f %9.2f   <= 1\n", "each extra step ((20 steps - 3 steps) / 17)", paired, (f[8] - f[6]) / 17, step
  printf "%-44s %9.1f %9.1f %9.1f   <= 110\n", "100-task fan-out/fan-in (102 tasks)", f[9], f[10], start + 2 * step + 100 * step / cpus
  printf "%-44s %9.1f %9.1f %9.1f\n", "300-task fan-out/fan-in (302 tasks)", f[11], f[12], start + 2 * step + 300 * step / cpus
  printf "floor parts (min): tkc start-up %.2f ms, one step outside tkc %.2f ms, %d CPUs\n", start, step, cpus
}'
