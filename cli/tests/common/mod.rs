//! Helpers the CLI's integration tests share: where things are, fixture headers, and
//! snapshots beside each fixture.

#![allow(dead_code)]

use std::path::Path;

// Where things are and walking folders: the same helpers as the compiler's tests.
#[path = "../../../compiler/tests/common/mod.rs"]
mod shared;
pub use shared::*;

pub mod registry;

/// The arguments a fixture asks for in a `tkc-args:` header: its first line, or (YAML) any
/// line of its leading comment block (`# tkc-args: ...` or `// tkc-args: ...`).
pub fn header_args(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.starts_with('#') || l.starts_with("//"))
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim_start_matches("//")
                .trim()
                .strip_prefix("tkc-args:")
        })
        .map(|args| args.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Runs `report` on every `*.yaml`, `*.yml` and `*.kdl` below `fixtures` (relative to the
/// workspace root, the path reports show) and snapshots what it returns beside the fixture
/// (`<fixture>.snap`).
pub fn snapshot_fixtures(fixtures: &str, report: impl Fn(&Path, &Path) -> String) {
    snapshot_fixtures_where(fixtures, |_| true, report);
}

/// [`snapshot_fixtures`] on the fixtures whose path (relative to the workspace root) passes
/// `include`.
pub fn snapshot_fixtures_where(
    fixtures: &str,
    include: impl Fn(&Path) -> bool,
    report: impl Fn(&Path, &Path) -> String,
) {
    let root = workspace_root();
    insta::glob!(root.join(fixtures), "**/*.{yaml,yml,kdl}", |path: &Path| {
        let relative = path.strip_prefix(&root).unwrap_or(path);
        if !include(relative) {
            return;
        }
        let text = report(&root, relative);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        insta::with_settings!({
            snapshot_path => path.parent().unwrap_or(&root),
            prepend_module_to_snapshot => false,
            snapshot_suffix => "",
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, text);
        });
    });
}

/// Runs `cmd` (a `tkc`) as `<subcommand> <the fixture's tkc-args> <extra...> <fixture>` from
/// `root`, without colour at 100 columns; gives the command line as a report shows it, and the
/// output.
pub fn tkc_on_fixture(
    mut cmd: std::process::Command,
    root: &Path,
    relative: &Path,
    subcommand: &str,
    extra: &[&str],
) -> (String, std::io::Result<std::process::Output>) {
    let bytes = std::fs::read(root.join(relative)).unwrap_or_default();
    let mut words = vec![subcommand.to_string()];
    words.extend(header_args(&String::from_utf8_lossy(&bytes)));
    words.extend(extra.iter().map(|w| w.to_string()));
    words.push(relative.display().to_string());
    let output = cmd
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(&words)
        .output();
    (command_line(&words), output)
}

/// `tkc <subcommand> <args> <extra...> <fixture>` ([`tkc_on_fixture`]) as a snapshot report:
/// the command line, the exit code, then stderr and stdout when not empty.
pub fn fixture_report(root: &Path, relative: &Path, subcommand: &str, extra: &[&str]) -> String {
    let tkc = std::process::Command::new(env!("CARGO_BIN_EXE_tkc"));
    let (line, output) = tkc_on_fixture(tkc, root, relative, subcommand, extra);
    let output = match output {
        Ok(output) => output,
        Err(e) => return format!("cannot run tkc: {e}"),
    };
    let mut report = format!("$ {line}\nexit code: {}\n", exit_code(output.status));
    if !output.stderr.is_empty() {
        report.push_str("\n--- stderr ---\n");
        report.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    if !output.stdout.is_empty() {
        report.push_str("\n--- stdout ---\n");
        report.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    report
}

/// `tkc <words...>` as a command line for a report.
pub fn command_line(words: &[String]) -> String {
    std::iter::once("tkc".to_string())
        .chain(words.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An exit code for a report.
pub fn exit_code(status: std::process::ExitStatus) -> String {
    status
        .code()
        .map_or_else(|| "none".to_string(), |c| c.to_string())
}

/// `bwrap` if it is installed and can make the namespaces `tkc run --isolate` asks for
/// (containers, some CI runners, may forbid them); tests that need it skip otherwise.
pub fn bwrap_works() -> Option<std::path::PathBuf> {
    let bwrap = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())?;
    let works = std::process::Command::new(&bwrap)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--cap-drop",
            "ALL",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-ipc",
            "--unshare-net",
            "--new-session",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(bwrap)
}

/// Skips a test whose prerequisite is missing here, saying `why`; where `CI` is set (`.ci/run`
/// installs every prerequisite) the absence fails the test instead of passing it silently.
pub fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI is set, but {why}");
    eprintln!("skipped: {why}");
}

/// A `tkc run --output json` summary with what changes from run to run redacted: the run's
/// name and duration, and those of its child pipelines' runs (`pipelineRun` of a task), whose
/// names keep what follows the top-level run's (`[name]-<task>`).
pub fn redact(stdout: &[u8]) -> String {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(stdout) else {
        return format!("not JSON:\n{}", String::from_utf8_lossy(stdout));
    };
    let name = v["name"].as_str().unwrap_or_default().to_string();
    redact_run(&mut v, &name);
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

fn redact_run(run: &mut serde_json::Value, top: &str) {
    let Some(o) = run.as_object_mut() else {
        return;
    };
    let name = o.get("name").and_then(|n| n.as_str()).unwrap_or_default();
    let redacted = match name.strip_prefix(top) {
        Some(rest) if !top.is_empty() => format!("[name]{rest}"),
        _ => "[name]".to_string(),
    };
    o.insert("name".into(), redacted.into());
    o.insert("duration_ms".into(), "[duration]".into());
    if let Some(serde_json::Value::Array(tasks)) = o.get_mut("tasks") {
        for t in tasks {
            if let Some(child) = t.get_mut("pipelineRun") {
                redact_run(child, top);
            }
        }
    }
}

/// The entrypoint beside the `tkc` under test; built if `cargo test -p tkc` did not build it.
pub fn entrypoint() -> std::path::PathBuf {
    let tkc = std::path::PathBuf::from(env!("CARGO_BIN_EXE_tkc"));
    let dir = tkc
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let ep = dir.join("tkc-entrypoint");
    if !ep.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let _ = std::process::Command::new(cargo)
            .args(["build", "-p", "tkc-entrypoint"])
            .current_dir(workspace_root())
            .status();
    }
    ep
}

/// A scratch directory for one test, removed when the test ends well (kept when it panics,
/// for a look).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh `tkc-<prefix>-<pid>-<name>` in the temporary directory.
    pub fn new(prefix: &str, name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tkc-{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        TempDir(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The static entrypoint that pods and containers mount: `TKC_STATIC_ENTRYPOINT` (as
/// `.ci/run` sets it), else built once per test binary by `entrypoint/build-static.sh`,
/// which prints `path: <binary>`; `None` where it cannot be built.
pub fn static_entrypoint() -> Option<std::path::PathBuf> {
    static BUILT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("TKC_STATIC_ENTRYPOINT").filter(|p| !p.is_empty()) {
                return Some(std::path::PathBuf::from(p));
            }
            let root = workspace_root();
            let out = std::process::Command::new(root.join("entrypoint/build-static.sh"))
                .current_dir(&root)
                .stderr(std::process::Stdio::inherit())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("path:"))
                .map(|p| std::path::PathBuf::from(p.trim()))
                .filter(|p| p.is_file())
        })
        .clone()
}
