#!/usr/bin/env python3
"""Times `tkc lsp`: from a one-character edit (textDocument/didChange) to the
publishDiagnostics that follows it, as an editor sees it over stdio.

Two workspaces, generated in a scratch directory:
  * one 2,000-task pipeline (bench/gen-dag.sh, Pipeline and Task in one file);
  * 200 files: 100 Tasks and 100 Pipelines, each Pipeline running ten of the Tasks
    (so groups of connected files overlap, as in a real repository).
Reports the median and 90th percentile latency of 30 edits, the server's peak resident memory
(VmHWM) and the number of files each edit re-checked (publishDiagnostics received).

Usage: bench/lsp.py [path/to/tkc]   (default: target/release/tkc; build it with
`cargo build --release -p tkc`)
"""
import json, os, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TKC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "tkc")
EDITS = 30


class Server:
    def __init__(self, root):
        self.proc = subprocess.Popen([TKC, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0
        self.send("initialize", {"processId": None, "capabilities": {},
                                 "workspaceFolders": [{"uri": "file://" + root, "name": "bench"}]},
                  request=True)
        self.wait_response()
        self.send("initialized", {})

    def send(self, method, params, request=False):
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self):
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def wait_response(self):
        while True:
            message = self.read()
            if "id" in message and "method" not in message:
                return message

    def wait_diagnostics(self, uri):
        """Reads until the diagnostics of `uri`; returns how many files were published."""
        count = 0
        while True:
            message = self.read()
            if message.get("method") == "textDocument/publishDiagnostics":
                count += 1
                if message["params"]["uri"] == uri:
                    return count

    def drain(self, uri):
        """Counts the diagnostics still published for the last edit: the server answers a
        request only after it has published everything the edit changed."""
        self.send("textDocument/hover",
                  {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
                  request=True)
        count = 0
        while True:
            message = self.read()
            if message.get("method") == "textDocument/publishDiagnostics":
                count += 1
            elif "id" in message and "method" not in message:
                return count

    def rss_peak_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.send("shutdown", None, request=True)
        self.wait_response()
        self.send("exit", None)
        self.proc.wait(timeout=10)


def measure(name, root, path):
    uri = "file://" + path
    text = open(path).read()
    started = time.perf_counter()
    server = Server(root)
    server.wait_diagnostics(uri)  # the initial check of the workspace
    initial = time.perf_counter() - started
    server.send("textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "yaml", "version": 0, "text": text}})
    server.wait_diagnostics(uri)
    latencies, published = [], 0
    for i in range(1, EDITS + 1):
        # One character typed into a description-like place: a comment at the end.
        edited = text + "#" + "x" * (i % 2) + "\n"
        t0 = time.perf_counter()
        server.send("textDocument/didChange",
                    {"textDocument": {"uri": uri, "version": i},
                     "contentChanges": [{"text": edited}]})
        server.wait_diagnostics(uri)
        latencies.append((time.perf_counter() - t0) * 1000)
        published = 1 + server.drain(uri)
    rss = server.rss_peak_kib()
    server.stop()
    latencies.sort()
    p90 = latencies[int(len(latencies) * 0.9) - 1]
    print(f"| {name} | {initial * 1000:.0f} ms | {statistics.median(latencies):.1f} ms | "
          f"{p90:.1f} ms | {published} | {rss / 1024:.1f} MiB |")


def main():
    work = tempfile.mkdtemp(prefix="tkc-lsp-bench-")
    work = os.path.realpath(work)
    dag = os.path.join(work, "dag")
    os.makedirs(dag)
    with open(os.path.join(dag, "pipeline.yaml"), "w") as f:
        subprocess.run([os.path.join(HERE, "gen-dag.sh"), "2000"], stdout=f, check=True)
    many = os.path.join(work, "many")
    os.makedirs(many)
    for t in range(100):
        with open(os.path.join(many, f"task-{t:03}.yaml"), "w") as f:
            f.write(f"""apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: task-{t}
spec:
  params:
    - name: input
  results:
    - name: out
  steps:
    - name: run
      image: alpine:3.20
      env:
        - name: INPUT
          value: $(params.input)
      script: |
        #!/bin/sh
        printf '%s' "$INPUT" > $(results.out.path)
""")
    for p in range(100):
        tasks = []
        for k in range(10):
            t = (p + k * 7) % 100
            value = "$(params.seed)" if k == 0 else f"$(tasks.t{k - 1}.results.out)"
            tasks.append(f"""    - name: t{k}
      taskRef:
        name: task-{t}
      params:
        - name: input
          value: "{value}"
""")
        with open(os.path.join(many, f"pipeline-{p:03}.yaml"), "w") as f:
            f.write(f"""apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: pipeline-{p}
spec:
  params:
    - name: seed
  tasks:
{''.join(tasks)}""")
    print(f"tkc: {TKC}\n")
    print("| workspace | initial check | edit → diagnostics (median) | p90 | files re-published per edit | server peak RSS |")
    print("|---|---|---|---|---|---|")
    measure("one pipeline of 2,000 tasks", dag, os.path.join(dag, "pipeline.yaml"))
    measure("200 files (100 Pipelines × 10 Tasks)", many, os.path.join(many, "pipeline-000.yaml"))
    subprocess.run(["rm", "-rf", work], check=True)


if __name__ == "__main__":
    main()
