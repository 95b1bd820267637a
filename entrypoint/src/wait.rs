//! Waiting for files without Tekton's 1 s poll.
//!
//! The wait sleeps in `sigtimedwait(2)` on a dnotify watch (`fcntl(F_NOTIFY)`) of the file's
//! directory, so it wakes within microseconds of the previous step creating its post file and
//! burns no CPU in between. Watching the directory (not the file) catches creation, renames (the
//! downward API swaps a `..data` symlink) and content changes of the file and of its `.err`
//! sibling alike. If the directory does not exist yet, the nearest existing ancestor is watched
//! and the watch moves down as directories appear.
//!
//! Why dnotify and not inotify: closing an inotify instance that held a watch waits for an SRCU
//! grace period in the kernel (8–20 ms, measured on 6.x), and a process that still holds one
//! pays that when it exits, so a short step's entrypoint took 10 ms longer to end. A dnotify
//! watch belongs to the kernel's one global dnotify group and goes away with the directory's
//! descriptor at no such cost (about 10 µs). Its event is a signal: `SIGURG` (ignored by
//! default, so a stray one harms nothing), sent to the waiting thread only (`F_SETOWN_EX`), which
//! blocks it while it waits and so receives it through `sigtimedwait` alone.
//!
//! Two safety nets: without dnotify (a kernel built without it, or `TKC_ENTRYPOINT_POLL=1`) the
//! wait falls back to a 1 ms back-off poll capped at 50 ms; with dnotify the condition is still
//! re-checked every second, so a file system that does not report changes (some network file
//! systems) is never slower than Tekton's poll (`realWaiter.Wait`, cmd/entrypoint/waiter.go).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Re-check interval while a watch is armed, in case changes are never reported.
const SAFETY_NET_MS: u64 = 1000;
/// First and longest sleep of the fallback poll.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// The signal dnotify raises. Its default action is to ignore it, so one that reaches a thread
/// not waiting for it (a thread that does not block it) is dropped instead of killing us.
const NOTIFY_SIGNAL: libc::c_int = libc::SIGURG;

// From <linux/fcntl.h> and <asm-generic/fcntl.h> (the same on x86_64 and aarch64); the libc
// crate does not export them for these targets.
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
const DN_MODIFY: libc::c_int = 0x0000_0002;
const DN_CREATE: libc::c_int = 0x0000_0004;
const DN_RENAME: libc::c_int = 0x0000_0010;
const DN_ATTRIB: libc::c_int = 0x0000_0020;
const DN_MULTISHOT: libc::c_int = 0x8000_0000_u32 as libc::c_int;

/// `struct f_owner_ex` of <linux/fcntl.h>.
#[repr(C)]
struct OwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// Changes that may make a waited-for condition true: entries created, renamed in, written or
/// with new attributes. Multishot: every change signals, not just the first.
const EVENTS: libc::c_int = DN_CREATE | DN_RENAME | DN_MODIFY | DN_ATTRIB | DN_MULTISHOT;

/// A reusable waiter.
pub struct Waiter {
    /// dnotify is not to be used (`TKC_ENTRYPOINT_POLL`) or could not be set up.
    poll_only: bool,
    /// How long a watched wait may last before the file is checked anyway.
    safety_net: Duration,
}

impl Waiter {
    /// A waiter that sleeps on dnotify when it is available (and not disabled by
    /// `TKC_ENTRYPOINT_POLL`).
    pub fn new() -> Waiter {
        let poll_only =
            std::env::var_os("TKC_ENTRYPOINT_POLL").is_some_and(|v| !v.is_empty() && v != "0");
        Waiter {
            poll_only,
            safety_net: Duration::from_millis(SAFETY_NET_MS),
        }
    }

