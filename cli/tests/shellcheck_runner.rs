//! How `tkc check` runs shellcheck. Its answers are cached by script: a second `tkc check` of the same scripts starts
//! no shellcheck and reports the same; a script that appears twice is checked once; scripts
//! share processes, at most one per core; a cache file that is not a report is ignored and
//! rewritten. A shellcheck that hangs, floods or fails is a note on the script, never a
//! failure of tkc. (The findings themselves are the fixtures in testdata/check/shellcheck/.)

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::skip;

/// A Task with six distinct scripts (one of them twice), as the catalog's: several go to one
/// shellcheck process.
fn task() -> String {
    let mut task = String::from(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: cached\nspec:\n  steps:\n",
    );
    for (i, script) in [
        "echo $HOME",
        "echo $HOME",
        // A `#!` line of its own: no `set -e` before it, so the `cd` is reported.
        "#!/bin/sh\n        cd /tmp",
        "echo $A1",
        "echo $A2",
        "echo $A3",
        "echo $A4",
    ]
    .iter()
    .enumerate()
    {
        task.push_str(&format!(
            "    - name: s{i}\n      image: docker.io/library/alpine:3.20\n      script: |\n        {script}\n"
        ));
    }
    task
}

/// `shellcheck` on `PATH`.
fn shellcheck() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("shellcheck"))
        .find(|p| p.is_file())
}

/// Runs `tkc check --format short` on `file` with `program` as shellcheck and `cache` as the
/// cache directory: its stdout.
fn check(file: &Path, program: &Path, cache: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(["check", "--format", "short"])
        .arg(file)
        .env("TKC_SHELLCHECK", program)
        .env("TKC_CACHE_DIR", cache)
        .output();
    let output = output.map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&output).into_owned()
}

/// The cache's files, sorted.
/// The files of shellcheck's cache (beside them, `tmp/` holds the scripts of a batch while it
/// runs, and nothing after it).
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache.join("shellcheck"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| !p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_second_run_starts_no_shellcheck() {
    let Some(real) = shellcheck() else {
        skip("shellcheck is not installed");
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shellcheck-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap_or_default();
    let file = dir.join("task.yaml");
    std::fs::write(&file, task()).unwrap_or_default();
    // A shellcheck that counts its runs (one line each) before it runs the real one.
    let log = dir.join("runs.log");
    let counting = dir.join("shellcheck");
    std::fs::write(
        &counting,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap_or_default();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&counting, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_default();
    }
    let runs = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };

    let cold = check(&file, &counting, &cache);
    assert!(cold.contains("SC2164"), "{cold}");
    assert_eq!(cold.matches("SC2086").count(), 6, "{cold}");
    let cold_runs = runs();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        (1..=threads.max(1)).contains(&cold_runs),
        "{cold_runs} shellcheck processes for 6 scripts on {threads} cores"
    );
    let cached = entries(&cache);
    assert_eq!(
        cached.len(),
        6,
        "one answer per distinct script: {cached:?}"
    );
    let scratch: Vec<_> = std::fs::read_dir(cache.join("shellcheck").join("tmp"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(scratch.is_empty(), "scripts left behind: {scratch:?}");
    assert!(
        cached
            .iter()
            .all(|p| p.extension().is_some_and(|e| e == "json")),
        "no temporary file is left: {cached:?}"
    );

    let warm = check(&file, &counting, &cache);
    assert_eq!(warm, cold);
    assert_eq!(runs(), cold_runs, "a warm cache starts no shellcheck");

    std::fs::write(&cached[0], "not a report").unwrap_or_default();
    let repaired = check(&file, &counting, &cache);
    assert_eq!(repaired, cold);
    assert_eq!(
        runs(),
        cold_runs + 1,
        "a broken cache file is checked again"
    );
    assert_ne!(
        std::fs::read_to_string(&cached[0]).unwrap_or_default(),
        "not a report"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes an executable stand-in for shellcheck into `dir`.
fn stand_in(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("shellcheck");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap_or_default();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap_or_default();
    }
    path
}

#[test]
fn a_shellcheck_that_hangs_floods_or_fails_is_a_note() {
    let dir = common::TempDir::new("shellcheck", "failures");
    let file = dir.join("task.yaml");
    std::fs::write(
        &file,
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    \
         - name: s\n      image: docker.io/library/alpine:3.20\n      script: echo hi\n",
    )
    .unwrap_or_default();
    let cases = [
        // A child of the stand-in holds its output open: the whole group is killed.
        ("sleep 60 & wait", "took longer than 10 s"),
        (
            "head -c 5000000 /dev/zero | tr '\\0' x",
            "printed more than 4 MiB",
        ),
        (
            "echo 'shellcheck: bad option' >&2; exit 3",
            "exited with status 3: shellcheck: bad option",
        ),
    ];
    for (body, note) in cases {
        let program = stand_in(&dir, body);
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
            .args(["check", "--format", "short", "--deny-warnings"])
            .arg(&file)
            .env("TKC_SHELLCHECK", &program)
            .env("TKC_CACHE_DIR", dir.join("cache"))
            .output();
        assert!(output.is_ok(), "tkc did not run: {output:?}");
        let Ok(output) = output else {
            return;
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{body}: {stdout}");
        assert!(
            stdout.contains("advice[tkc::shellcheck::not-run]"),
            "{body}: {stdout}"
        );
        assert!(stdout.contains(note), "{body}: {stdout}");
        assert!(
            started.elapsed().as_secs() < 30,
            "{body}: tkc waited for the stand-in"
        );
    }
    assert!(
        entries(&dir.join("cache")).is_empty(),
        "a failure is not cached"
    );
}

/// `tkc explain` says which shellcheck runs and its version: one that hangs on `--version`
/// (with a child holding its output open) is stopped, and the version is unknown.
#[test]
fn explain_does_not_wait_for_a_hung_shellcheck() {
    let dir = common::TempDir::new("shellcheck", "version");
    let program = stand_in(&dir, "sleep 60 & wait");
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(["explain", "tkc::shellcheck::warning"])
        .env("TKC_SHELLCHECK", &program)
        .output();
    let elapsed = started.elapsed();
    assert!(output.is_ok(), "tkc did not run: {output:?}");
    let stdout = output.map_or_else(
        |_| String::new(),
        |o| String::from_utf8_lossy(&o.stdout).into_owned(),
    );
    assert!(stdout.contains("(version unknown)"), "{stdout}");
    assert!(elapsed.as_secs() < 10, "tkc explain waited {elapsed:?}");
}
