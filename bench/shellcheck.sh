#!/usr/bin/env bash
# What shellcheck adds to `tkc check` on the catalog-sized tree (bench/gen-catalog.py: 1,110
# files, 1,480 scripts, 742 of them distinct): the tree without shellcheck, with it and an
# empty cache (cold: one shellcheck per distinct script), and with the cache filled by that
# run (warm: a pre-commit run on unchanged scripts). The cache is a temporary directory.
#
#   bench/shellcheck.sh                # build, generate, measure
#   TKC=path/to/tkc bench/shellcheck.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [[ -n ${TKC:-} ]]; then
  tkc=$TKC
else
  (cd "$root" && cargo build --release -p tkc --quiet)
  tkc=$target/release/tkc
fi
command -v shellcheck > /dev/null || { echo "shellcheck is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen-catalog.py" "$work/catalog"
echo "catalog tree: $(find "$work/catalog" -name '*.yaml' | wc -l) files; $(shellcheck --version | sed -n 's/^version: //p')"

# Wall time in ms of one `tkc check` of the tree with the given environment.
once_ms() {
  local start
  start=$(date +%s%N)
  env "$@" "$tkc" check --format short "$work/catalog" > "$work/out.txt" || true
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
runs=${RUNS:-5}
off=() cold=() warm=()
for _ in $(seq "$runs"); do
  off+=("$(once_ms TKC_SHELLCHECK=off)")
  rm -rf "$work/cache"
  cold+=("$(once_ms TKC_CACHE_DIR="$work/cache")")
  warm+=("$(once_ms TKC_CACHE_DIR="$work/cache")")
done
findings=$(grep -c 'tkc::shellcheck::' "$work/out.txt" || true)
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "shellcheck findings on the tree: $findings"
echo "tkc check, median of $runs: without shellcheck $(median "${off[@]}") ms;" \
  "cold cache $(median "${cold[@]}") ms; warm cache $(median "${warm[@]}") ms" \
  "($(find "$work/cache" -name '*.json' | wc -l) cache files)"
