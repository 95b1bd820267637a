//! The run mode: Tekton's entrypoint algorithm (spec section 5), step by step.
//!
//! 1. create `<meta>/results` and `<meta>/artifacts`;
//! 2. wait for each wait file; a predecessor's `.err` makes this step skip;
//! 3. record `StartedAt`;
//! 4. substitute `$(steps.S.results.R)` in env, argv and `when`;
//! 5. watch the cancel file (inside [`process::Running::supervise`]);
//! 6. evaluate step `when`;
//! 7. run with the timeout and record the outcome in `exitCode` and the message;
//! 8. read results into the termination message, then write the post file;
//! 9. write the entrypoint's own entries (`StartedAt`, `Reason`, `ExitCode`).

use crate::cli::Options;
use crate::process::{self, Outcome};
use crate::stepresults::{self, Resolver};
use crate::termination::{self, Entry, INTERNAL, STEP_RESULT, TASK_RESULT};
use crate::wait::{self, WaitResult, Waiter};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit status of a cancelled step (Tekton uses SIGKILL's number).
const EXIT_CANCELLED: i32 = 9;

fn log(msg: &str) {
    eprintln!("tkc-entrypoint: {msg}");
}

/// An error that ends the entrypoint with status 1 after it is printed.
struct Fatal(String);

impl From<io::Error> for Fatal {
    fn from(e: io::Error) -> Fatal {
        Fatal(e.to_string())
    }
}

/// Creates `path` (empty), or `path.err` when `failed`; nothing if no post file was asked for.
fn write_post_file(post_file: &str, failed: bool) -> Result<(), Fatal> {
    if post_file.is_empty() {
        return Ok(());
    }
    let path = if failed {
        PathBuf::from(format!("{post_file}.err"))
    } else {
        PathBuf::from(post_file)
    };
    write_file(&path, b"").map_err(|e| Fatal(format!("writing post file {}: {e}", path.display())))
}

/// Writes `<meta>/exitCode`, before the post file: Tekton's `entrypointer.go` writes it after,
/// which its 1 s poll hides, but with a millisecond hand-off the next step could start before
/// `$(steps.<prev>.exitCode.path)` exists. Skipped when there is no step metadata directory
/// (Tekton would write `exitCode` into the working directory then, which helps nobody).
fn write_exit_code(meta: &str, content: &str) -> Result<(), Fatal> {
    if meta.is_empty() {
        return Ok(());
    }
    let path = Path::new(meta).join("exitCode");
    write_file(&path, content.as_bytes())
        .map_err(|e| Fatal(format!("writing {}: {e}", path.display())))
}

/// Writes `path`, making its directory only when it is missing: the post file and `exitCode`
/// are written on the way from one step to the next, where two `mkdir` and two `stat` a step
/// are time the next step waits.
fn write_file(path: &Path, content: &[u8]) -> io::Result<()> {
    match std::fs::write(path, content) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) => std::fs::create_dir_all(dir)?,
                None => return Err(e),
            }
            std::fs::write(path, content)
        }
        written => written,
    }
}

fn append_message(path: &Path, entries: &[Entry]) -> Result<(), Fatal> {
    // No termination path (a sidecar): nothing to report.
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    termination::append(path, entries).map_err(|e| Fatal(e.to_string()))
}

/// The platform key Tekton puts in `TEKTON_PLATFORM_COMMANDS` (containerd's default string).
fn platform() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "linux/amd64"
    } else if cfg!(target_arch = "aarch64") {
        "linux/arm64/v8"
    } else if cfg!(target_arch = "arm") {
        "linux/arm/v7"
    } else if cfg!(target_arch = "x86") {
        "linux/386"
    } else if cfg!(target_arch = "powerpc64") {
        "linux/ppc64le"
    } else if cfg!(target_arch = "s390x") {
        "linux/s390x"
    } else if cfg!(target_arch = "riscv64") {
        "linux/riscv64"
    } else {
        "linux/unknown"
    }
}

