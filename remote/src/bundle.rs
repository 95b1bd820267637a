//! The bundles resolver: one resource of a Tekton Bundle, pulled with [`tkc_bundle::pull`]
//! (Tekton's `GetEntry` in `pkg/resolution/resolver/bundle/bundle.go`, with its errors).
//!
//! A bundle pinned by digest (`registry/repo@sha256:…`) never changes, so it is cached by
//! digest, kind and name and not pulled again; a tag is pulled every time (as Tekton does),
//! and what it gave is cached under the digest too. Loopback registries get plain HTTP
//! ([`tkc_bundle`]'s rule); credentials are the docker client's.

use crate::Settings;
use crate::cache::{Cache, Entry};
use tkc_compiler::remote::BundleSource;

/// The cache key of one resource of the bundle pinned as `pinned` (`repo@sha256:…`).
fn digest_key(pinned: &str, kind: &str, name: &str) -> String {
    format!("bundle-digest\n{pinned}\n{}\n{name}", kind.to_lowercase())
}

/// A reference that names its manifest by digest, in the one spelling the cache keys it by
/// ([`tkc_bundle::pinned`]: registry and repository as the client reads them, the tag
/// dropped), so that `foo/bar@sha256:…` finds what `docker.io/foo/bar@sha256:…` stored.
fn canonical_pinned(reference: &str) -> Option<String> {
    let (_, digest) = reference.rsplit_once('@')?;
    if !digest.starts_with("sha256:") {
        return None;
    }
    tkc_bundle::pinned(reference, digest).ok()
}

/// The resource `source` names, from the cache when its bundle is pinned and was pulled before.
pub fn fetch(source: &BundleSource, settings: &Settings, cache: &Cache) -> Result<Entry, String> {
    if let Some(pinned) = canonical_pinned(&source.bundle)
        && let Some(entry) = cache.get(&digest_key(&pinned, &source.kind, &source.name))
    {
        return Ok(entry);
    }
    let fetched = pull(source, settings)?;
    let entry = Entry {
        bytes: fetched.yaml,
        origin: fetched.origin,
    };
    if let Ok(pinned) = tkc_bundle::pinned(&source.bundle, &fetched.digest) {
        let _ = cache.put(&digest_key(&pinned, &source.kind, &source.name), &entry);
    }
    Ok(entry)
}

/// [`tkc_bundle::pull`] on a thread and runtime of its own (the caller may be inside one).
fn pull(source: &BundleSource, settings: &Settings) -> Result<tkc_bundle::Fetched, String> {
    let options = tkc_bundle::Options {
        timeout: settings.timeout,
        ..tkc_bundle::Options::default()
    };
    let source = source.clone();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the registry client: {e}"))?;
        runtime
            .block_on(tkc_bundle::pull(
                &source.bundle,
                &source.kind,
                &source.name,
                &options,
            ))
            .map_err(|e| e.to_string())
    });
    worker
        .join()
        .unwrap_or_else(|_| Err("the registry client failed".to_string()))
}

#[cfg(test)]
mod tests {
    use super::canonical_pinned;

    /// The spellings a Task may use for one pinned image all find one cache entry.
    #[test]
    fn pinned_references_have_one_spelling() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let canonical = canonical_pinned(&format!("docker.io/foo/bar@{digest}"));
        assert!(canonical.is_some());
        for spelling in [
            format!("foo/bar@{digest}"),
            format!("index.docker.io/foo/bar@{digest}"),
            format!("foo/bar:v1@{digest}"),
        ] {
            assert_eq!(canonical_pinned(&spelling), canonical, "{spelling}");
        }
        assert_eq!(canonical_pinned("foo/bar:v1"), None);
    }
}
