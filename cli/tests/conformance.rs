//! Tekton accepts every example in its own `examples/v1` folder, so `tkc check` must too.
//! The examples are read from `../shared/corpus/tekton-examples` beside the project root; the
//! test says so and passes when that folder is absent (`../shared/conformance/check-examples.sh`
//! runs the same check against a release build).

use std::process::Command;

mod common;
use common::{corpus, files_below};

#[test]
fn every_tekton_example_checks_clean() {
    let Some(root) = corpus() else {
        return;
    };
    let files = files_below(&root, &["yaml"]);
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
            // As Tekton's own alpha test run (test/e2e-tests-kind-alpha.env) sets them.
            cmd.args([
                "--enable-api-fields",
                "alpha",
                "--enable-artifacts",
                "--enable-concise-resolver-syntax",
            ]);
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
