//! What a new user meets first: the README's own commands on this repository, and output of
//! one command fed to another (`tkc compile --emit tekton` into `tkc check`).

#![allow(clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{corpus, files_below, workspace_root};

/// Runs `tkc` at the workspace root, without colour, with `stdin` as its input.
fn tkc(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
    cmd.current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!("cannot run tkc: {e}"),
    };
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error means tkc stopped reading; its output says why.
        let _ignored = pipe.write_all(bytes);
    }
    match child.wait_with_output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run tkc: {e}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's `tkc check .` at the repository's root: the fixtures meant to fail are
/// excluded by its tkc.toml, and the examples (the YAML and KDL twins included) are clean.
#[test]
fn readme_check_of_the_repository_is_clean() {
    let output = tkc(&["check", "--format", "short", "."], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let summary = text(&output.stderr) + &text(&output.stdout);
    assert!(
        !summary.contains("testdata/"),
        "the fixtures are excluded: {summary}"
    );
}

/// `tkc compile --emit tekton` writes what `tkc check` accepts, for every example of this
/// repository and of Tekton's (when `../shared/corpus` is there).
#[test]
fn emitted_tekton_yaml_checks_clean() {
    let root = workspace_root();
    let mut files = files_below(&root.join("examples"), &["yaml", "kdl"]);
    if let Some(corpus) = corpus() {
        files.extend(files_below(&corpus, &["yaml"]));
    }
    assert!(files.len() >= 4, "expected the examples");
    let mut failures = Vec::new();
    for file in &files {
        let path = file.to_string_lossy();
        let alpha = file.components().any(|c| c.as_os_str() == "alpha");
        // Tekton's alpha examples run with its alpha flags (`test/e2e-tests-kind-alpha.env`).
        let api: &[&str] = if alpha {
            &[
                "--enable-api-fields",
                "alpha",
                "--enable-artifacts",
                "--enable-concise-resolver-syntax",
            ]
        } else {
            &[]
        };
        let emitted = tkc(
            &[&["compile", "--emit", "tekton"], api, &[&path]].concat(),
            None,
        );
        if !emitted.status.success() {
            failures.push(format!("{path}: emit failed\n{}", text(&emitted.stderr)));
            continue;
        }
        let name = Path::new(&*path).with_extension("yaml");
        let name = name.to_string_lossy();
        let checked = tkc(
            &[
                &["check", "--format", "short"],
                api,
                &["--stdin-filename", &name, "-"],
            ]
            .concat(),
            Some(&emitted.stdout),
        );
        if !checked.status.success() {
            failures.push(format!(
                "{path}: the emitted YAML has errors\n{}",
                text(&checked.stdout)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// KDL on stdin without `--stdin-filename x.kdl` is recognised by its first node, not parsed
/// as YAML (where it was one plain scalar: no resource, "no problems").
#[test]
fn kdl_on_stdin_is_recognised() {
    let kdl = b"// from a pipe\ntask \"t\" {\n    step \"s\" image=\"alpine:3.20\" {\n        script 42\n    }\n}\n";
    let output = tkc(&["check", "--format", "short", "-"], Some(kdl));
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("<stdin>:4:16: error[tkc::schema::wrong-type]"),
        "{out}"
    );
    let yaml = b"apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: s\n      image: alpine:3.20\n      script: echo\n";
    let output = tkc(&["check", "--format", "short", "-"], Some(yaml));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

/// `tkc explain` takes a code without its `tkc::` prefix, and suggests the closest code for a
/// typo.
#[test]
fn explain_forgives_prefixes_and_typos() {
    let output = tkc(&["explain", "schema::unknown-field"], None);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).starts_with("tkc::schema::unknown-field  (error)"));
    let output = tkc(&["explain", "unknwon-field"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("did you mean `tkc::schema::unknown-field`?"),
        "{}",
        text(&output.stderr)
    );
}

/// The plain run lines say statuses in words (`failure ignored`, not `failureignored`) and
/// number attempts from 1, as the summary does ("2 attempts").
#[test]
fn run_lines_read_as_sentences() {
    let state = std::env::temp_dir().join(format!("tkc-first-contact-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env("TKC_STATE_DIR", &state)
        .args([
            "run",
            "examples/finally-notifier/pipeline.yaml",
            "--param",
            "break-tests=true",
        ])
        .stdin(Stdio::null())
        .output();
    let _cleanup = std::fs::remove_dir_all(&state);
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run tkc: {e}"),
    };
    let out = text(&output.stdout) + &text(&output.stderr);
    assert!(out.contains("task lint failure ignored ("), "{out}");
    assert!(
        out.contains("task test attempt 1 failed (StepFailed); retrying"),
        "{out}"
    );
    assert!(out.contains("task test started (attempt 2)"), "{out}");
    assert!(out.contains("StepFailed (2 attempts)"), "{out}");
}

/// The comments of a YAML or KDL text, in order, without their markers; lines of block
/// scalars (`|`) and multi-line strings (`"""`) are text, not comments.
fn comment_texts(text: &str, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None; // the indentation a YAML block scalar is deeper than
    let mut in_string = false;
    for l in text.lines() {
        let indent = l.len() - l.trim_start().len();
        if let Some(at) = block {
            if l.trim().is_empty() || indent > at {
                continue;
            }
            block = None;
        }
        if in_string {
            in_string = !l.trim_start().starts_with("\"\"\"");
            continue;
        }
        if l.trim_end().ends_with('|') || l.trim_end().ends_with("|-") {
            block = Some(indent);
        }
        if l.trim_end().ends_with("\"\"\"") {
            in_string = true;
        }
        // Good enough for these fixtures: no marker inside their one-line strings.
        if let Some(at) = l.find(marker) {
            let before = &l[..at];
            if before.trim().is_empty() || before.ends_with(' ') {
                out.push(l[at + marker.len()..].trim().to_string());
            }
        }
    }
    out
}

/// A YAML text without its comments: what must survive a round trip unchanged.
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') || l.trim_start().starts_with("#!"))
        .map(|l| match l.find("  #") {
            Some(at) => l[..at].to_string(),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `tkc convert` keeps comments and the author's field order, YAML → KDL → YAML: the same
/// text without comments, and the same comments in the same order (a KDL node's comments
/// cannot tell a list item from its list, so a comment may move past the list's key).
#[test]
fn convert_keeps_comments_and_field_order() {
    let source = "testdata/convert/commented.yaml";
    let original = std::fs::read_to_string(workspace_root().join(source)).unwrap_or_default();
    let kdl = tkc(&["convert", source], None);
    assert_eq!(kdl.status.code(), Some(0), "{}", text(&kdl.stderr));
    let kdl = text(&kdl.stdout);
    assert_eq!(
        comment_texts(&kdl, "//"),
        comment_texts(&original, "#"),
        "YAML → KDL:\n{kdl}"
    );
    // Steps before params, as written (the model's order is params first).
    let (steps, params) = (kdl.find("step \"compile\""), kdl.find("param \"flags\""));
    assert!(steps < params, "{kdl}");
    let yaml = tkc(
        &["convert", "--stdin-filename", "commented.kdl", "-"],
        Some(kdl.as_bytes()),
    );
    assert_eq!(yaml.status.code(), Some(0), "{}", text(&yaml.stderr));
    let yaml = text(&yaml.stdout);
    assert_eq!(
        comment_texts(&yaml, "#"),
        comment_texts(&original, "#"),
        "KDL → YAML:\n{yaml}"
    );
    assert_eq!(without_comments(&yaml), without_comments(&original));
}

/// KDL → YAML keeps the KDL's comments (the example's header, the note in its PipelineRun).
#[test]
fn convert_keeps_kdl_comments() {
    let source = "examples/build-and-test-kdl/pipeline.kdl";
    let original = std::fs::read_to_string(workspace_root().join(source)).unwrap_or_default();
    let yaml = tkc(&["convert", source], None);
    assert_eq!(yaml.status.code(), Some(0), "{}", text(&yaml.stderr));
    let yaml = text(&yaml.stdout);
    let expected = comment_texts(&original, "//");
    assert!(expected.len() >= 8, "{expected:?}");
    assert_eq!(comment_texts(&yaml, "#"), expected, "{yaml}");
}
