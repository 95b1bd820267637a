//! `tkc check` cannot be taken down by the files it is pointed at (issue 17, item 5):
//! symlink loops, links out of the checked tree, FIFOs, devices and huge files. The input
//! tests of the compiler are in `compiler/tests/hostile_input.rs`.

#![allow(clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TASK: &str = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  \
                    steps:\n    - name: s\n      image: alpine:3.20\n      script: \"true\"\n";

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tkc-hostile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        Scratch(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        path
    }

    fn symlink(&self, target: impl AsRef<Path>, relative: &str) {
        if let Err(e) = std::os::unix::fs::symlink(target.as_ref(), self.0.join(relative)) {
            panic!("cannot link {relative}: {e}");
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tkc check --format json ARGS` in `dir`, killing it after 30 s (a hang is a failure).
fn check_in(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!("cannot run tkc: {e}"),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > Duration::from_secs(30) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tkc check {args:?} did not finish in 30 s");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("cannot wait for tkc: {e}"),
        }
    }
    match child.wait_with_output() {
        Ok(output) => output,
        Err(e) => panic!("cannot read tkc's output: {e}"),
    }
}

fn report(output: &Output) -> serde_json::Value {
    match serde_json::from_slice(&output.stdout) {
        Ok(value) => value,
        Err(e) => panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 17: two symlinks to `.` made the walk branch twice per level until the kernel's
/// limit on symlinks in a path (2^40 directories: 24 GB and counting). Symlinked directories
/// are not followed now, and links out of the tree are not read.
#[test]
fn symlink_loops_and_links_out_of_the_tree_are_not_followed() {
    let outside = Scratch::new("outside");
    let secret = outside.write("secret.yaml", "token: hunter2-do-not-print\n: [\n");
    let dir = Scratch::new("loops");
    dir.write("tasks/task.yaml", TASK);
    dir.symlink(".", "l1");
    dir.symlink(".", "l2");
    dir.symlink("..", "tasks/up");
    dir.symlink(&outside.0, "elsewhere");
    dir.symlink(&secret, "leak.yaml");
    dir.symlink("tasks/task.yaml", "same.yaml");
    let output = check_in(&dir.0, &["."]);
    let report = report(&output);
    assert_eq!(report["files_checked"], 1, "{report}");
    assert!(codes(&report).is_empty(), "{report}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("hunter2"));
}

/// A FIFO found in a walk would block the walk forever; it is skipped.
#[test]
fn fifos_in_a_walk_are_skipped() {
    let dir = Scratch::new("fifo");
    dir.write("task.yaml", TASK);
    let made = Command::new("mkfifo")
        .arg(dir.0.join("pipe.yaml"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        common::skip("mkfifo is not available");
        return;
    }
    let report = report(&check_in(&dir.0, &["."]));
    assert_eq!(report["files_checked"], 1, "{report}");
}

/// A file over 16 MiB is not read, in a walk or by name; a device given by name is read no
/// further than the limit.
#[test]
fn huge_files_and_devices_are_capped() {
    let dir = Scratch::new("huge");
    dir.write("task.yaml", TASK);
    let big = dir.write("big.yaml", "");
    let sized = std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .and_then(|f| f.set_len(17 << 20));
    if let Err(e) = sized {
        panic!("cannot grow {}: {e}", big.display());
    }
    let output = check_in(&dir.0, &["."]);
    assert_eq!(output.status.code(), Some(1));
    let walked = report(&output);
    assert_eq!(codes(&walked), ["tkc::syntax::limit"], "{walked}");
    assert_eq!(walked["files_checked"], 2, "{walked}");

    let output = check_in(&dir.0, &["/dev/zero"]);
    assert_eq!(codes(&report(&output)), ["tkc::syntax::limit"]);
}
