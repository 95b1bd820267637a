//! Waiting for files without Tekton's 1 s poll.
//!
//! The wait sleeps in `poll(2)` on an inotify descriptor that watches the file's directory, so
//! it wakes within microseconds of the previous step creating its post file and burns no CPU in
//! between. Watching the directory (not the file) catches creation, renames (the downward API
//! swaps a `..data` symlink) and content changes of the file and of its `.err` sibling alike.
//! If the directory does not exist yet, the nearest existing ancestor is watched and the watch
//! moves down as directories appear.
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

/// A reusable waiter; owns its inotify descriptor, if it got one.
pub struct Waiter {
    inotify: Option<OwnedFd>,
    /// How long an inotify wait may last before the file is checked anyway.
    safety_net_ms: libc::c_int,
}

impl Waiter {
    /// A waiter using inotify when available (and not disabled by `TKC_ENTRYPOINT_POLL`).
    pub fn new() -> Waiter {
        let forced_poll =
            std::env::var_os("TKC_ENTRYPOINT_POLL").is_some_and(|v| !v.is_empty() && v != "0");
        if forced_poll {
            return Waiter {
                inotify: None,
                safety_net_ms: SAFETY_NET_MS,
            };
        }
        // SAFETY: inotify_init1 takes only flags and returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        let inotify = (fd >= 0).then(|| {
            // SAFETY: fd is a freshly created descriptor that nothing else owns.
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        Waiter {
            inotify,
            safety_net_ms: SAFETY_NET_MS,
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
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            if self.arm(path) {
                // Re-check after arming: the file may have appeared between the first check and
                // the watch, and that event would never be reported.
                if let Some(v) = check()? {
                    return Ok(v);
                }
                self.sleep_for_event();
            } else {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// Watches the directory that will hold `path`; false if inotify cannot be used.
    fn arm(&self, path: &Path) -> bool {
        let Some(fd) = &self.inotify else {
            return false;
        };
        let dir = nearest_existing_dir(path);
        let Ok(c_dir) = CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // Adding a watch on an already watched directory just returns the same watch, so this is
        // cheap to repeat, and it re-creates the watch if the directory was replaced.
        // SAFETY: fd is a live inotify descriptor and c_dir a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c_dir.as_ptr(), MASK) };
        wd >= 0
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
