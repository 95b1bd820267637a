//! The `tkc` binary end to end: output formats, exit codes, configuration, search paths and
//! `tkc explain`.

#![allow(clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tkc_compiler::diag::codes;

fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Runs `tkc` in `dir` (relative to the workspace root).
fn tkc_in(dir: &str, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(root().join(dir))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(args)
        .output();
    match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run tkc: {e}"),
    }
}

fn tkc(args: &[&str]) -> Output {
    tkc_in(".", args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Two fixtures with errors, warnings and advice between them.
const MIXED: [&str; 2] = [
    "testdata/check/steps/ref-conflict.yaml",
    "testdata/check/lint/latest-image.yaml",
];

#[test]
fn sarif_has_the_essentials() {
    let output = tkc(&[&["check", "--format", "sarif"][..], &MIXED].concat());
    assert_eq!(output.status.code(), Some(1));
    let log: serde_json::Value = match serde_json::from_slice(&output.stdout) {
        Ok(v) => v,
        Err(e) => panic!("SARIF is not JSON: {e}"),
    };
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().is_some_and(|s| s.contains("sarif")));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "tkc");
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    let all: Vec<&str> = codes::all().iter().map(|c| c.name).collect();
    assert_eq!(ids, all, "rules are the code registry, in order");
    for rule in &rules {
        assert!(
            rule["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(
            rule["fullDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.starts_with('#'))
        );
        assert!(
            ["error", "warning", "note"].contains(
                &rule["defaultConfiguration"]["level"]
                    .as_str()
                    .unwrap_or_default()
            )
        );
    }
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert!(!results.is_empty());
    for result in &results {
        let id = result["ruleId"].as_str().unwrap_or_default();
        let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        assert_eq!(ids.get(index), Some(&id), "ruleIndex points at the rule");
        assert!(
            ["error", "warning", "note"].contains(&result["level"].as_str().unwrap_or_default())
        );
        assert!(
            result["message"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_default();
        assert!(MIXED.contains(&uri), "{uri}");
        let region = &location["region"];
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(
                region[key].as_u64().is_some_and(|n| n >= 1),
                "{key} in {region}"
            );
        }
    }
    let levels: Vec<&str> = results.iter().filter_map(|r| r["level"].as_str()).collect();
    assert!(levels.contains(&"error") && levels.contains(&"warning"));
}

#[test]
fn sarif_uris_are_uris() {
    let dir = std::env::temp_dir().join("tkc cli test");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("my task.yaml");
    let written = std::fs::write(
        &file,
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - image: alpine\n      command: [echo]\n",
    );
    assert!(written.is_ok());
    let output = tkc(&["check", "--format", "sarif", &file.to_string_lossy()]);
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(uri.starts_with("file:///"), "{uri}");
    assert!(uri.ends_with("/tkc%20cli%20test/my%20task.yaml"), "{uri}");
}

#[test]
fn github_and_short_formats() {
    let github = tkc(&[&["check", "--format", "github"][..], &MIXED].concat());
    assert_eq!(github.status.code(), Some(1));
    insta::assert_snapshot!("github", stdout(&github));
    let short = tkc(&[&["check", "--format", "short"][..], &MIXED].concat());
    assert_eq!(short.status.code(), Some(1));
    insta::assert_snapshot!("short", stdout(&short));
    for line in stdout(&github).lines() {
        assert!(
            line.starts_with("::error file=")
                || line.starts_with("::warning file=")
                || line.starts_with("::notice file="),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
}

#[test]
fn warnings_fail_only_with_deny_warnings_and_advice_never() {
    let warning = "testdata/check/lint/latest-image.yaml";
    assert_eq!(tkc(&["check", warning]).status.code(), Some(0));
    assert_eq!(
        tkc(&["check", "--deny-warnings", warning]).status.code(),
        Some(1)
    );
    // tkc.toml there lowers script-injection to advice, which never fails the check.
    let output = tkc_in(
        "testdata/config/repo",
        &["check", "--deny-warnings", "tasks/build.yaml"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("0 errors, 0 warnings, 1 advice"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn non_tekton_yaml_is_ignored() {
    let output = tkc(&[
        "check",
        "--deny-warnings",
        "testdata/check/non-tekton/pre-commit-config.yaml",
        "testdata/check/non-tekton/helm-values.yaml",
        "testdata/check/non-tekton/docker-compose.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "checked 3 files: no problems\n");
}

#[test]
fn config_is_found_above_the_checked_files() {
    // From the workspace root: tkc.toml is found above .tekton/ci.yaml; its search path
    // resolves `build`, whose own findings (a library file) are not reported; latest-image
    // is off.
    let output = tkc(&[
        "check",
        "--format",
        "short",
        "testdata/config/repo/.tekton/ci.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "testdata/config/repo/.tekton/ci.yaml:15:15: warning[tkc::resolve::not-found] Task `golangci-lint` was not found\n"
    );
}

#[test]
fn config_levels_and_excludes_apply_to_a_walk() {
    let output = tkc_in("testdata/config/repo", &["check", "--format", "short", "."]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The Helm template under charts/ is excluded (it is not YAML); the library file is
    // checked once, as a checked file; script-injection is lowered to advice.
    assert_eq!(
        stdout(&output),
        "./.tekton/ci.yaml:15:15: warning[tkc::resolve::not-found] Task `golangci-lint` was not found\n\
         ./tasks/build.yaml:12:18: advice[tkc::lint::script-injection] 2 values are pasted into the script as shell code\n"
    );
    let denied = tkc_in("testdata/config/repo", &["check", "--deny-warnings", "."]);
    assert_eq!(denied.status.code(), Some(1));
}

#[test]
fn search_path_from_the_command_line() {
    let args = ["check", "--format", "short", "--config", "empty.toml"];
    let without = tkc_in(
        "testdata/config",
        &[&args[..], &["repo/.tekton/ci.yaml"]].concat(),
    );
    assert!(
        stdout(&without).contains("Task `build` was not found"),
        "{}",
        stdout(&without)
    );
    let with = tkc_in(
        "testdata/config",
        &[
            &args[..],
            &["--search-path", "repo/tasks", "repo/.tekton/ci.yaml"],
        ]
        .concat(),
    );
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert!(
        !stdout(&with).contains("`build` was not found"),
        "{}",
        stdout(&with)
    );
    // Library findings (the untagged image, the script) are not reported.
    assert!(
        !stdout(&with).contains("tasks/build.yaml"),
        "{}",
        stdout(&with)
    );
    let missing = tkc(&[
        "check",
        "--config",
        "testdata/config/none.toml",
        "testdata/config/repo/tasks",
    ]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "a missing --config file is a usage error"
    );
}

#[test]
fn a_bad_config_stops_with_exit_code_2() {
    let output = tkc(&["check", "testdata/config/bad/task.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    insta::assert_snapshot!("bad-config", stderr(&output));
}

#[test]
fn every_code_is_explained() {
    for code in codes::all() {
        let output = tkc(&["explain", code.name]);
        assert_eq!(output.status.code(), Some(0), "{}", code.name);
        let text = stdout(&output);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("{}  ({})", code.name, code.severity.as_str()).as_str())
        );
        let title = lines.find(|l| !l.trim().is_empty()).unwrap_or_default();
        assert!(
            title.starts_with("# ") && title.len() > 4,
            "{} has no `# Title` line: {title:?}",
            code.name
        );
        assert!(
            text.lines().filter(|l| !l.trim().is_empty()).count() >= 3,
            "{} has no explanation beyond its title",
            code.name
        );
    }
}

#[test]
fn explain_by_short_name_and_list() {
    let full = stdout(&tkc(&["explain", "tkc::lint::latest-image"]));
    let short = tkc(&["explain", "latest-image"]);
    assert_eq!(short.status.code(), Some(0));
    assert_eq!(stdout(&short), full);
    let unknown = tkc(&["explain", "no-such-code"]);
    assert_eq!(unknown.status.code(), Some(2));
    let list = stdout(&tkc(&["explain", "--list"]));
    for code in codes::all() {
        assert!(
            list.contains(code.name),
            "{} missing from --list",
            code.name
        );
    }
}

/// A file named several ways (as given, through `./`, inside a directory given too, through a
/// symlink) is read and reported once: files are told apart by what they are, not by name.
#[test]
fn a_file_named_several_ways_is_read_once() {
    let dir = common::TempDir::new("cli", "named-twice");
    let task = std::fs::read(root().join("testdata/check/lint/latest-image.yaml"));
    let written = std::fs::create_dir_all(dir.join("tasks"))
        .and_then(|()| std::fs::write(dir.join("tasks/task.yaml"), task?))
        .and_then(|()| std::os::unix::fs::symlink("tasks/task.yaml", dir.join("link.yaml")));
    assert!(written.is_ok(), "{written:?}");
    // Every line of the short format is one finding, whichever name it is reported under.
    let findings = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
            .current_dir(&*dir)
            .args(["check", "--format", "short"])
            .args(args)
            .output();
        assert!(output.is_ok(), "{output:?}");
        output.map_or_else(|_| String::new(), |o| stdout(&o))
    };
    let once = findings(&["tasks/task.yaml"]);
    let all = findings(&["tasks/task.yaml", "./tasks/task.yaml", "tasks", "link.yaml"]);
    assert!(once.lines().count() >= 3, "{once}");
    assert_eq!(all.lines().count(), once.lines().count(), "{all}");
}
