#!/usr/bin/env bash
# `tkc check` against tekton-lint on a catalog-sized tree: 1,110 files, 2 MB, in the layout of
# tektoncd/catalog (`task/<name>/<version>/` with `samples/` and `tests/`), written by
# bench/gen-catalog.py. Both tools check the whole tree in one process; both must find it
# clean. Then the scale cases: 20,000 and 100,000 pipeline tasks (bench/gen-dag.sh) with
# peak RSS (`/usr/bin/time -v`).
#
#   bench/catalog.sh                 # build, generate, measure (hyperfine if installed)
#   TEKTON_LINT=path bench/catalog.sh
#   TKC=path/to/tkc bench/catalog.sh   # a binary already built (also passed to check.sh)
#
# tekton-lint is npm's `@ibm/tekton-lint@1.1.0`; without TEKTON_LINT it is installed once
# with npm into ~/.cache/tkc-bench (outside the repository). Targets (issue 11): the tree in
# <= 60 ms and >= 35x faster than tekton-lint; 20,000 tasks <= 200 ms; 100,000 <= 1.2 s in
# <= 200 MB.
set -euo pipefail
# tekton-lint runs no shellcheck: neither does tkc here (bench/shellcheck.sh measures it).
export TKC_SHELLCHECK=off
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [[ -n ${TKC:-} ]]; then
  tkc=$TKC
else
  (cd "$root" && cargo build --release -p tkc --quiet)
  tkc=$target/release/tkc
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tl=${TEKTON_LINT:-}
if [[ -z $tl ]]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/tkc-bench
  if [[ ! -x $cache/node_modules/.bin/tekton-lint ]]; then
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-audit --no-fund @ibm/tekton-lint@1.1.0 > /dev/null
  fi
  tl=$cache/node_modules/.bin/tekton-lint
fi

python3 "$here/gen-catalog.py" "$work/catalog"
files=$(find "$work/catalog" -name '*.yaml' | wc -l)
bytes=$(find "$work/catalog" -name '*.yaml' -exec cat {} + | wc -c)
echo "catalog tree: $files files, $bytes bytes"
# Both must be clean: a benchmark of an error path measures the wrong thing.
"$tkc" check --format short --deny-warnings "$work/catalog" > /dev/null
(cd "$work" && "$tl" --format json 'catalog/**/*.yaml') > "$work/tl.json"
[[ $(tr -d '[:space:]' < "$work/tl.json") == "[]" ]] || { echo "tekton-lint has findings" >&2; head -c 2000 "$work/tl.json" >&2; exit 1; }

# Mean wall time in ms of a command run from $work: hyperfine's when installed, else a loop.
mean_ms() { # name runs command...
  local name=$1 runs=$2
  shift 2
  if command -v hyperfine > /dev/null; then
    (cd "$work" && hyperfine --warmup 3 --runs "$runs" -N --export-json "$work/$name.json" \
      -n "$name" "$*" > /dev/null)
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["mean"] * 1000))' "$work/$name.json"
  else
    local start
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do (cd "$work" && "$@" > /dev/null); done
    echo $(( ($(date +%s%N) - start) / runs / 1000000 ))
  fi
}
tkc_ms=$(mean_ms tkc "${RUNS:-30}" "$tkc" check --format short "$work/catalog")
tl_ms=$(mean_ms tekton-lint "${TL_RUNS:-5}" "$tl" --format json 'catalog/**/*.yaml')
echo "catalog tree: tkc $tkc_ms ms, tekton-lint $tl_ms ms (mean wall time)"

# 20,000 tasks in one file; 100,000 as five such Pipelines in five files (one file of 100,000
# tasks is 18 MB, over tkc's 16 MiB file limit), each with its own Task name.
"$here/gen-dag.sh" 20000 > "$work/dag-20000.yaml"
mkdir "$work/dag-100000"
for k in 1 2 3 4 5; do
  sed -e "s/^  name: unit\$/  name: unit-$k/" -e "s/^        name: unit\$/        name: unit-$k/" \
    -e "s/^  name: dag-20000\$/  name: dag-20000-$k/" "$work/dag-20000.yaml" > "$work/dag-100000/dag-$k.yaml"
done
for input in "$work/dag-20000.yaml" "$work/dag-100000"; do
  "$tkc" check --format short --deny-warnings "$input" > /dev/null
  /usr/bin/time -o "$work/$(basename "$input").time" -f "%e %U %M" \
    "$tkc" check --format short "$input" > /dev/null
  echo "$(basename "$input"): $(cat "$work/$(basename "$input").time") (s wall, s user, KB peak RSS)"
done
read -r t20_s _ _ < "$work/dag-20000.yaml.time"
read -r t100_s _ t100_kb < "$work/dag-100000.time"

# The 250-line Task of bench/check.sh, end to end.
task_ms=$(TKC=$tkc RUNS=${TASK_RUNS:-100} "$here/check.sh" 2> /dev/null | awk '/YAML\)/ { for (i = 1; i <= NF; i++) if ($i == "mean") print $(i + 1) }')

echo
echo "issue 11 targets (figures taken now, on this machine's current load):"
python3 - "$tkc_ms" "$tl_ms" "$task_ms" "$t20_s" "$t100_s" "$t100_kb" <<'PY'
import sys
tkc, tl, task, t20, t100, kb100 = (float(a) if a else float("nan") for a in sys.argv[1:])
rows = [
    ("catalog tree (1,110 files)", f"{tkc:.1f} ms", "<= 60 ms", tkc <= 60),
    ("  against tekton-lint", f"{tl / tkc:.1f}x faster", ">= 35x", tl / tkc >= 35),
    ("one 250-line Task", f"{task:.2f} ms", "<= 1.5 ms", task <= 1.5),
    ("20,000 tasks", f"{t20 * 1000:.0f} ms", "<= 200 ms", t20 <= 0.2),
    ("100,000 tasks", f"{t100:.2f} s", "<= 1.2 s", t100 <= 1.2),
    ("  peak RSS", f"{kb100 / 1024:.0f} MB", "<= 200 MB", kb100 / 1024 <= 200),
]
for case, figure, target, met in rows:
    print(f"  {case:<28} {figure:>16}   target {target:<10} {'met' if met else 'NOT met'}")
print("  instructions linear in size: bench/instructions.sh")
PY