    /// Blocks until `check` returns `Some`, re-evaluating it whenever something changes in the
    /// directory of `path` (or an ancestor, while that directory does not exist).
    pub fn wait_for<T>(
        &mut self,
        path: &Path,
        mut check: impl FnMut() -> io::Result<Option<T>>,
    ) -> io::Result<T> {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if !self.poll_only {
            let _blocked = BlockedSignal::new(NOTIFY_SIGNAL);
            loop {
                let dir = nearest_existing_dir(path);
                let watch = match Watch::arm(&dir) {
                    Ok(watch) => watch,
                    // A kernel without dnotify: poll from now on.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        self.poll_only = true;
                        break;
                    }
                    // The directory went away or cannot be read: poll for this wait.
                    Err(_) => break,
                };
                loop {
                    // Checked after arming: the file may have appeared between the last check
                    // and the watch, and that change would never be reported.
                    if let Some(v) = check()? {
                        return Ok(v);
                    }
                    // A deeper directory appeared: watch it instead.
                    if nearest_existing_dir(path) != dir {
                        break;
                    }
                    // A quiet safety net re-arms: the directory may have been replaced at the
                    // same path, and the watch on the old one would never fire again.
                    if !watch.sleep(self.safety_net) {
                        break;
                    }
                }
            }
        }
        let mut backoff = FIRST_BACKOFF;
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            crate::process::sleep_taking_signals(backoff, None);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Blocks one signal in the calling thread and restores the thread's mask when dropped (a
/// signal still pending then is delivered, and ignored by default).
struct BlockedSignal {
    old: libc::sigset_t,
}

impl BlockedSignal {
    fn new(sig: libc::c_int) -> BlockedSignal {
        let set = signal_set(sig);
        // SAFETY: sigset_t is plain data, so all-zero is valid; pthread_sigmask reads `set`
        // and writes the previous mask into `old`, both valid for the call.
        unsafe {
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            BlockedSignal { old }
        }
    }
}

impl Drop for BlockedSignal {
    fn drop(&mut self) {
        // SAFETY: `old` is the mask pthread_sigmask returned in `new`, on this same thread
        // (the guard never leaves `wait_for`).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

fn signal_set(sig: libc::c_int) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, so all-zero is a valid value; sigemptyset/sigaddset
    // write only to this local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        set
    }
}

/// A dnotify watch on one directory, signalling the thread that armed it. Closing the
/// directory's descriptor (on drop) removes the watch.
struct Watch {
    /// Held open for the watch's sake: the watch ends when it is closed.
    _dir: OwnedFd,
}

impl Watch {
    /// Watches `dir` for changes. `EINVAL` means the kernel has no dnotify.
    fn arm(dir: &Path) -> io::Result<Watch> {
        let c_dir = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::ENOENT))?;
        // SAFETY: c_dir is a NUL-terminated path; open returns a new descriptor or -1.
        let fd = unsafe {
            libc::open(
                c_dir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly opened descriptor that nothing else owns.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: syscall(SYS_gettid) takes no arguments and returns this thread's id.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
        let owner = OwnerEx {
            kind: F_OWNER_TID,
            pid: tid,
        };
        // SAFETY: fcntl on our own descriptor with integer arguments, and for F_SETOWN_EX a
        // pointer to a valid f_owner_ex. F_NOTIFY makes the process the owner, so the owner
        // is narrowed to this thread after it.
        let armed = unsafe {
            libc::fcntl(dir.as_raw_fd(), F_SETSIG, NOTIFY_SIGNAL) == 0
                && libc::fcntl(dir.as_raw_fd(), libc::F_NOTIFY, EVENTS) == 0
                && libc::fcntl(dir.as_raw_fd(), F_SETOWN_EX, &owner as *const OwnerEx) == 0
        };
        if !armed {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch { _dir: dir })
    }

    /// Sleeps until the directory changes (or `limit` passes). Which change it was does not
    /// matter: the caller re-checks its condition. The calling thread blocks the signal
    /// ([`BlockedSignal`]), so it stays pending until taken here; so are the forwarded
    /// signals, which are acted on here too (one before the step ends the entrypoint).
    /// True when the directory changed, false when `limit` passed (or another signal came).
    fn sleep(&self, limit: Duration) -> bool {
        crate::process::sleep_taking_signals(limit, Some(NOTIFY_SIGNAL))
    }
}
/// The directory to watch for `path`: its parent, or the closest ancestor that exists.
fn nearest_existing_dir(path: &Path) -> PathBuf {
    let mut dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    loop {
        if dir.is_dir() {
            return dir;
        }
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => return PathBuf::from(if path.is_absolute() { "/" } else { "." }),
        }
    }
}

/// What a wait file said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// The file is there (non-empty if content was required).
    Ready,
    /// `<file>.err` is there: the previous step failed.
    PredecessorFailed,
}

