//! The resolver cache: fetched documents stored once by the SHA-256 of their bytes
//! (`blobs/<sha256>`), and an entry per key (`entries/<sha256 of the key>`) naming the blob
//! and the document's origin. A key is a reference's resolver and params
//! ([`tkc_compiler::remote::Request::key`]), or for git the repository, the commit and the
//! path, so that a commit once fetched is never fetched again.
//!
//! Every file is written to a temporary name in its directory and renamed into place, so a
//! reader (another tkc at the same time) sees a whole file or none.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The layout version: a new layout goes to a new directory.
const LAYOUT: &str = "resolved-v1";

/// A cached document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub bytes: Vec<u8>,
    /// Where it came from (`git+file:///r@<commit>:task.yaml`, a URL, ...).
    pub origin: String,
}

/// The cache of resolved references, under tkc's cache directory ([`tkc_config::cache_dir`]);
/// without one (none of the variables that name it is set) nothing is kept.
#[derive(Clone, Debug)]
pub struct Cache {
    root: Option<PathBuf>,
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Cache {
    /// The cache under `dir` (tkc's cache directory); nothing is created until a write.
    /// Without a directory, nothing is found and nothing kept.
    pub fn new(dir: Option<&Path>) -> Cache {
        Cache {
            root: dir.map(|d| d.join(LAYOUT)),
        }
    }

    /// A scratch directory for a fetch (a git clone), on the cache's file system, or without a
    /// cache in the system's temporary directory ([`tkc_config::scratch_dir`]: private, and
    /// those of tkc processes that are gone are removed).
    pub fn scratch(&self) -> std::io::Result<PathBuf> {
        match &self.root {
            Some(root) => tkc_config::scratch_dir(&root.join("tmp"), ""),
            None => tkc_config::scratch_dir(&std::env::temp_dir(), "tkc-fetch-"),
        }
    }

    fn entry_path(&self, key: &str) -> Option<PathBuf> {
        Some(
            self.root
                .as_ref()?
                .join("entries")
                .join(sha256_hex(key.as_bytes())),
        )
    }

    /// The document cached for `key`, if any (a damaged entry or blob reads as none).
    pub fn get(&self, key: &str) -> Option<Entry> {
        let entry = std::fs::read_to_string(self.entry_path(key)?).ok()?;
        let value: serde_json::Value = serde_json::from_str(&entry).ok()?;
        // The key is kept as its hash: it holds the reference's params, and a URL's may
        // carry a password.
        if value.get("key")?.as_str()? != sha256_hex(key.as_bytes()) {
            return None;
        }
        let digest = value.get("sha256")?.as_str()?;
        let origin = value.get("origin")?.as_str()?.to_string();
        let bytes = std::fs::read(self.root.as_ref()?.join("blobs").join(digest)).ok()?;
        (sha256_hex(&bytes) == digest).then_some(Entry { bytes, origin })
    }

    /// Stores `entry` for `key`.
    pub fn put(&self, key: &str, entry: &Entry) -> std::io::Result<()> {
        let (Some(root), Some(entry_path)) = (&self.root, self.entry_path(key)) else {
            return Ok(());
        };
        let digest = sha256_hex(&entry.bytes);
        let blob = root.join("blobs").join(&digest);
        if !blob.exists() {
            write_atomically(&blob, &entry.bytes)?;
        }
        let record = serde_json::json!({
            "key": sha256_hex(key.as_bytes()),
            "sha256": digest,
            "origin": entry.origin,
        });
        write_atomically(&entry_path, record.to_string().as_bytes())
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a cache path without a directory"))?;
    tkc_config::create_cache_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = std::env::temp_dir().join(format!("tkc-cache-test-{}", std::process::id()));
        let cache = Cache::new(Some(&dir));
        assert_eq!(cache.get("k"), None);
        let entry = Entry {
            bytes: b"kind: Task\n".to_vec(),
            origin: "https://x/t.yaml".into(),
        };
        cache.put("k", &entry).unwrap();
        assert_eq!(cache.get("k"), Some(entry.clone()));
        // A blob changed on disk is not trusted.
        let blob = dir
            .join(LAYOUT)
            .join("blobs")
            .join(sha256_hex(&entry.bytes));
        std::fs::write(&blob, b"other").unwrap();
        assert_eq!(cache.get("k"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
