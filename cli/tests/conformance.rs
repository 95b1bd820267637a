//! Tekton accepts every example in its own `examples/v1` folder, so `tkc check` must too.
//! The examples are read from `../shared/corpus/tekton-examples` beside the project root; the
//! test says so and passes when that folder is absent (`../shared/conformance/check-examples.sh`
//! runs the same check against a release build).

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/tekton-examples");
    root.is_dir().then_some(root)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_tekton_example_checks_clean() {
    let Some(root) = corpus() else {
        eprintln!("skipped: ../shared/corpus/tekton-examples is not beside the project");
        return;
    };
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    assert!(
        files.len() >= 150,
        "expected the Tekton examples, found {}",
        files.len()
    );
    let mut rejected = Vec::new();
    for file in &files {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.arg("check")
            .arg("--format")
            .arg("short")
            .env("NO_COLOR", "1");
        if file.components().any(|c| c.as_os_str() == "alpha") {
            cmd.args(["--enable-api-fields", "alpha"]);
        }
        let out = match cmd.arg(file).output() {
            Ok(out) => out,
            Err(e) => {
                rejected.push(format!("{}: cannot run tkc: {e}", file.display()));
                continue;
            }
        };
        if !out.status.success() {
            rejected.push(format!(
                "{}\n{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(
        rejected.is_empty(),
        "{} of {} examples rejected:\n{}",
        rejected.len(),
        files.len(),
        rejected.join("\n")
    );
}
