//! `testdata/run/**`: every fixture is run end to end by the real `tkc run --output json`
//! on the local backend (real entrypoint, real processes); the JSON summary, with the
//! run's name and the duration redacted, and the exit code are an insta snapshot beside it.
//!
//! A leading comment line `# tkc-args: ...` gives extra arguments. Also here: Ctrl-C
//! cancellation leaves no process behind, and `--isolate` (skipped without `bwrap`).

// A test that cannot start `tkc` has nothing left to check.
#![allow(clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{exit_code, redact, snapshot_fixtures, tkc_on_fixture, workspace_root};

const FIXTURES: &str = "testdata/run";

fn tkc(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
    cmd.current_dir(root)
        .env("NO_COLOR", "1")
        .env("TKC_ENTRYPOINT", common::entrypoint())
        .env("TKC_STATE_DIR", std::env::temp_dir().join("tkc-test-state"));
    cmd
}

/// Runs one fixture with `tkc run --output json`; the report holds the redacted summary.
fn run_report(root: &Path, relative: &Path) -> String {
    let (line, output) = tkc_on_fixture(tkc(root), root, relative, "run", &["--output", "json"]);
    match output {
        Ok(o) => format!(
            "$ {line}\nexit code: {}\n\n{}\n",
            exit_code(o.status),
            redact(&o.stdout)
        ),
        Err(e) => format!("cannot run tkc: {e}"),
    }
}

#[test]
fn run_fixtures() {
    snapshot_fixtures(FIXTURES, run_report);
}

