//! `tkc compile`, `tkc convert` and `tkc schema` as a user runs them: exit codes, `-o`,
//! where diagnostics go, and what is written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::workspace_root;

/// A fresh scratch folder for one test, removed when it ends.
fn scratch(name: &str) -> common::TempDir {
    common::TempDir::new("cli", name)
}

fn tkc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

const TASK: &str = "apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
spec:
  params:
    - name: who
  steps:
    - name: hello
      image: alpine
      script: |
        echo hello $(params.who)
";

#[test]
fn compile_writes_the_plan_to_stdout_or_a_file() {
    let dir = scratch("compile-o");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    let out = tkc(&dir, &["compile", "task.yaml", "--param", "who=world"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: tkc_compiler::plan::Plan = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan.tasks.len(), 1);
    let script = plan.tasks[0].pod.steps[0].script.as_ref().unwrap();
    assert!(script.text().contains("echo hello world"));

    let out = tkc(
        &dir,
        &["compile", "task.yaml", "-p", "who=world", "-o", "plan.json"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert_eq!(written, plan.to_json());
}

#[test]
fn compile_errors_go_to_stderr_with_exit_code_1_and_no_output() {
    let dir = scratch("compile-errors");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    // The param has no value.
    let out = tkc(&dir, &["compile", "task.yaml", "-o", "plan.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tkc::params::missing"), "{stderr}");
    assert!(!dir.join("plan.json").exists());

    // A schema error stops before lowering.
    std::fs::write(dir.join("bad.yaml"), TASK.replace("script:", "scirpt:")).unwrap();
    let out = tkc(&dir, &["compile", "bad.yaml", "-p", "who=x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tkc::schema::unknown-field"));
}

#[test]
fn compile_usage_errors_exit_2() {
    let dir = scratch("compile-usage");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    for args in [
        &["compile", "missing.yaml"][..],
        &["compile", "task.yaml", "--param", "novalue"],
        &["compile", "task.yaml", "--workspace", "src=nfs:x"],
        &["compile", "task.yaml", "--emit", "html"],
    ] {
        let out = tkc(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn compile_picks_a_run_by_name() {
    let dir = scratch("compile-run");
    let runs = format!(
        "{TASK}---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: one
spec:
  taskRef: {{name: hello}}
  params: [{{name: who, value: one}}]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: two
spec:
  taskRef: {{name: hello}}
  params: [{{name: who, value: two}}]
"
    );
    std::fs::write(dir.join("runs.yaml"), runs).unwrap();
    let out = tkc(&dir, &["compile", "runs.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose one by name"));
    let out = tkc(&dir, &["compile", "runs.yaml", "--run", "two"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo hello two"));
    // The Task itself, with a param.
    let out = tkc(
        &dir,
        &["compile", "runs.yaml", "--run", "hello", "-p", "who=me"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo hello me"));
}

#[test]
fn compile_finds_tasks_on_search_paths() {
    let dir = scratch("compile-search");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/task.yaml"), TASK).unwrap();
    std::fs::write(
        dir.join("run.yaml"),
        "apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: run}
spec:
  taskRef: {name: hello}
  params: [{name: who, value: lib}]
",
    )
    .unwrap();
    let out = tkc(&dir, &["compile", "run.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the Task is not among the inputs"
    );
    let out = tkc(&dir, &["compile", "run.yaml", "--search-path", "lib"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo hello lib"));
}

#[test]
fn emit_tekton_needs_no_run() {
    let dir = scratch("emit");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    let out = tkc(&dir, &["compile", "--emit", "tekton", "task.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(yaml.contains("      type: string\n"), "{yaml}");
}

#[test]
fn convert_goes_both_ways_and_keeps_the_model() {
    let dir = scratch("convert");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    let out = tkc(&dir, &["convert", "task.yaml", "-o", "task.kdl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kdl = std::fs::read_to_string(dir.join("task.kdl")).unwrap();
    assert!(kdl.starts_with("task \"hello\" {"), "{kdl}");
    let out = tkc(&dir, &["convert", "task.kdl"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TASK);
    // Explicit direction, stdin.
    let out = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(&dir)
        .args(["convert", "--to", "yaml", "--stdin-filename", "x.yaml", "-"])
        .stdin(std::fs::File::open(dir.join("task.yaml")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TASK);
}

#[test]
fn convert_refuses_broken_or_mixed_input() {
    let dir = scratch("convert-errors");
    std::fs::write(dir.join("task.yaml"), TASK).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "kind: Task\napiVersion: tekton.dev/v1\nspec: [\n",
    )
    .unwrap();
    let out = tkc(&dir, &["convert", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = tkc(&dir, &["convert", "task.yaml", "-o", "t.kdl"]);
    assert_eq!(out.status.code(), Some(0));
    let out = tkc(&dir, &["convert", "task.yaml", "t.kdl"]);
    assert_eq!(out.status.code(), Some(2), "mixed inputs need --to");
}

#[test]
fn schema_writes_the_committed_schemas() {
    let dir = scratch("schema");
    let out = tkc(&dir, &["schema", "--out-dir", "out"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = workspace_root().join("schemas");
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::fs::read_to_string(committed.join(name)).unwrap_or_default(),
            "{} differs from schemas/; run `cargo run -p tkc -- schema`",
            name.to_string_lossy()
        );
        count += 1;
    }
    assert_eq!(count, 7);
}

#[test]
fn compile_reads_tkc_toml() {
    let dir = scratch("config");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/task.yaml"), TASK).unwrap();
    std::fs::write(
        dir.join("tkc.toml"),
        "search-paths = [\"lib\"]\n\n[severity]\n\"tkc::lint::script-injection\" = \"off\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("run.yaml"),
        "apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: run}
spec:
  taskRef: {name: hello}
  params: [{name: who, value: config}]
",
    )
    .unwrap();
    let out = tkc(&dir, &["compile", "run.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("script-injection"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo hello config"));
}
