//! Issue 13 item 3: values from the command line. `--env`, `--env-file` and `--secret` reach
//! the steps' environment, `env.valueFrom.secretKeyRef` and Secret workspaces; a missing
//! Secret key fails the task (`testdata/run/missing-secret-key.yaml`) unless `--secret` gives
//! it. `--param` and `--workspace` typos: `testdata/run/flag-typos.yaml`.

// A test that cannot start `tkc` has nothing left to check.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

/// `tkc run --output json <args>` in `dir`, run and state directories inside it; `--host`
/// where bubblewrap cannot isolate (outside CI).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TKC_ENTRYPOINT", common::entrypoint())
        .env("XDG_RUNTIME_DIR", dir.join("xdg"))
        .env("TKC_STATE_DIR", dir.join("state"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .args(["run", "--output", "json"]);
    if common::bwrap_works().is_none() {
        cmd.arg("--host");
    }
    match cmd.args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot start tkc: {e}"),
    }
}

fn summary(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_default()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tkc-inputs-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(dir.join("xdg"));
    let _ = std::fs::create_dir_all(dir.join("login"));
    dir
}

const INPUTS: &str = r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: inputs
spec:
  workspaces:
    - name: login
      secret: {secretName: login}
  taskSpec:
    workspaces: [{name: login}]
    results: [{name: seen}]
    steps:
      - name: use
        image: alpine:3.20
        env:
          - name: TOKEN
            valueFrom:
              secretKeyRef: {name: api, key: token}
          - name: D
            value: step-wins
        script: |
          printf '%s' "$A|$B|$C|$D|$TOKEN|$(cat $(workspaces.login.path)/user):$(cat $(workspaces.login.path)/pass)" > $(results.seen.path)
"#;

/// `--env NAME=VALUE`, `--env NAME` (from tkc's environment), `--env-file` (quotes,
/// `export`, comments; a step's own `env` wins), `--secret NAME/KEY=env:VAR` for a
/// `secretKeyRef` and `--secret NAME=DIR` for a Secret workspace, with no Secret document.
#[test]
fn env_and_secret_flags_reach_the_steps() {
    let dir = scratch("flags");
    let _ = std::fs::write(dir.join("p.yaml"), INPUTS);
    let _ = std::fs::write(dir.join("login/user"), "robot");
    let _ = std::fs::write(dir.join("login/pass"), "s3cr3t");
    let _ = std::fs::write(dir.join("vars.env"), "# vars\nexport C=\"x y\"\nD=4\n");
    let o = run(
        &dir,
        &[
            "-e",
            "A=1",
            "--env",
            "B",
            "--env-file",
            "vars.env",
            "--secret",
            "api/token=env:TKC_TEST_TOKEN",
            "--secret",
            "login=login",
            "p.yaml",
        ],
        &[("B", "from-env"), ("TKC_TEST_TOKEN", "tok123")],
    );
    let s = summary(&o);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        s["results"]["seen"],
        "1|from-env|x y|step-wins|tok123|robot:s3cr3t",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The Secret key the fixture lacks, given with `--secret NAME/KEY=FILE`, lets it run; an
/// `--env NAME` that is not set, and a malformed `--secret`, are refused before anything runs.
#[test]
fn a_secret_flag_completes_a_secret_and_bad_flags_are_refused() {
    let dir = scratch("complete");
    let fixture = common::workspace_root().join("testdata/run/missing-secret-key.yaml");
    let _ = std::fs::write(dir.join("token"), "abc");
    let fixture = fixture.to_string_lossy().into_owned();
    let o = run(&dir, &["--secret", "creds/token=token", &fixture], &[]);
    assert_eq!(
        summary(&o)["status"],
        "Succeeded",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&dir, &["--env", "TKC_SURELY_UNSET_VAR", &fixture], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not set"));
    let o = run(&dir, &["--secret", "creds", &fixture], &[]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A step whose command is missing on this machine (a shell's 127, or a `command` not on
/// PATH) fails with a message that names its image and the container backend.
#[test]
fn a_missing_command_names_the_image_and_the_container_backend() {
    let dir = scratch("missing-command");
    for (tag, how) in [
        ("script", "script: tkc-surely-no-such-tool --version"),
        ("command", "command: [tkc-surely-no-such-tool, --version]"),
    ] {
        let _ = std::fs::write(
            dir.join("p.yaml"),
            format!(
                "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: gone\nspec:\n  taskSpec:\n    steps:\n      - name: build\n        image: golang:1.22\n        {how}\n"
            ),
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.current_dir(&dir)
            .env("NO_COLOR", "1")
            .env("TKC_ENTRYPOINT", common::entrypoint())
            .env("XDG_RUNTIME_DIR", dir.join("xdg"))
            .env("TKC_STATE_DIR", dir.join("state"))
            .stdin(Stdio::null())
            .args(["run", "--host", "p.yaml"]);
        let o = match cmd.output() {
            Ok(o) => o,
            Err(e) => panic!("cannot start tkc: {e}"),
        };
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("written for image golang:1.22") && out.contains("--backend container"),
            "{tag}: {out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