/// Tekton's wait-file rule: the file exists (and is non-empty when `need_content`); otherwise
/// `<file>.err` existing means the predecessor failed. Other stat errors are errors.
pub fn check_wait_file(file: &Path, need_content: bool) -> io::Result<Option<WaitResult>> {
    match std::fs::metadata(file) {
        Ok(m) if !need_content || m.len() > 0 => return Ok(Some(WaitResult::Ready)),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("waiting for {file:?}: {e}"),
            ));
        }
    }
    let mut err_file = file.as_os_str().to_owned();
    err_file.push(".err");
    if Path::new(&err_file).exists() {
        return Ok(Some(WaitResult::PredecessorFailed));
    }
    Ok(None)
}

/// True once `file` exists and is non-empty (the cancel and readiness condition).
pub fn is_non_empty(file: &Path) -> io::Result<Option<()>> {
    match std::fs::metadata(file) {
        Ok(m) if m.len() > 0 => Ok(Some(())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Instant;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tkc-ep-unit-wait-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn wakes_on_creation_in_a_directory_made_later() {
        let d = tempdir("deep");
        let target = d.join("a/b/out");
        let writer = {
            let target = target.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::thread::sleep(Duration::from_millis(30));
                fs::write(&target, b"").unwrap();
            })
        };
        let start = Instant::now();
        // With a 60 s safety net, only the watch can end the wait in time: the watch must move
        // down as the directories appear. (No tight timing: a loaded machine is fine.)
        let mut w = Waiter::new();
        w.safety_net = Duration::from_secs(60);
        let got = w
            .wait_for(&target, || check_wait_file(&target, false))
            .unwrap();
        assert_eq!(got, WaitResult::Ready);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
        writer.join().unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wakes_in_a_directory_replaced_at_the_same_path() {
        let d = tempdir("replaced");
        let target = d.join("sub/out");
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        let safety_net = Duration::from_secs(2);
        let writer = {
            let target = target.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let sub = target.parent().unwrap();
                fs::remove_dir(sub).unwrap();
                fs::create_dir(sub).unwrap();
                // After one safety net has passed, so only a re-armed watch sees this at once.
                std::thread::sleep(safety_net + Duration::from_millis(400));
                fs::write(&target, b"").unwrap();
            })
        };
        let start = Instant::now();
        let mut w = Waiter::new();
        w.safety_net = safety_net;
        let got = w
            .wait_for(&target, || check_wait_file(&target, false))
            .unwrap();
        let waited = start.elapsed();
        writer.join().unwrap();
        assert_eq!(got, WaitResult::Ready);
        // The stale watch would only be checked past at the second safety net (4 s).
        assert!(
            waited < safety_net * 2 - Duration::from_millis(300),
            "{waited:?}"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn returns_promptly_in_a_busy_directory() {
        let d = tempdir("busy");
        let target = d.join("out");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let noise = {
            let (d, stop) = (d.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    fs::write(d.join("noise"), b"x").unwrap();
                }
            })
        };
        let creator = {
            let target = target.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                fs::write(&target, b"").unwrap();
            })
        };
        let start = Instant::now();
        // With a 60 s safety net, returning in time shows the loop re-checks the file
        // between bursts of events (no tight timing: a loaded machine is fine).
        let mut w = Waiter::new();
        w.safety_net = Duration::from_secs(60);
        let got = w
            .wait_for(&target, || check_wait_file(&target, false))
            .unwrap();
        let waited = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        noise.join().unwrap();
        creator.join().unwrap();
        assert_eq!(got, WaitResult::Ready);
        assert!(waited < Duration::from_secs(30), "{waited:?}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn content_requirement_and_err_sibling() {
        let d = tempdir("content");
        let f = d.join("ready");
        fs::write(&f, b"").unwrap();
        assert_eq!(check_wait_file(&f, true).unwrap(), None);
        assert_eq!(check_wait_file(&f, false).unwrap(), Some(WaitResult::Ready));
        let g = d.join("out");
        fs::write(d.join("out.err"), b"").unwrap();
        assert_eq!(
            check_wait_file(&g, false).unwrap(),
            Some(WaitResult::PredecessorFailed)
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn nearest_dir_walks_up() {
        assert_eq!(
            nearest_existing_dir(Path::new("/no/such/dir/file")),
            PathBuf::from("/")
        );
        assert_eq!(nearest_existing_dir(Path::new("file")), PathBuf::from("."));
    }
}
