//! `testdata/check/**`: every `.yaml`, `.yml` and `.kdl` file is checked by the real `tkc`
//! binary, and its report (human format, no colour, 100 columns) and exit code are an insta
//! snapshot beside it (`<fixture>.snap`).
//!
//! A fixture's first line may give extra arguments: `# tkc-args: --enable-api-fields alpha`
//! (YAML) or `// tkc-args: ...` (KDL).
//!
//! A stale or missing snapshot fails the test (insta writes `<fixture>.snap.new` beside it
//! outside CI). Review with `cargo insta review`, or accept every change with
//! `INSTA_UPDATE=always cargo test -p tkc --test check_fixtures` and read the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{
    exit_code, files_below, header_args, skip, snapshot_fixtures_where, tkc_on_fixture,
    workspace_root,
};

/// The fixture folder, relative to the workspace root (the path the reports show).
const FIXTURES: &str = "testdata/check";

/// The fixtures of shellcheck's findings. They are checked with shellcheck, and skipped where
/// it is not installed; every other fixture is checked without it, so that its snapshot is
/// the same on every machine.
const SHELLCHECK_FIXTURES: &str = "testdata/check/shellcheck";

/// `shellcheck` on `PATH`.
fn shellcheck() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("shellcheck"))
        .find(|p| p.is_file())
}

