//! Partial runs (issue 13 item 4): `--rerun-failed RUN` runs only what failed in a kept run
//! and what depends on it, reusing the results and workspaces of the tasks that succeeded;
//! the flags' errors. `--task`, `--from` and `--until` have JSON summary snapshots among the
//! run fixtures (`testdata/run/partial-*.yaml`).

// A test that cannot start `tkc` has nothing left to check.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

/// A scratch directory with its own state dir; it and the run directories kept in it are
/// removed at the end.
struct Scratch {
    dir: PathBuf,
    kept: Vec<PathBuf>,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tkc-run-partial-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state-ws")).unwrap();
        Scratch { dir, kept: vec![] }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `tkc run` (isolated where bubblewrap works, else on the host) with `args`.
    fn run(&mut self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env("TKC_ENTRYPOINT", common::entrypoint())
            .env("TKC_STATE_DIR", self.dir.join("state"))
            .arg("run");
        if common::bwrap_works().is_none() {
            cmd.arg("--host");
        }
        let output = cmd.args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in stderr.lines() {
            if let Some(dir) = line.strip_prefix("run directory kept: ") {
                self.kept.push(PathBuf::from(dir));
            }
        }
        output
    }

    /// Writes [`FLAKY`] and runs it once (`--keep` if `keep`), which fails: the file, the
    /// `state` binding, the run's output and its id, for the reruns a test tries next.
    fn failed_flaky_run(&mut self, keep: bool) -> FlakyRun {
        let file = self
            .write("pipeline.yaml", FLAKY)
            .to_string_lossy()
            .into_owned();
        let state = state_binding(self);
        let mut args = vec!["--output", "json", "-w", &state, &file];
        if keep {
            args.insert(0, "--keep");
        }
        let output = self.run(&args);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let id = last_run_id(self);
        FlakyRun {
            file,
            state,
            output,
            id,
        }
    }

