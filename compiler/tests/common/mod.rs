//! Helpers the compiler's integration tests share: where things are, and walking folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root (the folder of `Cargo.toml` with `[workspace]`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Tekton's examples in `../shared/corpus/tekton-examples`, if they are beside the project
/// (`TKC_CORPUS_DIR` names them elsewhere, e.g. from a git worktree).
/// Tests that read them pass with a note when they are absent, unless `TKC_REQUIRE_CORPUS`
/// is set (`.ci/run` sets it: there a missing corpus is a broken checkout, not a skip).
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("TKC_CORPUS_DIR").map_or_else(
        || workspace_root().join("../shared/corpus/tekton-examples"),
        PathBuf::from,
    );
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("TKC_REQUIRE_CORPUS").is_none(),
        "TKC_REQUIRE_CORPUS is set but {} is missing",
        dir.display()
    );
    eprintln!("skipped: {} is not beside the project", dir.display());
    None
}

/// Every file below `dir` whose extension is one of `extensions`, sorted.
pub fn files_below(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, extensions, &mut out);
    out
}

fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, extensions, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
}
