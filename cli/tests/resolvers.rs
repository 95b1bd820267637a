//! Issue 15: references through the git, http, hub, bundles and cluster resolvers are fetched,
//! checked, compiled and run like local Tasks, through a cache that `--offline` reads alone.
//! Nothing reaches the internet: git fetches a bare repository over `file://`, and the http
//! and hub resolvers ask a server on 127.0.0.1 that answers in the shapes of a web server and
//! of Artifact Hub's API (`api/v1/packages/tekton-task/<catalog>/<name>/<version>`, whose
//! `data.manifestRaw` is the YAML, as Tekton's hub resolver reads it). Bundles are pushed
//! with `tkc bundle push` to a `docker-registry` on 127.0.0.1, and the cluster is the
//! Kubernetes API test server (`tkc-kubetest`), both started by the test.

// A test that cannot start `tkc` or git has nothing left to check.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::registry::Registry;
use tkc_kubetest::{Options, Server};

fn task(name: &str, says: &str) -> String {
    format!(
        r#"apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: {name}
spec:
  params:
    - name: who
      type: string
  results:
    - name: out
  steps:
    - name: say
      image: alpine:3.20
      script: |
        printf '{says}:%s' "$(params.who)" > $(results.out.path)
"#
    )
}

/// Serves the http resolver's file, Artifact Hub's answer for `greet` 0.1.0, a page that
/// answers after 5 s, and 404 for anything else.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut headers = String::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    headers.push_str(&header.to_ascii_lowercase());
                }
                // user:s3cr3t
                let authorized = headers.contains("authorization: basic dxnlcjpzm2nym3q=");
                let (status, body) = match path.as_str() {
                    "/private.yaml" if authorized => ("200 OK", task("private", "private")),
                    "/private.yaml" => ("401 Unauthorized", "who are you".to_string()),
                    "/tasks/echo.yaml" => ("200 OK", task("from-http", "http")),
                    "/api/v1/packages/tekton-task/tekton-catalog-tasks/greet/0.1.0" => (
                        "200 OK",
                        serde_json::json!({
                            "package_id": "x",
                            "name": "greet",
                            "version": "0.1.0",
                            "data": {"manifestRaw": task("greet", "hub")},
                        })
                        .to_string(),
                    ),
                    "/tasks/broken.yaml" => (
                        "200 OK",
                        task("broken", "x").replace("  steps:", "  stepz: []\n  steps:"),
                    ),
                    "/stepactions/say.yaml" => ("200 OK", STEP_ACTION.to_string()),
                    // Tekton rejects `$(params...)` in a StepAction's script.
                    "/stepactions/bad.yaml" => (
                        "200 OK",
                        STEP_ACTION.replace("\"$WORD\"", "\"$(params.word)\""),
                    ),
                    "/slow" => {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        ("200 OK", task("slow", "slow"))
                    }
                    _ => ("404 Not Found", "not found".to_string()),
                };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A StepAction the http resolver fetches.
const STEP_ACTION: &str = r#"apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: say
spec:
  params:
    - name: word
  results:
    - name: said
  image: alpine:3.20
  env:
    - {name: WORD, value: $(params.word)}
  script: |
    printf 'step:%s' "$WORD" > $(step.results.said.path)
"#;

/// A Pipeline for the git resolver whose own references go through the hub and http
/// resolvers (a StepAction): `{port}` is the test server's.
fn nested_pipeline(port: u16) -> String {
    format!(
        r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: nested
spec:
  results:
    - {{name: hub, value: $(tasks.hub.results.out)}}
    - {{name: step, value: $(tasks.step.results.out)}}
  tasks:
    - name: hub
      taskRef:
        resolver: hub
        params:
          - {{name: name, value: greet}}
          - {{name: version, value: "0.1"}}
      params: [{{name: who, value: d}}]
    - name: step
      taskSpec:
        results: [{{name: out}}]
        steps:
          - name: say
            ref:
              resolver: http
              params:
                - {{name: url, value: "http://127.0.0.1:{port}/stepactions/say.yaml"}}
            params: [{{name: word, value: e}}]
          - name: copy
            image: alpine:3.20
            env:
              - {{name: SAID, value: $(steps.say.results.said)}}
            script: |
              printf '%s' "$SAID" > $(results.out.path)
"#
    )
}

