//! `tkc completions SHELL`, `tkc man` and the exit codes in `tkc --help`: all generated from the
//! clap definitions, so these tests check that they cover every subcommand and option.

#![allow(clippy::panic)]

use std::process::{Command, Output};

fn tkc(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_tkc"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("cannot run tkc: {e}"),
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The visible subcommands, as `tkc --help` lists them.
const SUBCOMMANDS: &[&str] = &[
    "check",
    "explain",
    "run",
    "runs",
    "logs",
    "compile",
    "graph",
    "describe",
    "convert",
    "schema",
    "lsp",
    "bundle",
    "completions",
    "man",
];

/// Subcommands of subcommands, each with a page of its own (`man tkc-bundle-push`).
const NESTED: &[&str] = &["bundle-push", "bundle-list"];

#[test]
fn help_lists_the_exit_codes() {
    let output = tkc(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    let codes = help
        .split_once("Exit codes:\n")
        .map(|(_, codes)| codes)
        .unwrap_or_else(|| panic!("no exit codes in --help:\n{help}"));
    for code in ["0", "1", "2", "130"] {
        assert!(
            codes
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} "))),
            "exit code {code} missing:\n{codes}"
        );
    }
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "elvish", "fish", "powershell", "zsh"] {
        let output = tkc(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = stdout(&output);
        for word in SUBCOMMANDS
            .iter()
            .chain(&["deny-warnings", "stdin-filename"])
        {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let output = tkc(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
}

/// The bash script parses (`bash -n`), and completes `tkc ch<TAB>` to `check`.
#[test]
fn bash_completion_runs() {
    let script = stdout(&tkc(&["completions", "bash"]));
    let dir = std::env::temp_dir().join(format!("tkc-manual-test-{}", std::process::id()));
    assert!(std::fs::create_dir_all(&dir).is_ok());
    let file = dir.join("tkc.bash");
    assert!(std::fs::write(&file, script).is_ok());
    let probe = format!(
        "source '{}'; COMP_WORDS=(tkc ch); COMP_CWORD=1; _tkc tkc ch tkc; echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let output = Command::new("bash").args(["--norc", "-c", &probe]).output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run bash: {e}"),
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout(&output).trim(), "check");
}

#[test]
fn man_page_has_every_subcommand_and_the_exit_status() {
    let output = tkc(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = stdout(&output);
    assert!(page.contains(".TH tkc 1"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(&format!("tkc\\-{sub}(1)")), "{sub} missing");
    }
    assert!(!page.contains("tkc\\-help(1)"));
    assert!(!page.contains(".SH EXTRA"));
    let status = page
        .split_once(".SH \"EXIT STATUS\"\n")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no EXIT STATUS:\n{page}"));
    for code in ["0", "1", "2", "130"] {
        assert!(status.contains(&format!(".TP\n{code}\n")), "{code} missing");
    }
    // Deterministic: no date, same bytes twice.
    assert_eq!(stdout(&tkc(&["man"])), page);
}

#[test]
fn man_out_dir_writes_a_page_per_subcommand() {
    let dir = std::env::temp_dir().join(format!("tkc-man-test-{}", std::process::id()));
    let output = tkc(&["man", "--out-dir", &dir.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let check = std::fs::read_to_string(dir.join("tkc-check.1")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let mut expected: Vec<String> = SUBCOMMANDS
        .iter()
        .chain(NESTED)
        .map(|s| format!("tkc-{s}.1"))
        .collect();
    expected.push("tkc.1".to_owned());
    expected.sort();
    assert_eq!(names, expected);
    assert!(check.contains(".TH tkc-check 1"), "{check}");
    assert!(check.contains("\\-\\-deny\\-warnings"), "{check}");
}
