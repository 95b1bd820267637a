#!/usr/bin/env bash
# Writes a Pipeline of N tasks (plus the Task they run) to stdout: chains, fan-out/fan-in,
# result references, params and when expressions, the shapes real pipelines have.
# Usage: gen-dag.sh N > pipeline.yaml
set -euo pipefail
n=${1:?usage: gen-dag.sh N}
awk -v n="$n" 'BEGIN {
  print "apiVersion: tekton.dev/v1"
  print "kind: Task"
  print "metadata:"
  print "  name: unit"
  print "spec:"
  print "  params:"
  print "    - name: input"
  print "      default: \"\""
  print "    - name: mode"
  print "      default: fast"
  print "  results:"
  print "    - name: out"
  print "  steps:"
  print "    - name: run"
  print "      image: alpine:3.20"
  print "      env:"
  print "        - name: INPUT"
  print "          value: $(params.input)"
  print "        - name: MODE"
  print "          value: $(params.mode)"
  print "      script: |"
  print "        #!/bin/sh"
  print "        echo -n \"$INPUT-$MODE\" > $(results.out.path)"
  print "---"
  print "apiVersion: tekton.dev/v1"
  print "kind: Pipeline"
  print "metadata:"
  printf "  name: dag-%d\n", n
  print "spec:"
  print "  params:"
  print "    - name: mode"
  print "      default: fast"
  print "    - name: branch"
  print "      default: main"
  print "  tasks:"
  for (i = 0; i < n; i++) {
    printf "    - name: t%d\n", i
    print  "      taskRef:"
    print  "        name: unit"
    g = i % 10
    print  "      params:"
    print  "        - name: mode"
    print  "          value: $(params.mode)"
    if (i >= 10 && g == 0) {
      # fan-in: the head of each group of ten waits for the previous group
      printf "      runAfter: [t%d, t%d, t%d, t%d]\n", i-1, i-3, i-5, i-7
    } else if (g >= 1 && g <= 4) {
      # a chain through result references
      print  "        - name: input"
      printf "          value: $(tasks.t%d.results.out)\n", i-1
    } else if (g >= 5 && g <= 8) {
      # fan-out from the head of the group
      printf "      runAfter: [t%d]\n", i-g
      if (g == 8) {
        print "      when:"
        print "        - input: $(params.branch)"
        print "          operator: in"
        print "          values: [main, release]"
      }
    } else if (g == 9) {
      print  "        - name: input"
      printf "          value: $(tasks.t%d.results.out)-$(tasks.t%d.results.out)\n", i-2, i-4
    }
  }
  print "  results:"
  print "    - name: last"
  printf "      value: $(tasks.t%d.results.out)\n", n-1
}'
