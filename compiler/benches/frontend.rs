//! Front-end throughput: parse + decode, in MB/s, on (a) Tekton's example corpus concatenated
//! into one multi-document YAML stream of at least 5 MB and (b) a generated stream of about
//! 6000 Task documents (~5 MB), plus the same Tasks in KDL.
//!
//!   cargo bench -p tkc-compiler --bench frontend
//!
//! The corpus is read from `../shared/corpus/tekton-examples` when it exists, else from the
//! project's own fixtures and examples. Target: >= 20 MB/s of YAML.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tkc_compiler::source::{SourceMap, Syntax};
use tkc_compiler::{Options, decode_file, syntax};

const MIN_BYTES: usize = 5_000_000;
const TASKS: usize = 6000;
const RUNS: usize = 7;

fn main() {
    let root = {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().unwrap_or(manifest).to_path_buf()
    };
    let (corpus_name, corpus) = corpus(&root);
    let yaml_tasks = generated_tasks_yaml(TASKS);
    let kdl_tasks = generated_tasks_kdl(TASKS);

    println!("front-end throughput (best and median of {RUNS} runs)");
    measure(&corpus_name, &corpus, Syntax::Yaml);
    measure(
        &format!("{TASKS} generated Tasks, YAML"),
        &yaml_tasks,
        Syntax::Yaml,
    );
    measure(
        &format!("{TASKS} generated Tasks, KDL"),
        &kdl_tasks,
        Syntax::Kdl,
    );
}

/// Parses and decodes `text` `RUNS` times; prints MB/s for parse alone and parse + decode.
fn measure(name: &str, text: &str, syntax: Syntax) {
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("bench", text.to_string(), syntax);
    let options = Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Options::default()
    };
    let mut parse_times = Vec::new();
    let mut total_times = Vec::new();
    let mut documents = 0;
    let mut diagnostics = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let parsed = syntax::parse_file(&sources, file);
        parse_times.push(start.elapsed());
        drop(parsed);

        let start = Instant::now();
        let (docs, diags) = decode_file(&sources, file, &options);
        total_times.push(start.elapsed());
        documents = docs.len();
        diagnostics = diags.len();
    }
    let mb = text.len() as f64 / 1e6;
    let rate = |times: &mut Vec<Duration>| {
        times.sort();
        let best = mb / times[0].as_secs_f64();
        let median = mb / times[times.len() / 2].as_secs_f64();
        (best, median)
    };
    let (parse_best, parse_median) = rate(&mut parse_times);
    let (best, median) = rate(&mut total_times);
    println!(
        "  {name}: {mb:.1} MB, {documents} documents, {diagnostics} diagnostics\n    \
         parse:          {parse_best:7.1} MB/s best, {parse_median:7.1} MB/s median\n    \
         parse + decode: {best:7.1} MB/s best, {median:7.1} MB/s median ({:.1} ms)",
        total_times[total_times.len() / 2].as_secs_f64() * 1000.0
    );
}

/// Every YAML file of the corpus as one stream, repeated to at least [`MIN_BYTES`].
fn corpus(root: &Path) -> (String, String) {
    let shared = root.join("../shared/corpus/tekton-examples");
    let (name, dirs) = if shared.is_dir() {
        ("Tekton example corpus", vec![shared])
    } else {
        (
            "project fixtures and examples",
            vec![root.join("testdata"), root.join("examples")],
        )
    };
    let mut files = Vec::new();
    for dir in &dirs {
        collect_yaml(dir, &mut files);
    }
    files.sort();
    let mut one = String::new();
    for path in &files {
        if let Ok(text) = std::fs::read_to_string(path) {
            one.push_str("---\n");
            one.push_str(&text);
            if !text.ends_with('\n') {
                one.push('\n');
            }
        }
    }
    let mut all = String::with_capacity(MIN_BYTES + one.len());
    while all.len() < MIN_BYTES && !one.is_empty() {
        all.push_str(&one);
    }
    let label = format!(
        "{name} ({} files, {:.0} KB) repeated {}x",
        files.len(),
        one.len() as f64 / 1e3,
        all.len() / one.len().max(1)
    );
    (label, all)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// A stream of `n` realistic Tasks (about 850 bytes each).
fn generated_tasks_yaml(n: usize) -> String {
    let mut out = String::with_capacity(n * 900);
    for i in 0..n {
        out.push_str(&format!(
            r#"---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: task-{i}
  labels:
    app.kubernetes.io/name: task-{i}
spec:
  description: Task number {i}.
  params:
    - name: revision
      default: main
    - name: flags
      type: array
      default: [-v, --race]
  workspaces:
    - name: source
  results:
    - name: digest
  steps:
    - name: build
      image: docker.io/library/golang:1.22
      workingDir: $(workspaces.source.path)
      env:
        - name: REVISION
          value: $(params.revision)
      args: ["$(params.flags[*])"]
      script: |
        #!/bin/sh
        set -eu
        go build ./...
        go test "$@" ./...
        sha256sum app | cut -d' ' -f1 > $(results.digest.path)
    - name: report
      image: docker.io/library/alpine:3.20
      computeResources:
        requests:
          cpu: 100m
      script: echo "task {i} done"
"#
        ));
    }
    out
}

/// The same Tasks in KDL.
fn generated_tasks_kdl(n: usize) -> String {
    let mut out = String::with_capacity(n * 800);
    for i in 0..n {
        out.push_str(&format!(
            r##"task "task-{i}" {{
    metadata {{
        labels {{
            "app.kubernetes.io/name" "task-{i}"
        }}
    }}
    description "Task number {i}."
    param "revision" default="main"
    param "flags" type="array" {{
        default "-v" "--race"
    }}
    workspace "source"
    result "digest"
    step "build" image="docker.io/library/golang:1.22" {{
        working-dir "$(workspaces.source.path)"
        env "REVISION" value="$(params.revision)"
        args "$(params.flags[*])"
        script #"""
            #!/bin/sh
            set -eu
            go build ./...
            go test "$@" ./...
            sha256sum app | cut -d' ' -f1 > $(results.digest.path)
            """#
    }}
    step "report" image="docker.io/library/alpine:3.20" {{
        compute-resources {{
            requests cpu="100m"
        }}
        script "echo \"task {i} done\""
    }}
}}
"##
        ));
    }
    out
}
