//! Runs you can come back to (issue 13 item 4): `tkc run` keeps every step's log under the
//! state dir, `tkc runs` lists the local runs, `tkc logs RUN [TASK[/STEP]]` prints them (and
//! `-f` follows a run in progress), the summary of a failed run shows the failing step's last
//! lines, `--report junit=FILE` writes a JUnit report; and the default parallelism is
//! Tekton's (every ready task at once).

// A test that cannot start `tkc` has nothing left to check.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

/// A scratch directory with its own state dir, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tkc-run-logs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn tkc(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.current_dir(&self.0)
            .env("NO_COLOR", "1")
            .env("TKC_ENTRYPOINT", common::entrypoint())
            .env("TKC_STATE_DIR", self.0.join("state"));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.tkc().args(args).output().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FAILING: &str = r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
spec:
  tasks:
    - name: lint
      taskSpec:
        steps:
          - name: check
            image: alpine
            script: echo lint ok
    - name: compile
      taskSpec:
        steps:
          - name: deps
            image: alpine
            script: echo fetched
          - name: cc
            image: alpine
            script: |
              for i in $(seq 1 15); do echo "line $i"; done
              echo "error: main.c:3: expected ';'"
              exit 2
    - name: package
      runAfter: [compile]
      taskSpec:
        steps:
          - name: pack
            image: alpine
            script: echo never
"#;

#[test]
fn logs_runs_failing_lines_and_junit() {
    let s = Scratch::new("failing");
    let file = s.write("build.yaml", FAILING);
    let junit = s.0.join("junit.xml");
    // A report that is there already (a CI workspace's last run), readable by others: the
    // new one, which may hold --secret values in the failing lines, is not.
    std::fs::write(&junit, "old").unwrap();
    std::fs::set_permissions(&junit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let junit_arg = format!("junit={}", junit.display());
    let out = s.run(&["run", "--report", &junit_arg, file.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let mode = std::fs::metadata(&junit).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the JUnit report's mode");

    // The summary shows the failing step's last lines (10 of them), and where the rest is.
    let at = stdout
        .find("last lines of compile/cc:")
        .unwrap_or_else(|| panic!("no last lines in:\n{stdout}"));
    let tail: Vec<&str> = stdout[at..].lines().skip(1).collect();
    assert_eq!(tail.len(), 10, "{stdout}");
    assert_eq!(tail[0].trim(), "│ line 7");
    assert_eq!(tail[9].trim(), "│ error: main.c:3: expected ';'");
    assert!(stdout[at..].contains("tkc logs build-run-"), "{stdout}");

    // `tkc runs` lists it.
    let runs = s.run(&["runs", "--output", "json"]);
    assert_eq!(runs.status.code(), Some(0), "{}", text(&runs.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "Failed");
    assert_eq!(runs[0]["kind"], "PipelineRun");
    assert!(runs[0]["duration_ms"].is_u64());
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let name = runs[0]["name"].as_str().unwrap().to_string();
    let human = text(&s.run(&["runs"]).stdout);
    assert!(human.starts_with("ID "), "{human}");
    assert!(human.contains(&id) && human.contains("Failed"), "{human}");

    // `tkc logs` prints every step's lines with the live view's prefixes, filtered by task
    // or step, and finds the run by id, by name or as `last`.
    let all = text(&s.run(&["logs", &id]).stdout);
    for line in [
        "[lint/check] lint ok",
        "[compile/deps] fetched",
        "[compile/cc] line 1",
        "[compile/cc] error: main.c:3: expected ';'",
    ] {
        assert!(all.lines().any(|l| l == line), "{line:?} not in:\n{all}");
    }
    assert!(!all.contains("never"), "{all}");
    let compile = text(&s.run(&["logs", &name, "compile"]).stdout);
    assert_eq!(compile.lines().count(), 17, "{compile}");
    assert!(
        compile.lines().all(|l| l.starts_with("[compile/")),
        "{compile}"
    );
    let cc = text(&s.run(&["logs", "last", "compile/cc"]).stdout);
    assert_eq!(cc.lines().count(), 16, "{cc}");
    let unknown = s.run(&["logs", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("tkc runs"));

    // The JUnit report: testsuites > testsuite > one testcase per step; the failure holds
    // the step's last lines; the task that did not run is skipped.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<String> = cases
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c.attribute("classname").unwrap(),
                c.attribute("name").unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "lint/check",
            "compile/deps",
            "compile/cc",
            "package/package"
        ]
    );
    assert_eq!(suite.attribute("tests"), Some("4"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("skipped"), Some("1"));
    let failure = cases[2]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("compile/cc fails");
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("exited with code 2")
    );
    let body = failure.text().unwrap_or_default();
    assert!(
        body.contains("line 15\nerror: main.c:3: expected ';'"),
        "{body}"
    );
    assert!(cases[3].children().any(|n| n.has_tag_name("skipped")));
    assert!(cases[0].children().all(|n| !n.is_element()));
}

#[test]
fn logs_follow_a_run_in_progress() {
    let s = Scratch::new("follow");
    let file = s.write(
        "slow.yaml",
        r#"apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: slow
spec:
  steps:
    - name: tick
      image: alpine
      script: |
        echo first
        sleep 2
        echo second
"#,
    );
    let mut run = s
        .tkc()
        .args(["run", "--output", "json", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the run is recorded as running, `tkc logs -f` follows it to its end.
    let start = Instant::now();
    loop {
        let runs: serde_json::Value =
            serde_json::from_slice(&s.run(&["runs", "--output", "json"]).stdout)
                .unwrap_or_default();
        if runs[0]["status"] == "Running" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never running: {runs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let followed = s.run(&["logs", "-f", "last"]);
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        text(&followed.stdout),
        "[slow/tick] first\n[slow/tick] second\n"
    );
    let runs: serde_json::Value =
        serde_json::from_slice(&s.run(&["runs", "--output", "json"]).stdout).unwrap();
    assert_eq!(runs[0]["status"], "Succeeded");
}

/// Three tasks that each wait for the other two: they end only if all run at once, whatever
/// the number of cores (Tekton starts every ready task).
#[test]
fn every_ready_task_runs_at_once_by_default() {
    let s = Scratch::new("parallel");
    let shared = s.0.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let task = |name: &str| {
        format!(
            r#"    - name: {name}
      workspaces: [{{name: ws, workspace: ws}}]
      taskSpec:
        workspaces: [{{name: ws}}]
        steps:
          - name: meet
            image: alpine
            script: |
              touch $(workspaces.ws.path)/{name}
              for i in $(seq 1 100); do
                [ -e $(workspaces.ws.path)/a ] && [ -e $(workspaces.ws.path)/b ] && [ -e $(workspaces.ws.path)/c ] && exit 0
                sleep 0.1
              done
              exit 1
"#
        )
    };
    let file = s.write(
        "meet.yaml",
        &format!(
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: meet\nspec:\n  workspaces: [{{name: ws}}]\n  tasks:\n{}{}{}",
            task("a"),
            task("b"),
            task("c")
        ),
    );
    let ws = format!("ws=dir:{}", shared.display());
    let out = s.run(&["run", "--output", "json", "-w", &ws, file.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(summary["status"], "Succeeded", "{}", text(&out.stderr));
    // A limit of 0 is refused.
    let zero = s.run(&["run", "--parallel", "0", file.to_str().unwrap()]);
    assert_eq!(zero.status.code(), Some(2));
}
