//! Running the step: its own process group, signal forwarding, output tee, timeout and cancel.
//!
//! Signals: the forwarded signals are blocked in the main thread before any other thread
//! exists, so every thread inherits the mask and no thread ever receives them by delivery. The
//! main thread takes them where it waits: in `sigtimedwait` while it waits for files, from a
//! signalfd while it waits for the step (each is sent on to the step's process group), and
//! with a zero wait just before the step starts. Because the mask is inherited across `fork`
//! and `exec`, the child starts with an empty one ([`crate::spawn`] asks `posix_spawn` for
//! it); otherwise the step could never be stopped by SIGTERM.
//!
//! Ending: when the step's main process exits, times out or is cancelled, the whole group is
//! SIGKILLed before the main process is reaped; then every process still below the entrypoint
//! (it is their subreaper, so daemons that left the group with `setsid` count) is killed too. Reaping last keeps the group id from being
//! reused while we signal it. Killing leftovers after a normal exit matches Kubernetes, where a
//! step container's other processes die with its PID 1 (the entrypoint), and keeps background
//! jobs of a step from outliving it when tkc runs steps locally.

use crate::spawn;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Signals passed on to the step's process group.
pub const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// How long to let the tee threads drain the pipes once the group is dead. Only a process that
/// left the group (`setsid`) and kept the pipe open can make this wait expire.
const TEE_DRAIN: Duration = Duration::from_secs(2);

/// Where forwarded signals go right now.
enum Target {
    /// No step yet (still waiting): a signal ends the entrypoint, as it would end Tekton's.
    Idle,
    /// Between `spawn` starting and returning: signals are queued for the new group.
    Spawning(Vec<libc::c_int>),
    /// The step's process group.
    Running(libc::pid_t),
    /// The step has been killed (and is about to be reaped); signals are ignored while the
    /// results are written.
    Finished,
}

static TARGET: Mutex<Target> = Mutex::new(Target::Idle);

fn target() -> MutexGuard<'static, Target> {
    // The lock guards plain data, so a poisoned lock is still consistent.
    TARGET.lock().unwrap_or_else(PoisonError::into_inner)
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, so all-zero is a valid value; sigemptyset/sigaddset then
    // write only to this local set and cannot fail for valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the forwarded signals. Must run first in `main`, before any other thread is created,
/// so that every thread inherits the blocked mask: the signals then stay pending until the
/// main thread takes them where it waits (for files in `wait.rs`, for the step in
/// [`Running::supervise`]) or between waits ([`take_pending_signals`]). A forwarding thread
/// parked in `sigwait` did this before; it cost every step a thread.
pub fn block_forwarded_signals() -> io::Result<()> {
    let set = signal_set(&FORWARDED);
    // SAFETY: set is initialised and the old-mask pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Starts a thread that takes the forwarded signals as they come, for the wait that cannot
/// take them itself ([`wait_in_threads`], on kernels without pidfds).
fn start_forwarding_thread() -> io::Result<()> {
    let set = signal_set(&FORWARDED);
    std::thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: set and sig are valid for the duration of the call.
                if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                    on_signal(sig);
                }
            }
        })?;
    Ok(())
}

/// Sleeps in `sigtimedwait` until a forwarded signal or `also` (dnotify's signal, which the
/// caller blocks) arrives, or `limit` passes (zero: only takes what is pending). A forwarded
/// signal is acted on ([`on_signal`]); returns whether `also` came.
pub fn sleep_taking_signals(limit: Duration, also: Option<libc::c_int>) -> bool {
    let mut set = signal_set(&FORWARDED);
    if let Some(sig) = also {
        // SAFETY: set is an initialised sigset_t and sig a valid signal number.
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    // (Field types inferred: musl's `time_t` alias is deprecated in the libc crate.)
    let timeout = libc::timespec {
        tv_sec: limit.as_secs().try_into().unwrap_or(1),
        tv_nsec: limit.subsec_nanos().into(),
    };
    // SAFETY: set and timeout are valid for the call; a null siginfo pointer is allowed.
    // EAGAIN (the limit passed) and EINTR return -1: nothing came.
    let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
    if sig > 0 && Some(sig) != also {
        on_signal(sig);
    }
    sig > 0 && Some(sig) == also
}

/// Acts on the forwarded signals already pending, without waiting: between two waits, where
/// a signal must have the effect it would have had at once (end the entrypoint before the step
/// starts).
pub fn take_pending_signals() {
    let set = signal_set(&FORWARDED);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: set and zero are valid for the call; a null siginfo pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
        if sig <= 0 {
            return;
        }
        on_signal(sig);
    }
}