/// A bare repository with `task/hello.yaml`: tag `v1` (its first commit) says `git-v1`,
/// branch `main` says `git-main`. Returns its `file://` URL and the first commit.
fn repository(dir: &Path) -> (String, String) {
    let work = dir.join("work");
    std::fs::create_dir_all(work.join("task")).unwrap();
    std::fs::create_dir_all(work.join("pipeline")).unwrap();
    let port = std::fs::read_to_string(dir.join("port")).unwrap_or_default();
    std::fs::write(
        work.join("pipeline/nested.yaml"),
        nested_pipeline(port.trim().parse().unwrap_or(0)),
    )
    .unwrap();
    git(&work, &["init", "--quiet", "--initial-branch", "main"]);
    std::fs::write(work.join("task/hello.yaml"), task("from-git", "git-v1")).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "v1"]);
    git(&work, &["tag", "v1"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("task/hello.yaml"), task("from-git", "git-main")).unwrap();
    git(&work, &["commit", "--quiet", "-am", "main"]);
    git(dir, &["clone", "--quiet", "--bare", "work", "repo.git"]);
    (format!("file://{}", dir.join("repo.git").display()), first)
}

/// A PipelineRun of `pipeline/nested.yaml` through the git resolver.
fn nested_run(git_url: &str) -> String {
    format!(
        r#"apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: nested-run
spec:
  pipelineRef:
    resolver: git
    params:
      - {{name: url, value: "{git_url}"}}
      - {{name: revision, value: main}}
      - {{name: pathInRepo, value: pipeline/nested.yaml}}
"#
    )
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tkc-resolvers-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("xdg")).unwrap();
    dir
}

/// `tkc <args>` in `dir` ([`tkc_command`]).
fn tkc(dir: &Path, port: u16, args: &[&str]) -> Output {
    tkc_command(dir, port)
        .args(args)
        .output()
        .expect("cannot start tkc")
}

/// `tkc` to run in `dir`, with the cache, run and state directories inside it and Artifact
/// Hub on the test's server; the caller adds the arguments (and any other environment).
fn tkc_command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("TKC_CACHE_DIR")
        .env("ARTIFACT_HUB_API", format!("http://127.0.0.1:{port}"))
        .env("TKC_FETCH_TIMEOUT", "2")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("TKC_ENTRYPOINT", common::entrypoint())
        .env("XDG_RUNTIME_DIR", dir.join("xdg"))
        .env("TKC_STATE_DIR", dir.join("state"))
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .stdin(Stdio::null());
    cmd
}

fn run_args(file: &str) -> Vec<&str> {
    let mut args = vec!["run", "--output", "json"];
    if common::bwrap_works().is_none() {
        args.push("--host");
    }
    args.push(file);
    args
}

