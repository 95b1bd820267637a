//! The live view in a real terminal (issue 13 item 5): `tkc run` under tmux in a 20-row
//! window, with more tasks than rows. While it runs, the task panel fits the screen and folds
//! what does not fit (`… and N more`); afterwards the scrollback holds each task's line
//! exactly once and nothing of the panel (it never scrolled into the scrollback). The panel
//! tells apart tasks waiting for dependencies and for a free slot.
//! Needs `tmux` (`.ci/run` installs it; under `CI=true` its absence fails the test).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

const TASKS: usize = 30;

struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f"])
            .arg(self.dir.join("tmux.conf"));
        c
    }

    /// The pane's text: its scrollback too with `all`.
    fn capture(&self, all: bool) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-t", "view"]);
        if all {
            c.args(["-S", "-", "-E", "-"]);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_panel_fits_a_20_row_terminal_and_each_task_line_is_left_once() {
    if Command::new("tmux").arg("-V").output().is_err() {
        common::skip("tmux is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tkc-live-view-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tmux = Tmux {
        socket: format!("tkc-live-view-{}", std::process::id()),
        dir: dir.clone(),
    };
    std::fs::write(dir.join("tmux.conf"), "set -g history-limit 50000\n").unwrap();
    let mut pipeline = String::from(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: wide\nspec:\n  tasks:\n",
    );
    // First in the panel's order among the waiting: it waits for task-00.
    pipeline.push_str("    - name: after-00\n      runAfter: [task-00]\n      taskSpec:\n        steps:\n          - name: s\n            image: alpine\n            script: echo after\n");
    for i in 0..TASKS {
        pipeline.push_str(&format!(
            "    - name: task-{i:02}\n      taskSpec:\n        steps:\n          - name: s\n            image: alpine\n            script: sleep 0.3; echo done {i}\n"
        ));
    }
    std::fs::write(dir.join("wide.yaml"), pipeline).unwrap();
    let script = format!(
        "env NO_COLOR=1 TKC_ENTRYPOINT='{}' TKC_STATE_DIR='{}' '{}' run --parallel 6 '{}'; echo END-OF-RUN; sleep 60",
        common::entrypoint().display(),
        dir.join("state").display(),
        env!("CARGO_BIN_EXE_tkc"),
        dir.join("wide.yaml").display()
    );
    let started = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "view",
            "-x",
            "100",
            "-y",
            "20",
            &script,
        ])
        .status()
        .unwrap();
    assert!(started.success());

    // While it runs: the screen's panel is folded.
    let start = Instant::now();
    let mut folded = false;
    let (mut for_deps, mut for_slot) = (false, false);
    loop {
        let screen = tmux.capture(false);
        folded |= screen.lines().any(|l| l.trim_start().starts_with("… and "));
        for_deps |= screen.contains("after-00                 waiting for dependencies");
        for_slot |= screen.contains("waiting for a free slot");
        if screen.contains("END-OF-RUN") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run did not end:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(folded, "the panel was never folded");
    assert!(
        for_deps,
        "a task waiting for its dependencies was never shown so"
    );
    assert!(
        for_slot,
        "a task waiting for a free slot was never shown so"
    );

    let all = tmux.capture(true);
    for i in 0..TASKS {
        let name = format!("task-{i:02}");
        let lines: Vec<&str> = all
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(name.as_str()))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {lines:?} in:\n{all}");
        assert!(lines[0].trim_start().starts_with("✓"), "{lines:?}");
        assert!(
            all.lines().any(|l| l == format!("[{name}/s] done {i}")),
            "{name}'s log line is missing:\n{all}"
        );
    }
    for panel in ["⏳", "waiting", "… and "] {
        assert!(!all.contains(panel), "{panel:?} left behind:\n{all}");
    }
    assert!(all.contains("PipelineRun wide-run"), "{all}");
    assert!(all.lines().all(|l| l.chars().count() <= 100), "{all}");
}