    /// How many times each task appended its name to the counter file.
    fn counts(&self) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(self.dir.join("state-ws/counter")).unwrap_or_default();
        let mut out = BTreeMap::new();
        for line in text.lines() {
            *out.entry(line.to_string()).or_default() += 1;
        }
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for dir in &self.kept {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// `prepare` writes a token (counting its own runs) and a file into the run-scoped workspace
/// `shared`; `flaky` fails until the flag file exists, and otherwise reports the token and
/// that file; `use` consumes `flaky`'s result; `side` is independent; `cleanup` is finally.
/// Every task appends its name to `counter` in the `state` workspace, the user's directory.
const FLAKY: &str = r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: flaky
spec:
  params:
    - name: greeting
      default: hello
  workspaces:
    - name: state
    - name: shared
  tasks:
    - name: prepare
      workspaces:
        - name: state
          workspace: state
        - name: shared
          workspace: shared
      taskSpec:
        workspaces:
          - name: state
          - name: shared
        results:
          - name: token
        steps:
          - name: prepare
            image: alpine:3.20
            script: |
              echo prepare >> $(workspaces.state.path)/counter
              echo x >> $(workspaces.state.path)/prepared
              n=`wc -l < $(workspaces.state.path)/prepared`
              echo "made by prepare" > $(workspaces.shared.path)/data
              printf "token-$n" > $(results.token.path)
    - name: side
      workspaces:
        - name: state
          workspace: state
      taskSpec:
        workspaces:
          - name: state
        steps:
          - name: side
            image: alpine:3.20
            script: echo side >> $(workspaces.state.path)/counter
    - name: flaky
      params:
        - name: token
          value: $(tasks.prepare.results.token)
      workspaces:
        - name: state
          workspace: state
        - name: shared
          workspace: shared
      taskSpec:
        params:
          - name: token
        workspaces:
          - name: state
          - name: shared
        results:
          - name: seen
        steps:
          - name: check
            image: alpine:3.20
            env:
              - name: TOKEN
                value: $(params.token)
            script: |
              echo flaky >> $(workspaces.state.path)/counter
              test -f $(workspaces.state.path)/flag || { echo "no flag file yet"; exit 1; }
              printf "$TOKEN, `cat $(workspaces.shared.path)/data`" > $(results.seen.path)
    - name: use
      params:
        - name: seen
          value: $(tasks.flaky.results.seen)
      workspaces:
        - name: state
          workspace: state
      taskSpec:
        params:
          - name: seen
        workspaces:
          - name: state
        results:
          - name: out
        steps:
          - name: use
            image: alpine:3.20
            env:
              - name: SEEN
                value: $(params.seen)
            script: |
              echo use >> $(workspaces.state.path)/counter
              printf "used: $SEEN" > $(results.out.path)
  finally:
    - name: cleanup
      workspaces:
        - name: state
          workspace: state
      taskSpec:
        workspaces:
          - name: state
        steps:
          - name: cleanup
            image: alpine:3.20
            script: echo cleanup >> $(workspaces.state.path)/counter
"#;

/// The id of the newest run (`tkc runs --output json`).
fn last_run_id(scratch: &Scratch) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .env("TKC_STATE_DIR", scratch.dir.join("state"))
        .args(["runs", "--output", "json"])
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    runs[0]["id"].as_str().unwrap().to_string()
}

/// A first, failed run of [`FLAKY`] ([`Scratch::failed_flaky_run`]).
struct FlakyRun {
    file: String,
    state: String,
    output: Output,
    id: String,
}

fn state_binding(scratch: &Scratch) -> String {
    format!("state=dir:{}", scratch.dir.join("state-ws").display())
}

#[test]
fn rerun_failed_runs_only_the_failed_subgraph() {
    let mut scratch = Scratch::new("rerun");
    let FlakyRun {
        file,
        state,
        output: first,
        id,
    } = scratch.failed_flaky_run(true);
    let file = file.as_str();
    let first_summary = summary(&first);
    assert_eq!(first_summary["tasks"][2]["status"], "Failed");

    std::fs::write(scratch.dir.join("state-ws/flag"), "").unwrap();
    let second = scratch.run(&[
        "--rerun-failed",
        &id,
        "--output",
        "json",
        "-w",
        &state,
        file,
    ]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    // prepare and side ran once, in the first run; flaky ran in both; use only in the second;
    // the finally task in both.
    let counts = scratch.counts();
    let expected: BTreeMap<String, usize> = [
        ("cleanup", 2),
        ("flaky", 2),
        ("prepare", 1),
        ("side", 1),
        ("use", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, expected);
    // The summary, with the first run's id (random) redacted: prepare and side are reused
    // with their results; flaky saw prepare's old token and the file prepare left in the
    // kept run's workspace.
    let report = common::redact(&second.stdout).replace(&id, "[first run]");
    insta::assert_snapshot!("rerun-failed", report);

    // The rerun is a run to take up too: nothing failed, so only the finally task runs.
    let second_id = last_run_id(&scratch);
    let third = scratch.run(&[
        "--rerun-failed",
        &second_id,
        "--output",
        "json",
        "-w",
        &state,
        file,
    ]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    let third_summary = summary(&third);
    assert_eq!(third_summary["tasks"][3]["reused_from"], second_id.as_str());
    assert_eq!(
        third_summary["tasks"][3]["results"]["out"],
        "used: token-1, made by prepare"
    );
    assert_eq!(scratch.counts()["cleanup"], 3);
    assert_eq!(scratch.counts()["flaky"], 2);

    // A task edited since runs again (and what depends on it: nothing, here).
    let edited = FLAKY.replace("echo side >>", "echo side-edited >>");
    let file = scratch.write("pipeline.yaml", &edited);
    let file = file.to_str().unwrap();
    let fourth = scratch.run(&[
        "--rerun-failed",
        "last",
        "--output",
        "json",
        "-w",
        &state,
        file,
    ]);
    assert_eq!(fourth.status.code(), Some(0), "{}", text(&fourth.stderr));
    assert!(
        text(&fourth.stderr).contains("so run again: side\n"),
        "{}",
        text(&fourth.stderr)
    );
    let counts = scratch.counts();
    assert_eq!((counts["side-edited"], counts["prepare"]), (1, 1));
}

#[test]
fn rerun_failed_refuses_runs_it_cannot_take_up() {
    let mut scratch = Scratch::new("refuse");
    // Not kept: the run-scoped workspace `shared` is gone.
    let FlakyRun {
        file, state, id, ..
    } = scratch.failed_flaky_run(false);
    let file = file.as_str();
    let again = scratch.run(&["--rerun-failed", &id, "-w", &state, file]);
    assert_eq!(again.status.code(), Some(2));
    let err = text(&again.stderr);
    assert!(
        err.contains("it was not kept, so the files of its workspaces (shared) are gone"),
        "{err}"
    );
    // Kept, but run with another param value.
    let kept = scratch.run(&["--keep", "--output", "json", "-w", &state, file]);
    assert_eq!(kept.status.code(), Some(1));
    let id = last_run_id(&scratch);
    let other = scratch.run(&[
        "--rerun-failed",
        &id,
        "-p",
        "greeting=hi",
        "-w",
        &state,
        file,
    ]);
    assert_eq!(other.status.code(), Some(2));
    let err = text(&other.stderr);
    assert!(
        err.contains("param `greeting` was `hello` and is now `hi`"),
        "{err}"
    );
    let unknown = scratch.run(&["--rerun-failed", "nope", "-w", &state, file]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no run `nope` is recorded"));
}

#[test]
fn rerun_failed_refuses_other_workspace_bindings() {
    let mut scratch = Scratch::new("bindings");
    let FlakyRun {
        file, state, id, ..
    } = scratch.failed_flaky_run(true);
    let file = file.as_str();
    std::fs::create_dir_all(scratch.dir.join("other-ws")).unwrap();
    let other = format!("state=dir:{}", scratch.dir.join("other-ws").display());
    let again = scratch.run(&["--rerun-failed", &id, "-w", &other, file]);
    assert_eq!(again.status.code(), Some(2));
    let err = text(&again.stderr);
    assert!(
        err.contains(&format!(
            "workspace `state` was bound to `dir {}` and is now bound to `dir {}`",
            scratch.dir.join("state-ws").display(),
            scratch.dir.join("other-ws").display()
        )),
        "{err}"
    );
    // The same binding is taken up.
    let same = scratch.run(&["--rerun-failed", &id, "-w", &state, file]);
    assert_eq!(same.status.code(), Some(1), "{}", text(&same.stderr));
}

/// Sets the permission bits of `path`.
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn rerun_failed_refuses_records_and_directories_others_may_write() {
    let mut scratch = Scratch::new("private");
    let FlakyRun {
        file, state, id, ..
    } = scratch.failed_flaky_run(true);
    let file = file.as_str();
    let refused = |scratch: &mut Scratch, what: &str| {
        let again = scratch.run(&["--rerun-failed", &id, "-w", &state, file]);
        assert_eq!(
            again.status.code(),
            Some(2),
            "{what}: {}",
            text(&again.stderr)
        );
        text(&again.stderr)
    };
    let record = scratch.dir.join("state/runs").join(&id);
    for dir in [scratch.dir.join("state/runs"), record.clone()] {
        chmod(&dir, 0o777);
        let err = refused(&mut scratch, "a writable record");
        assert!(
            err.contains("it is writable by other users (mode 777)"),
            "{err}"
        );
        chmod(&dir, 0o700);
    }
    // The kept run directory: writable by others, then a link in its place.
    let reuse = record.join("reuse.json");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reuse).unwrap()).unwrap();
    let kept_dir = PathBuf::from(recorded["workspaces"].as_str().unwrap());
    chmod(&kept_dir, 0o777);
    let err = refused(&mut scratch, "a writable run directory");
    assert!(
        err.contains("it is writable by other users (mode 777)"),
        "{err}"
    );
    chmod(&kept_dir, 0o700);
    let link = scratch.dir.join("link");
    std::os::unix::fs::symlink(&kept_dir, &link).unwrap();
    let pointed = std::fs::read_to_string(&reuse)
        .unwrap()
        .replace(kept_dir.to_str().unwrap(), link.to_str().unwrap());
    std::fs::write(&reuse, pointed).unwrap();
    let err = refused(&mut scratch, "a link");
    assert!(err.contains("a symbolic link is not followed"), "{err}");
}

#[test]
fn an_empty_selection_is_refused() {
    let mut scratch = Scratch::new("empty");
    let file = scratch.write("pipeline.yaml", FLAKY);
    let file = file.to_str().unwrap();
    let state = state_binding(&scratch);
    let output = scratch.run(&["--from", "use", "--until", "prepare", "-w", &state, file]);
    assert_eq!(output.status.code(), Some(2));
    let err = text(&output.stderr);
    assert!(
        err.contains("--from use --until prepare: no task is selected"),
        "{err}"
    );
    assert!(scratch.counts().is_empty());
}

#[test]
fn unknown_task_names_are_refused_with_a_suggestion() {
    let mut scratch = Scratch::new("typos");
    let file = scratch.write("pipeline.yaml", FLAKY);
    let file = file.to_str().unwrap();
    let state = state_binding(&scratch);
    let output = scratch.run(&[
        "--task", "flaki", "--from", "cleanup", "--until", "zzz", "-w", &state, file,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = text(&output.stderr);
    assert!(
        err.contains(
            "error: --task flaki: the pipeline has no task `flaki`; did you mean `flaky`?"
        ),
        "{err}"
    );
    assert!(
        err.contains("error: --from cleanup: `cleanup` is a finally task; finally tasks run in every partial run"),
        "{err}"
    );
    assert!(
        err.contains("error: --until zzz: the pipeline has no task `zzz`\n"),
        "{err}"
    );
    // Nothing ran.
    assert!(scratch.counts().is_empty());
    assert!(!Path::new(&scratch.dir.join("state/runs")).is_dir() || last_run_missing(&scratch));
}

#[test]
fn partial_flags_are_refused_where_they_do_not_apply() {
    let mut scratch = Scratch::new("refused");
    let task = scratch.write(
        "task.yaml",
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: one\nspec:\n  steps:\n    - name: s\n      image: alpine:3.20\n      script: echo hi\n",
    );
    let output = scratch.run(&["--task", "one", task.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("a TaskRun has one task: run it whole"),
        "{}",
        text(&output.stderr)
    );
    let file = scratch.write("pipeline.yaml", FLAKY);
    let state = state_binding(&scratch);
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .env("TKC_STATE_DIR", scratch.dir.join("state"))
        .args([
            "run",
            "--backend",
            "kube",
            "--rerun-failed",
            "last",
            "-w",
            &state,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--rerun-failed applies to the local and container backends"),
        "{}",
        text(&output.stderr)
    );
}

/// No run was recorded.
fn last_run_missing(scratch: &Scratch) -> bool {
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .env("TKC_STATE_DIR", scratch.dir.join("state"))
        .args(["runs", "--output", "json"])
        .output()
        .unwrap();
    text(&output.stdout).trim() == "[]"
}