/// A signalfd of the forwarded signals (non-blocking), readable while one is pending.
fn signal_fd() -> Option<OwnedFd> {
    let set = signal_set(&FORWARDED);
    // SAFETY: set is valid for the call; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    // SAFETY: a non-negative fd was just created for us, and nothing else owns it.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the pending signals off `fd` ([`signal_fd`]) and acts on each.
fn take_signals_from(fd: &OwnedFd) {
    loop {
        // SAFETY: signalfd_siginfo is plain data, so all-zero is valid.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: info is a valid, writable buffer of `size` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut info).cast(), size) };
        if usize::try_from(n).ok() != Some(size) {
            return;
        }
        if let Ok(sig) = libc::c_int::try_from(info.ssi_signo) {
            on_signal(sig);
        }
    }
}

/// Asks for SIGTERM when the entrypoint's parent dies. Under `tkc run` the parent is tkc: if
/// tkc is SIGKILLed (a CI timeout, the OOM killer) its steps would otherwise run on, orphaned.
/// The SIGTERM is forwarded to the step like any other. In a pod the parent is the container
/// runtime, whose death ends the container anyway. Must run in the main thread (the death of
/// the parent's forking thread triggers it, and it is reset in children, so steps are not
/// affected).
pub fn terminate_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) };
}

/// Marks every descriptor above stderr close-on-exec, so that nothing the entrypoint's parent
/// left open (tkc's own files, a CI runner's sockets) reaches the step. Descriptors the
/// entrypoint opens itself are close-on-exec already (std opens everything so).
///
/// One `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)` does it (Linux 5.11); older kernels answer
/// `ENOSYS` or `EINVAL`, and the descriptors are then listed from `/proc/self/fd`, which costs
/// an open, a directory read and a close on every step.
pub fn close_inherited_descriptors() {
    // SAFETY: close_range takes plain integers and touches no memory; with
    // CLOSE_RANGE_CLOEXEC it only marks descriptors, it closes none.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<libc::c_int> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: fcntl(F_SETFD) on a descriptor number touches no memory; a number that is
        // no longer open (the directory's own) just yields EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Makes the entrypoint the reaper of its step's orphans: a process the step leaves behind
/// with `setsid` or a double fork is re-parented here instead of to init, so that it can be
/// found and killed when the step ends (see [`kill_descendants`]).
pub fn adopt_orphans() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes plain integers and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) };
}

/// The entrypoint's own children, from every thread's `/proc/self/task/<tid>/children`.
fn own_children() -> Vec<libc::pid_t> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<libc::pid_t>().ok()),
        );
    }
    out
}

/// Does the entrypoint have a child (running or not yet reaped)? `waitid` without waiting
/// and without reaping answers `ECHILD` when it has none.
fn has_children() -> bool {
    // SAFETY: siginfo_t is plain data, so all-zero is valid; waitid writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: info is a valid, writable siginfo_t; WNOHANG | WNOWAIT neither blocks nor reaps.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    rc == 0
}

