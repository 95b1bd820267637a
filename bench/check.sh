#!/usr/bin/env bash
# Latency of `tkc check` on one realistic 250-line Task, wall clock including process start,
# with a release build. Uses hyperfine when installed (`apt-get install hyperfine`), else a
# loop timed with `date +%s%N`.
#
#   bench/check.sh            # build, generate the Task, measure
#   RUNS=500 bench/check.sh   # more runs
#   NO_HYPERFINE=1 bench/check.sh  # the shell loop even where hyperfine is installed
#
# Target: mean <= 5 ms.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-200}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p tkc
tkc="$target_dir/release/tkc"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
task="$work/task.yaml"

# A Task as people write them: params, workspaces, results, a step template, and steps with
# scripts, env and volume mounts.
{
    cat <<'EOF'
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build-and-publish
  labels:
    app.kubernetes.io/name: build-and-publish
    app.kubernetes.io/version: "0.3"
  annotations:
    tekton.dev/displayName: Build and publish
spec:
  description: >-
    Builds the project, runs its tests, packages it and publishes the image.
  params:
EOF
    for p in revision target platform registry image-name go-version cache-key verbosity extra-flags timeout-seconds sbom-format; do
        cat <<EOF
    - name: $p
      type: string
      description: The $p to use
      default: "default-$p"
EOF
    done
    cat <<'EOF'
  workspaces:
    - name: source
      description: The checked-out sources
    - name: cache
      optional: true
    - name: credentials
      readOnly: true
  results:
    - name: digest
      description: The image digest
    - name: version
    - name: report-url
  volumes:
    - name: scratch
      emptyDir: {}
  stepTemplate:
    env:
      - name: HOME
        value: /tekton/home
    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
  steps:
EOF
    for s in prepare fetch-deps lint unit-test build publish; do
        cat <<EOF
    - name: $s
      image: docker.io/library/golang:1.22
      workingDir: \$(workspaces.source.path)
      env:
        - name: REVISION
          value: \$(params.revision)
        - name: TARGET
          value: \$(params.target)
      volumeMounts:
        - name: scratch
          mountPath: /scratch
      computeResources:
        requests:
          cpu: 250m
          memory: 256Mi
      script: |
        #!/bin/sh
        set -eu
        echo "== $s for \$REVISION (\$TARGET)"
        if [ -d "\$(workspaces.cache.path)" ]; then
          export GOCACHE="\$(workspaces.cache.path)/go"
        fi
        case "\$(params.verbosity)" in
          debug) set -x ;;
        esac
        go version
        printf '%s\n' "$s" > /scratch/$s.done
        echo "done: $s"
EOF
    done
} > "$task"

lines=$(wc -l < "$task")
echo "task: $lines lines, $(wc -c < "$task") bytes"
"$tkc" check "$task" >/dev/null || { "$tkc" check "$task"; exit 1; }

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
    hyperfine --shell=none --warmup 20 --runs "$runs" --export-json "$work/result.json" \
        "$tkc check $task" >/dev/null
    python3 - "$work/result.json" "$lines" <<'EOF' 2>/dev/null || cat "$work/result.json"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ms = lambda s: f"{s * 1000:.2f} ms"
print(f"tkc check ({sys.argv[2]}-line Task), {len(r['times'])} runs: mean {ms(r['mean'])} ± {ms(r['stddev'])}, "
      f"median {ms(r['median'])}, min {ms(r['min'])}, max {ms(r['max'])}")
EOF
else
    times=()
    for _ in $(seq 1 "$runs"); do
        start=$(date +%s%N)
        "$tkc" check "$task" >/dev/null
        end=$(date +%s%N)
        times+=($(( (end - start) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v lines="$lines" '
        { t[NR] = $1; sum += $1 }
        END { printf "tkc check (%d-line Task), %d runs: mean %.2f ms, median %.2f ms, min %.2f ms, max %.2f ms\n",
              lines, runs, sum / NR / 1000, t[int((NR + 1) / 2)] / 1000, t[1] / 1000, t[NR] / 1000 }'
fi
