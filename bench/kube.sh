#!/bin/sh
# The kube backend on the Kubernetes API test server (tkc-kubetest: pods run on this machine
# under bubblewrap), next to the local backend, release build:
#   a Pipeline of TASKS (100) no-op tasks fanned out between a first and a last task
#   (TASKS + 2 pods).
# Reports the wall time of each backend side by side (mean of RUNS runs) and the kube
# backend's own overhead per pod: (kube - local) / pods, i.e. what a pod's objects, watch
# events and log streams cost on top of running the same steps.
#   bench/kube.sh                 # builds with --release first; RUNS=5 by default
#   PARALLEL=4 bench/kube.sh      # tasks at once (default 2, as bench/run.sh's local figure)
#   TASKS=3 RUNS=1 PROFILE=dev bench/kube.sh   # a quick check that it still runs
set -eu
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
RUNS=${RUNS:-5}
PARALLEL=${PARALLEL:-2}
TASKS=${TASKS:-100}
PODS=$((TASKS + 2))
cargo build --profile "$PROFILE" -q -p tkc -p tkc-entrypoint -p tkc-kubetest
# The static entrypoint pods mount: where build-static.sh says it put it (musl, or glibc
# with crt-static where musl is missing).
built=$(entrypoint/build-static.sh 2>&1) || { echo "$built" >&2; exit 1; }
static=$(echo "$built" | sed -n 's/^path: *//p')
target=${CARGO_TARGET_DIR:-target}
case $PROFILE in dev) out=debug ;; *) out=$PROFILE ;; esac
TKC="$target/$out/tkc"
dir=$(mktemp -d)
"$target/$out/tkc-kubetest" serve --kubeconfig "$dir/kubeconfig" > "$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null; wait $server 2> /dev/null; rm -rf "$dir"' EXIT
while [ ! -s "$dir/kubeconfig" ]; do sleep 0.05; done
export TKC_KUBE_ENTRYPOINT="$static"

{
  printf 'apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: fan\nspec:\n  tasks:\n'
  printf '    - name: start\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n'
  i=0
  while [ "$i" -lt "$TASKS" ]; do
    printf '    - name: t%d\n      runAfter: [start]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' "$i"
    i=$((i + 1))
  done
  printf '    - name: end\n      runAfter: [%s]\n      taskSpec:\n        steps: [{name: nop, image: busybox, command: ["true"]}]\n' \
    "$(i=0; while [ $i -lt "$TASKS" ]; do printf 't%d' $i; [ $i -lt $((TASKS - 1)) ] && printf ', '; i=$((i + 1)); done)"
} > "$dir/fan.yaml"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
total_local=0
total_kube=0
n=0
while [ $n -lt "$RUNS" ]; do
  start=$(date +%s%N)
  "$TKC" run --parallel "$PARALLEL" --output json "$dir/fan.yaml" > "$dir/local.json" 2> "$dir/local.err" ||
    { cat "$dir/local.err"; exit 1; }
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
tenths() {
  if [ "$1" -lt 0 ]; then echo "-$((-$1 / 10)).$((-$1 % 10))"; else echo "$(($1 / 10)).$(($1 % 10))"; fi
}
echo "$TASKS-task fan-out/fan-in ($PODS pods, $PARALLEL at a time, $PROFILE build), mean of $RUNS runs:"
printf '  %-26s %10s %14s\n' backend total "per task (ms)"
printf '  %-26s %7s ms %14s\n' "local" "$local_ms" "$(tenths $((local_ms * 10 / PODS)))"
printf '  %-26s %7s ms %14s\n' "kube (test API server)" "$kube_ms" "$(tenths $((kube_ms * 10 / PODS)))"
printf '  %-26s %10s %14s\n' "kube overhead per pod" "" "$(tenths $(((kube_ms - local_ms) * 10 / PODS)))"
grep '^traffic:' "$dir/kube.err" | sed 's/^/  last run /'
