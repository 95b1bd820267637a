//! `testdata/compile/**`: every `.yaml`, `.yml` and `.kdl` file is compiled by the real `tkc`
//! binary, and its output (the plan JSON, or the canonical YAML with `--emit tekton`), its
//! diagnostics (human format, no colour, 100 columns) and exit code are an insta snapshot
//! beside it (`<fixture>.snap`).
//!
//! A fixture's first line may give extra arguments: `# tkc-args: --param x=1` (YAML) or
//! `// tkc-args: ...` (KDL); they are split at white space.
//!
//! Review changes with `cargo insta review`, or accept them all with
//! `INSTA_UPDATE=always cargo test -p tkc --test compile_fixtures` and read the diff.

#![allow(clippy::panic)]

mod common;
use common::{fixture_report, snapshot_fixtures, workspace_root};

const FIXTURES: &str = "testdata/compile";

#[test]
fn compile_fixtures() {
    snapshot_fixtures(FIXTURES, |root, relative| {
        fixture_report(root, relative, "compile", &[])
    });
}

/// Every plan among the snapshots is valid JSON that matches `schemas/plan.schema.json`
/// (checked in the compiler's tests); here: the plan of every successful fixture reads back
/// as a `Plan` and prints to the same bytes.
#[test]
fn fixture_plans_read_back() {
    let root = workspace_root();
    let mut dirs = vec![root.join(FIXTURES)];
    let mut checked = 0;
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "snap") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let Some(json) = text.split("\n--- stdout ---\n").nth(1) else {
                continue;
            };
            if !json.starts_with('{') {
                continue;
            }
            let plan: Result<tkc_compiler::plan::Plan, _> = serde_json::from_str(json);
            match plan {
                Ok(plan) => assert_eq!(plan.to_json(), json, "{}", path.display()),
                Err(e) => panic!("{}: {e}", path.display()),
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} plans among the snapshots");
}