/// Kills and reaps every process still below the entrypoint once the step is over: the
/// processes of the step that left its process group (`setsid` daemons, which would keep the
/// step's output open and the run waiting) included. Only our own children are signalled, and
/// each is reaped after its kill, so a pid is never reused under us; a killed child's children
/// are then re-parented to us (we are their subreaper) and killed in the next round. As in
/// Kubernetes, where everything in a container dies with its main process.
fn kill_descendants() {
    if !has_children() {
        // The usual case, decided by one syscall: nothing was left behind.
        return;
    }
    let deadline = Instant::now() + TEE_DRAIN;
    loop {
        let children = own_children();
        if children.is_empty() || Instant::now() >= deadline {
            return;
        }
        for &pid in &children {
            // SAFETY: kill takes plain integers; pid is our unreaped child, so it names it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for pid in children {
            let mut status = 0;
            // SAFETY: status is a valid, writable int; pid is our child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
    }
}

/// Does what a forwarded signal asks for in the entrypoint's current state ([`Target`]).
fn on_signal(sig: libc::c_int) {
    let mut t = target();
    match &mut *t {
        Target::Idle => {
            drop(t);
            die_by(sig)
        }
        Target::Spawning(pending) => pending.push(sig),
        Target::Running(pgid) => {
            // SAFETY: kill takes plain integers; a vanished group just yields ESRCH.
            unsafe { libc::kill(-*pgid, sig) };
        }
        Target::Finished => {}
    }
}

/// Terminates the entrypoint by `sig`'s default action, as an unhandled signal would.
fn die_by(sig: libc::c_int) -> ! {
    let set = signal_set(&[sig]);
    // SAFETY: restoring the default action and unblocking the signal in this thread, then
    // raising it, are plain libc calls on valid arguments; `_exit` is the fallback should the
    // default action not terminate.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
}

/// How the step ended.
#[derive(Debug)]
pub enum Outcome {
    /// The main process exited (or was killed by someone else) on its own.
    Exited(ExitStatus),
    /// `-timeout` elapsed; the group was killed.
    TimedOut,
    /// The cancel file became non-empty; the group was killed.
    Cancelled,
}

/// How often the cancel file is looked at while a step runs.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// A started step.
pub struct Running {
    child: spawn::Child,
    pgid: libc::pid_t,
    tee_done: mpsc::Receiver<()>,
    tees: usize,
}

/// The step's command line and output routing.
pub struct Spec<'a> {
    /// argv; `argv[0]` is looked up in `PATH` as Go's `exec.LookPath` does.
    pub argv: &'a [String],
    /// Environment variables to set (over the inherited ones).
    pub env: &'a [(String, String)],
    /// `-stdout_path` (empty: inherit stdout only).
    pub stdout_path: &'a str,
    /// `-stderr_path` (empty: inherit stderr only).
    pub stderr_path: &'a str,
}

fn open_tee(path: &str) -> io::Result<Option<File>> {
    if path.is_empty() {
        return Ok(None);
    }
    let path = Path::new(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Append, so that stdout and stderr may share one file (Tekton does the same).
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    Ok(Some(f))
}

/// Copies `from` to `file` and to our own stdout or stderr until EOF. Write errors on either
/// side are ignored so that the pipe keeps draining and the step never blocks on a full pipe.
fn tee(mut from: impl Read, mut file: File, to_stderr: bool, done: mpsc::Sender<()>) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let _ = file.write_all(&buf[..n]);
                let _ = if to_stderr {
                    io::stderr().write_all(&buf[..n])
                } else {
                    let mut out = io::stdout().lock();
                    out.write_all(&buf[..n]).and_then(|()| out.flush())
                };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = done.send(());
}

/// Where `program` runs from: itself when it names a path, else the first entry of `path_var`
/// (the step's `PATH`) holding a file (not a directory) we may execute. That is Go's
/// `exec.LookPath` (os/exec/lookpath_unix.go), which Tekton's entrypoint goes through
/// (`exec.CommandContext` in cmd/entrypoint/runner.go). It is looked up once, here: `execvp`
/// would walk `PATH` again with an `execve` per entry (ten failed ones per step for `true` on
/// a Debian `PATH`). When nothing matches, or the match is relative to the working directory
/// (an empty or relative `PATH` entry), the error is Go's `exec.ErrNotFound` or, as since Go
/// 1.19, `exec.ErrDot`, with `exec.Error`'s text; nothing is exec'd then.
fn look_path(program: &str, path_var: Option<&OsStr>) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    // Go's `filepath.SplitList` makes no entry of an empty `PATH`.
    let found = path_var
        .filter(|p| !p.is_empty())
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| {
            // An empty entry is the working directory (Unix shell semantics, as in Go).
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            dir.join(program)
        })
        .find(|p| may_execute(p));
    let reason = match found {
        Some(path) if path.is_absolute() => return Ok(path),
        Some(_) => "cannot run executable found relative to current directory",
        None => "executable file not found in $PATH",
    };
    // Go's `exec.Error`: `"exec: " + strconv.Quote(name) + ": " + err`.
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("exec: {program:?}: {reason}"),
    ))
}

