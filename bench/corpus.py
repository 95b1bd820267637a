#!/usr/bin/env python3
"""Runs every Tekton example of the shared corpus with `tkc run`, each run document of a
file on its own (`--run NAME`), first on the host paths and, if that fails and bwrap is
there, again with `--isolate`. Prints one line per run: file, run, outcome, status, reason.

    python3 bench/corpus.py [CORPUS_DIR] > corpus-results.txt
Needs `tkc` and `tkc-entrypoint` built (TKC=path/to/tkc, default target/debug/tkc).
"""
import json, os, re, shutil, subprocess, sys

corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/tekton-examples"
tkc = os.environ.get("TKC", "target/debug/tkc")
env = dict(os.environ, TKC_STATE_DIR=os.environ.get("TKC_STATE_DIR", "/tmp/tkc-corpus-state"))

def runs(path):
    names = []
    for doc in re.split(r"^---\s*$", open(path).read(), flags=re.M):
        if not re.search(r"^kind:\s*(PipelineRun|TaskRun)\s*$", doc, re.M):
            continue
        m = re.search(r"^metadata:\s*\n((?:[ \t]+.*\n?)*)", doc, re.M)
        if m:
            n = re.search(r"^\s+(?:name|generateName):\s*(\S+)", m.group(1), re.M)
            if n:
                names.append(n.group(1).strip("'\""))
    return names

def attempt(path, name, isolate):
    args = [tkc, "run", path, "--output", "json", "--run", name]
    if "/alpha/" in path:
        args += ["--enable-api-fields", "alpha"]
    if isolate:
        args.append("--isolate")
    try:
        p = subprocess.run(args, capture_output=True, timeout=120, env=env)
        s = json.loads(p.stdout)
        return s["status"], s["reason"]
    except Exception as e:  # timeout, no JSON
        return "-", type(e).__name__

bwrap = shutil.which("bwrap")
for root, _, files in sorted(os.walk(corpus)):
    for f in sorted(files):
        if not f.endswith(".yaml"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, corpus)
        for name in runs(path):
            status, reason = attempt(path, name, False)
            how = "host"
            if status != "Succeeded" and bwrap:
                s2, r2 = attempt(path, name, True)
                if s2 == "Succeeded":
                    status, reason, how = s2, r2, "isolate"
            print(f"{rel}\t{name}\t{how}\t{status}\t{reason}", flush=True)
