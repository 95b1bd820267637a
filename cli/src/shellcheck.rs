//! shellcheck for `tkc check` and `tkc lsp`: the [`ScriptLinter`] the library is handed. The
//! distinct scripts the cache does not know go to `shellcheck` in batches (up to 16 scripts a
//! process, one process per core at a time), each process with a timeout and a bound on what
//! it may print. Every answer is kept in a cache keyed by the script, its dialect, the
//! shellcheck binary and its flags, so that a second run (a pre-commit hook on an unchanged
//! tree) starts no process at all.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tkc_compiler::check::shellcheck::{LintOutcome, PreparedScript, ScriptLinter, parse_json1};

/// What every run is given besides `--shell`. `--norc`: a `.shellcheckrc` found from the
/// working directory would make the answer depend on where tkc runs (directives in the
/// script itself still apply). `SC1091` ("not following a sourced file"): files a step
/// sources live in its image, never beside the YAML.
const ARGS: &[&str] = &["--norc", "--format=json1", "--exclude=SC1091"];

/// How long one shellcheck process (one script, or a batch) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of shellcheck's report read (a script's findings are a few KiB; a larger answer
/// is cut off and taken as a failure).
const MAX_OUTPUT: u64 = 4 << 20;

/// The most answers the cache keeps (a few KiB each at most).
const CACHE_ANSWERS: usize = 10_000;

/// The environment variable that names the program, or turns the check off (`off`).
pub const PROGRAM_VAR: &str = "TKC_SHELLCHECK";

/// shellcheck as found on this machine.
pub struct Shellcheck {
    program: PathBuf,
    /// What identifies this build of shellcheck in cache keys: its path, size and
    /// modification time (an upgrade changes them; no process is started to ask).
    identity: String,
    /// Where answers are kept, if a cache directory is known.
    cache: Option<PathBuf>,
    /// Set once a run took longer than [`TIMEOUT`]: a shellcheck that hangs on one script may
    /// hang on all, so no other is started (a run costs at most one timeout per core). Reset
    /// by each [`ScriptLinter::lint`]: `tkc lsp` keeps one runner for its whole session, and
    /// one hang must not turn shellcheck off for every later edit.
    timed_out: std::sync::atomic::AtomicBool,
}

/// Why shellcheck is not used.
pub enum Absent {
    /// `TKC_SHELLCHECK=off`.
    TurnedOff,
    /// Not on `PATH` (or `TKC_SHELLCHECK` names no file).
    NotFound,
}

