//! The resolver cache: fetched documents stored once by the SHA-256 of their bytes
//! (`blobs/<sha256>`), and an entry per key (`entries/<sha256 of the key>`) naming the blob
//! and the document's origin. A key is a reference's resolver and params
//! ([`tkc_compiler::remote::Request::key`]), or for git the repository, the commit and the
//! path, so that a commit once fetched is never fetched again.
//!
//! Every file is written by [`tkc_config::write_cache_file`]: readable by this user alone, to a
//! temporary name renamed into place, so a reader (another tkc at the same time) sees a whole
//! file or none.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The layout version: a new layout goes to a new directory.
const LAYOUT: &str = "resolved-v2";

/// Earlier layouts, removed at the first write: `resolved-v1`'s entries held the reference's
/// params in plain text (a URL's may carry a password).
const OLD_LAYOUTS: &[&str] = &["resolved-v1"];

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

    /// The document cached for `key`, if any (a damaged entry or blob, or one over
    /// [`MAX_FILE_SIZE`](tkc_compiler::source::MAX_FILE_SIZE), reads as none). The key is not
    /// in the entry, only its hash, as the entry's name: it holds the reference's params.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let entry = read_capped(&self.entry_path(key)?)?;
        let value: serde_json::Value = serde_json::from_slice(&entry).ok()?;
        let digest = value.get("sha256")?.as_str()?;
        let origin = value.get("origin")?.as_str()?.to_string();
        let bytes = read_capped(&self.root.as_ref()?.join("blobs").join(digest))?;
        (sha256_hex(&bytes) == digest).then_some(Entry { bytes, origin })
    }

    /// Stores `entry` for `key`.
    pub fn put(&self, key: &str, entry: &Entry) -> std::io::Result<()> {
        let (Some(root), Some(entry_path)) = (&self.root, self.entry_path(key)) else {
            return Ok(());
        };
        if let Some(parent) = root.parent() {
            for old in OLD_LAYOUTS {
                let _ = std::fs::remove_dir_all(parent.join(old));
            }
        }
        let digest = sha256_hex(&entry.bytes);
        let blob = root.join("blobs").join(&digest);
        if !blob.exists() {
            tkc_config::write_cache_file(&blob, &entry.bytes)?;
        }
        let record = serde_json::json!({
            "sha256": digest,
            "origin": entry.origin,
        });
        tkc_config::write_cache_file(&entry_path, record.to_string().as_bytes())
    }
}

/// A cache file's bytes, if it can be read and holds at most
/// [`MAX_FILE_SIZE`](tkc_compiler::source::MAX_FILE_SIZE) (no document is larger).
fn read_capped(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    tkc_compiler::source::read_capped(file).ok().flatten()
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