/// Runs `tkc check` on one fixture; the snapshot text: command, exit code, stdout (and
/// stderr if any).
fn check_report(root: &Path, relative: &Path) -> String {
    let mut tkc = Command::new(env!("CARGO_BIN_EXE_tkc"));
    if relative.starts_with(SHELLCHECK_FIXTURES) {
        // `not-run.yaml` meets a shellcheck that crashes.
        let program = if relative.ends_with("not-run.yaml") {
            root.join(SHELLCHECK_FIXTURES).join("fake/shellcheck")
        } else {
            shellcheck().unwrap_or_default()
        };
        tkc.env("TKC_SHELLCHECK", program).env(
            "TKC_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("shellcheck-fixtures"),
        );
    } else {
        tkc.env("TKC_SHELLCHECK", "off");
    }
    let (line, output) = tkc_on_fixture(tkc, root, relative, "check", &[]);
    let output = match output {
        Ok(output) => output,
        Err(e) => return format!("cannot run tkc: {e}"),
    };
    let mut report = format!(
        "$ {line}\nexit code: {}\n\n{}",
        exit_code(output.status),
        String::from_utf8_lossy(&output.stdout)
    );
    if !output.stderr.is_empty() {
        report.push_str("\n--- stderr ---\n");
        report.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    report
}

#[test]
fn check_fixtures() {
    let with_shellcheck = shellcheck().is_some();
    if !with_shellcheck {
        skip(&format!(
            "shellcheck is not installed: the fixtures in {SHELLCHECK_FIXTURES}/ are not checked"
        ));
    }
    snapshot_fixtures_where(
        FIXTURES,
        |fixture| with_shellcheck || !fixture.starts_with(SHELLCHECK_FIXTURES),
        check_report,
    );
}

/// Every diagnostic code has a fixture whose snapshot shows it (ruff's rule: one rule, one
/// fixture, one snapshot).
#[test]
fn every_code_has_a_fixture() {
    let root = workspace_root();
    // Codes of lowering show in the snapshots of `tkc compile` (testdata/compile).
    let snapshots: String = [root.join(FIXTURES), root.join("testdata/compile")]
        .iter()
        .flat_map(|dir| files_below(dir, &["snap"]))
        .map(|path| std::fs::read_to_string(path).unwrap_or_default())
        .collect();
    let missing: BTreeSet<&str> = tkc_compiler::diag::codes::all()
        .into_iter()
        .map(|code| code.name)
        .filter(|name| !snapshots.contains(&format!("{name}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} code(s) have no fixture under {FIXTURES}/ whose snapshot shows them:\n  {}\n\
         add a fixture per code (testdata/check/<family>/<rule>.yaml) and run \
         `INSTA_UPDATE=always cargo test -p tkc --test check_fixtures`",
        missing.len(),
        missing.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

/// Every diagnostic code has a row in the reference, `docs/checks.md`.
#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/checks.md")).unwrap_or_default();
    let missing: Vec<&str> = tkc_compiler::diag::codes::all()
        .into_iter()
        .map(|code| code.name)
        .filter(|name| !doc.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} code(s) have no row in docs/checks.md:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

/// The coverage table at the end of `docs/checks.md` ("Coverage of Tekton's validation") maps
/// every validation function of Tekton to tkc codes: each code it names is a registered code
/// (a renamed or removed code fails here), and each registered code appears in it (a new
/// code is placed against the Tekton function it follows, or among the codes with none).
#[test]
fn coverage_table_codes_are_registered() {
    const SECTION: &str = "## Coverage of Tekton's validation";
    let doc = std::fs::read_to_string(workspace_root().join("docs/checks.md")).unwrap_or_default();
    let start = doc.find(SECTION);
    assert!(start.is_some(), "docs/checks.md has no section {SECTION:?}");
    let start = start.unwrap_or_default();
    let table = &doc[start..];
    let table = table[SECTION.len()..]
        .find("\n## ")
        .map_or(table, |end| &table[..SECTION.len() + end]);
    let named: BTreeSet<&str> = table
        .split('`')
        .filter(|word| {
            word.starts_with("tkc::")
                && word.split("::").count() == 3
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '-')
        })
        .collect();
    let registered: BTreeSet<&str> = tkc_compiler::diag::codes::all()
        .into_iter()
        .map(|code| code.name)
        .collect();
    let unknown: Vec<&str> = named.difference(&registered).copied().collect();
    assert!(
        unknown.is_empty(),
        "the coverage table names {} code(s) that are not registered:\n  {}",
        unknown.len(),
        unknown.join("\n  ")
    );
    let absent: Vec<&str> = registered.difference(&named).copied().collect();
    assert!(
        absent.is_empty(),
        "{} registered code(s) are not in the coverage table of docs/checks.md (put each \
         against the Tekton function it follows, or under \"tkc codes with no Tekton \
         function\"):\n  {}",
        absent.len(),
        absent.join("\n  ")
    );
}

/// Every code of a check family also has a fixture of what it must not flag:
/// `testdata/check/<family>/<rule>-ok.*`, whose snapshot does not report the code (an error
/// code may appear there lowered to a warning, as where tkc cannot see the cluster's
/// defaults). Syntax and schema codes have the `valid/` fixtures; configuration and
/// lowering codes are not about Tekton that looks odd.
#[test]
fn every_check_code_has_a_passing_fixture() {
    let root = workspace_root().join(FIXTURES);
    let snapshots = files_below(&root, &["snap"]);
    let mut problems = Vec::new();
    for code in tkc_compiler::diag::codes::all() {
        let mut parts = code.name.split("::");
        let (Some(_), Some(family), Some(rule)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if matches!(family, "syntax" | "schema" | "config" | "lower") {
            continue;
        }
        let ok = format!("{rule}-ok.");
        let found = snapshots.iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&ok))
        });
        let Some(snap) = found else {
            problems.push(format!("{}: no {rule}-ok fixture", code.name));
            continue;
        };
        let text = std::fs::read_to_string(snap).unwrap_or_default();
        let reported_as = |glyph: char| {
            text.match_indices(&format!("{}\n\n  ", code.name))
                .any(|(at, m)| text[at + m.len()..].starts_with(glyph))
        };
        let wrong = match code.severity {
            tkc_compiler::diag::Severity::Error => reported_as('×'),
            tkc_compiler::diag::Severity::Warning => reported_as('×') || reported_as('⚠'),
            tkc_compiler::diag::Severity::Advice => {
                reported_as('×') || reported_as('⚠') || reported_as('☞')
            }
        };
        if wrong {
            problems.push(format!("{}: {} reports it", code.name, snap.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn header_arguments() {
    assert_eq!(
        header_args("# tkc-args: --enable-api-fields alpha\nkind: Task\n"),
        ["--enable-api-fields", "alpha"]
    );
    assert_eq!(
        header_args("// tkc-args: --enable-api-fields stable\n"),
        ["--enable-api-fields", "stable"]
    );
    assert!(header_args("# a comment\n").is_empty());
}