impl Shellcheck {
    /// `TKC_SHELLCHECK` (a path to the program, or `off`), else `shellcheck` on `PATH`.
    pub fn find() -> Result<Shellcheck, Absent> {
        let program = match std::env::var_os(PROGRAM_VAR).filter(|v| !v.is_empty()) {
            Some(v) if v == "off" => return Err(Absent::TurnedOff),
            Some(v) => Some(PathBuf::from(v)).filter(|p| p.is_file()),
            None => on_path("shellcheck"),
        }
        .ok_or(Absent::NotFound)?;
        let program = std::fs::canonicalize(&program).unwrap_or(program);
        let metadata = std::fs::metadata(&program).map_err(|_| Absent::NotFound)?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let identity = format!("{}\n{}\n{modified}", program.display(), metadata.len());
        Ok(Shellcheck {
            program,
            identity,
            cache: tkc_config::cache_dir().map(|dir| dir.join("shellcheck")),
            timed_out: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// One line for `tkc explain`: whether scripts are checked, by which program.
    pub fn status() -> String {
        match Shellcheck::find() {
            Ok(found) => {
                let version =
                    version(&found.program).unwrap_or_else(|| "version unknown".to_owned());
                let cache = found.cache.as_ref().map_or_else(
                    || "no cache directory".to_owned(),
                    |c| format!("answers cached in {}", c.display()),
                );
                format!(
                    "shellcheck here: {} ({version}); {cache}",
                    found.program.display()
                )
            }
            Err(Absent::TurnedOff) => {
                format!("shellcheck here: turned off ({PROGRAM_VAR}=off); scripts are not checked")
            }
            Err(Absent::NotFound) => "shellcheck here: not found on PATH; scripts are not checked \
                 (install it, e.g. `apt-get install shellcheck`, or name it in TKC_SHELLCHECK)"
                .to_owned(),
        }
    }

    /// The cache file of a script: a SHA-256 of everything its answer depends on.
    fn cache_path(&self, script: &PreparedScript) -> Option<PathBuf> {
        let dir = self.cache.as_ref()?;
        let mut hash = Sha256::new();
        for part in [
            "tkc shellcheck cache 1",
            &self.identity,
            &ARGS.join(" "),
            script.dialect.as_str(),
            &script.text,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!("{hex}.json")))
    }

    /// A script's answer from the cache, if there is a usable one.
    fn cached(&self, script: &PreparedScript) -> Option<LintOutcome> {
        let file = std::fs::File::open(self.cache_path(script)?).ok()?;
        let (text, cut) = read_bounded(Some(file), MAX_OUTPUT);
        if cut {
            return None;
        }
        parse_json1(&text).ok().map(Ok)
    }

    /// Keeps a script's report.
    fn keep(&self, script: &PreparedScript, report: &str) {
        if let Some(path) = self.cache_path(script) {
            store(&path, report);
        }
    }

    /// Scripts of one dialect in one shellcheck process (starting one costs more than
    /// checking a script), each from a file of a private temporary directory. If that fails,
    /// each script is run alone, so that a note names the script that failed.
    fn lint_batch(&self, batch: &[&PreparedScript]) -> Vec<LintOutcome> {
        if batch.len() > 1 {
            match self.run_batch(batch) {
                Ok(reports) => {
                    return batch
                        .iter()
                        .zip(reports)
                        .map(|(script, report)| {
                            let findings = parse_json1(&report)?;
                            self.keep(script, &report);
                            Ok(findings)
                        })
                        .collect();
                }
                // No retry of a batch that hung (see `timed_out`).
                Err(why) if self.timed_out.load(Ordering::Relaxed) => {
                    return batch.iter().map(|_| Err(why.clone())).collect();
                }
                Err(_) => {}
            }
        }
        batch.iter().map(|script| self.lint_alone(script)).collect()
    }

    /// One script, given on stdin.
    fn lint_alone(&self, script: &PreparedScript) -> LintOutcome {
        let (report, errors) = self.run(script, &["-".to_owned()], Some(&script.text), None)?;
        let findings = parse_json1(&report).map_err(|why| match first_line(&errors) {
            "" => why,
            said => format!("{why}; it said: {said}"),
        })?;
        self.keep(script, &report);
        Ok(findings)
    }

    /// Runs shellcheck on the scripts of `batch` (one dialect) as files `0.sh`, `1.sh`, ...:
    /// one `json1` report per script, holding its findings.
    fn run_batch(&self, batch: &[&PreparedScript]) -> Result<Vec<String>, String> {
        // Readable by the user alone: the scripts are the user's (they may embed names of
        // hosts and secrets). In the cache when there is one, else the system's temporary
        // directory, where a directory of that name planted beforehand is an error, never
        // used. One a tkc stopped in the middle left is removed by the next.
        let dir = match &self.cache {
            Some(cache) => tkc_config::scratch_dir(&cache.join("tmp"), ""),
            None => tkc_config::scratch_dir(&std::env::temp_dir(), "tkc-shellcheck-"),
        }
        .map_err(|e| e.to_string())?;
        let names: Vec<String> = (0..batch.len()).map(|i| format!("{i}.sh")).collect();
        let written = batch
            .iter()
            .zip(&names)
            .try_for_each(|(script, name)| std::fs::write(dir.join(name), &script.text));
        let ran = match written {
            Ok(()) => self.run(batch[0], &names, None, Some(&dir)),
            Err(e) => Err(e.to_string()),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let (report, _) = ran?;
        split_report(&report, &names)
    }

    /// Runs shellcheck with `files` (after the fixed flags and `script`'s dialect), `stdin`
    /// written to it, in `cwd`: its report and what it wrote to stderr, or why there is no
    /// report.
    fn run(
        &self,
        script: &PreparedScript,
        files: &[String],
        stdin: Option<&str>,
        cwd: Option<&Path>,
    ) -> Result<(String, String), String> {
        if self.timed_out.load(Ordering::Relaxed) {
            return Err(format!(
                "shellcheck took longer than {} s on another script; no more were started",
                TIMEOUT.as_secs()
            ));
        }
        let mut command = Command::new(&self.program);
        command
            .args(ARGS)
            .arg(format!("--shell={}", script.dialect.as_str()))
            .args(files)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        // Its own process group, so that a timeout kills whatever it started too (a wrapper
        // script's children would otherwise hold its output open).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        let (input, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        std::thread::scope(|scope| {
            scope.spawn(move || {
                if let (Some(mut input), Some(text)) = (input, stdin) {
                    // A shellcheck that stops reading early still answers (or fails) below.
                    let _ = input.write_all(text.as_bytes());
                }
            });
            let errors = scope.spawn(move || read_bounded(stderr, 4096).0);
            let (sender, receiver) = std::sync::mpsc::channel();
            scope.spawn(move || {
                let _ = sender.send(read_bounded(stdout, MAX_OUTPUT));
            });
            let (output, cut) = match receiver.recv_timeout(TIMEOUT) {
                Ok(read) => read,
                Err(_) => {
                    stop(&mut child);
                    self.timed_out.store(true, Ordering::Relaxed);
                    return Err(format!(
                        "shellcheck took longer than {} s",
                        TIMEOUT.as_secs()
                    ));
                }
            };
            if cut {
                stop(&mut child);
                return Err(format!(
                    "shellcheck printed more than {} MiB",
                    MAX_OUTPUT >> 20
                ));
            }
            let status = child.wait().map_err(|e| e.to_string())?;
            // What shellcheck (or a wrapper named by TKC_SHELLCHECK) left running in its
            // group ends with it, and cannot hold stderr open.
            stop(&mut child);
            let errors = errors.join().unwrap_or_default();
            // 0: no findings, 1: findings; anything else is a failure of shellcheck.
            if matches!(status.code(), Some(0 | 1)) {
                return Ok((output, errors));
            }
            let why = first_line(&errors);
            Err(match status.code() {
                Some(code) => format!("shellcheck exited with status {code}: {why}"),
                None => format!("shellcheck was killed by a signal: {why}"),
            }
            .trim_end_matches([':', ' '])
            .to_owned())
        })
    }
}

/// Splits the `json1` report of several files into one report per file of `names`, in
/// order (the form a report of one script has, which the cache keeps).
fn split_report(report: &str, names: &[String]) -> Result<Vec<String>, String> {
    let value: serde_json::Value = serde_json::from_str(report).map_err(|e| e.to_string())?;
    let comments = value
        .get("comments")
        .and_then(|c| c.as_array())
        .ok_or("no comments")?;
    let mut per_file: Vec<Vec<serde_json::Value>> = vec![Vec::new(); names.len()];
    for comment in comments {
        let file = comment.get("file").and_then(|f| f.as_str()).unwrap_or("");
        let index = names
            .iter()
            .position(|n| n == file)
            .ok_or_else(|| format!("a finding in an unknown file {file:?}"))?;
        per_file[index].push(comment.clone());
    }
    Ok(per_file
        .into_iter()
        .map(|comments| serde_json::json!({ "comments": comments }).to_string())
        .collect())
}

/// At most this many scripts go to one shellcheck process.
const MAX_BATCH: usize = 16;

impl ScriptLinter for Shellcheck {
    fn lint(&self, scripts: &[PreparedScript]) -> Vec<LintOutcome> {
        self.timed_out.store(false, Ordering::Relaxed);
        let mut results: Vec<Option<LintOutcome>> =
            scripts.iter().map(|script| self.cached(script)).collect();
        let mut missing: Vec<usize> = (0..scripts.len())
            .filter(|&i| results[i].is_none())
            .collect();
        missing.sort_by_key(|&i| scripts[i].dialect);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Enough batches to keep every core busy, none larger than MAX_BATCH.
        let size = missing.len().div_ceil(threads).clamp(1, MAX_BATCH);
        let mut batches: Vec<Vec<usize>> = Vec::new();
        for chunk in missing.chunk_by(|&a, &b| scripts[a].dialect == scripts[b].dialect) {
            batches.extend(chunk.chunks(size).map(<[usize]>::to_vec));
        }
        let answers: Vec<Mutex<Vec<LintOutcome>>> =
            batches.iter().map(|_| Mutex::new(Vec::new())).collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..threads.min(batches.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else {
                            break;
                        };
                        let batch: Vec<&PreparedScript> =
                            batch.iter().map(|&s| &scripts[s]).collect();
                        let outcomes = self.lint_batch(&batch);
                        if let Ok(mut slot) = answers[i].lock() {
                            *slot = outcomes;
                        }
                    }
                });
            }
        });
        for (batch, answer) in batches.iter().zip(answers) {
            let outcomes = answer.into_inner().unwrap_or_default();
            for (&script, outcome) in batch.iter().zip(outcomes) {
                results[script] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("shellcheck's answer was lost".to_owned())))
            .collect()
    }
}