/// Pids of processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = vec![];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn ctrl_c_cancels_the_run_and_leaves_no_process() {
    let marker = format!("tkc-cancel-marker-{}", std::process::id());
    let dir = std::env::temp_dir().join(&marker);
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("pipeline.yaml");
    let yaml = format!(
        r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: cancel-me
spec:
  tasks:
    - name: a
      taskSpec:
        steps:
          - name: sleep
            image: alpine
            script: |
              sleep 300 &
              sh -c 'sleep 301; echo {marker}'
    - name: b
      taskSpec:
        steps:
          - name: sleep
            image: alpine
            script: sh -c 'sleep 302; echo {marker}'
  finally:
    - name: f
      taskSpec:
        steps:
          - name: never
            image: alpine
            script: echo never
"#
    );
    let _ = std::fs::write(&file, yaml);
    let child = tkc(&dir)
        .args(["run", "--output", "json", "pipeline.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        panic!("cannot start tkc");
    };
    let start = Instant::now();
    while processes_with(&marker).len() < 2 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let output = child.wait_with_output();
    let Ok(output) = output else {
        panic!("tkc did not finish");
    };
    assert_eq!(output.status.code(), Some(130));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    assert_eq!(summary["status"], "Cancelled");
    assert_eq!(summary["reason"], "Cancelled");
    assert_eq!(summary["tasks"][0]["reason"], "TaskRunCancelled");
    assert_eq!(summary["tasks"][2]["status"], "Skipped");
    std::thread::sleep(Duration::from_millis(100));
    let left: Vec<u32> = processes_with(&marker)
        .into_iter()
        .filter(|p| *p != std::process::id())
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn isolate_shows_tekton_paths() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap is not installed, or it cannot create namespaces here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tkc-isolate-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let yaml = r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: iso
spec:
  workspaces: [{name: src}]
  tasks:
    - name: a
      workspaces: [{name: src}]
      taskSpec:
        workspaces: [{name: src}]
        results: [{name: where}]
        steps:
          - name: write
            image: alpine
            script: |
              echo hi > /workspace/src/file
              printf "$(workspaces.src.path)" > /tekton/results/where
    - name: b
      runAfter: [a]
      workspaces: [{name: src, workspace: src}]
      taskSpec:
        workspaces: [{name: src, mountPath: /data}]
        steps:
          - name: read
            image: alpine
            script: test "$(cat /data/file)" = hi
"#;
    let _ = std::fs::write(dir.join("p.yaml"), yaml);
    let output = tkc(&dir)
        .args(["run", "--isolate", "--output", "json", "p.yaml"])
        .output();
    let Ok(output) = output else {
        panic!("cannot run tkc");
    };
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    assert_eq!(
        summary["status"],
        "Succeeded",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(summary["tasks"][0]["results"]["where"], "/workspace/src");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The examples run to success with host tools only (the README's first command runs one).
#[test]
fn examples_run() {
    let root = workspace_root();
    for example in [
        "examples/build-and-test/pipeline.yaml",
        "examples/build-and-test-kdl/pipeline.kdl",
        "examples/fan-out-fan-in/pipeline.yaml",
        "examples/finally-notifier/pipeline.yaml",
    ] {
        let output = tkc(&root)
            .args(["run", "--output", "json", example])
            .output();
        let Ok(output) = output else {
            panic!("cannot run tkc");
        };
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        assert_eq!(
            summary["status"],
            "Succeeded",
            "{example}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(0), "{example}");
    }
}

/// A run that cannot start still names its run in the summary (the fixtures redact names).
#[test]
fn a_run_that_cannot_start_carries_its_name() {
    let root = workspace_root();
    let output = tkc(&root)
        .args(["run", "--output", "json", "testdata/run/missing-param.yaml"])
        .output();
    let Ok(output) = output else {
        panic!("cannot start tkc");
    };
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    assert_eq!(summary["name"], "missing-param");
    assert_eq!(summary["status"], "Failed");
}

/// The peak resident memory (`VmHWM`, kB) of a running process, while it runs.
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 1 GB of step output (lines, and a line with no newline at all) runs with bounded memory:
/// lines are cut at 64 KiB and step logs wait for the printer past 1 MiB in flight.
#[test]
fn a_gigabyte_of_output_runs_in_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("tkc-flood-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let yaml = r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: flood
spec:
  taskSpec:
    steps:
      - name: flood
        image: alpine
        script: |
          yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 50000000
          head -c 1000000000 /dev/zero
"#;
    let _ = std::fs::write(dir.join("flood.yaml"), yaml);
    let child = tkc(&dir)
        .args(["run", "--output", "json", "flood.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        panic!("cannot start tkc");
    };
    // Bounded, like every wait here: a tkc that hangs on the flood fails the test.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut peak = 0;
    while matches!(child.try_wait(), Ok(None)) {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
            panic!("tkc did not finish 1 GB of output within 300 s");
        }
        peak = peak_kb(child.id()).unwrap_or(peak).max(peak);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output();
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(output) = output else {
        panic!("tkc did not finish");
    };
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    assert_eq!(summary["status"], "Succeeded", "{summary}");
    eprintln!("peak memory of tkc for ~1 GB of output: {peak} kB");
    assert!(peak > 0, "tkc's memory was never sampled");
    assert!(peak < 100_000, "tkc peaked at {peak} kB");
}

/// A terminal that stops reading (Ctrl-S, a paused pager) holds tkc's output, never the run's
/// timeouts: the printer has a thread of its own. The step floods its output and the reader
/// of tkc's output reads nothing until the step's shell is gone, which only the Task's 2 s
/// timeout can do (the flood alone would block it for ever).
#[test]
fn a_stalled_terminal_does_not_hold_the_timeout() {
    let dir = common::TempDir::new("run", "stalled");
    let pid_file = dir.join("step.pid");
    let yaml = format!(
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: stalled
spec:
  timeout: 2s
  taskSpec:
    steps:
      - name: flood
        image: alpine
        script: |
          echo $$ > {}
          yes 0123456789012345678901234567890123456789 | head -c 20000000
          sleep 60
"#,
        pid_file.display()
    );
    let _ = std::fs::write(dir.join("stalled.yaml"), yaml);
    let child = tkc(&dir)
        .args(["run", "--host", "stalled.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        panic!("cannot start tkc");
    };
    let started = Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(30) {
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if !pid.trim().is_empty() && !Path::new(&format!("/proc/{}", pid.trim())).exists() {
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let waited = started.elapsed();
    // Only now is tkc's output read.
    let output = child.wait_with_output();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        killed,
        "the step was still there after {waited:?} of unread output"
    );
    let Ok(output) = output else {
        panic!("tkc did not finish");
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("TaskRunTimeout"),
        "{}",
        &text[text.len().saturating_sub(2000)..]
    );
}

/// Host steps start two ahead of the one running; on a stop, those not started yet start
/// then and end as the waiting ones do: each skips (exit 1) once the one before it has been
/// stopped, as when every step started at once. (Tekton itself marks every step of the
/// deleted pod terminated with exit code 1 and the TaskRun's reason: `terminateStepsInPod`,
/// pkg/reconciler/taskrun/taskrun.go; `--backend kube` reports them cancelled. Local only.)
#[test]
fn steps_not_started_at_a_stop_skip_as_waiting_ones_do() {
    let dir = common::TempDir::new("run", "stop-ahead");
    let yaml = r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: stopped
spec:
  timeout: 500ms
  taskSpec:
    steps:
      - {name: one, image: alpine, script: "echo one"}
      - {name: two, image: alpine, script: "sleep 30"}
      - {name: three, image: alpine, script: "echo three"}
      - {name: four, image: alpine, script: "echo four"}
      - {name: five, image: alpine, script: "echo five"}
      - {name: six, image: alpine, script: "echo six"}
"#;
    let _ = std::fs::write(dir.join("stopped.yaml"), yaml);
    let output = tkc(&dir)
        .args(["run", "--output", "json", "stopped.yaml"])
        .output();
    let Ok(output) = output else {
        panic!("cannot run tkc");
    };
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    assert_eq!(summary["reason"], "TaskRunTimeout", "{summary}");
    let steps: Vec<(String, String)> = summary["tasks"][0]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["status"].to_string(), s["exit_code"].to_string()))
        .collect();
    let skipped = ("\"Skipped\"".to_owned(), "1".to_owned());
    assert_eq!(
        steps,
        [
            ("\"Succeeded\"".to_owned(), "0".to_owned()),
            ("\"Cancelled\"".to_owned(), "null".to_owned()),
            skipped.clone(),
            skipped.clone(),
            skipped.clone(),
            skipped,
        ],
        "{summary}"
    );
}