fn pipeline(git_url: &str, revision: &str, port: u16) -> String {
    format!(
        r#"apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: remote-refs
spec:
  pipelineSpec:
    results:
      - {{name: git, value: $(tasks.git.results.out)}}
      - {{name: http, value: $(tasks.http.results.out)}}
      - {{name: hub, value: $(tasks.hub.results.out)}}
    tasks:
      - name: git
        taskRef:
          resolver: git
          params:
            - {{name: url, value: "{git_url}"}}
            - {{name: revision, value: "{revision}"}}
            - {{name: pathInRepo, value: task/hello.yaml}}
        params: [{{name: who, value: a}}]
      - name: http
        taskRef:
          resolver: http
          params:
            - {{name: url, value: "http://127.0.0.1:{port}/tasks/echo.yaml"}}
        params: [{{name: who, value: b}}]
      - name: hub
        taskRef:
          resolver: hub
          params:
            - {{name: name, value: greet}}
            - {{name: version, value: "0.1"}}
        params: [{{name: who, value: c}}]
"#
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One Task by each resolver checks, compiles and runs; the run says what it fetches; a
/// second run with `--offline`, the repository and the server gone, gives the same results
/// from the cache.
#[test]
fn git_http_and_hub_tasks_check_compile_and_run_then_offline_from_the_cache() {
    let dir = scratch("e2e");
    let port = serve();
    std::fs::write(dir.join("port"), port.to_string()).unwrap();
    let (url, _) = repository(&dir);
    std::fs::write(dir.join("p.yaml"), pipeline(&url, "main", port)).unwrap();
    std::fs::write(dir.join("nested.yaml"), nested_run(&url)).unwrap();

    let checked = tkc(&dir, port, &["check", "--resolve", "p.yaml"]);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}{}",
        stdout(&checked),
        stderr(&checked)
    );
    assert!(
        !stdout(&checked).contains("remote-ref"),
        "{}",
        stdout(&checked)
    );

    let compiled = tkc(&dir, port, &["compile", "p.yaml"]);
    assert_eq!(compiled.status.code(), Some(0), "{}", stderr(&compiled));
    assert!(
        stdout(&compiled).contains("git-main:"),
        "the plan runs the fetched Task"
    );

    let ran = tkc(&dir, port, &run_args("p.yaml"));
    let summary: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap_or_default();
    assert_eq!(summary["status"], "Succeeded", "{}", stderr(&ran));
    let results = summary["results"].clone();
    assert_eq!(results["git"], "git-main:a");
    assert_eq!(results["http"], "http:b");
    assert_eq!(results["hub"], "hub:c");
    let progress = stderr(&ran);
    assert!(
        progress.contains(&format!("fetching git {url}@main:task/hello.yaml")),
        "{progress}"
    );
    assert!(
        progress.contains("fetching hub tekton-catalog-tasks/greet@0.1.0"),
        "{progress}"
    );

    // A pipelineRef through git whose Pipeline fetches a Task from the hub and a StepAction
    // over http.
    let nested = tkc(&dir, port, &run_args("nested.yaml"));
    let nested_summary: serde_json::Value =
        serde_json::from_slice(&nested.stdout).unwrap_or_default();
    assert_eq!(nested_summary["status"], "Succeeded", "{}", stderr(&nested));
    assert_eq!(nested_summary["results"]["hub"], "hub:d");
    assert_eq!(nested_summary["results"]["step"], "step:e");

    // Nothing left to fetch from: the cache alone.
    std::fs::rename(dir.join("repo.git"), dir.join("gone.git")).unwrap();
    let offline = tkc(&dir, 1, &{
        let mut a = run_args("p.yaml");
        a.insert(1, "--offline");
        a
    });
    let again: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap_or_default();
    assert_eq!(again["status"], "Succeeded", "{}", stderr(&offline));
    assert_eq!(again["results"], results);
    let offline = tkc(&dir, 1, &{
        let mut a = run_args("nested.yaml");
        a.insert(1, "--offline");
        a
    });
    let again: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap_or_default();
    assert_eq!(
        again["results"],
        nested_summary["results"],
        "{}",
        stderr(&offline)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--resolve`, `tkc check` fetches nothing and warns; with it, the bindings are
/// checked against the fetched Task (a missing param) and the diagnostic names the origin.
#[test]
fn check_resolves_only_when_asked_and_checks_bindings() {
    let dir = scratch("bindings");
    let port = serve();
    let (url, _) = repository(&dir);
    let text =
        pipeline(&url, "main", port).replace("        params: [{name: who, value: a}]\n", "");
    std::fs::write(dir.join("p.yaml"), text).unwrap();
    let plain = tkc(&dir, port, &["check", "--format", "short", "p.yaml"]);
    assert!(stdout(&plain).contains("remote-ref"), "{}", stdout(&plain));
    assert!(!dir.join("cache").exists(), "plain check fetched something");
    let resolved = tkc(
        &dir,
        port,
        &["check", "--resolve", "--format", "short", "p.yaml"],
    );
    let out = stdout(&resolved);
    assert_eq!(resolved.status.code(), Some(1), "{out}");
    assert!(out.contains("`who`"), "{out}");
    // `resolve = true` in tkc.toml does what --resolve does.
    std::fs::write(dir.join("tkc.toml"), "resolve = true\n").unwrap();
    let configured = tkc(&dir, port, &["check", "--format", "short", "p.yaml"]);
    assert_eq!(stdout(&configured), out);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A finding in a fetched document points into it, under its origin's name.
#[test]
fn findings_in_fetched_documents_name_their_origin() {
    let dir = scratch("origin");
    let port = serve();
    let (url, _) = repository(&dir);
    let text = pipeline(&url, "main", port).replace("tasks/echo.yaml", "tasks/broken.yaml");
    std::fs::write(dir.join("p.yaml"), text).unwrap();
    let o = tkc(
        &dir,
        port,
        &["check", "--resolve", "--format", "short", "p.yaml"],
    );
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "http://127.0.0.1:{port}/tasks/broken.yaml:11:3: error[tkc::schema::"
        )),
        "{out}"
    );
    // A fetched document is checked as Tekton validates it: its errors are reported there.
    let nested = nested_pipeline(port).replace("stepactions/say.yaml", "stepactions/bad.yaml");
    std::fs::write(dir.join("n.yaml"), nested).unwrap();
    let o = tkc(
        &dir,
        port,
        &["check", "--resolve", "--format", "short", "n.yaml"],
    );
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "http://127.0.0.1:{port}/stepactions/bad.yaml:14:23: error[tkc::steps::step-action-script-params]"
        )),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The http resolver's basic auth: the password is a Secret's key, which `tkc run --secret`
/// gives; without it the reference is an error that says how to give it.
#[test]
fn http_basic_auth_from_a_secret() {
    let dir = scratch("auth");
    let port = serve();
    let (url, _) = repository(&dir);
    let text = pipeline(&url, "main", port).replace(
        "tasks/echo.yaml\"}",
        "private.yaml\"}\n            - {name: http-username, value: user}\n            - {name: http-password-secret, value: creds}",
    );
    std::fs::write(dir.join("p.yaml"), text).unwrap();
    let compiled = tkc(&dir, port, &["compile", "p.yaml"]);
    assert!(
        stderr(&compiled).contains("basic auth needs key `password` of Secret `creds`"),
        "{}",
        stderr(&compiled)
    );
    let mut args = run_args("p.yaml");
    args.splice(1..1, ["--secret", "creds/password=env:TKC_TEST_PW"]);
    let ran = tkc_command(&dir, port)
        .env("TKC_TEST_PW", "s3cr3t")
        .args(&args)
        .output()
        .expect("tkc");
    let summary: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap_or_default();
    assert_eq!(summary["results"]["http"], "private:b", "{}", stderr(&ran));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A git that does not answer is killed at the time-out (`TKC_FETCH_TIMEOUT`, 2 s here).
#[test]
fn a_git_that_hangs_is_a_time_out() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("git-timeout");
    let port = serve();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    // `exec`: the process killed is the one sleeping, and nothing is left behind.
    std::fs::write(dir.join("bin/git"), "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(dir.join("bin/git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        pipeline("file:///nowhere.git", "main", port),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let o = tkc_command(&dir, port)
        .env("PATH", path)
        .args(["compile", "p.yaml"])
        .output()
        .expect("tkc");
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    assert!(
        stderr(&o).contains("no answer within 2s (time-out)"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without a cache directory (no `XDG_CACHE_HOME` nor `HOME`) references are still fetched,
/// and nothing is kept: `--offline` then finds nothing.
#[test]
fn without_a_cache_directory_nothing_is_kept() {
    let dir = scratch("no-cache");
    let port = serve();
    let (url, _) = repository(&dir);
    std::fs::write(dir.join("p.yaml"), pipeline(&url, "main", port)).unwrap();
    let compile = |offline: bool| {
        let mut cmd = tkc_command(&dir, port);
        cmd.env_remove("HOME")
            .env_remove("XDG_CACHE_HOME")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .arg("compile");
        if offline {
            cmd.arg("--offline");
        }
        cmd.arg("p.yaml").output().expect("tkc")
    };
    let online = compile(false);
    assert_eq!(online.status.code(), Some(0), "{}", stderr(&online));
    let offline = compile(true);
    assert!(
        stderr(&offline).contains("--offline fetches nothing"),
        "{}",
        stderr(&offline)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Branch, tag and commit revisions each fetch their own version of the file.
#[test]
fn git_revisions_branch_tag_and_commit() {
    let dir = scratch("revisions");
    let port = serve();
    let (url, first) = repository(&dir);
    for (revision, says) in [
        ("main", "git-main"),
        ("v1", "git-v1"),
        (first.as_str(), "git-v1"),
    ] {
        std::fs::write(dir.join("p.yaml"), pipeline(&url, revision, port)).unwrap();
        let compiled = tkc(&dir, port, &["compile", "p.yaml"]);
        assert_eq!(
            compiled.status.code(),
            Some(0),
            "{revision}: {}",
            stderr(&compiled)
        );
        assert!(
            stdout(&compiled).contains(&format!("{says}:")),
            "{revision}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each failure is an error at the reference naming the resolver and the reason.
#[test]
fn fetch_failures_are_diagnostics() {
    let dir = scratch("failures");
    let port = serve();
    let (url, _) = repository(&dir);
    let good = pipeline(&url, "main", port);
    let cases: [(&str, String, &str); 7] = [
        (
            "missing revision",
            good.replace("\"main\"", "\"no-such-branch\""),
            "git resolver: revision `no-such-branch` not found in",
        ),
        (
            "missing path",
            good.replace("task/hello.yaml", "task/nope.yaml"),
            "git resolver: path `task/nope.yaml` not found in",
        ),
        (
            "unreachable host",
            good.replace(
                &format!("127.0.0.1:{port}/tasks/echo.yaml"),
                "127.0.0.1:1/tasks/echo.yaml",
            ),
            "http resolver: error fetching URL http://127.0.0.1:1/tasks/echo.yaml",
        ),
        (
            "timeout",
            good.replace("tasks/echo.yaml", "slow"),
            "http resolver: no answer from",
        ),
        (
            "not found",
            good.replace("tasks/echo.yaml", "tasks/missing.yaml"),
            "is not found",
        ),
        (
            "hub version",
            good.replace("\"0.1\"", "\"0.2\""),
            "hub resolver: fail to fetch Artifact Hub resource: requested resource",
        ),
        (
            "bad param",
            good.replace("pathInRepo", "path"),
            "git resolver: missing required git resolver params: pathInRepo",
        ),
    ];
    for (what, text, expected) in cases {
        std::fs::write(dir.join("p.yaml"), text).unwrap();
        let o = tkc(&dir, port, &["compile", "p.yaml"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(expected), "{what}: {err}");
        assert!(
            !err.contains("needs a cluster"),
            "{what}: said twice: {err}"
        );
    }
    // Two references to one missing file: one error, at the first, and nothing about the second.
    let bad = good.replace("task/hello.yaml", "task/nope.yaml");
    let (head, tasks) = bad.split_once("    tasks:\n").unwrap();
    let git_task = tasks.split("      - name: http").next().unwrap();
    let twice = format!(
        "{head}    tasks:\n{}{tasks}",
        git_task.replace("name: git\n", "name: git2\n")
    );
    std::fs::write(dir.join("p.yaml"), twice).unwrap();
    let o = tkc(&dir, port, &["compile", "p.yaml"]);
    let err = stderr(&o);
    assert_eq!(err.matches("tkc::").count(), 1, "{err}");
    // Offline, a reference never fetched is an error too.
    std::fs::write(dir.join("p.yaml"), good.replace("\"main\"", "\"v1\"")).unwrap();
    let o = tkc(&dir, port, &["compile", "--offline", "p.yaml"]);
    assert!(stderr(&o).contains("--offline"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A registry holding a bundle pushed with `tkc bundle push` (Task `from-bundle`, which says
/// `bundle`), and the API test server holding Task `from-cluster` (which says `cluster`) in
/// namespace `team`, its kubeconfig at `dir/kubeconfig`.
struct Remotes {
    registry: Registry,
    server: Server,
    runtime: tokio::runtime::Runtime,
    /// `127.0.0.1:<port>/team/tasks:v1`
    tagged: String,
    /// `127.0.0.1:<port>/team/tasks@sha256:…`
    pinned: String,
}

impl Remotes {
    /// Starts both, or `None` (the test skips) without `docker-registry`.
    fn start(dir: &Path, port: u16) -> Option<Remotes> {
        let registry_dir = dir.join("registry");
        std::fs::create_dir_all(&registry_dir).unwrap();
        let registry = Registry::start(&registry_dir)?;
        std::fs::write(dir.join("bundle.yaml"), task("from-bundle", "bundle")).unwrap();
        let tagged = format!("{}/team/tasks:v1", registry.host);
        let pushed = tkc(dir, port, &["bundle", "push", &tagged, "bundle.yaml"]);
        assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
        let pinned = stdout(&pushed).trim().to_string();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(Server::start(Options {
                kubelet: false,
                ..Options::default()
            }))
            .unwrap();
        server.kubeconfig(&dir.join("kubeconfig")).unwrap();
        runtime.block_on(create_cluster_task(&server));
        Some(Remotes {
            registry,
            server,
            runtime,
            tagged,
            pinned,
        })
    }

    /// Stops the registry and the API server: nothing answers any more.
    fn stop(self) {
        drop(self.registry);
        self.runtime.block_on(self.server.stop());
    }
}

/// Stores Task `from-cluster` in namespace `team`, as `kubectl create` would.
async fn create_cluster_task(server: &Server) {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
    let client = kube::Client::try_from(server.client_config()).unwrap();
    let gvk = GroupVersionKind::gvk("tekton.dev", "v1", "Task");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "tasks");
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client, "team", &resource);
    let task = serde_json::json!({
        "apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "from-cluster"},
        "spec": {
            "params": [{"name": "who", "type": "string"}],
            "results": [{"name": "out"}],
            "steps": [{"name": "say", "image": "alpine:3.20",
                "script": "printf 'cluster:%s' \"$(params.who)\" > $(results.out.path)\n"}]
        }
    });
    let task: DynamicObject = serde_json::from_value(task).unwrap();
    api.create(&PostParams::default(), &task).await.unwrap();
}

/// A pipeline task `name` whose `taskRef` goes through `resolver` with `params`, given `who`.
fn remote_task(name: &str, resolver: &str, params: &[(&str, &str)], who: &str) -> String {
    let params: String = params
        .iter()
        .map(|(n, v)| format!("            - {{name: {n}, value: \"{v}\"}}\n"))
        .collect();
    format!(
        "      - name: {name}\n        taskRef:\n          resolver: {resolver}\n          \
         params:\n{params}        params: [{{name: who, value: {who}}}]\n"
    )
}

fn bundle_task(name: &str, bundle: &str, task: &str, who: &str) -> String {
    remote_task(
        name,
        "bundles",
        &[("bundle", bundle), ("name", task), ("kind", "task")],
        who,
    )
}

fn cluster_task(name: &str, task: &str, who: &str) -> String {
    remote_task(
        name,
        "cluster",
        &[("kind", "task"), ("name", task), ("namespace", "team")],
        who,
    )
}

/// [`pipeline`] with a Task by each of the five resolvers; bundles by tag and by digest.
fn every_resolver_pipeline(git_url: &str, port: u16, remotes: &Remotes) -> String {
    let mut text = pipeline(git_url, "main", port).replace(
        "      - {name: hub, value: $(tasks.hub.results.out)}\n",
        "      - {name: hub, value: $(tasks.hub.results.out)}\n      \
         - {name: tag, value: $(tasks.tag.results.out)}\n      \
         - {name: digest, value: $(tasks.digest.results.out)}\n      \
         - {name: cluster, value: $(tasks.cluster.results.out)}\n",
    );
    text.push_str(&bundle_task("tag", &remotes.tagged, "from-bundle", "d"));
    text.push_str(&bundle_task("digest", &remotes.pinned, "from-bundle", "e"));
    text.push_str(&cluster_task("cluster", "from-cluster", "f"));
    text
}

/// Issue 15's acceptance: one Task by each resolver (git, http, hub, bundles by tag and by
/// digest, cluster) checks, compiles and runs; with the repository, the http server, the
/// registry and the API server all gone, a second run with `--offline` gives the same
/// results from the cache.
#[test]
fn every_resolver_checks_compiles_and_runs_then_offline_from_the_cache() {
    let dir = scratch("every");
    let port = serve();
    std::fs::write(dir.join("port"), port.to_string()).unwrap();
    let (url, _) = repository(&dir);
    let Some(remotes) = Remotes::start(&dir, port) else {
        return;
    };
    std::fs::write(
        dir.join("p.yaml"),
        every_resolver_pipeline(&url, port, &remotes),
    )
    .unwrap();

    let checked = tkc(&dir, port, &["check", "--resolve", "p.yaml"]);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}{}",
        stdout(&checked),
        stderr(&checked)
    );
    let compiled = tkc(&dir, port, &["compile", "p.yaml"]);
    assert_eq!(compiled.status.code(), Some(0), "{}", stderr(&compiled));

    let ran = tkc(&dir, port, &run_args("p.yaml"));
    let summary: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap_or_default();
    assert_eq!(summary["status"], "Succeeded", "{}", stderr(&ran));
    let results = summary["results"].clone();
    assert_eq!(
        results,
        serde_json::json!({
            "git": "git-main:a", "http": "http:b", "hub": "hub:c",
            "tag": "bundle:d", "digest": "bundle:e", "cluster": "cluster:f",
        })
    );
    let progress = stderr(&ran);
    for fetching in [
        format!("fetching bundle {} (task from-bundle)", remotes.tagged),
        format!("fetching bundle {} (task from-bundle)", remotes.pinned),
        "fetching cluster team/from-cluster (task)".to_string(),
    ] {
        assert!(progress.contains(&fetching), "{fetching}: {progress}");
    }

    let pinned_only = format!(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n{}",
        bundle_task("digest", &remotes.pinned, "from-bundle", "e")
    );
    remotes.stop();
    // A bundle pinned by digest never changes: even online, it is not pulled again.
    std::fs::write(dir.join("pinned.yaml"), pinned_only).unwrap();
    let compiled = tkc(&dir, 1, &["compile", "pinned.yaml"]);
    assert_eq!(compiled.status.code(), Some(0), "{}", stderr(&compiled));

    std::fs::rename(dir.join("repo.git"), dir.join("gone.git")).unwrap();
    let offline = tkc(&dir, 1, &{
        let mut a = run_args("p.yaml");
        a.insert(1, "--offline");
        a
    });
    let again: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap_or_default();
    assert_eq!(again["status"], "Succeeded", "{}", stderr(&offline));
    assert_eq!(again["results"], results);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bundles and cluster resolvers' failures, through `tkc check --resolve` and `tkc
/// compile`: each an error at the reference naming the resolver and the reason.
#[test]
fn bundle_and_cluster_failures_are_diagnostics() {
    let dir = scratch("remote-failures");
    let Some(remotes) = Remotes::start(&dir, 1) else {
        return;
    };
    let absent = format!(
        "{}@sha256:{}",
        remotes.pinned.split('@').next().unwrap(),
        "0".repeat(64)
    );
    let cases = [
        (
            "unknown bundle name",
            bundle_task("t", &remotes.tagged, "nope", "a"),
            "bundles resolver: could not find object in image with kind: task and name: nope \
             (in {tagged}, which holds task/from-bundle)"
                .replace("{tagged}", &remotes.tagged),
        ),
        (
            "bad digest",
            bundle_task("t", &absent, "from-bundle", "a"),
            format!("bundles resolver: cannot retrieve the oci image {absent}: "),
        ),
        (
            "unreachable registry",
            bundle_task("t", "127.0.0.1:1/team/tasks:v1", "from-bundle", "a"),
            "bundles resolver: cannot retrieve the oci image 127.0.0.1:1/team/tasks:v1".to_string(),
        ),
        (
            "cluster object not found",
            cluster_task("t", "nope", "a"),
            "cluster resolver: failed to load task nope from namespace team: \
             tasks.tekton.dev \"nope\" not found"
                .to_string(),
        ),
    ];
    for (what, task, expected) in cases {
        let text = format!(
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:\n{task}"
        );
        std::fs::write(dir.join("p.yaml"), text).unwrap();
        for args in [
            &["check", "--resolve", "p.yaml"][..],
            &["compile", "p.yaml"],
        ] {
            let o = tkc(&dir, 1, args);
            let err = format!("{}{}", stdout(&o), stderr(&o));
            assert_eq!(o.status.code(), Some(1), "{what} {args:?}: {err}");
            assert!(err.contains(&expected), "{what} {args:?}: {err}");
            assert_eq!(
                err.matches("tkc::resolve::fetch-failed").count(),
                1,
                "{what}: {err}"
            );
        }
    }
    remotes.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
