#!/usr/bin/env python3
"""Runs every Tekton example of the shared corpus with `tkc run`, each run document of a
file on its own (`--run NAME`), isolated (tkc's default: bubblewrap), never on the host.
Prints one line per run: file, run, outcome, status, reason; then checks that nothing outside
the run directories changed on the host (`/etc`, `$HOME`, `/root` and the working
directory, listed with sizes and modification times before and after, but for caches other
programs write meanwhile: `.cargo`, `.rustup`, `.cache`, `target`) and exits 1 if something
did. (`/tmp` is not listed, as other programs write there; a step's `/tmp` is private,
which `cli/tests/run_security.rs` tests.)

    python3 bench/corpus.py [CORPUS_DIR] > corpus-results.txt
Needs `tkc` and `tkc-entrypoint` built (TKC=path/to/tkc, default target/debug/tkc) and
bubblewrap.
"""
import json, os, re, shutil, subprocess, sys, tempfile

corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/tekton-examples"
tkc = os.environ.get("TKC", "target/debug/tkc")
# The run and state directories live in one scratch directory, removed at the end.
scratch = tempfile.mkdtemp(prefix="tkc-corpus-")
env = dict(os.environ, TKC_STATE_DIR=os.path.join(scratch, "state"),
           XDG_RUNTIME_DIR=os.path.join(scratch, "xdg"))
os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)

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

def attempt(path, name):
    # Each example has claims of its own, as each of Tekton's e2e examples runs in a fresh
    # namespace: a claim another example filled (with read-only files) is not this one's.
    env["TKC_STATE_DIR"] = tempfile.mkdtemp(prefix="state-", dir=scratch)
    args = [tkc, "run", path, "--output", "json", "--run", name]
    if "/alpha/" in path:
        args += ["--enable-api-fields", "alpha"]
    try:
        p = subprocess.run(args, capture_output=True, timeout=120, env=env)
        s = json.loads(p.stdout)
        return s["status"], s["reason"]
    except Exception as e:  # timeout, no JSON
        return "-", type(e).__name__

def listing(roots):
    """(path, size, mtime) of every file below `roots` (not following links), but the scratch
    directory's."""
    seen = set()
    for root in roots:
        for d, dirs, files in os.walk(root):
            if d.startswith(scratch):
                dirs[:] = []
                continue
            dirs[:] = [x for x in dirs if x not in (".cargo", ".rustup", ".cache", "target", ".git")]
            for f in files + dirs:
                p = os.path.join(d, f)
                try:
                    st = os.lstat(p)
                    seen.add((p, st.st_size, int(st.st_mtime)))
                except OSError:
                    pass
    return seen

if not shutil.which("bwrap"):
    sys.exit("corpus.py runs the examples isolated: install bubblewrap (apt-get install bubblewrap)")
watched = sorted({"/etc", "/root", os.path.expanduser("~"), os.getcwd()} - {"/"})
before = listing(watched)
for root, _, files in sorted(os.walk(corpus)):
    for f in sorted(files):
        if not f.endswith(".yaml"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, corpus)
        for name in runs(path):
            status, reason = attempt(path, name)
            print(f"{rel}\t{name}\tisolated\t{status}\t{reason}", flush=True)
changed = sorted(listing(watched) ^ before)
subprocess.run(["chmod", "-R", "u+w", scratch])
shutil.rmtree(scratch, ignore_errors=True)
if changed:
    print(f"host changed outside the run directories ({len(changed)} entries):", file=sys.stderr)
    for c in changed[:50]:
        print(f"  {c[0]}", file=sys.stderr)
    sys.exit(1)
print("host unchanged outside the run directories", file=sys.stderr)