/// The step's argv: `-entrypoint` + args; else the image command for this platform from
/// `TEKTON_PLATFORM_COMMANDS` + args; else (tkc extension) just the args after `--`.
fn resolve_command(o: &Options, platform_commands: Option<String>) -> Result<Vec<String>, String> {
    let mut argv = Vec::with_capacity(o.args.len() + 1);
    if !o.entrypoint.is_empty() {
        argv.push(o.entrypoint.clone());
    } else if let Some(env) = platform_commands.filter(|e| !e.is_empty()) {
        let map = crate::json::parse(&env).map_err(|e| format!("TEKTON_PLATFORM_COMMANDS: {e}"))?;
        let plat = platform();
        // Tekton's fallback: drop the last path component (the CPU variant).
        let without_variant = plat.rsplit_once('/').map_or(plat, |(head, _)| head);
        let cmd = map
            .get(plat)
            .or_else(|| map.get(without_variant))
            .and_then(crate::json::Value::as_string_array)
            .ok_or_else(|| format!("could not find command for platform {plat:?}"))?;
        argv.extend(cmd);
    }
    argv.extend(o.args.iter().cloned());
    if argv.is_empty() {
        return Err("no command to run: give -entrypoint or arguments after \"--\"".to_owned());
    }
    Ok(argv)
}

/// Runs the step and returns the entrypoint's exit status.
pub fn run(o: &Options) -> i32 {
    match run_inner(o) {
        Ok(code) => code,
        Err(Fatal(msg)) => {
            log(&msg);
            // The next step waits for this one's post file: if none was written, leave the
            // failed one, so that it skips at once instead of waiting out its timeout.
            let post = Path::new(&o.post_file);
            let err = PathBuf::from(format!("{}.err", o.post_file));
            if !o.post_file.is_empty() && !post.exists() && !err.exists() {
                let _ = write_file(&err, b"");
            }
            1
        }
    }
}

/// The failure a step ended with, for the post file / exit status decision.
enum Failure {
    /// Non-zero exit (`Some(code)`) or death by a signal (`None`).
    Exit(Option<i32>),
    /// Could not start, bad configuration, negative timeout, ...: exit 1.
    Error(String),
    /// `-timeout` elapsed.
    Timeout,
}

