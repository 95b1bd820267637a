//! The directories a local run keeps its files in: private to the user, created fresh, and
//! cleaned up when their owner died.
//!
//! ```text
//! <runs>/                      $XDG_RUNTIME_DIR/tkc, else $TMPDIR/tkc-<uid>, else
//!                              /dev/shm/tkc-<uid> (a tmpfs), else /tmp/tkc-<uid>: mode 0700, ours
//!   <run>-<suffix>/            one per `tkc run`: created (never reused), mode 0700
//!     owner                    "<pid> <start time>" of the tkc that runs it
//! ```
//!
//! A directory tkc did not create must be owned by the user and writable by nobody else:
//! otherwise another user of the machine could have planted it (in `/tmp`, before tkc ever
//! ran) and read or replace what the run writes there. Such a directory is refused.

use super::procs;
use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (mode 0700, parents as needed) or, if it exists, checks that it is a real
/// directory (not a link) owned by this user and not writable by group or others.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    check_private(dir)
}

/// Refuses a directory that another user owns or may write to, or that is a link.
pub fn check_private(dir: &Path) -> Result<(), String> {
    let meta =
        std::fs::symlink_metadata(dir).map_err(|e| format!("cannot use {}: {e}", dir.display()))?;
    let uid = rustix::process::getuid().as_raw();
    if !meta.is_dir() {
        return Err(format!(
            "refusing {}: not a directory (a symbolic link is not followed)",
            dir.display()
        ));
    }
    if meta.uid() != uid {
        return Err(format!(
            "refusing {}: it belongs to uid {}, not to you (uid {uid}); another user may have planted it",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "refusing {}: it is writable by other users (mode {:o}); `chmod go-w` it if that is intended",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The real user id of this process.
pub fn user_id() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Where this user's run directories go, the first of:
///
/// 1. `$XDG_RUNTIME_DIR/tkc`: the user's own runtime directory (a tmpfs where systemd made it);
/// 2. `$TMPDIR/tkc-<uid>` when `TMPDIR` is set: the user said where temporary files go;
/// 3. `/dev/shm/tkc-<uid>` when `/dev/shm` is a tmpfs that allows executables and has at
///    least [`MIN_TMPFS_FREE`] free: a run creates and deletes a few dozen directories and
///    files per attempt, which costs microseconds in memory but milliseconds on a loaded disk
///    (a 102-task run: 0.44 s against 10 s on this project's machine);
/// 4. `/tmp/tkc-<uid>`.
///
/// Only tkc's own files go there (attempt directories, emptyDir and run workspaces); `dir:`
/// workspaces and claims stay where they are.
pub fn runs_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    choose_base(
        std::env::var_os("XDG_RUNTIME_DIR"),
        std::env::var_os("TMPDIR"),
        || usable_tmpfs(shm).then(|| shm.to_path_buf()),
        rustix::process::getuid().as_raw(),
    )
}

/// [`runs_base`] given its environment: `tmpfs` is asked only when neither variable is set.
fn choose_base(
    xdg_runtime_dir: Option<std::ffi::OsString>,
    tmpdir: Option<std::ffi::OsString>,
    tmpfs: impl FnOnce() -> Option<PathBuf>,
    uid: u32,
) -> PathBuf {
    if let Some(dir) = xdg_runtime_dir.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("tkc");
    }
    let name = format!("tkc-{uid}");
    if let Some(dir) = tmpdir.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(name);
    }
    tmpfs().unwrap_or_else(|| PathBuf::from("/tmp")).join(name)
}

/// The free space a tmpfs must have to hold run directories (a container's default 64 MiB
/// `/dev/shm` is too small for a workspace).
pub const MIN_TMPFS_FREE: u64 = 1 << 30;

/// Is `dir` a tmpfs on which programs may run (scripts are executed from the run directory)
/// with at least [`MIN_TMPFS_FREE`] bytes free?
fn usable_tmpfs(dir: &Path) -> bool {
    use rustix::fs::StatVfsMountFlags;
    let Ok(fs) = rustix::fs::statfs(dir) else {
        return false;
    };
    // `f_type` and the magic numbers are `i64` here but narrower on some targets.
    #[allow(clippy::useless_conversion)]
    let is_tmpfs = i64::from(fs.f_type) == i64::from(libc::TMPFS_MAGIC);
    if !is_tmpfs {
        return false;
    }
    let Ok(vfs) = rustix::fs::statvfs(dir) else {
        return false;
    };
    !vfs.f_flag
        .intersects(StatVfsMountFlags::NOEXEC | StatVfsMountFlags::RDONLY)
        && vfs.f_bavail.saturating_mul(vfs.f_frsize) >= MIN_TMPFS_FREE
}

/// This process's identity for an owner file: its pid and its start time in clock ticks
/// (field 22 of `/proc/self/stat`), so that a reused pid is not taken for the owner.
fn identity(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let start = rest.split_whitespace().nth(19)?;
    Some(format!("{} {start}", pid.trim_start_matches("self")))
}

/// This process's identity ([`identity`]), as owner files and kept run records hold it.
pub fn own_identity() -> String {
    let pid = std::process::id().to_string();
    identity(&pid).unwrap_or(pid)
}

/// The file in a run directory that names the `tkc` owning it (see [`own_identity`]). It is
/// written once, when the directory is created, so its modification time is the run's start.
pub const OWNER_FILE: &str = "owner";

/// Creates a fresh run directory `<base>/<name>` (mode 0700; an existing one is an error,
/// never reused) with the owner file in it. `base` is made private first.
pub fn create_run_dir(base: &Path, name: &str) -> Result<PathBuf, String> {
    private_dir(base)?;
    let name = super::paths::component(name, "run directory")?;
    let dir = base.join(name);
    DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let owner = dir.join(OWNER_FILE);
    super::paths::create_new_file(&owner, own_identity().as_bytes(), 0o600)
        .map_err(|e| format!("cannot write {}: {e}", owner.display()))?;
    Ok(dir)
}

/// Is the process named by an owner file still the one that wrote it?
pub fn owner_alive(owner: &str) -> bool {
    let mut words = owner.split_whitespace();
    let Some(pid) = words
        .next()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    else {
        return false;
    };
    identity(pid).is_some_and(|now| now.trim() == owner.trim())
}

/// Removes the run directories in `base` whose owner died (killed, the machine crashed)
/// before it could, after killing what still runs from them: processes whose working
/// directory or command line is inside. Directories without a readable owner file are left
/// alone (they may be being created). Returns the directories removed.
pub fn reap_dead_runs(base: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if check_private(base).is_err() {
        return removed;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        // A step of that run could have replaced `owner` by a FIFO, a device or a link: read
        // only a small regular file.
        let Ok(Some(owner)) = super::paths::read_untrusted(&dir.join(OWNER_FILE), 64) else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner);
        if owner_alive(&owner) {
            continue;
        }
        procs::kill_all(&processes_inside(&dir));
        if remove_tree(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

/// Processes (of any user we may signal) working in `dir` or naming it in their command line.
fn processes_inside(dir: &Path) -> Vec<i32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        // Whole path components: run `a-b1c2d` must not match a live run `a-b1c2d-x9y8z`.
        let names_dir = cmdline
            .split(|b| *b == 0)
            .flat_map(|arg| arg.split(|b| *b == b'='))
            .any(|arg| Path::new(&*String::from_utf8_lossy(arg)).starts_with(dir));
        if cwd.starts_with(dir) || names_dir {
            out.extend(i32::try_from(pid).ok());
        }
    }
    out
}

/// Removes the directory tree `dir` without following any symbolic link in it (std's
/// `remove_dir_all` opens each level with `O_NOFOLLOW`). Only when that fails (a step left a
/// read-only directory) is the tree walked a second time to give write permission back
/// ([`make_removable`]) before trying again: the usual case costs one walk.
pub fn remove_tree(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            make_removable(dir);
            std::fs::remove_dir_all(dir)
        }
        _ => Ok(()),
    }
}

