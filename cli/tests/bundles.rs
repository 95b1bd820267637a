//! `tkc bundle push` and `tkc bundle list` against a real OCI registry: Debian's
//! `docker-registry` (the CNCF distribution registry), started by each test on 127.0.0.1 with
//! its own storage directory and killed at the test's end. `.ci/run` installs it; elsewhere
//! its absence skips these tests (and fails them where `CI` is set). The error tests that need
//! no registry (unreachable host, timeout, bad reference) always run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TempDir;
use common::registry::Registry;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `tkc` in `dir`, with the docker configuration of `dir/docker` (none unless a test writes
/// one), not the user's.
fn tkc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DOCKER_CONFIG", dir.join("docker"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TASKS: &str = "\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
spec:
  params:
    - name: who
      default: world
  steps:
    - name: say
      image: busybox:1.36
      env:
        - name: WHO
          value: $(params.who)
      script: echo \"hello $WHO\"
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: greet
spec:
  tasks:
    - name: hi
      taskRef:
        name: hello
";

/// The canonical YAML of `hello`, as `tkc compile --emit tekton` writes it.
const HELLO: &str = "\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
spec:
  params:
    - name: who
      type: string
      default: world
  steps:
    - name: say
      image: busybox:1.36
      env:
        - name: WHO
          value: $(params.who)
      script: echo \"hello $WHO\"
";

#[test]
fn push_then_list_and_pull_by_tag_and_by_digest() {
    let dir = TempDir::new("bundle", "roundtrip");
    let Some(registry) = Registry::start(&dir) else {
        return;
    };
    std::fs::write(dir.join("tasks.yaml"), TASKS).unwrap();
    let tagged = format!("{}/team/tasks:v1", registry.host);

    let pushed = tkc(&dir, &["bundle", "push", &tagged, "tasks.yaml"]);
    assert_eq!(pushed.status.code(), Some(0), "{}", text(&pushed.stderr));
    let pinned = text(&pushed.stdout).trim().to_owned();
    let prefix = format!("{}/team/tasks@sha256:", registry.host);
    assert!(pinned.starts_with(&prefix), "{pinned}");
    assert_eq!(
        text(&pushed.stderr),
        "added task/hello\nadded pipeline/greet\n"
    );

    // The same sources make the same image: the digest pins content, not the moment.
    let again = tkc(&dir, &["bundle", "push", &tagged, "tasks.yaml"]);
    assert_eq!(text(&again.stdout).trim(), pinned);

    for reference in [&tagged, &pinned] {
        let listed = tkc(&dir, &["bundle", "list", reference]);
        assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
        // Layers are ordered by the digest of their content, as `tkn bundle push` orders them.
        let mut lines: Vec<String> = text(&listed.stdout).lines().map(String::from).collect();
        lines.sort();
        assert_eq!(lines, ["pipeline/greet v1", "task/hello v1"]);

        let only_tasks = tkc(&dir, &["bundle", "list", reference, "task"]);
        assert_eq!(text(&only_tasks.stdout), "task/hello v1\n");

        // Kinds compare without case, as Tekton's resolver compares them.
        let pulled = tkc(&dir, &["bundle", "list", reference, "Task", "hello"]);
        assert_eq!(pulled.status.code(), Some(0), "{}", text(&pulled.stderr));
        assert_eq!(text(&pulled.stdout), HELLO);
    }

    // What was pulled checks as it was pushed.
    std::fs::write(dir.join("pulled.yaml"), HELLO).unwrap();
    let checked = tkc(&dir, &["check", "pulled.yaml"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stdout));
}

#[test]
fn registry_errors_are_one_line_with_the_reason() {
    let dir = TempDir::new("bundle", "errors");
    let Some(registry) = Registry::start(&dir) else {
        return;
    };
    std::fs::write(dir.join("tasks.yaml"), TASKS).unwrap();
    let tagged = format!("{}/team/tasks:v1", registry.host);
    let pushed = tkc(&dir, &["bundle", "push", &tagged, "tasks.yaml"]);
    assert_eq!(pushed.status.code(), Some(0), "{}", text(&pushed.stderr));

    let unknown = tkc(&dir, &["bundle", "list", &tagged, "task", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        text(&unknown.stderr),
        format!(
            "error: could not find object in image with kind: task and name: nope \
             (in {tagged}, which holds {})\n",
            // in layer order, which depends only on the content
            listed_names(&dir, &tagged)
        )
    );

    let absent = format!("{}/team/tasks@sha256:{}", registry.host, "0".repeat(64));
    let bad_digest = tkc(&dir, &["bundle", "list", &absent, "task", "hello"]);
    assert_eq!(bad_digest.status.code(), Some(2));
    let stderr = text(&bad_digest.stderr);
    assert!(
        stderr.starts_with(&format!("error: cannot retrieve the oci image {absent}: "))
            && stderr.contains("manifest unknown")
            && stderr.lines().count() == 1,
        "{stderr}"
    );

    let no_tag = format!("{}/team/other:v1", registry.host);
    let missing = tkc(&dir, &["bundle", "list", &no_tag]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("manifest unknown"));
}

fn listed_names(dir: &Path, reference: &str) -> String {
    let listed = tkc(dir, &["bundle", "list", reference]);
    text(&listed.stdout)
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn push_refuses_sources_with_errors_and_pushes_nothing() {
    let dir = TempDir::new("bundle", "refuse");
    let Some(registry) = Registry::start(&dir) else {
        return;
    };
    let broken = TASKS.replacen("name: hello\n", "name: hello\n  bogus: 1\n", 1);
    std::fs::write(dir.join("broken.yaml"), broken).unwrap();
    let reference = format!("{}/team/broken:v1", registry.host);
    let pushed = tkc(&dir, &["bundle", "push", &reference, "broken.yaml"]);
    assert_eq!(pushed.status.code(), Some(1));
    let stderr = text(&pushed.stderr);
    assert!(stderr.contains("unknown-field"), "{stderr}");
    assert!(
        stderr.ends_with("error: 1 error in the sources; nothing was pushed\n"),
        "{stderr}"
    );
    let listed = tkc(&dir, &["bundle", "list", &reference]);
    assert!(text(&listed.stderr).contains("manifest unknown"));

    // Runs (and ConfigMaps, Secrets) beside the Pipeline are left out, with a note.
    let run = "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n  taskRef:\n    name: hello\n";
    std::fs::write(dir.join("tasks.yaml"), TASKS).unwrap();
    std::fs::write(dir.join("run.yaml"), run).unwrap();
    let pushed = tkc(
        &dir,
        &["bundle", "push", &reference, "tasks.yaml", "run.yaml"],
    );
    assert_eq!(pushed.status.code(), Some(0), "{}", text(&pushed.stderr));
    assert_eq!(
        text(&pushed.stderr),
        "note: run.yaml: TaskRun r left out: a bundle holds Tasks, Pipelines and StepActions\n\
         added task/hello\nadded pipeline/greet\n"
    );
    let only_runs = tkc(&dir, &["bundle", "push", &reference, "run.yaml"]);
    assert_eq!(only_runs.status.code(), Some(1));
    assert!(
        text(&only_runs.stderr).ends_with("error: no Task, Pipeline or StepAction to push\n"),
        "{}",
        text(&only_runs.stderr)
    );
}

#[test]
fn an_unreachable_registry_and_a_silent_one_fail_with_the_reason() {
    let dir = TempDir::new("bundle", "unreachable");
    // A port nothing listens on: bind one, then free it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let reference = format!("{closed}/team/tasks:v1");
    let refused = tkc(&dir, &["bundle", "list", &reference]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot retrieve the oci image {reference}: "
        )) && stderr.contains("Connection refused"),
        "{stderr}"
    );

    // A registry that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let reference = format!("{}/team/tasks:v1", silent.local_addr().unwrap());
    let started = Instant::now();
    let timed_out = tkc(&dir, &["bundle", "list", &reference, "--timeout", "500ms"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(timed_out.status.code(), Some(2));
    assert_eq!(
        text(&timed_out.stderr),
        format!("error: cannot retrieve the oci image {reference}: timed out after 0.5s\n")
    );
    drop(silent);

    let bad = tkc(
        &dir,
        &["bundle", "list", "127.0.0.1:5000/team/tasks@sha256:abc"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        text(&bad.stderr),
        "error: 127.0.0.1:5000/team/tasks@sha256:abc is an unparseable image reference: \
         invalid reference format\n"
    );
}

#[test]
fn credentials_come_from_the_docker_configuration() {
    let dir = TempDir::new("bundle", "login");
    let Some(registry) = Registry::start_with_login(&dir) else {
        return;
    };
    std::fs::write(dir.join("tasks.yaml"), TASKS).unwrap();
    let reference = format!("{}/team/tasks:v1", registry.host);

    let anonymous = tkc(&dir, &["bundle", "push", &reference, "tasks.yaml"]);
    assert_eq!(anonymous.status.code(), Some(2));
    let stderr = text(&anonymous.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: could not push image to registry as {reference}: "
        )) && stderr.contains("401"),
        "{stderr}"
    );

    // As `docker login` writes it: base64 of `tkc:secret`, keyed by the registry's address.
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(
        dir.join("docker/config.json"),
        format!(
            r#"{{"auths": {{"http://{}": {{"auth": "dGtjOnNlY3JldA=="}}}}}}"#,
            registry.host
        ),
    )
    .unwrap();
    let pushed = tkc(&dir, &["bundle", "push", &reference, "tasks.yaml"]);
    assert_eq!(pushed.status.code(), Some(0), "{}", text(&pushed.stderr));
    let pulled = tkc(&dir, &["bundle", "list", &reference, "task", "hello"]);
    assert_eq!(text(&pulled.stdout), HELLO, "{}", text(&pulled.stderr));
}
