//! Waiting for files without Tekton's 1 s poll.
//!
//! The wait sleeps in `poll(2)` on an inotify descriptor that watches the file's directory, so
//! it wakes within microseconds of the previous step creating its post file and burns no CPU in
//! between. Watching the directory (not the file) catches creation, renames (the downward API
//! swaps a `..data` symlink) and content changes of the file and of its `.err` sibling alike.
//! If the directory does not exist yet, the nearest existing ancestor is watched and the watch
//! moves down as directories appear.
//!
//! A wait starts with a short poll (every millisecond for the first ~10 ms) and only then
//! creates its inotify descriptor. The reason is the exit: tearing down an inotify instance
//! waits for an SRCU grace period in the kernel (10–20 ms), and a process that still holds one
//! pays that when it exits. Most hand-offs in a chain of short steps end within the poll; a
//! longer wait uses inotify and hands the descriptor to a thread that closes it while the step
//! runs ([`Waiter::release`]), so the teardown overlaps with the step instead of delaying the
//! step's exit.
//!
//! Two safety nets: without inotify (no kernel support, watch limit reached, or
//! `TKC_ENTRYPOINT_POLL=1`) the wait falls back to a 1 ms back-off poll capped at 50 ms; with
//! inotify the condition is still re-checked every second, so a file system that does not
//! report events (some network file systems) is never slower than Tekton.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Re-check interval while inotify is armed, in case events are never delivered.
const SAFETY_NET_MS: libc::c_int = 1000;
/// Checks at 1 ms intervals before a wait sets up inotify.
const QUICK_POLLS: u32 = 10;
/// First and longest sleep of the fallback poll.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// Events that may make a waited-for condition true: entries created, renamed in, written or
/// closed after writing, and the watched directory itself going away (the watch must move).
const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

/// A reusable waiter; owns its inotify descriptor once a wait has needed one.
pub struct Waiter {
    inotify: Option<OwnedFd>,
    /// inotify is not to be used (`TKC_ENTRYPOINT_POLL`) or could not be set up.
    poll_only: bool,
    /// How long an inotify wait may last before the file is checked anyway.
    safety_net_ms: libc::c_int,
    /// Checks at 1 ms intervals before inotify is set up.
    quick_polls: u32,
}

impl Waiter {
    /// A waiter that uses inotify for long waits when it is available (and not disabled by
    /// `TKC_ENTRYPOINT_POLL`).
    pub fn new() -> Waiter {
        let poll_only =
            std::env::var_os("TKC_ENTRYPOINT_POLL").is_some_and(|v| !v.is_empty() && v != "0");
        Waiter {
            inotify: None,
            poll_only,
            safety_net_ms: SAFETY_NET_MS,
            quick_polls: QUICK_POLLS,
        }
    }

    /// The inotify descriptor, created on first use; `None` when inotify is unavailable.
    fn inotify(&mut self) -> Option<&OwnedFd> {
        if self.inotify.is_none() && !self.poll_only {
            // SAFETY: inotify_init1 takes only flags and returns a new descriptor or -1.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
            if fd >= 0 {
                // SAFETY: fd is a freshly created descriptor that nothing else owns.
                self.inotify = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            } else {
                self.poll_only = true;
            }
        }
        self.inotify.as_ref()
    }

    /// Closes the inotify descriptor (if a wait made one) on a thread of its own: the kernel's
    /// teardown then runs while the step does, instead of when the process exits.
    pub fn release(&mut self) {
        if let Some(fd) = self.inotify.take() {
            let spawned = std::thread::Builder::new()
                .stack_size(16 * 1024)
                .spawn(move || drop(fd));
            // Without a thread the descriptor is closed here, which is merely slower.
            drop(spawned);
        }
    }

    /// Blocks until `check` returns `Some`, re-evaluating it whenever something changes in the
    /// directory of `path` (or an ancestor, while that directory does not exist).
    pub fn wait_for<T>(
        &mut self,
        path: &Path,
        mut check: impl FnMut() -> io::Result<Option<T>>,
    ) -> io::Result<T> {
        let mut backoff = FIRST_BACKOFF;
        for _ in 0..self.quick_polls {
            if let Some(v) = check()? {
                return Ok(v);
            }
            std::thread::sleep(FIRST_BACKOFF);
        }
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            if let Some(watched) = self.arm(path) {
                // Re-check after arming: the file may have appeared between the first check and
                // the watch, and that event would never be reported.
                if let Some(v) = check()? {
                    return Ok(v);
                }
                // A deeper directory may have appeared before the watch was added: its
                // creation would never be reported either; watch it first.
                if nearest_existing_dir(path) != watched {
                    continue;
                }
                self.sleep_for_event();
            } else {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// Watches the directory that will hold `path` (or its nearest existing ancestor), and
    /// says which; `None` if inotify cannot be used.
    fn arm(&mut self, path: &Path) -> Option<PathBuf> {
        let fd = self.inotify()?.as_raw_fd();
        let dir = nearest_existing_dir(path);
        let c_dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // Adding a watch on an already watched directory just returns the same watch, so this is
        // cheap to repeat, and it re-creates the watch if the directory was replaced.
        // SAFETY: fd is a live inotify descriptor and c_dir a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(fd, c_dir.as_ptr(), MASK) };
        (wd >= 0).then_some(dir)
    }

    /// Sleeps until an event arrives (or the safety-net interval passes), then consumes one
    /// buffer of events. Which events they were does not matter: the caller re-checks its
    /// condition. One read, not a drain-until-empty loop: in a busy directory events could
    /// keep coming and the condition would never be re-checked; what is left just makes the
    /// next poll return at once.
    fn sleep_for_event(&self) {
        let Some(fd) = &self.inotify else { return };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd and the count says 1.
        unsafe { libc::poll(&mut pfd, 1, self.safety_net_ms) };
        let mut buf = [0u8; 4096];
        // SAFETY: buf is writable for its whole length; the descriptor is non-blocking, so
        // this returns -1/EAGAIN at once when the poll timed out.
        unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
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
        // With a 60 s safety net, only inotify can end the wait in time: the watch must move
        // down as the directories appear. (No tight timing: a loaded machine is fine.)
        let mut w = Waiter::new();
        w.safety_net_ms = 60_000;
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
        w.safety_net_ms = 60_000;
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
