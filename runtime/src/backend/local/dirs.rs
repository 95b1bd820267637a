//! The directories a local run keeps its files in: private to the user, created fresh, and
//! cleaned up when their owner died.
//!
//! ```text
//! <runs>/                      $XDG_RUNTIME_DIR/tkc, else <tmp>/tkc-<uid>: mode 0700, ours
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

/// Where this user's run directories go: `$XDG_RUNTIME_DIR/tkc`, else `<tmp>/tkc-<uid>`.
pub fn runs_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("tkc");
    }
    let uid = rustix::process::getuid().as_raw();
    std::env::temp_dir().join(format!("tkc-{uid}"))
}

/// This process's identity for an owner file: its pid and its start time in clock ticks
/// (field 22 of `/proc/self/stat`), so that a reused pid is not taken for the owner.
fn identity(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let start = rest.split_whitespace().nth(19)?;
    Some(format!("{} {start}", pid.trim_start_matches("self")))
}

fn own_identity() -> String {
    let pid = std::process::id().to_string();
    identity(&pid).unwrap_or(pid)
}

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
    super::paths::create_new_file(&dir.join("owner"), own_identity().as_bytes(), 0o600)
        .map_err(|e| format!("cannot write {}: {e}", dir.join("owner").display()))?;
    Ok(dir)
}

/// Is the process named by an owner file still the one that wrote it?
fn owner_alive(owner: &str) -> bool {
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
        let Ok(Some(owner)) = super::paths::read_untrusted(&dir.join("owner"), 64) else {
            continue;
        };
        let owner = String::from_utf8_lossy(&owner);
        if owner_alive(&owner) {
            continue;
        }
        procs::kill_all(&processes_inside(&dir));
        make_removable(&dir);
        if std::fs::remove_dir_all(&dir).is_ok() {
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
