//! End-to-end tests of the real `tkc-entrypoint` binary: ordering through wait/post files,
//! failure propagation, onError, timeout, signals, results and the termination message.
//!
//! Every test works in its own temporary directory and passes `-tekton_root` into it, so
//! nothing touches `/tekton`; every spawned process is waited for or killed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tkc-entrypoint");

/// A temporary directory removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tkc-ep-it-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Tmp(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An entrypoint command rooted in `t` (results, steps, termination all under it).
fn ep(t: &Tmp, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("-tekton_root").arg(&t.0).args(args);
    c.env_remove("TEKTON_PLATFORM_COMMANDS")
        .env_remove("TKC_ENTRYPOINT_POLL");
    c
}

fn output(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().expect("run tkc-entrypoint")
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits for `child` with a deadline, killing it if the deadline passes (so a broken build
/// fails the test instead of hanging the suite).
fn wait_with_deadline(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tkc-entrypoint did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_for_file(p: &Path, limit: Duration) {
    let start = Instant::now();
    while !p.exists() {
        assert!(
            start.elapsed() < limit,
            "{} did not appear within {limit:?}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True once `pid` is gone or a zombie (a zombie runs nothing; reaping it is init's job).
fn process_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The entrypoint of step `i` of a task in `t` (its wait, post and termination files).
fn step(t: &Tmp, i: usize) -> Command {
    let mut c = ep(t, &[]);
    c.args(step_args(t, i));
    c
}

/// Waits until `pid` has exited (or is a zombie), at most 3 s.
fn assert_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !process_gone(pid) {
        assert!(Instant::now() < deadline, "{what} (pid {pid})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One step of a chain: waits for step i-1's post file, posts its own.
fn step_args(t: &Tmp, i: usize) -> Vec<String> {
    let mut a = Vec::new();
    if i > 0 {
        a.extend(["-wait_file".to_string(), t.s(&format!("run/{}/out", i - 1))]);
    }
    a.extend([
        "-post_file".to_string(),
        t.s(&format!("run/{i}/out")),
        "-termination_path".to_string(),
        t.s(&format!("term/{i}")),
        "-step_metadata_dir".to_string(),
        t.s(&format!("run/{i}/status")),
    ]);
    a
}

#[test]
fn chain_of_three_steps_runs_in_order() {
    let t = Tmp::new("chain");
    let log = t.s("log");
    // Start the last step first: only the files may order them.
    let mut children: Vec<(usize, Child)> = (0..3)
        .rev()
        .map(|i| {
            let script = format!("sleep 0.05; echo {i} >> {log}");
            let mut c = step(&t, i);
            c.args(["-entrypoint", "sh", "--", "-c", &script]);
            (i, c.spawn().expect("spawn"))
        })
        .collect();
    for (i, child) in &mut children {
        let status = wait_with_deadline(child, Duration::from_secs(10));
        assert!(status.success(), "step {i}: {status:?}");
    }
    assert_eq!(read(&t.path("log")), "0\n1\n2\n");
    for i in 0..3 {
        assert!(t.path(&format!("run/{i}/out")).exists());
        assert!(!t.path(&format!("run/{i}/out.err")).exists());
        assert_eq!(read(&t.path(&format!("run/{i}/status/exitCode"))), "0");
        assert!(t.path(&format!("run/{i}/status/results")).is_dir());
        assert!(t.path(&format!("run/{i}/status/artifacts")).is_dir());
        let msg = read(&t.path(&format!("term/{i}")));
        assert!(msg.starts_with(r#"[{"key":"StartedAt","value":""#), "{msg}");
        assert!(msg.ends_with(r#"Z","type":3}]"#), "{msg}");
    }
}

#[test]
fn failing_middle_step_skips_the_rest() {
    let t = Tmp::new("fail");
    let mut s0 = step(&t, 0);
    s0.args(["-entrypoint", "true"]);
    let mut s1 = step(&t, 1);
    s1.args(["-entrypoint", "sh", "--", "-c", "exit 3"]);
    let ran = t.s("third-ran");
    let mut s2 = step(&t, 2);
    s2.args(["-entrypoint", "touch", "--", &ran]);

    let mut third = s2.stderr(Stdio::piped()).spawn().expect("spawn step 2");
    let mut second = s1.spawn().expect("spawn step 1");
    assert!(output(s0).status.success());
    assert_eq!(
        wait_with_deadline(&mut second, Duration::from_secs(10)).code(),
        Some(3)
    );
    assert_eq!(
        wait_with_deadline(&mut third, Duration::from_secs(10)).code(),
        Some(1)
    );

    assert!(t.path("run/1/out.err").exists(), "failed step writes .err");
    assert!(!t.path("run/1/out").exists());
    assert!(
        !t.path("run/1/status/exitCode").exists(),
        "no exitCode file for a plain failure"
    );
    assert!(
        t.path("run/2/out.err").exists(),
        "skipped step propagates .err"
    );
    assert!(!t.path("run/2/out").exists());
    assert!(
        !Path::new(&ran).exists(),
        "the skipped step's command must not run"
    );
    let msg = read(&t.path("term/2"));
    assert!(
        msg.contains(r#"{"key":"Reason","value":"Skipped","type":3}"#),
        "{msg}"
    );
    assert!(msg.contains(r#""key":"StartedAt""#), "{msg}");
}

#[test]
fn on_error_continue_exits_zero_and_reports_the_code() {
    let t = Tmp::new("continue");
    let mut c = step(&t, 0);
    c.args([
        "-on_error",
        "continue",
        "-entrypoint",
        "sh",
        "--",
        "-c",
        "exit 7",
    ]);
    let o = output(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(t.path("run/0/out").exists());
    assert!(!t.path("run/0/out.err").exists());
    assert_eq!(read(&t.path("run/0/status/exitCode")), "7");
    let msg = read(&t.path("term/0"));
    assert!(
        msg.contains(r#"{"key":"ExitCode","value":"7","type":3}"#),
        "{msg}"
    );
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let t = Tmp::new("timeout");
    let pidfile = t.s("grandchild.pid");
    // The grandchild does not hold our pipes, so a regression fails here instead of hanging.
    let script = format!("sleep 100 > /dev/null 2>&1 & echo $! > {pidfile}; wait");
    let mut c = step(&t, 0);
    c.args([
        "-timeout",
        "300ms",
        "-entrypoint",
        "sh",
        "--",
        "-c",
        &script,
    ]);
    let start = Instant::now();
    let o = output(c);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(t.path("run/0/out.err").exists());
    let msg = read(&t.path("term/0"));
    assert!(
        msg.contains(r#"{"key":"Reason","value":"TimeoutExceeded","type":3}"#),
        "{msg}"
    );

    let pid: i32 = read(Path::new(&pidfile))
        .trim()
        .parse()
        .expect("grandchild pid");
    assert_gone(pid, "the grandchild survived the timeout");
}

/// A timeout is no failure to debug: Tekton's `Entrypointer.Go` handles the deadline before
/// `BreakpointOnFailure` (failed post file, TimeoutExceeded, exit 1) and never waits for the
/// debugger's `.breakpointexit`.
#[test]
fn a_timeout_does_not_stop_at_a_breakpoint_on_failure() {
    let t = Tmp::new("timeout-bp");
    let mut c = step(&t, 0);
    c.args([
        "-breakpoint_on_failure",
        "-timeout",
        "100ms",
        "-entrypoint",
        "sleep",
        "--",
        "5",
    ]);
    let mut child = c.stdin(Stdio::null()).spawn().expect("run tkc-entrypoint");
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(t.path("run/0/out.err").exists());
    let msg = read(&t.path("term/0"));
    assert!(
        msg.contains(r#"{"key":"Reason","value":"TimeoutExceeded","type":3}"#),
        "{msg}"
    );
}

#[test]
fn background_jobs_do_not_outlive_a_successful_step() {
    let t = Tmp::new("leftover");
    let pidfile = t.s("bg.pid");
    let script = format!("sleep 100 > /dev/null 2>&1 & echo $! > {pidfile}; exit 0");
    let mut c = step(&t, 0);
    c.args(["-entrypoint", "sh", "--", "-c", &script]);
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid: i32 = read(Path::new(&pidfile)).trim().parse().expect("pid");
    assert_gone(pid, "the background job outlived its step");
}

#[test]
fn sigterm_is_forwarded_to_the_step() {
    let t = Tmp::new("sigterm");
    let ready = t.path("ready");
    let marker = t.path("got-term");
    let script = format!(
        "trap 'echo term > {}; exit 143' TERM; sleep 100 & touch {}; wait",
        marker.display(),
        ready.display()
    );
    let mut c = step(&t, 0);
    c.args(["-entrypoint", "sh", "--", "-c", &script]);
    let mut child = c.spawn().expect("spawn");
    wait_for_file(&ready, Duration::from_secs(5));
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: kill with a valid pid and signal number has no memory effects.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    assert_eq!(read(&marker), "term\n", "the step's trap did not run");
    assert_eq!(status.code(), Some(143));
    assert!(t.path("run/0/out.err").exists());
}

/// `tkc run` killed with SIGKILL: the entrypoint's parent dies, and the step must not run on.
#[test]
fn the_step_ends_when_the_entrypoint_parent_is_killed() {
    let t = Tmp::new("parent-death");
    let pidfile = t.s("step.pid");
    let mut argv = vec![BIN.to_string(), "-tekton_root".to_string(), t.s("")];
    argv.extend(step_args(&t, 0));
    argv.extend(["-entrypoint", "sh", "--", "-c"].map(String::from));
    argv.push(format!("echo $$ > {pidfile}; exec sleep 100"));
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    // The parent starts the entrypoint, waits for the step, then SIGKILLs itself.
    let parent = format!(
        "{} & while [ ! -s {pidfile} ]; do sleep 0.01; done; kill -KILL $$",
        quoted.join(" ")
    );
    let status = Command::new("sh")
        .args(["-c", &parent])
        .env_remove("TKC_ENTRYPOINT_POLL")
        .status()
        .expect("run the parent shell");
    assert!(!status.success());
    let pid: i32 = read(Path::new(&pidfile)).trim().parse().expect("pid");
    assert_gone(pid, "the step outlived the entrypoint's parent");
}

#[test]
fn sigterm_while_waiting_ends_the_entrypoint() {
    let t = Tmp::new("sigterm-wait");
    let mut c = ep(&t, &["-wait_file", &t.s("never"), "-entrypoint", "true"]);
    let mut child = c.spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(100));
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: kill with a valid pid and signal number has no memory effects.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

/// Regression test: a child inherits its parent's blocked signal mask, and the entrypoint
/// blocks SIGTERM & co. in every thread. The step must start with nothing blocked, and lead
/// its own process group.
///
/// The step is `cat`, not a shell: dash clears its own signal mask at start-up, which would
/// hide the bug from this test.
#[test]
fn step_starts_unblocked_in_its_own_process_group() {
    let t = Tmp::new("sigmask");
    let o = output({
        let mut c = ep(&t, &[]);
        c.args([
            "-entrypoint",
            "cat",
            "--",
            "/proc/self/status",
            "/proc/self/stat",
        ]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("SigBlk:\t0000000000000000"),
        "blocked signals leaked into the step:\n{out}"
    );
    // /proc/self/stat is one line without a newline: "pid (comm) state ppid pgrp ...".
    let stat = out.lines().last().expect("stat line");
    let (pid, rest) = stat.split_once(" (").expect("pid (comm)");
    let fields: Vec<&str> = rest
        .rsplit_once(") ")
        .expect("comm)")
        .1
        .split(' ')
        .collect();
    assert_eq!(
        fields[2], pid,
        "process group id should equal the step's pid: {stat}"
    );
}

#[test]
fn results_over_4096_bytes_fail_with_tektons_message() {
    let t = Tmp::new("big");
    fs::create_dir_all(t.path("results")).unwrap();
    fs::write(t.path("results/big"), "x".repeat(4100)).unwrap();
    let mut c = step(&t, 0);
    c.args(["-results", "big", "-entrypoint", "true"]);
    let o = output(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "Termination message is above max allowed size 4096, caused by large task result."
        ),
        "{}",
        stderr(&o)
    );
    // The post file the step earned is still written: the next step runs, as in Tekton.
    assert!(t.path("run/0/out").exists());
    assert!(!t.path("term/0").exists() || !read(&t.path("term/0")).contains("xxxx"));
}

#[test]
fn results_and_step_results_go_into_the_message_and_missing_ones_are_skipped() {
    let t = Tmp::new("results");
    let script = format!(
        "printf 'hi \"there\"\\n' > {}; printf '[\"a\"]' > {}",
        t.path("results/greeting").display(),
        t.path("run/0/status/results/list").display()
    );
    fs::create_dir_all(t.path("results")).unwrap();
    let mut c = step(&t, 0);
    c.args(["-results", "greeting,missing", "-step_results", "list,gone"]);
    c.args(["-entrypoint", "sh", "--", "-c", &script]);
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    let msg = read(&t.path("term/0"));
    assert!(msg.starts_with(r#"[{"key":"greeting","value":"hi \"there\"\n","type":1},{"key":"list","value":"[\"a\"]","type":4},{"key":"StartedAt""#), "{msg}");
    assert!(!msg.contains("missing") && !msg.contains("gone"), "{msg}");
}

#[test]
fn step_results_are_substituted_in_argv_and_env() {
    let t = Tmp::new("subst");
    let results = t.path("steps/step-prev/results");
    fs::create_dir_all(&results).unwrap();
    fs::write(results.join("arr"), r#"["one", "two words"]"#).unwrap();
    fs::write(results.join("name"), "world").unwrap();
    let script = r#"printf '%s|' "$GREETING" "$@""#;
    let mut c = ep(
        &t,
        &[
            "-entrypoint",
            "sh",
            "--",
            "-c",
            script,
            "sh",
            "$(steps.prev.results.arr[*])",
            "x-$(steps.prev.results.arr[1])",
        ],
    );
    c.env("GREETING", "hello $(steps.prev.results.name)");
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello world|one|two words|x-two words|"
    );
}

#[test]
fn false_when_expression_skips_without_failing() {
    let t = Tmp::new("when");
    let ran = t.s("ran");
    let when = r#"[{"input":"a","operator":"in","values":["b"]}]"#;
    let mut c = step(&t, 0);
    c.args([
        "--when_expressions",
        when,
        "-entrypoint",
        "touch",
        "--",
        &ran,
    ]);
    let o = output(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!Path::new(&ran).exists());
    assert!(t.path("run/0/out").exists());
    assert_eq!(read(&t.path("run/0/status/exitCode")), "0");
    assert!(read(&t.path("term/0")).contains(r#"{"key":"Reason","value":"Skipped","type":3}"#));
}

#[test]
fn cancel_file_kills_the_step() {
    let t = Tmp::new("cancel");
    fs::create_dir_all(t.path("downward")).unwrap();
    let ready = t.path("ready");
    let script = format!("sleep 100 & touch {}; wait", ready.display());
    let mut c = step(&t, 0);
    c.args(["-entrypoint", "sh", "--", "-c", &script]);
    let mut child = c.spawn().expect("spawn");
    wait_for_file(&ready, Duration::from_secs(5));
    fs::write(t.path("downward/cancel"), "1").unwrap();
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(9));
    assert!(t.path("run/0/out.err").exists());
    assert_eq!(read(&t.path("run/0/status/exitCode")), "killed");
    assert!(read(&t.path("term/0")).contains(r#"{"key":"Reason","value":"Cancelled","type":3}"#));
}

#[test]
fn output_is_teed_to_files_and_passed_through() {
    let t = Tmp::new("tee");
    let mut c = ep(
        &t,
        &[
            "-stdout_path",
            &t.s("logs/out"),
            "-stderr_path",
            &t.s("logs/err"),
        ],
    );
    c.args([
        "-entrypoint",
        "sh",
        "--",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    let o = output(c);
    assert!(o.status.success());
    assert_eq!(read(&t.path("logs/out")), "to-out\n");
    assert_eq!(read(&t.path("logs/err")), "to-err\n");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "to-out\n");
    assert!(stderr(&o).contains("to-err\n"));
}

#[test]
fn exit_codes_for_signals_missing_commands_and_bad_timeouts() {
    let t = Tmp::new("codes");
    // Killed by a signal: 255, like Go's os.Exit(-1).
    let mut c = ep(
        &t,
        &[
            "-post_file",
            &t.s("a/out"),
            "-entrypoint",
            "sh",
            "--",
            "-c",
            "kill -9 $$",
        ],
    );
    c.env("X", "1");
    assert_eq!(output(c).status.code(), Some(255));
    assert!(t.path("a/out.err").exists());
    // ... and ExitCode -1 with onError continue.
    let mut c = ep(
        &t,
        &[
            "-post_file",
            &t.s("b/out"),
            "-step_metadata_dir",
            &t.s("b/meta"),
            "-on_error",
            "continue",
        ],
    );
    c.args([
        "-termination_path",
        &t.s("b/term"),
        "-entrypoint",
        "sh",
        "--",
        "-c",
        "kill -9 $$",
    ]);
    assert_eq!(output(c).status.code(), Some(0));
    assert_eq!(read(&t.path("b/meta/exitCode")), "-1");
    // Command not found: exit 1 and .err, even with onError continue.
    let c = ep(
        &t,
        &[
            "-post_file",
            &t.s("c/out"),
            "-on_error",
            "continue",
            "-entrypoint",
            "/no/such/cmd",
        ],
    );
    let o = output(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/no/such/cmd"), "{}", stderr(&o));
    assert!(t.path("c/out.err").exists());
    // Negative timeout: the step fails without running.
    let c = ep(
        &t,
        &[
            "-post_file",
            &t.s("d/out"),
            "-timeout",
            "-1s",
            "-entrypoint",
            "true",
        ],
    );
    assert_eq!(output(c).status.code(), Some(1));
    assert!(t.path("d/out.err").exists());
    // Usage errors: exit 2 with the message on stderr.
    let o = output(ep(&t, &["-no_such_flag", "--", "true"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("flag provided but not defined: -no_such_flag"));
}

#[test]
fn platform_commands_supply_the_command() {
    let t = Tmp::new("platform");
    let mut c = ep(&t, &["--", "from-args"]);
    c.env("TEKTON_PLATFORM_COMMANDS", r#"{"linux/amd64":["echo","amd64"],"linux/arm64":["echo","arm64"],"linux/arm":["echo","arm"]}"#);
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.ends_with(" from-args\n") && out.len() > "from-args\n".len(),
        "{out}"
    );
}

#[test]
fn waits_for_content_with_and_without_dnotify() {
    for poll in ["", "1"] {
        let t = Tmp::new("content");
        let ready = t.path("downward/ready");
        fs::create_dir_all(ready.parent().unwrap()).unwrap();
        fs::write(&ready, "").unwrap();
        let mut c = ep(
            &t,
            &["-wait_file", &t.s("downward/ready"), "-wait_file_content"],
        );
        c.args(["-post_file", &t.s("out"), "-entrypoint", "true"])
            .env("TKC_ENTRYPOINT_POLL", poll);
        let mut child = c.spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            child.try_wait().unwrap().is_none(),
            "must wait while the file is empty (poll={poll:?})"
        );
        fs::write(&ready, "READY").unwrap();
        // Hand-off speed is the benchmark's to measure; here only that the content counts.
        assert!(wait_with_deadline(&mut child, Duration::from_secs(5)).success());
        assert!(t.path("out").exists());
    }
}

#[test]
fn subcommands_init_cp_and_decode_script() {
    let t = Tmp::new("subcommands");
    let o = output({
        let mut c = Command::new(BIN);
        c.args([
            "-tekton_root",
            &t.s("tekton"),
            "init",
            BIN,
            &t.s("bin/entrypoint"),
            "step-a",
            "step-b",
        ]);
        fs::create_dir_all(t.path("bin")).unwrap();
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(t.path("bin/entrypoint")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o311);
    assert_eq!(meta.len(), fs::metadata(BIN).unwrap().len());
    assert_eq!(
        fs::read_link(t.path("tekton/steps/step-b")).unwrap(),
        t.path("tekton/run/1/status")
    );
    assert_eq!(
        fs::read_link(t.path("tekton/steps/0")).unwrap(),
        t.path("tekton/run/0/status")
    );

    fs::write(t.path("script"), "IyEvYmluL3NoCmVjaG8gaGkK\n").unwrap();
    let o = output({
        let mut c = Command::new(BIN);
        c.args(["decode-script", &t.s("script")]);
        c
    });
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&t.path("script")), "#!/bin/sh\necho hi\n");

    let o = output({
        let mut c = Command::new(BIN);
        c.args(["cp", &t.s("missing"), &t.s("x")]);
        c
    });
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cp error"), "{}", stderr(&o));
}

/// Issue 17: a step that leaves a `setsid` daemon holding its stdout must still end, and the
/// daemon with it (the entrypoint is the subreaper of everything the step starts).
#[test]
fn a_setsid_daemon_holding_the_output_dies_with_its_step() {
    let t = Tmp::new("setsid");
    let pidfile = t.s("daemon.pid");
    let script = format!("setsid sh -c 'echo $$ > {pidfile}; exec sleep 100' & sleep 0.2");
    let mut c = step(&t, 0);
    c.args(["-entrypoint", "sh", "--", "-c", &script]);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut sink);
        let _ = tx.send(());
    });
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert!(status.success());
    let closed = rx.recv_timeout(Duration::from_secs(10));
    let pid: i32 = read(Path::new(&pidfile)).trim().parse().expect("pid");
    if closed.is_err() {
        // SAFETY: kill with a valid pid and signal number has no memory effects.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("the daemon kept the step's output open");
    }
    assert_gone(pid, "the setsid daemon outlived its step");
}

/// Issue 17: result files are the step's to plant. A FIFO must not hang the entrypoint, a
/// link to `/dev/zero` must not exhaust memory, a link to a file must not be followed.
#[test]
fn result_files_are_read_only_when_they_are_regular_files() {
    for (name, plant) in [
        ("fifo", "mkfifo"),
        ("zero", "ln -s /dev/zero"),
        ("link", "ln -s SECRET"),
    ] {
        let t = Tmp::new(name);
        fs::create_dir_all(t.path("results")).unwrap();
        fs::write(t.path("SECRET"), "secret-value").unwrap();
        let plant = plant.replace("SECRET", &t.s("SECRET"));
        let script = format!("{plant} {}", t.s(&format!("results/{name}")));
        let mut c = step(&t, 0);
        c.args(["-results", name, "-entrypoint", "sh", "--", "-c", &script]);
        let mut child = c
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_with_deadline(&mut child, Duration::from_secs(10));
        assert_eq!(status.code(), Some(1), "{name}: the step must fail");
        let message = fs::read_to_string(t.path("term/0")).unwrap_or_default();
        assert!(!message.contains("secret-value"), "{name}: {message}");
    }
}

/// Issue 17: descriptors the entrypoint's parent left open (tkc's, a CI runner's) do not
/// reach the step.
#[test]
fn inherited_descriptors_do_not_reach_the_step() {
    let t = Tmp::new("fds");
    let mut argv = vec![BIN.to_string(), "-tekton_root".to_string(), t.s("")];
    argv.extend(step_args(&t, 0));
    argv.extend(["-entrypoint", "sh", "--", "-c", "test ! -e /proc/self/fd/7"].map(String::from));
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    let status = Command::new("sh")
        .args([
            "-c",
            &format!("exec 7</dev/null; exec {}", quoted.join(" ")),
        ])
        .status()
        .expect("run the parent shell");
    assert!(status.success(), "descriptor 7 reached the step");
}

/// Issue 17: `sidecar -- CMD` runs a sidecar that is killed when its parent (tkc) dies.
#[test]
fn a_sidecar_dies_with_its_parent() {
    let t = Tmp::new("sidecar");
    let pidfile = t.s("sidecar.pid");
    let parent = format!(
        "'{BIN}' sidecar -- sh -c 'echo $$ > {pidfile}; exec sleep 100' & \
         i=0; while [ ! -s {pidfile} ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; \
         kill -KILL $$"
    );
    let status = Command::new("sh")
        .args(["-c", &parent])
        .status()
        .expect("run the parent shell");
    assert!(!status.success());
    let pid: i32 = read(Path::new(&pidfile)).trim().parse().expect("pid");
    assert_gone(pid, "the sidecar outlived its parent");
}

#[test]
fn a_command_is_looked_up_on_path_once_as_go_does() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tmp::new("lookpath");
    // The first `PATH` entry holds a `tool` nobody may execute, the second a directory named
    // `tool`, the third the real one: Go's `exec.LookPath` (Tekton's) skips the first two.
    let write = |rel: &str, text: &str, mode: u32| {
        let p = t.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    write("no-exec/tool", "#!/bin/sh\necho wrong\n", 0o644);
    fs::create_dir_all(t.path("dir/tool")).unwrap();
    write("real/tool", "#!/bin/sh\necho \"$0 ran\"\n", 0o755);
    let path = format!(
        "{}:{}:{}:/usr/bin:/bin",
        t.s("no-exec"),
        t.s("dir"),
        t.s("real")
    );
    let mut c = ep(&t, &["-post_file", &t.s("out"), "-entrypoint", "tool"]);
    c.env("PATH", &path);
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    // A shell script's $0 is the path it was run from; the lookup found the third entry.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{} ran\n", t.s("real/tool"))
    );
    // argv[0] is the name as given, as execvp and Go's exec leave it.
    let mut c = ep(&t, &["-post_file", &t.s("out2"), "-entrypoint", "sh", "--"]);
    c.args(["-c", "echo \"$0\""]);
    let o = output(c);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sh\n", "{}", stderr(&o));
    // Nothing on PATH: Go's `exec.ErrNotFound`, logged as Tekton's `main` does, a failed
    // post file, exit 1, and no second lookup by `execvp` (which would find `/bin/true`).
    let mut c = ep(&t, &["-post_file", &t.s("out3"), "-entrypoint", "true"]);
    c.env("PATH", t.s("real"));
    let o = output(c);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            r#"Error executing command: exec: "true": executable file not found in $PATH"#
        ),
        "{}",
        stderr(&o)
    );
    assert!(t.path("out3.err").exists());
    // A match relative to the working directory (a relative or empty entry) is refused like
    // Go's `exec.ErrDot` (Go 1.19+), although the file is there and executable.
    for (n, path) in ["real:/bin", ":/bin"].into_iter().enumerate() {
        let post = t.s(&format!("out-dot{n}"));
        let mut c = ep(&t, &["-post_file", &post, "-entrypoint", "tool"]);
        c.env("PATH", path);
        c.current_dir(if n == 0 { t.path("") } else { t.path("real") });
        let o = output(c);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(
                r#"exec: "tool": cannot run executable found relative to current directory"#
            ),
            "{}",
            stderr(&o)
        );
        assert!(!String::from_utf8_lossy(&o.stdout).contains("ran"));
    }
}

/// A `PATH` that a step result was substituted into is the one the command is looked up in,
/// as Tekton `os.Setenv`s substituted variables before `exec.CommandContext` (`Entrypointer.Go`).
#[test]
fn a_command_is_looked_up_on_a_substituted_path() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tmp::new("substpath");
    // `wrong/tool` is on the unsubstituted `PATH` too, after the entry a result fills in.
    for (dir, text) in [("bin", "found"), ("wrong", "wrong")] {
        let tool = t.path(&format!("{dir}/tool"));
        fs::create_dir_all(tool.parent().unwrap()).unwrap();
        fs::write(&tool, format!("#!/bin/sh\necho {text}\n")).unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let results = t.path("steps/step-prev/results");
    fs::create_dir_all(&results).unwrap();
    fs::write(results.join("dir"), t.s("bin")).unwrap();
    let mut c = ep(&t, &["-post_file", &t.s("out"), "-entrypoint", "tool"]);
    c.env(
        "PATH",
        format!("$(steps.prev.results.dir):{}:/usr/bin:/bin", t.s("wrong")),
    );
    let o = output(c);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "found\n");
}