/// Removes attempt directories on a thread of its own, in the order they are handed over, so
/// that an attempt's directory goes as soon as the attempt ends, while the run goes on, rather
/// than all of them when the run ends (on a disk, 300 attempts took seconds to delete).
/// [`Sweeper::finish`] waits until everything handed over is gone.
#[derive(Debug, Default)]
pub struct Sweeper {
    queue: std::sync::Mutex<Option<std::sync::mpsc::Sender<PathBuf>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Sweeper {
    /// Hands `dir` over for removal; removes it here if no thread can be started.
    pub fn remove(&self, dir: PathBuf) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
            let spawned = std::thread::Builder::new()
                .name("tkc-sweeper".into())
                .spawn(move || {
                    for dir in rx {
                        let _ = remove_tree(&dir);
                    }
                });
            match spawned {
                Ok(handle) => {
                    *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
                    *queue = Some(tx);
                }
                Err(_) => {
                    let _ = remove_tree(&dir);
                    return;
                }
            }
        }
        if let Some(Err(failed)) = queue.as_ref().map(|tx| tx.send(dir)) {
            let _ = remove_tree(&failed.0);
        }
    }

    /// Waits until every directory handed over has been removed (or failed to be: the run
    /// directory's removal is the backstop).
    pub fn finish(&self) {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Gives the owner write permission back on every directory below `dir` (steps leave
/// read-only ones, Go's module cache for one), so that it can be removed.
pub fn make_removable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        make_removable(&entry.path());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tkc-dirs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn run_dirs_are_fresh_private_and_owned() {
        let base = scratch("fresh");
        let run = create_run_dir(&base, "r-1").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&base), 0o700);
        assert_eq!(mode(&run), 0o700);
        assert!(
            create_run_dir(&base, "r-1").is_err(),
            "a run directory is never reused"
        );
        assert!(create_run_dir(&base, "../escape").is_err());
        // Its owner is alive: not reaped.
        assert!(reap_dead_runs(&base).is_empty());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let base = scratch("planted");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = create_run_dir(&base, "r").unwrap_err();
        assert!(err.contains("writable by other users"), "{err}");
        let link = scratch("link");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        assert!(private_dir(&link).is_err());
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn run_directories_go_to_the_runtime_dir_then_tmpdir_then_a_tmpfs_then_tmp() {
        let shm = || Some(PathBuf::from("/dev/shm"));
        let none = || None;
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            choose_base(os("/run/user/7"), os("/var/tmp"), shm, 7),
            PathBuf::from("/run/user/7/tkc")
        );
        assert_eq!(
            choose_base(os(""), os("/var/tmp"), shm, 7),
            PathBuf::from("/var/tmp/tkc-7")
        );
        assert_eq!(
            choose_base(None, os(""), shm, 7),
            PathBuf::from("/dev/shm/tkc-7")
        );
        assert_eq!(
            choose_base(None, None, none, 7),
            PathBuf::from("/tmp/tkc-7")
        );
        // Whatever this machine has, the choice is a directory of the user's own name.
        assert!(
            runs_base().ends_with(format!("tkc-{}", user_id())) || runs_base().ends_with("tkc")
        );
        // Not a tmpfs (procfs), or not there: never chosen.
        assert!(!usable_tmpfs(Path::new("/proc")));
        assert!(!usable_tmpfs(Path::new("/no/such/dir")));
    }

    #[test]
    fn sweeping_never_follows_links_and_handles_read_only_trees() {
        let base = scratch("sweep");
        let outside = scratch("sweep-outside");
        std::fs::create_dir_all(outside.join("keep")).unwrap();
        std::fs::write(outside.join("keep/file"), "x").unwrap();
        let sweeper = Sweeper::default();
        let mut attempts = vec![];
        for n in 0..20 {
            let a = base.join(format!("a{n}"));
            std::fs::create_dir_all(a.join("tekton/run/0/status")).unwrap();
            std::fs::write(a.join("tekton/run/0/out"), "").unwrap();
            // Links a step could leave: to a directory and a file outside.
            std::os::unix::fs::symlink(outside.join("keep"), a.join("tekton/dirlink")).unwrap();
            std::os::unix::fs::symlink(outside.join("keep/file"), a.join("filelink")).unwrap();
            // A read-only directory with a file in it (Go's module cache does that).
            std::fs::create_dir_all(a.join("workspace/ro")).unwrap();
            std::fs::write(a.join("workspace/ro/f"), "y").unwrap();
            std::fs::set_permissions(
                a.join("workspace/ro"),
                std::fs::Permissions::from_mode(0o500),
            )
            .unwrap();
            attempts.push(a.clone());
            sweeper.remove(a);
        }
        // A directory that is already gone is not an error.
        sweeper.remove(base.join("never-made"));
        sweeper.finish();
        for a in &attempts {
            assert!(std::fs::symlink_metadata(a).is_err(), "{a:?} is left");
        }
        assert_eq!(
            std::fs::read_to_string(outside.join("keep/file")).unwrap(),
            "x"
        );
        // After `finish` the sweeper still removes (on a new thread).
        let late = base.join("late");
        std::fs::create_dir_all(late.join("x")).unwrap();
        sweeper.remove(late.clone());
        drop(sweeper);
        assert!(!late.exists());
        let _ = std::fs::remove_dir_all(&base);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[test]
    fn runs_whose_owner_died_are_removed_and_their_processes_killed() {
        let base = scratch("dead");
        let run = create_run_dir(&base, "r").unwrap();
        // An owner that is gone: a pid that cannot exist.
        std::fs::remove_file(run.join("owner")).unwrap();
        std::fs::write(run.join("owner"), "999999999 1").unwrap();
        let mut leftover = std::process::Command::new("sleep")
            .arg("100")
            .current_dir(&run)
            .spawn()
            .unwrap();
        assert_eq!(reap_dead_runs(&base), vec![run.clone()]);
        assert!(!run.exists());
        let status = leftover.wait().unwrap();
        assert!(!status.success(), "the leftover process was killed");
        let _ = std::fs::remove_dir_all(&base);
    }
}
