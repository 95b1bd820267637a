//! `testdata/graph/**` and `testdata/describe/**`: each fixture is drawn (`tkc graph`, in
//! both languages) or described (`tkc describe`) by the real binary; the output, the
//! diagnostics and the exit code are an insta snapshot beside it (`<fixture>.snap`).
//!
//! A fixture's first line may give extra arguments: `# tkc-args: --pipeline x`.
//! Accept changes with `INSTA_UPDATE=always cargo test -p tkc --test graph_describe` and read
//! the diff.

#![allow(clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

mod common;
use common::{fixture_report as report, skip, snapshot_fixtures, tkc_on_fixture, workspace_root};

#[test]
fn graph_fixtures() {
    snapshot_fixtures("testdata/graph", |root, relative| {
        let dot = report(root, relative, "graph", &[]);
        let mermaid = report(root, relative, "graph", &["--format", "mermaid"]);
        // The exit code and diagnostics (all but the command line and the drawing) are
        // the same for both, and the mermaid half shows its drawing only; where they are not,
        // the mermaid report is shown whole, so the snapshot says so.
        let head = |report: &str| {
            let report = report.split_once('\n').map_or("", |(_, rest)| rest);
            report
                .split_once("\n--- stdout ---\n")
                .map_or(report, |(head, _)| head)
                .to_string()
        };
        let mermaid = if head(&mermaid) == head(&dot) {
            mermaid
                .split_once("\n--- stdout ---\n")
                .map_or(String::new(), |(_, out)| out.to_string())
        } else {
            mermaid
        };
        format!("{dot}\n=== --format mermaid ===\n{mermaid}")
    });
}

#[test]
fn describe_fixtures() {
    snapshot_fixtures("testdata/describe", |root, relative| {
        report(root, relative, "describe", &[])
    });
}

/// Graphviz reads every drawing of the fixtures without a warning (where `dot` is
/// installed; `.ci/run` installs it).
#[test]
fn graphviz_reads_every_drawing() {
    let root = workspace_root();
    if Command::new("dot").arg("-V").output().is_err() {
        skip("Graphviz's `dot` is not installed");
        return;
    }
    let Ok(entries) = std::fs::read_dir(root.join("testdata/graph")) else {
        panic!("no testdata/graph");
    };
    let mut drawn = 0;
    let mut fixtures: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "kdl"))
        .collect();
    fixtures.sort();
    for path in fixtures {
        let relative = path.strip_prefix(&root).unwrap_or(&path);
        let tkc = Command::new(env!("CARGO_BIN_EXE_tkc"));
        let (line, output) = tkc_on_fixture(tkc, &root, relative, "graph", &[]);
        let Ok(output) = output else {
            panic!("cannot run {line}");
        };
        if !output.status.success() {
            continue;
        }
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dot: {e}"));
        if let Some(mut stdin) = dot.stdin.take() {
            stdin
                .write_all(&output.stdout)
                .unwrap_or_else(|e| panic!("cannot write to dot: {e}"));
        }
        let checked = dot
            .wait_with_output()
            .unwrap_or_else(|e| panic!("dot: {e}"));
        assert!(
            checked.status.success() && checked.stderr.is_empty(),
            "{line} | dot -Tsvg:\n{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        drawn += 1;
    }
    assert!(drawn > 0, "no fixture was drawn");
}