/// What `program --version` says after `version:`, within two seconds: a program named by
/// TKC_SHELLCHECK that hangs is stopped (with its process group) and the version is unknown.
fn version(program: &Path) -> Option<String> {
    let mut command = Command::new(program);
    command
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().ok()?;
    let stdout = child.stdout.take();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(read_bounded(stdout, 4096).0);
    });
    let text = receiver.recv_timeout(Duration::from_secs(2)).ok();
    stop(&mut child);
    text?
        .lines()
        .find_map(|l| l.strip_prefix("version:").map(|v| v.trim().to_owned()))
}

/// The first line of `text` that is not blank, at most 200 characters of it.
fn first_line(text: &str) -> &str {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.char_indices()
        .nth(200)
        .map_or(line, |(at, _)| &line[..at])
}

/// Kills a child that is still running, and its process group, and reaps it.
fn stop(child: &mut Child) {
    #[cfg(unix)]
    if let Some(group) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads at most `limit` bytes; whether more was there.
fn read_bounded(from: Option<impl Read>, limit: u64) -> (String, bool) {
    let Some(from) = from else {
        return (String::new(), false);
    };
    let mut bytes = Vec::new();
    let read = from.take(limit + 1).read_to_end(&mut bytes);
    let cut = read.is_ok() && bytes.len() as u64 > limit;
    bytes.truncate(limit as usize);
    (String::from_utf8_lossy(&bytes).into_owned(), cut)
}

/// Keeps an answer ([`tkc_config::write_cache_file`]); a cache that cannot be written is no
/// error. The first answer a process keeps, and every 256th after, prunes the cache to its
/// [`CACHE_ANSWERS`] newest (an editor's language server keeps one for each version of a
/// script it was shown).
fn store(path: &Path, output: &str) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    if tkc_config::write_cache_file(path, output.as_bytes()).is_ok()
        && COUNTER.fetch_add(1, Ordering::Relaxed).is_multiple_of(256)
        && let Some(dir) = path.parent()
    {
        tkc_config::prune_cache(dir, CACHE_ANSWERS);
    }
}