/// The `PATH` the step's command is looked up in: the step's own when a step result was
/// substituted into it (Tekton `os.Setenv`s those before `exec.CommandContext` looks the
/// command up, in `Entrypointer.Go`), else the entrypoint's.
fn step_path_var(env: &[(String, String)]) -> Option<OsString> {
    match env.iter().find(|(k, _)| k == "PATH") {
        Some((_, v)) => Some(OsString::from(v)),
        None => std::env::var_os("PATH"),
    }
}

/// Go's `findExecutable`: not a directory, and executable for our effective ids.
fn may_execute(path: &Path) -> bool {
    if std::fs::metadata(path).map_or(true, |m| m.is_dir()) {
        return false;
    }
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c_path is a NUL-terminated path; faccessat only reads it.
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::X_OK,
            libc::AT_EACCESS,
        ) == 0
    }
}

/// Starts the step in its own session and process group with a clean signal mask. Its errors
/// are whole sentences: Go's `exec.Error` text when the lookup fails, else the program's name
/// and the cause.
pub fn spawn(spec: &Spec<'_>) -> io::Result<Running> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no command to run",
        ));
    };
    let path = look_path(program, step_path_var(spec.env).as_deref())?;
    start(&path, program, args, spec)
        .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))
}

/// Starts `path` as the step (`program` is its argv[0]): the part of [`spawn`] after the
/// lookup, whose errors [`spawn`] prefixes with the program's name.
fn start(path: &Path, program: &str, args: &[String], spec: &Spec<'_>) -> io::Result<Running> {
    let out_file = open_tee(spec.stdout_path)?;
    let err_file = open_tee(spec.stderr_path)?;
    let request = spawn::Request {
        path,
        argv0: program,
        args,
        env: spec.env,
        stdout_piped: out_file.is_some(),
        stderr_piped: err_file.is_some(),
    };

    // A signal that came since the last wait ends the entrypoint now, as it would have then.
    take_pending_signals();
    // Signals that arrive while the child is being created are queued, then delivered to its
    // group; `spawn` returns only after the child has exec'd, so the group exists by then.
    *target() = Target::Spawning(Vec::new());
    let spawned = match spawn::spawn(&request) {
        Ok(Some(child)) => Ok(child),
        Ok(None) => spawn::fork(&request),
        Err(e) => Err(e),
    };
    let mut t = target();
    let pending = match std::mem::replace(&mut *t, Target::Idle) {
        Target::Spawning(p) => p,
        _ => Vec::new(),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            drop(t);
            if let Some(&sig) = pending.first() {
                die_by(sig);
            }
            // No step: a signal that came meanwhile ends the entrypoint.
            take_pending_signals();
            return Err(e);
        }
    };
    let pgid = child.id();
    *t = Target::Running(pgid);
    drop(t);
    for sig in pending {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(-pgid, sig) };
    }

    let (done_tx, tee_done) = mpsc::channel();
    let mut tees = 0;
    if let (Some(file), Some(pipe)) = (out_file, child.stdout.take()) {
        let done = done_tx.clone();
        std::thread::Builder::new().spawn(move || tee(pipe, file, false, done))?;
        tees += 1;
    }
    if let (Some(file), Some(pipe)) = (err_file, child.stderr.take()) {
        let done = done_tx.clone();
        std::thread::Builder::new().spawn(move || tee(pipe, file, true, done))?;
        tees += 1;
    }
    Ok(Running {
        child,
        pgid,
        tee_done,
        tees,
    })
}

/// What ended the wait for the step.
enum Event {
    /// Its main process exited (not reaped yet).
    Exited,
    /// The cancel file became non-empty.
    Cancel,
    /// The deadline passed.
    TimedOut,
}