fn run_inner(o: &Options) -> Result<i32, Fatal> {
    let meta = o.step_metadata_dir.as_str();
    if !meta.is_empty() {
        std::fs::create_dir_all(Path::new(meta).join("results"))?;
        std::fs::create_dir_all(Path::new(meta).join("artifacts"))?;
    }

    // 2. Wait files.
    let mut waiter = Waiter::new();
    for f in &o.wait_files {
        let file = Path::new(f);
        let waited = waiter.wait_for(file, || wait::check_wait_file(file, o.wait_file_content));
        match waited {
            Ok(WaitResult::Ready) => {}
            // With breakpoint_on_failure a failed predecessor does not stop the debug session.
            Ok(WaitResult::PredecessorFailed) if o.breakpoint_on_failure => {}
            Ok(WaitResult::PredecessorFailed) => {
                write_post_file(&o.post_file, true)?;
                append_message(
                    &o.termination_path,
                    &[
                        Entry::new("StartedAt", termination::started_at_now(), INTERNAL),
                        Entry::new("Reason", "Skipped", INTERNAL),
                    ],
                )?;
                log("Skipping step because a previous step failed");
                return Ok(1);
            }
            Err(e) => {
                if !o.breakpoint_on_failure {
                    write_post_file(&o.post_file, true)?;
                }
                let started = Entry::new("StartedAt", termination::started_at_now(), INTERNAL);
                append_message(&o.termination_path, &[started])?;
                return Err(Fatal(format!("Error executing command: {e}")));
            }
        }
    }

    // 3. Debug breakpoint before the step: continue once the debugger says so.
    if o.debug_before_step && !o.post_file.is_empty() {
        let go = PathBuf::from(format!("{}.beforestepexit", o.post_file));
        waiter.wait_for(&go, || wait::check_wait_file(&go, false))?;
    }
    let started_at = termination::started_at_now();
    let mut internal = vec![Entry::new("StartedAt", started_at, INTERNAL)];

    let failure_or_outcome = prepare_and_run(o);
    let mut exit_code = 0;
    let mut breakpoint_failure = false;
    // The post file is written once the results are in the message (step 8).
    let mut post_failed = None;
    match failure_or_outcome {
        Ok(StepEnd::Succeeded) => {
            write_exit_code(meta, "0")?;
            post_failed = Some(false);
        }
        Ok(StepEnd::SkippedByWhen) => {
            internal.push(Entry::new("Reason", "Skipped", INTERNAL));
            write_exit_code(meta, "0")?;
            write_post_file(&o.post_file, false)?;
            append_message(&o.termination_path, &internal)?;
            return Ok(0);
        }
        Ok(StepEnd::Cancelled) => {
            internal.push(Entry::new("Reason", "Cancelled", INTERNAL));
            write_exit_code(meta, "killed")?;
            post_failed = Some(true);
            exit_code = EXIT_CANCELLED;
        }
        Err(failure) => {
            let tolerated = o.on_error == "continue";
            // Tekton's `Entrypointer.Go` handles the deadline before the breakpoint: a timed
            // out step fails at once (its `main` exits 1 on the `ContextError`, never waiting).
            match failure {
                Failure::Timeout => {
                    internal.push(Entry::new("Reason", "TimeoutExceeded", INTERNAL));
                    post_failed = Some(true);
                }
                _ if o.breakpoint_on_failure => breakpoint_failure = true,
                // Go reports -1 as the exit code of a process killed by a signal.
                Failure::Exit(code) if tolerated => {
                    let text = code.unwrap_or(-1).to_string();
                    internal.push(Entry::new("ExitCode", text.clone(), INTERNAL));
                    write_exit_code(meta, &text)?;
                    post_failed = Some(false);
                }
                _ => post_failed = Some(true),
            }
            exit_code = match failure {
                Failure::Exit(_) if tolerated => 0,
                // Go's os.Exit(-1) for a signalled child becomes 255.
                Failure::Exit(code) => code.unwrap_or(255),
                Failure::Error(msg) => {
                    log(&format!("Error executing command: {msg}"));
                    1
                }
                Failure::Timeout => {
                    log("Error executing command: context deadline exceeded");
                    1
                }
            };
        }
    }

    // 8. Results go into the message before the post file. Tekton writes the post file
    // first (`Entrypointer.Go`), but its next step polls for it once a second
    // (`defaultWaitPollingInterval`), so in practice the results are read long before a
    // later step can move them away. Our waiter wakes at once, so the same outcome needs
    // this order.
    let results = record_results(o, meta);
    // A results failure (too large, unreadable) still writes the post file the step earned:
    // in Tekton the next step runs and the container's own exit fails the TaskRun.
    if let Some(failed) = post_failed {
        write_post_file(&o.post_file, failed)?;
    }
    results?;
    // 9.
    append_message(&o.termination_path, &internal)?;

    if breakpoint_failure {
        return Ok(breakpoint_exit_code(&mut waiter, &o.post_file));
    }
    Ok(exit_code)
}

/// Step 8: the results present now go into the termination message.
fn record_results(o: &Options, meta: &str) -> Result<(), Fatal> {
    if o.result_from != "sidecar-logs" {
        let task = read_results(&o.results_dir, &o.results, TASK_RESULT)?;
        if !task.is_empty() {
            append_message(&o.termination_path, &task)?;
        }
        if !meta.is_empty() {
            let step = read_results(
                &Path::new(meta).join("results"),
                &o.step_results,
                STEP_RESULT,
            )?;
            if !step.is_empty() {
                append_message(&o.termination_path, &step)?;
            }
        }
    }
    Ok(())
}

/// How the run phase ended when it did not fail.
enum StepEnd {
    Succeeded,
    SkippedByWhen,
    Cancelled,
}

