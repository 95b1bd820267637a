//! `init`, `cp`, `step-init` and `decode-script`: the pod's set-up work, done by the same binary
//! so that no shell or coreutils are needed in the init containers' images.

use crate::base64;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::Path;

/// Mode of the copied binary: owner may write and run it, everybody may run it (Tekton's 0311).
const COPY_MODE: u32 = 0o311;

/// `cp <src> <dst>`: copies `src` to `dst`, which ends up with mode 0311.
pub fn cp(src: &Path, dst: &Path) -> io::Result<()> {
    let mut from = fs::File::open(src)?;
    let mut to = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(COPY_MODE)
        .open(dst)?;
    io::copy(&mut from, &mut to)?;
    // `mode` only applies when the file is created; a left-over dst keeps its old mode otherwise.
    to.set_permissions(fs::Permissions::from_mode(COPY_MODE))
}

/// `step-init <stepName>...`: links `<root>/steps/<name>` and `<root>/steps/<i>` to
/// `<root>/run/<i>/status`, replacing links left by an earlier start of the container.
pub fn step_init(tekton_root: &Path, steps: &[String]) -> io::Result<()> {
    let steps_dir = tekton_root.join("steps");
    fs::create_dir_all(&steps_dir)?;
    for (i, name) in steps.iter().enumerate() {
        let index = i.to_string();
        let target = tekton_root.join("run").join(&index).join("status");
        for link in [steps_dir.join(name), steps_dir.join(&index)] {
            match fs::remove_file(&link) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            symlink(&target, &link)?;
        }
    }
    Ok(())
}

/// `decode-script <file>`: replaces the base64 content of `file` by its decoding, keeping the
/// file's permissions (the script was made executable before it was filled).
pub fn decode_script(path: &Path) -> Result<(), String> {
    let err = |what: &str, e: &dyn std::fmt::Display| {
        format!("{what} script file {:?}: {e}", path.display().to_string())
    };
    let encoded = fs::read(path).map_err(|e| err("error reading", &e))?;
    let decoded = base64::decode(&encoded).map_err(|e| err("error decoding", &e))?;
    fs::write(path, decoded).map_err(|e| err("error writing decoded", &e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tkc-ep-unit-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("create temp dir");
        d
    }

    #[test]
    fn cp_sets_mode_0311_and_overwrites() {
        let d = tempdir("cp");
        fs::write(d.join("src"), b"new").unwrap();
        fs::write(d.join("dst"), b"old and longer").unwrap();
        cp(&d.join("src"), &d.join("dst")).unwrap();
        let meta = fs::metadata(d.join("dst")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o311);
        assert_eq!(meta.len(), 3);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn step_init_links_by_name_and_index_twice() {
        let d = tempdir("stepinit");
        let steps = vec!["step-a".to_string(), "step-b".to_string()];
        step_init(&d, &steps).unwrap();
        step_init(&d, &steps).unwrap(); // a restarted init container must not fail
        assert_eq!(
            fs::read_link(d.join("steps/step-b")).unwrap(),
            d.join("run/1/status")
        );
        assert_eq!(
            fs::read_link(d.join("steps/0")).unwrap(),
            d.join("run/0/status")
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn decode_script_in_place_keeps_mode() {
        let d = tempdir("decode");
        let f = d.join("script");
        fs::write(&f, b"IyEvYmluL3NoCmVjaG8gaGkK\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        decode_script(&f).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"#!/bin/sh\necho hi\n");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o755
        );
        fs::write(&f, b"not base64!").unwrap();
        assert!(decode_script(&f).is_err());
        fs::remove_dir_all(&d).unwrap();
    }
}
