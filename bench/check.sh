#!/usr/bin/env bash
# Latency of `tkc check` on one realistic 250-line Task, wall clock including process start,
# with a release build; the same Task in KDL is measured too, for comparison. Uses hyperfine
# when installed (`apt-get install hyperfine`), else a loop timed with `date +%s%N` (which
# adds the cost of starting `date` to every run).
#
#   bench/check.sh                  # build, generate the Task, measure
#   RUNS=500 bench/check.sh         # more runs
#   NO_HYPERFINE=1 bench/check.sh   # the shell loop even where hyperfine is installed
#   TKC=path/to/tkc bench/check.sh  # a binary already built
#
# The Task is clean, as a Task in a repository usually is (`--deny-warnings` passes): a check
# of it is parsing and checking, not rendering. A variant with six findings (the verbosity
# param pasted into each script) is measured too, to show what rendering findings adds.
#
# Target (issue 11): mean <= 1.5 ms for the YAML Task. The binary matters as much as the
# code: the released tkc (release/build.sh: static musl, position-dependent) starts in about
# half the time of a `cargo build` one, which the dynamic loader binds to glibc at every
# start. Measure the released one with
#   release/build.sh && TKC=target/x86_64-unknown-linux-musl/dist/tkc bench/check.sh
set -euo pipefail
# tkc's own latency: shellcheck (bench/shellcheck.sh) is left out.
export TKC_SHELLCHECK=off

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-200}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

if [ -n "${TKC:-}" ]; then
    tkc="$TKC"
else
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p tkc
    tkc="$target_dir/release/tkc"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The sed command that replaces a step's @RESULTS@ line: the publish step writes the Task's
# results, the others write none (the line goes).
results_of() { # step path-format indent
    if [ "$1" = publish ]; then
        local lines="" r
        for r in digest version report-url; do
            lines="$lines$3printf '%s' \"$r\" > \"$(printf "$2" "$r")\"\\n"
        done
        printf '/@RESULTS@/c\\\n%s' "${lines%\\n}"
    else
        printf '/@RESULTS@/d'
    fi
}

params="revision target platform registry image-name go-version cache-key verbosity extra-flags timeout-seconds sbom-format"
steps="prepare fetch-deps lint unit-test build publish"

# A Task as people write them: params, workspaces, results, a step template, and steps with
# scripts, env, volume mounts and resources.
task="$work/task.yaml"
{
    cat <<'YAML'
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
YAML
    for p in $params; do
        cat <<YAML
    - name: $p
      type: string
      description: The $p to use
      default: "default-$p"
YAML
    done
    cat <<'YAML'
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
YAML
    for p in $params; do
        printf '      - name: %s\n        value: $(params.%s)\n' "$(echo "$p" | tr 'a-z-' 'A-Z_')" "$p"
    done
    cat <<'YAML'
    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
  steps:
YAML
    for s in $steps; do
        sed -e "s/@STEP@/$s/g" -e "$(results_of "$s" '$(results.%s.path)' '        ')" <<'YAML'
    - name: @STEP@
      image: docker.io/library/golang:1.22
      workingDir: $(workspaces.source.path)
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
        echo "== @STEP@ for $REVISION ($TARGET)"
        if [ -d "$(workspaces.cache.path)" ]; then
          export GOCACHE="$(workspaces.cache.path)/go"
        fi
        case "$VERBOSITY" in
          debug) set -x ;;
        esac
        go version
        printf '%s\n' "@STEP@" > /scratch/@STEP@.done
        @RESULTS@
        echo "done: @STEP@"
YAML
    done
} > "$task"

# The same Task with findings: the verbosity param pasted into every script (six
# tkc::lint::script-injection warnings, each rendered with its snippet and help).
findings="$work/task-findings.yaml"
sed 's/"\$VERBOSITY"/"$(params.verbosity)"/' "$task" > "$findings"

