#!/usr/bin/env python3
"""Writes a catalog-sized tree in the layout of tektoncd/catalog: for each of N Tasks,
`task/<name>/<version>/<name>.yaml` (a Task with params, workspaces, results, a step template
and three steps with scripts), `.../samples/run.yaml` (a TaskRun of it) and
`.../tests/run.yaml` (a Pipeline using it, with a PipelineRun). Every name is unique, so the
tree checks clean as one namespace. 370 Tasks give 1,110 files, about 2 MB.

    python3 bench/gen-catalog.py OUT_DIR [TASKS]
"""
import os, sys

out = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 370

TASK = """apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: {name}
  labels:
    app.kubernetes.io/version: "0.{v}"
  annotations:
    tekton.dev/pipelines.minVersion: "0.50.0"
    tekton.dev/categories: Build Tools
    tekton.dev/tags: build-tool, {name}
    tekton.dev/displayName: "{name} task"
    tekton.dev/platforms: "linux/amd64,linux/arm64"
spec:
  description: >-
    The {name} task builds a project from the source workspace, runs its tests and
    publishes the artifact, reporting the digest and the URL of what it published.
    It expects a Go module at the root of the source workspace; the optional cache
    workspace keeps the build cache between runs, which makes a second run of the
    same revision several times faster. The builder image can be replaced by any
    image that has the Go toolchain and a POSIX shell on its PATH; the publish step
    only needs sha256sum, cut and tr. Flags given in the flags param are passed to
    go build as they are, after the defaults, so they can override them. Set the
    verbose param to "true" to trace every command the scripts run, which helps
    when a build fails only in the cluster. The digest result is the hex SHA-256 of
    go.sum, without a newline; the url result is where the artifact can be fetched.
    See the samples directory for a TaskRun and the tests directory for a Pipeline
    that runs the task and checks its results, as the catalog's CI does.
  workspaces:
    - name: source
      description: The project to build.
    - name: cache
      optional: true
      description: A cache shared between runs.
  params:
    - name: image
      description: The builder image.
      default: docker.io/library/golang:1.22
    - name: revision
      description: The revision to build.
    - name: flags
      type: array
      description: Extra flags for the build.
      default: []
    - name: verbose
      description: Log every command.
      default: "false"
  results:
    - name: digest
      description: The digest of the artifact.
    - name: url
      description: Where the artifact was published.
  stepTemplate:
    env:
      - name: HOME
        value: /tekton/home
      - name: VERBOSE
        value: $(params.verbose)
    computeResources:
      limits:
        memory: 1Gi
  steps:
    - name: prepare
      image: $(params.image)
      workingDir: $(workspaces.source.path)
      env:
        - name: REVISION
          value: $(params.revision)
      script: |
        #!/usr/bin/env sh
        set -eu
        if [ "$VERBOSE" = "true" ]; then set -x; fi
        echo "preparing revision $REVISION"
        test -d "$(workspaces.source.path)"
    - name: build
      image: $(params.image)
      workingDir: $(workspaces.source.path)
      command: ["go", "build"]
      args: ["$(params.flags[*])", "./..."]
    - name: unit-test
      image: $(params.image)
      workingDir: $(workspaces.source.path)
      env:
        - name: GOCACHE
          value: $(workspaces.cache.path)/go-build
        - name: GOFLAGS
          value: -mod=readonly
        - name: CGO_ENABLED
          value: "0"
        - name: REVISION
          value: $(params.revision)
      computeResources:
        requests:
          cpu: 500m
          memory: 512Mi
      script: |
        #!/usr/bin/env sh
        set -eu
        # Run the unit tests with the race detector off (CGO is disabled), write a
        # coverage profile next to the sources, and fail on any test that fails.
        if [ "$(workspaces.cache.bound)" = "true" ]; then
          mkdir -p "$GOCACHE"
        fi
        go test -count=1 -coverprofile=coverage.out ./...
        go tool cover -func=coverage.out | tail -n 1
        echo "tests of {name} at revision $REVISION passed"
    - name: publish
      image: docker.io/library/alpine:3.20
      workingDir: $(workspaces.source.path)
      script: |
        #!/bin/sh
        set -eu
        sha256sum go.sum | cut -d' ' -f1 | tr -d '\\n' | tee $(results.digest.path)
        printf 'https://example.com/{name}/%s' "$(cat $(results.digest.path))" > $(results.url.path)
"""

SAMPLE = """apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: {name}-sample
spec:
  taskRef:
    name: {name}
  params:
    - name: revision
      value: main
    - name: flags
      value: ["-v", "-trimpath"]
  workspaces:
    - name: source
      emptyDir: {{}}
"""

TEST = """apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: {name}-test
spec:
  params:
    - name: revision
      default: main
  workspaces:
    - name: shared
  tasks:
    - name: build
      taskRef:
        name: {name}
      params:
        - name: revision
          value: $(params.revision)
      workspaces:
        - name: source
          workspace: shared
    - name: verify
      runAfter: [build]
      params:
        - name: digest
          value: $(tasks.build.results.digest)
      taskSpec:
        params:
          - name: digest
        steps:
          - name: verify
            image: docker.io/library/alpine:3.20
            env:
              - name: DIGEST
                value: $(params.digest)
            script: |
              #!/bin/sh
              test -n "$DIGEST"
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: {name}-test-run
spec:
  pipelineRef:
    name: {name}-test
  workspaces:
    - name: shared
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources:
            requests:
              storage: 100Mi
"""

for i in range(count):
    name = f"build-tool-{i:04d}"
    v = i % 5 + 1
    base = os.path.join(out, "task", name, f"0.{v}")
    for sub in ("samples", "tests"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    with open(os.path.join(base, f"{name}.yaml"), "w") as f:
        f.write(TASK.format(name=name, v=v))
    with open(os.path.join(base, "samples", "run.yaml"), "w") as f:
        f.write(SAMPLE.format(name=name))
    with open(os.path.join(base, "tests", "run.yaml"), "w") as f:
        f.write(TEST.format(name=name))
