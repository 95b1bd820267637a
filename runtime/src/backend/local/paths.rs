//! The backstop between names in a run and paths on the host.
//!
//! Workspace, volume and claim names, ConfigMap and Secret keys, `items[].path` and `subPath`
//! all come from the run's documents, which may come from a pull request. The checks report
//! the ones Kubernetes and Tekton reject, but the local backend does not rely on them: every
//! host path it builds from such a name goes through [`component`] or [`join_under`], and the
//! directories it creates below a base through [`mkdirs_under`], which refuses to pass through
//! a symbolic link (a step may have planted one in a directory that outlives it: a claim, a
//! run workspace). Files it materialises are created with [`create_new_file`], which never
//! opens an existing file or follows a link; files it reads back from an attempt (results,
//! termination messages) go through [`read_untrusted`].

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// One path component made from a name (`what` says which, for the error): not empty, not
/// `.` or `..`, without `/` or NUL. Kubernetes' `ValidatePathSegmentName` (used for object
/// names) refuses the same, plus `%`.
pub fn component<'a>(name: &'a str, what: &str) -> Result<&'a str, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(format!(
            "{what} {name:?} cannot be used as a file name: it must not be empty, `.` or `..`, nor contain `/`"
        ));
    }
    Ok(name)
}

/// The components of a relative path from the run (`subPath`, `items[].path`, a key), checked
/// as Kubernetes' `validateLocalDescendingPath` does: not absolute, no `..` component. Empty
/// and `.` components are dropped, as a path join would.
pub fn relative_components<'a>(rel: &'a str, what: &str) -> Result<Vec<&'a str>, String> {
    let path = Path::new(rel);
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => match s.to_str() {
                Some(s) if !s.contains('\0') => out.push(s),
                _ => return Err(format!("{what} {rel:?} is not a valid path")),
            },
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{what} {rel:?} must be a relative path"));
            }
            Component::ParentDir => {
                return Err(format!("{what} {rel:?} must not contain `..`"));
            }
        }
    }
    Ok(out)
}

/// `base` joined with the relative path `rel`, which must stay below `base` (see
/// [`relative_components`]).
pub fn join_under(base: &Path, rel: &str, what: &str) -> Result<PathBuf, String> {
    let mut path = base.to_path_buf();
    for c in relative_components(rel, what)? {
        path.push(c);
    }
    debug_assert!(path.starts_with(base));
    Ok(path)
}

/// Creates the directories of `rel` below `base` (which must exist) one by one, refusing any
/// component that exists and is not a directory, or is a symbolic link: a path built here
/// never leaves `base`, whatever a step left in it. Returns the final directory.
pub fn mkdirs_under(base: &Path, rel: &str, what: &str) -> Result<PathBuf, String> {
    let mut path = base.to_path_buf();
    for c in relative_components(rel, what)? {
        path.push(c);
        match DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                if !meta.is_dir() {
                    return Err(format!(
                        "{what} {rel:?}: {} is not a directory (a symbolic link is never followed)",
                        path.display()
                    ));
                }
            }
            Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
        }
    }
    Ok(path)
}

/// Creates `path` (which must not exist; a symbolic link there is not followed) with `mode`
/// and writes `content`.
pub fn create_new_file(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(content)
}

/// Reads a file a step may have planted (a result, a termination message): never through a
/// symbolic link at its last component, only when it is a regular file (a FIFO would block,
/// `/dev/zero` would never end), and at most `limit` bytes (`Ok(None)` past that). Errors keep
/// their kind (`NotFound` for a missing file).
pub fn read_untrusted(path: &Path, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    File::take(file, limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn components_never_leave_their_directory() {
        for bad in ["", ".", "..", "a/b", "../x", "/etc", "a\0b"] {
            assert!(component(bad, "name").is_err(), "{bad:?}");
        }
        assert_eq!(component("ok-name.1", "name").unwrap(), "ok-name.1");
        for bad in ["../x", "a/../../b", "/etc/passwd", "a/.."] {
            assert!(
                join_under(Path::new("/base"), bad, "subPath").is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            join_under(Path::new("/base"), "a/./b/", "subPath").unwrap(),
            PathBuf::from("/base/a/b")
        );
    }

    #[test]
    fn mkdirs_refuses_symbolic_links() {
        let base = std::env::temp_dir().join(format!("tkc-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::os::unix::fs::symlink("/", base.join("up")).unwrap();
        assert!(mkdirs_under(&base, "up/etc", "subPath").is_err());
        assert!(!Path::new("/etc/etc").exists());
        assert_eq!(
            mkdirs_under(&base, "a/b", "subPath").unwrap(),
            base.join("a/b")
        );
        assert!(create_new_file(&base.join("up"), b"x", 0o600).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn untrusted_reads_refuse_links_fifos_devices_and_excess() {
        let base = std::env::temp_dir().join(format!("tkc-reads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("small"), "abc").unwrap();
        std::os::unix::fs::symlink(base.join("small"), base.join("link")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", base.join("zero")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(base.join("fifo"))
            .status();
        assert_eq!(
            read_untrusted(&base.join("small"), 3).unwrap().unwrap(),
            b"abc"
        );
        assert_eq!(read_untrusted(&base.join("small"), 2).unwrap(), None);
        assert!(read_untrusted(&base.join("link"), 10).is_err());
        assert!(read_untrusted(&base.join("zero"), 10).is_err());
        if fifo.is_ok_and(|s| s.success()) {
            assert!(read_untrusted(&base.join("fifo"), 10).is_err());
        }
        assert_eq!(
            read_untrusted(&base.join("missing"), 10)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