# The same Task in KDL.
kdl="$work/task.kdl"
{
    cat <<'KDL'
task "build-and-publish" {
    metadata {
        labels {
            "app.kubernetes.io/name" "build-and-publish"
            "app.kubernetes.io/version" "0.3"
        }
        annotations {
            "tekton.dev/displayName" "Build and publish"
        }
    }
    description "Builds the project, runs its tests, packages it and publishes the image."
KDL
    for p in $params; do
        printf '    param "%s" type="string" description="The %s to use" default="default-%s"\n' "$p" "$p" "$p"
    done
    cat <<'KDL'
    workspace "source" description="The checked-out sources"
    workspace "cache" optional=#true
    workspace "credentials" read-only=#true
    result "digest" description="The image digest"
    result "version"
    result "report-url"
    volume "scratch" {
        empty-dir
    }
    step-template {
        env "HOME" value="/tekton/home"
KDL
    for p in $params; do
        printf '        env "%s" value="$(params.%s)"\n' "$(echo "$p" | tr 'a-z-' 'A-Z_')" "$p"
    done
    cat <<'KDL'
        security-context runAsNonRoot=#true runAsUser=65532
    }
KDL
    for s in $steps; do
        sed -e "s/@STEP@/$s/g" -e "$(results_of "$s" '$(results.%s.path)' '            ')" <<'KDL'
    step "@STEP@" image="docker.io/library/golang:1.22" {
        working-dir "$(workspaces.source.path)"
        volume-mount "scratch" mount-path="/scratch"
        compute-resources {
            requests cpu="250m" memory="256Mi"
        }
        script #"""
            #!/bin/sh
            set -eu
            echo "== @STEP@ for $REVISION ($TARGET)"
            if [ -d "$(workspaces.cache.path)" ]; then
              export GOCACHE="$(workspaces.cache.path)/go"
            fi
            case "$VERBOSITY" in
              debug) set -x ;;
            esac
            go version
            printf '%s\n' "@STEP@" > /scratch/@STEP@.done
            @RESULTS@
            echo "done: @STEP@"
            """#
    }
KDL
    done
    echo "}"
} > "$kdl"

lines=$(wc -l < "$task")
kdl_lines=$(wc -l < "$kdl")
echo "task: $lines lines ($(wc -c < "$task") bytes) of YAML; $kdl_lines lines ($(wc -c < "$kdl") bytes) of KDL"
# The Task and its KDL twin must be clean, the variant must have its six findings.
for f in "$task" "$kdl"; do
    "$tkc" check --deny-warnings "$f" >/dev/null || { "$tkc" check "$f"; exit 1; }
done
"$tkc" check --format short "$findings" | grep -c script-injection | grep -qx 6 ||
    { echo "check.sh: the variant should have six findings" >&2; exit 1; }

measure() { # description command...
    local what="$1"
    shift
    if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
        hyperfine --shell=none --warmup 20 --runs "$runs" --export-json "$work/result.json" \
            "$*" >/dev/null 2>&1
        python3 - "$work/result.json" "$what" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ms = lambda s: f"{s * 1000:.2f} ms"
print(f"{sys.argv[2]}: {len(r['times'])} runs (hyperfine), mean {ms(r['mean'])} "
      f"± {ms(r['stddev'])}, median {ms(r['median'])}, min {ms(r['min'])}, max {ms(r['max'])}")
PY
    else
        local times=() start end
        for _ in $(seq 1 "$runs"); do
            start=$(date +%s%N)
            "$@" >/dev/null
            end=$(date +%s%N)
            times+=($(( (end - start) / 1000 )))
        done
        printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v what="$what" '
            { t[NR] = $1; sum += $1 }
            END { printf "%s: %d runs (date loop), mean %.2f ms, median %.2f ms, min %.2f ms, max %.2f ms\n",
                  what, runs, sum / NR / 1000, t[int((NR + 1) / 2)] / 1000, t[1] / 1000, t[NR] / 1000 }'
    fi
}

measure "tkc check ($lines-line Task, YAML)" "$tkc" check "$task"
measure "tkc check (the same Task with 6 findings rendered)" "$tkc" check "$findings"
measure "tkc check (the same Task, $kdl_lines lines of KDL)" "$tkc" check "$kdl"
# The floor beside it: starting any process, and starting tkc (which loads, parses its
# arguments and exits).
measure "floor: true (a process start)" "$(type -P true)"
measure "floor: tkc --version (tkc's start-up)" "$tkc" --version
