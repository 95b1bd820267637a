#!/usr/bin/env bash
# The README walk-through: runs every command of the shell code blocks (```sh, ```bash) of
# README.md and docs/*.md, as a reader would, and fails if one fails. `.ci/run` runs it after
# the tests.
#
#   bench/readme-walkthrough.sh            # with target/debug/tkc (built if missing)
#   TKC=path/to/tkc bench/readme-walkthrough.sh
#
# Commands run in a scratch directory holding a copy of examples/ and of testdata/walkthrough/
# (the `pipeline.yaml`, `tasks/`, `runs.yaml`, ... the commands name; see its README), with
# `tkc` on PATH; `tkc check .` runs at the repository's root, which it is about. `cargo run
# --release -p tkc --` and `target/release/tkc` are run as that `tkc` (the build is not what
# is being walked through). Skipped, each for a reason:
skip=(
  'cargo test --workspace'                          # .ci/run ran it just before this script
  'INSTA_UPDATE=always cargo test'                  # rewrites snapshots: a developer's step
  '.ci/run'                                         # it runs this script
  'cargo build --release'                           # a release build (minutes); tkc is built
  'release/build.sh'                                # .ci/run ran it before the tests
  # README "Install": a published release (network); .ci/run builds the same artifacts.
  'curl -fsSLO https://github.com/tkc-dev/tkc/'
  'sha256sum --check --ignore-missing SHA256SUMS'
  'tar -xzf tkc-v'
  'install -D -m 755 tkc-v'
  'cargo install --locked --git'
  'podman load --input tkc-v'
  'podman run --rm -v "$PWD:/src:ro" -w /src localhost/tkc:'
)
# Commands expected to exit with another code than 0 (a prefix of the command, the code).
declare -A expected_exit=(
  ['tkc run examples/finally-notifier/pipeline.yaml --param break-tests=true']=1  # tests broken on purpose
  ['tkc run --keep examples/rerun-failed/pipeline.yaml']=1  # fails until `touch demo/fixed`
)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
tkc="${TKC:-$target_dir/debug/tkc}"
if [[ ! -x "$tkc" ]]; then
  cargo build --quiet --manifest-path "$root/Cargo.toml" -p tkc
fi

kubetest="$(dirname "$tkc")/tkc-kubetest"
if [[ ! -x "$kubetest" ]]; then
  cargo build --quiet --manifest-path "$root/Cargo.toml" -p tkc-kubetest
fi

work="$(mktemp -d)"
kubetest_pid=
registry_pid=
cleanup() {
  [[ -n "$kubetest_pid" ]] && kill "$kubetest_pid" 2>/dev/null && wait "$kubetest_pid" 2>/dev/null
  # docker-registry ends on SIGTERM with 143, which is no failure of the walk-through.
  if [[ -n "$registry_pid" ]]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/repo" "$work/state" "$work/tmp"
ln -s "$tkc" "$work/bin/tkc"
cp -r "$root/examples" "$work/repo/examples"
cp -r "$root/testdata/walkthrough/." "$work/repo/"
# `--entrypoint-binary target/...` names the build of `entrypoint/build-static.sh`, which runs
# in the repository (below).
ln -s "$root/target" "$work/repo/target"

# `kubectl` commands talk to the Kubernetes API test server (no cluster exists here), as the
# README says a reader without one can do.
"$kubetest" serve --kubeconfig "$work/kubeconfig" > "$work/kubetest.log" 2>&1 &
kubetest_pid=$!
for _ in $(seq 100); do [[ -s "$work/kubetest.log" ]] && break; sleep 0.1; done
grep -q serving "$work/kubetest.log" || { cat "$work/kubetest.log"; exit 1; }
export KUBECONFIG="$work/kubeconfig"

# `tkc bundle` commands push to and list `localhost:5000`: Debian's `docker-registry` (which
# .ci/run installs), started here on 127.0.0.1:5000 with scratch storage. Without it those
# commands are skipped (the walk-through fails where CI is set); with the port taken by
# something else, they are skipped with a note (cli/tests/bundles.rs still covers them).
if ! command -v docker-registry >/dev/null 2>&1; then
  [[ -n "${CI:-}" ]] && { echo "CI is set, but docker-registry is not installed"; exit 1; }
  echo "note: docker-registry is not installed; skipping the tkc bundle commands"
  skip+=('tkc bundle')
elif (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then
  echo "note: 127.0.0.1:5000 is taken; skipping the tkc bundle commands"
  skip+=('tkc bundle')
else
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:5000\n  secret: walkthrough\n' \
    "$work/registry" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null && break; sleep 0.1; done
fi
# Nothing outlives the scratch directory: run directories (`--keep`), state, shellcheck's
# cache, and what the docs write under `~` (completions, man pages) go there too; the run
# directories would go to $XDG_RUNTIME_DIR first, so it is unset.
mkdir -p "$work/home"
unset XDG_RUNTIME_DIR
# The toolchain stays the user's (rustup and cargo find it from HOME otherwise).
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$work/bin:$PATH" NO_COLOR=1 TMPDIR="$work/tmp" XDG_STATE_HOME="$work/state" \
  TKC_STATE_DIR="$work/state" HOME="$work/home" TKC_CACHE_DIR="$work/cache"

# Every command of the shell blocks, as `file:line<TAB>command` (continuation lines joined).
commands() {
  local file
  for file in "$root/README.md" "$root"/docs/*.md; do
    awk -v file="${file#"$root"/}" '
      /^```(sh|bash|shell)[[:space:]]*$/ { inside = 1; next }
      /^```/ { inside = 0; next }
      inside && /^[[:space:]]*(#|$)/ { next }
      inside {
        if (pending != "") { line = pending " " $0; pending = "" } else { line = $0; at = NR }
        if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); pending = line; next }
        printf "%s:%d\t%s\n", file, at, line
      }' "$file"
  done
}

failures=0
ran=0
while IFS=$'\t' read -r where command; do
  for s in "${skip[@]}"; do
    if [[ "$command" == "$s"* ]]; then
      echo "skip  $where: $command"
      continue 2
    fi
  done
  command="${command/#cargo run --release -p tkc -- /tkc }"
  command="${command/#target\/release\/tkc /tkc }"
  want=0
  for prefix in "${!expected_exit[@]}"; do
    [[ "$command" == "$prefix"* ]] && want="${expected_exit[$prefix]}"
  done
  dir="$work/repo"
  [[ "$command" =~ ^tkc\ check\ \.([[:space:]]|$) ]] && dir="$root"
  [[ "$command" == entrypoint/* ]] && dir="$root"
  set +e
  (cd "$dir" && bash -c "$command") >"$work/out" 2>&1
  got=$?
  set -e
  ran=$((ran + 1))
  if [[ $got -ne $want ]]; then
    failures=$((failures + 1))
    echo "FAIL  $where: $command (exit $got, expected $want)"
    sed 's/^/      /' "$work/out" | tail -n 40
  else
    echo "ok    $where: $command"
  fi
done < <(commands)

echo "$ran commands run, $failures failed"
[[ $failures -eq 0 ]]