/// A pidfd of `pid` (Linux 5.3), which becomes readable when `pid` exits, before it is
/// reaped. `None` on an older kernel (or a seccomp filter that refuses it).
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Is the cancel file non-empty? `None` once it cannot be looked at any more (then cancel
/// is off for the rest of the step, as a failing watch always made it).
fn cancelled(cancel: &mut Option<PathBuf>) -> bool {
    let Some(path) = cancel.as_deref() else {
        return false;
    };
    match crate::wait::is_non_empty(path) {
        Ok(found) => found.is_some(),
        Err(_) => {
            *cancel = None;
            false
        }
    }
}

/// Waits for the step in the calling thread: `poll(2)` on a pidfd of its main process and on
/// a signalfd of the forwarded signals (each sent on to the step's group as it comes), woken
/// every [`CANCEL_POLL`] to look at the cancel file, until the process exits, the deadline
/// passes or the file is non-empty. Starting no thread for this saves three thread creations
/// per step (about 0.05 ms each), which a no-op step is mostly made of.
fn wait_on_pidfd(
    pidfd: &OwnedFd,
    signals: &OwnedFd,
    deadline: Option<Instant>,
    mut cancel: Option<PathBuf>,
) -> Event {
    loop {
        if cancelled(&mut cancel) {
            return Event::Cancel;
        }
        let mut wait = if cancel.is_some() {
            CANCEL_POLL
        } else {
            Duration::MAX
        };
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::TimedOut;
            }
            wait = wait.min(left);
        }
        let mut fds = [pidfd, signals].map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: fds is an array of two valid, writable pollfds for the duration of the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, poll_millis(wait)) } > 0 {
            if fds[1].revents != 0 {
                take_signals_from(signals);
            }
            if fds[0].revents != 0 {
                return Event::Exited;
            }
        }
        // A signal, the wait elapsed, or EINTR: look at the cancel file and the deadline again.
    }
}

/// `wait` as poll(2)'s timeout: rounded up (a deadline is never woken early and then spun
/// on), capped at `i32::MAX` ms, and -1 (forever) for `Duration::MAX`.
fn poll_millis(wait: Duration) -> libc::c_int {
    if wait == Duration::MAX {
        return -1;
    }
    let ms = wait.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

/// [`wait_on_pidfd`] for kernels without pidfds: a thread waits for the exit and another
/// polls the cancel file, and the first to report (or the deadline) ends the wait.
fn wait_in_threads(
    pid: libc::pid_t,
    deadline: Option<Instant>,
    cancel: Option<PathBuf>,
) -> io::Result<Event> {
    let (tx, rx) = mpsc::channel();
    let exit_tx = tx.clone();
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            wait_exited_not_reaped(pid);
            let _ = exit_tx.send(Event::Exited);
        })?;
    if let Some(path) = cancel {
        let cancel_tx = tx.clone();
        // Without this thread cancel would not work, but the step itself still can: go on.
        // It polls (a stat every 50 ms) rather than holding an inotify instance for the
        // whole step, whose teardown would delay the exit by an SRCU grace period.
        let _ = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut cancel = Some(path);
                while cancel.is_some() {
                    if cancelled(&mut cancel) {
                        let _ = cancel_tx.send(Event::Cancel);
                        return;
                    }
                    std::thread::sleep(CANCEL_POLL);
                }
            });
    }
    drop(tx);
    let event = match deadline {
        Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
    };
    Ok(match event {
        Ok(event) => event,
        Err(RecvTimeoutError::Timeout) => Event::TimedOut,
        // Disconnected cannot happen (the exit watcher always sends); treat it as an exit.
        Err(RecvTimeoutError::Disconnected) => Event::Exited,
    })
}

/// Blocks until `pid` has exited, without reaping it (`WNOWAIT`), so that its pid and process
/// group id stay reserved until we have killed the rest of the group.
fn wait_exited_not_reaped(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is plain data, so all-zero is valid; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is a valid, writable siginfo_t.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

impl Running {
    /// Waits for the step to end, for `timeout` to pass, or for `cancel_file` to become
    /// non-empty, whichever comes first; then kills what is left of the group and reaps.
    pub fn supervise(
        mut self,
        timeout: Option<Duration>,
        cancel_file: &Path,
    ) -> io::Result<Outcome> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let cancel = cancel_watch_path(cancel_file);
        let event = match pidfd_open(self.pgid).zip(signal_fd()) {
            Some((pidfd, signals)) => wait_on_pidfd(&pidfd, &signals, deadline, cancel),
            None => match start_forwarding_thread()
                .and_then(|()| wait_in_threads(self.pgid, deadline, cancel))
            {
                Ok(event) => event,
                Err(e) => {
                    self.end_group();
                    let _ = self.child.wait();
                    return Err(e);
                }
            },
        };
        self.end_group();
        let status = self.child.wait()?;
        kill_descendants();
        for _ in 0..self.tees {
            if self.tee_done.recv_timeout(TEE_DRAIN).is_err() {
                break;
            }
        }
        Ok(match event {
            Event::Cancel => Outcome::Cancelled,
            Event::TimedOut => Outcome::TimedOut,
            Event::Exited => Outcome::Exited(status),
        })
    }

    /// Kills the group, then stops forwarding signals to it, both before the leader is reaped:
    /// once reaped, its id may name another process's group (the forwarding thread of the
    /// fallback wait can still be handing on a signal then).
    fn end_group(&self) {
        // SAFETY: kill takes plain integers; the group leader is not reaped yet, so the id
        // still names our group. ESRCH (nothing left) is fine.
        unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
        *target() = Target::Finished;
    }
}

