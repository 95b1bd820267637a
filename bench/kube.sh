#!/bin/sh
# The kube backend on the Kubernetes API test server (tkc-kubetest: pods run on this machine
# under bubblewrap), next to the local backend, release build:
#   a Pipeline of 100 no-op tasks fanned out between a first and a last task (102 pods).
# Reports the wall time of each backend (mean of RUNS runs) and the kube backend's own
# overhead per pod: (kube - local) / 102, i.e. what a pod's objects, watch events and log
# streams cost on top of running the same steps.
#   bench/kube.sh                 # builds with --release first; RUNS=5 by default
#   PARALLEL=4 bench/kube.sh      # tasks at once (default 2, as bench/run.sh's local figure)
set -eu
cd "$(dirname "$0")/.."
cargo build --release -q -p tkc -p tkc-entrypoint -p tkc-kubetest
entrypoint/build-static.sh > /dev/null
target=${CARGO_TARGET_DIR:-target}
TKC="$target/release/tkc"
RUNS=${RUNS:-5}
PARALLEL=${PARALLEL:-2}
dir=$(mktemp -d)
"$target/release/tkc-kubetest" serve --kubeconfig "$dir/kubeconfig" > "$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null; wait $server 2> /dev/null; rm -rf "$dir"' EXIT
while [ ! -s "$dir/kubeconfig" ]; do sleep 0.05; done
export TKC_KUBE_ENTRYPOINT="$target/x86_64-unknown-linux-musl/entrypoint/tkc-entrypoint"

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

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
total_local=0
total_kube=0
n=0
while [ $n -lt "$RUNS" ]; do
  start=$(date +%s%N)
  "$TKC" run --parallel "$PARALLEL" --output json "$dir/fan.yaml" > "$dir/local.json" 2> /dev/null
  total_local=$((total_local + $(ms "$start")))
  start=$(date +%s%N)
  TKC_KUBE_TRAFFIC=1 "$TKC" run --backend kube --kubeconfig "$dir/kubeconfig" --namespace "bench$n" \
    --parallel "$PARALLEL" --output json "$dir/fan.yaml" > "$dir/kube.json" 2> "$dir/kube.err"
  total_kube=$((total_kube + $(ms "$start")))
  grep -q '"status": "Succeeded"' "$dir/kube.json" || { cat "$dir/kube.err"; exit 1; }
  n=$((n + 1))
done
local_ms=$((total_local / RUNS))
kube_ms=$((total_kube / RUNS))
echo "100-task fan-out/fan-in (102 pods, $PARALLEL at a time), mean of $RUNS runs:"
echo "  local backend:            $local_ms ms ($((local_ms * 10 / 102)) tenths of a ms per task)"
echo "  kube backend (test API):  $kube_ms ms ($((kube_ms * 10 / 102)) tenths of a ms per pod)"
echo "  kube overhead per pod:    $(( (kube_ms - local_ms) * 10 / 102 )) tenths of a ms"
grep '^traffic:' "$dir/kube.err" | sed 's/^/  last run /'
