//! The hooks of `.pre-commit-hooks.yaml` run by the real `pre-commit` (PyPI; `.ci/run`
//! installs it), offline: a temporary git repository holds this repository's hooks file (a
//! `file://` hook repository, as a user's config names tkc's), and a user's repository with a
//! Pipeline and the Task it runs uses them, with the tkc under test on PATH.
//!
//! What it shows: a staged Task change that breaks a Pipeline which was not staged passes
//! `tkc-check` (only the staged files are given) and fails `tkc-check-all` (the whole
//! repository, as tkc.toml says: its `exclude` keeps a broken directory out).

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{TempDir, skip, workspace_root};

/// `pre-commit` on PATH, or where `pip install --user` puts it.
fn pre_commit() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("pre-commit"))
        .find(|p| p.is_file());
    let user = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/bin/pre-commit"))
        .filter(|p| p.is_file());
    let found = on_path.or(user)?;
    let works = Command::new(&found)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(found)
}

/// `git` in `dir`, with an identity and without the user's or system's configuration.
fn git(dir: &Path, args: &[&str], home: &Path) -> Output {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("GIT_AUTHOR_NAME", "tkc test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "tkc test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

const TASK: &str = "\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build
spec:
  params:
    - name: revision
  steps:
    - image: alpine:3.20
      env:
        - name: REVISION
          value: $(params.revision)
      script: echo \"$REVISION\"
";

const PIPELINE: &str = "\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ci
spec:
  tasks:
    - name: build
      taskRef:
        name: build
      params:
        - name: revision
          value: main
";

/// `pre-commit run <hook>` on the staged files of `repo`.
fn run_hook(pre_commit: &Path, repo: &Path, home: &Path, hook: &str) -> Output {
    let tkc_dir = Path::new(env!("CARGO_BIN_EXE_tkc"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = std::iter::once(tkc_dir)
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        )
        .collect::<Vec<_>>();
    Command::new(pre_commit)
        .args(["run", hook, "--color", "never"])
        .current_dir(repo)
        .env("PATH", std::env::join_paths(path).unwrap_or_default())
        .env("PRE_COMMIT_HOME", home.join("pre-commit"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .unwrap_or_else(|e| panic!("cannot run pre-commit: {e}"))
}

#[test]
fn whole_repository_hook_catches_an_unstaged_pipeline() {
    let Some(pre_commit) = pre_commit() else {
        skip("pre-commit is not installed (pip install pre-commit)");
        return;
    };
    let scratch = TempDir::new("pre-commit", "hooks");
    let home = scratch.join("home");
    write(&home.join("gitconfig"), "");

    // The hook repository: this repository's hooks file, committed.
    let hooks = scratch.join("hooks");
    let hooks_file = std::fs::read_to_string(workspace_root().join(".pre-commit-hooks.yaml"))
        .unwrap_or_else(|e| panic!(".pre-commit-hooks.yaml: {e}"));
    write(&hooks.join(".pre-commit-hooks.yaml"), &hooks_file);
    git(&hooks, &["init", "-q", "-b", "main"], &home);
    git(&hooks, &["add", "."], &home);
    git(&hooks, &["commit", "-q", "-m", "hooks"], &home);
    let rev = git(&hooks, &["rev-parse", "HEAD"], &home);
    let rev = String::from_utf8_lossy(&rev.stdout).trim().to_string();

    // The user's repository: a Pipeline and its Task, and a broken directory tkc.toml
    // excludes.
    let repo = scratch.join("repo");
    write(
        &repo.join(".pre-commit-config.yaml"),
        &format!(
            "repos:\n  - repo: file://{}\n    rev: {rev}\n    hooks:\n      - id: tkc-check\n      - id: tkc-check-all\n",
            hooks.display()
        ),
    );
    write(&repo.join("tkc.toml"), "exclude = [\"charts/\"]\n");
    write(&repo.join("tasks/build.yaml"), TASK);
    write(&repo.join("pipelines/ci.yaml"), PIPELINE);
    write(
        &repo.join("charts/broken.yaml"),
        "kind: Task\napiVersion: tekton.dev/v1\nspec: [\n",
    );
    git(&repo, &["init", "-q", "-b", "main"], &home);
    git(&repo, &["add", "."], &home);
    git(&repo, &["commit", "-q", "-m", "start"], &home);

    // A harmless staged change: both hooks pass (the excluded directory is not checked).
    write(
        &repo.join("tasks/build.yaml"),
        &format!("# the build\n{TASK}"),
    );
    git(&repo, &["add", "tasks/build.yaml"], &home);
    for hook in ["tkc-check", "tkc-check-all"] {
        let out = run_hook(&pre_commit, &repo, &home, hook);
        assert!(
            out.status.success(),
            "{hook} on a harmless change:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The Task's param renamed, staged alone: the Pipeline (not staged) now passes a param
    // the Task does not have and misses the one it requires.
    write(
        &repo.join("tasks/build.yaml"),
        &TASK
            .replace("revision", "commit")
            .replace("REVISION", "COMMIT"),
    );
    git(&repo, &["add", "tasks/build.yaml"], &home);
    let staged_only = run_hook(&pre_commit, &repo, &home, "tkc-check");
    assert!(
        staged_only.status.success(),
        "tkc-check sees the staged Task alone, which is fine:\n{}",
        String::from_utf8_lossy(&staged_only.stdout)
    );
    let whole = run_hook(&pre_commit, &repo, &home, "tkc-check-all");
    let report = String::from_utf8_lossy(&whole.stdout);
    assert!(
        !whole.status.success(),
        "tkc-check-all passed a broken Pipeline:\n{report}"
    );
    assert!(
        report.contains("pipelines/ci.yaml") && report.contains("commit"),
        "tkc-check-all does not point at the Pipeline:\n{report}"
    );
    assert!(
        !report.contains("charts/broken.yaml"),
        "tkc-check-all checked a directory tkc.toml excludes:\n{report}"
    );
}