/// The cancel file to watch, if any: an empty path turns cancel off, and so does a missing
/// directory (the downward API volume is mounted before the container starts, so a directory
/// that is not there now will not appear later).
fn cancel_watch_path(cancel_file: &Path) -> Option<PathBuf> {
    if cancel_file.as_os_str().is_empty() {
        return None;
    }
    let dir = cancel_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.is_dir().then(|| cancel_file.to_path_buf())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::process::Command;

    type Wait = fn(libc::pid_t, Option<Instant>, Option<PathBuf>) -> Event;

    fn pid(child: &std::process::Child) -> libc::pid_t {
        libc::pid_t::try_from(child.id()).unwrap()
    }

    /// The single-threaded wait and its fallback for kernels without pidfds tell an exit, a
    /// timeout and a cancel apart alike.
    #[test]
    fn both_waits_report_exits_timeouts_and_cancels() {
        let dir = std::env::temp_dir().join(format!("tkc-ep-unit-wait-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cancel = dir.join("cancel");
        let on_pidfd: Wait = |pid, deadline, cancel| {
            let signals = signal_fd().expect("signalfd");
            wait_on_pidfd(&pidfd_open(pid).expect("pidfd"), &signals, deadline, cancel)
        };
        let in_threads: Wait =
            |pid, deadline, cancel| wait_in_threads(pid, deadline, cancel).expect("threads");
        for wait in [on_pidfd, in_threads] {
            let mut child = Command::new("true").spawn().unwrap();
            let event = wait(pid(&child), None, Some(cancel.clone()));
            assert!(matches!(event, Event::Exited));
            child.wait().unwrap();

            let mut child = Command::new("sleep").arg("5").spawn().unwrap();
            let deadline = Instant::now() + Duration::from_millis(30);
            let event = wait(pid(&child), Some(deadline), Some(cancel.clone()));
            assert!(matches!(event, Event::TimedOut));
            assert!(Instant::now() >= deadline);
            child.kill().unwrap();
            child.wait().unwrap();

            std::fs::write(&cancel, "cancel").unwrap();
            let mut child = Command::new("sleep").arg("5").spawn().unwrap();
            let event = wait(pid(&child), None, Some(cancel.clone()));
            assert!(matches!(event, Event::Cancel));
            child.kill().unwrap();
            child.wait().unwrap();
            std::fs::remove_file(&cancel).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Forwarding stops when the group is killed, while the leader is still unreaped, on
    /// every path out of `supervise` (the fallback wait's forwarding thread runs on until
    /// then): a signal after the reap could reach a group that reused the id.
    #[test]
    fn forwarding_stops_before_the_leader_is_reaped() {
        let argv = ["sleep".to_owned(), "5".to_owned()];
        let spec = Spec {
            argv: &argv,
            env: &[],
            stdout_path: "",
            stderr_path: "",
        };
        let mut running = spawn(&spec).unwrap();
        assert!(matches!(*target(), Target::Running(_)));
        running.end_group();
        assert!(matches!(*target(), Target::Finished));
        wait_exited_not_reaped(running.pgid);
        assert!(running.child.try_wait().unwrap().is_some());
        *target() = Target::Idle;
    }

    #[test]
    fn poll_timeouts_round_up_and_cap() {
        assert_eq!(poll_millis(Duration::from_nanos(1)), 1);
        assert_eq!(poll_millis(Duration::from_millis(50)), 50);
        assert_eq!(poll_millis(Duration::from_secs(1 << 40)), libc::c_int::MAX);
        assert_eq!(poll_millis(Duration::MAX), -1);
    }
}