/// The first program named `name` (or `name.exe`) in a directory of `PATH`: a file, and on
/// Unix one this user may execute (a stray non-executable `shellcheck` earlier on `PATH` does
/// not hide the real one, as it would not for a shell).
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        [name.to_owned(), format!("{name}.exe")]
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| is_program(p))
    })
}

fn is_program(path: &Path) -> bool {
    #[cfg(unix)]
    let executable = rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok();
    #[cfg(not(unix))]
    let executable = true;
    path.is_file() && executable
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use tkc_compiler::check::shellcheck::Dialect;

    /// A scratch directory of its own, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("tkc-shellcheck-unit-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `tkc lsp` lints with one runner for its whole session: a hang during one edit must
    /// not keep shellcheck off for the next.
    #[test]
    fn a_hang_is_forgotten_by_the_next_lint() {
        let scratch = Scratch::new("reset");
        let program = scratch.0.join("shellcheck");
        std::fs::write(&program, "#!/bin/sh\necho '{\"comments\":[]}'\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let runner = Shellcheck {
            program,
            identity: String::new(),
            cache: None,
            timed_out: std::sync::atomic::AtomicBool::new(true),
        };
        let script = PreparedScript {
            dialect: Dialect::Sh,
            text: "echo hi\n".into(),
        };
        let outcomes = runner.lint(&[script]);
        assert!(
            matches!(outcomes.as_slice(), [Ok(findings)] if findings.is_empty()),
            "{outcomes:?}"
        );
    }
}