/// Steps 4 to 7: substitute, evaluate `when`, spawn, supervise.
fn prepare_and_run(o: &Options) -> Result<StepEnd, Failure> {
    if o.timeout_ns < 0 {
        return Err(Failure::Error("negative timeout specified".to_owned()));
    }
    let argv = resolve_command(o, std::env::var("TEKTON_PLATFORM_COMMANDS").ok())
        .map_err(Failure::Error)?;

    let mut log_substitution =
        |m: String| log(&format!("Error while substituting step results: {m}"));
    let mut resolver = Resolver::new(&o.steps_dir, &mut log_substitution);
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else {
            continue;
        };
        if v.contains("$(steps.") {
            let new = resolver.substitute(v);
            if new != v {
                env.push((k.to_owned(), new));
            }
        }
    }
    let argv = resolver.substitute_list(argv);
    match stepresults::when_allows(&o.when_expressions, &mut resolver) {
        Ok(true) => {}
        Ok(false) => return Ok(StepEnd::SkippedByWhen),
        Err(e) => return Err(Failure::Error(e)),
    }

    let spec = process::Spec {
        argv: &argv,
        env: &env,
        stdout_path: &o.stdout_path,
        stderr_path: &o.stderr_path,
    };
    let running = process::spawn(&spec).map_err(|e| Failure::Error(e.to_string()))?;
    // A sidecar counts as started (Kubernetes: its container is running) once its command
    // has been exec'd, which is now.
    if !o.started_file.is_empty() {
        let _ = write_file(Path::new(&o.started_file), b"");
    }
    let timeout = (o.timeout_ns > 0).then(|| Duration::from_nanos(o.timeout_ns.unsigned_abs()));
    match running.supervise(timeout, &o.cancel_file) {
        Ok(Outcome::Exited(status)) if status.success() => Ok(StepEnd::Succeeded),
        // No code means killed by a signal (Go's ExitCode() == -1).
        Ok(Outcome::Exited(status)) => Err(Failure::Exit(status.code())),
        Ok(Outcome::TimedOut) => Err(Failure::Timeout),
        Ok(Outcome::Cancelled) => Ok(StepEnd::Cancelled),
        Err(e) => Err(Failure::Error(e.to_string())),
    }
}

/// Reads the named result files from `dir`; missing files are skipped, other errors are fatal.
fn read_results(dir: &Path, names: &[String], ty: i64) -> Result<Vec<Entry>, Fatal> {
    let mut entries = Vec::new();
    for name in names {
        let path = dir.join(name);
        match termination::read_untrusted(&path, termination::MAX_MESSAGE_BYTES) {
            Ok(bytes) => entries.push(Entry::new(name, String::from_utf8_lossy(&bytes), ty)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Fatal(format!(
                    "Error while handling results: {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(entries)
}

/// `-breakpoint_on_failure`: wait for the debugger's `<post_file>.breakpointexit` and exit
/// with the code written in it (0 if it holds none).
fn breakpoint_exit_code(waiter: &mut Waiter, post_file: &str) -> i32 {
    let file = PathBuf::from(format!("{post_file}.breakpointexit"));
    if let Err(e) = waiter.wait_for(&file, || wait::check_wait_file(&file, false)) {
        log(&format!(
            "error occurred while waiting for {}: {e}",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    match text.trim_end_matches('\n').parse() {
        Ok(code) => code,
        Err(_) => {
            log(&format!(
                "error occurred while reading breakpoint exit code from {}",
                file.display()
            ));
            0
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn opts(entrypoint: &str, args: &[&str]) -> Options {
        Options {
            entrypoint: entrypoint.to_owned(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        }
    }

    #[test]
    fn command_resolution_order() {
        let o = opts("ls", &["-l"]);
        assert_eq!(
            resolve_command(&o, Some("{}".into())).unwrap(),
            ["ls", "-l"]
        );
        let o = opts("", &["-l"]);
        let env = format!(
            r#"{{"{}": ["/bin/ls", "-a"], "other/arch": ["no"]}}"#,
            platform()
        );
        assert_eq!(
            resolve_command(&o, Some(env)).unwrap(),
            ["/bin/ls", "-a", "-l"]
        );
        assert!(resolve_command(&o, Some(r#"{"other/arch": ["no"]}"#.into())).is_err());
        assert!(resolve_command(&o, Some("not json".into())).is_err());
        assert_eq!(resolve_command(&o, None).unwrap(), ["-l"]);
        assert!(resolve_command(&opts("", &[]), None).is_err());
    }

    #[test]
    fn variantless_platform_fallback() {
        let o = opts("", &[]);
        let plat = platform();
        let head = plat.rsplit_once('/').map_or(plat, |(h, _)| h);
        let env = format!(r#"{{"{head}": ["x"]}}"#);
        assert_eq!(resolve_command(&o, Some(env)).unwrap(), ["x"]);
    }
}
