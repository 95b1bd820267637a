//! Fetches the Tasks, Pipelines and StepActions that references through Tekton's resolvers
//! name (`taskRef: {resolver: git, params: [...]}`), before the compiler checks: each
//! fetched document becomes a file of the [`SourceMap`], named by its origin, and the
//! compiler follows the references into it ([`tkc_compiler::remote::Fetched`]).
//!
//! [`resolve`] is the one call: it asks the compiler for the references
//! ([`tkc_compiler::remote::requests`]), reads their params as the resolver does
//! ([`Source::parse`]), fetches each ([`fetch`]: git, http, hub, bundles, cluster), and
//! repeats for the references of what it fetched. Every failure is
//! a diagnostic at the reference naming the resolver and the reason.
//!
//! Everything fetched goes through a content-addressed [`cache::Cache`] in the user's cache
//! directory; with [`Settings::offline`] only the cache is read.

mod bundle;
pub mod cache;
pub mod cluster;
mod git;
mod http;

use cache::{Cache, Entry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tkc_compiler::diag::Diagnostic;
use tkc_compiler::model::Kind;
use tkc_compiler::remote::{FETCH_FAILED, Fetched, Request, Source, request_world, requests};
use tkc_compiler::source::{FileId, SourceMap, Syntax};
use tkc_compiler::{Options, decode_file};

/// A fetched document is refused past this size (Tekton's http resolver allows 10 MiB).
pub const MAX_BYTES: u64 = 10 << 20;

/// A fetch gives up after this long (Tekton's http resolver's default `fetch-timeout`).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// References of fetched documents are followed this many levels deep (a fetched Pipeline's
/// Tasks, their StepActions).
const MAX_DEPTH: usize = 8;

/// How to fetch.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Read only the cache: a reference not fetched before is an error.
    pub offline: bool,
    /// tkc's cache directory ([`tkc_config::cache_dir`]); `None` when no variable names one:
    /// nothing is cached, and `--offline` finds nothing.
    pub cache_dir: Option<PathBuf>,
    /// For one fetch (git's fetch and read, an HTTP request with its body).
    pub timeout: Duration,
    /// For one fetched document.
    pub max_bytes: u64,
    /// Artifact Hub's API (`ARTIFACT_HUB_API`, else `https://artifacthub.io`).
    pub artifact_hub: String,
    /// The Tekton Hub API (`TEKTON_HUB_API`; no default, as in Tekton).
    pub tekton_hub: Option<String>,
    /// The git program.
    pub git: PathBuf,
    /// Secret data by name and key (`tkc run --secret`), for the http resolver's basic auth.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// The cluster the cluster resolver reads.
    pub cluster: cluster::Target,
}

impl Settings {
    /// The defaults, the hubs' URLs from the environment as Tekton's resolvers read them
    /// (`ARTIFACT_HUB_API`, `TEKTON_HUB_API`), the time-out from `TKC_FETCH_TIMEOUT`
    /// (seconds).
    pub fn from_env(offline: bool) -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings {
            offline,
            cache_dir: tkc_config::cache_dir(),
            timeout: var("TKC_FETCH_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(TIMEOUT, Duration::from_secs),
            max_bytes: MAX_BYTES,
            artifact_hub: var("ARTIFACT_HUB_API")
                .unwrap_or_else(|| "https://artifacthub.io".into()),
            tekton_hub: var("TEKTON_HUB_API"),
            git: PathBuf::from("git"),
            secrets: BTreeMap::new(),
            cluster: cluster::Target::default(),
        }
    }
}

/// Fetches every reference through a resolver in `files` and in what they fetch: the
/// fetched documents are added to `sources`; the result goes into
/// [`Options::fetched`]. `progress` hears what is fetched (`git file:///r@main:task.yaml`).
pub fn resolve(
    sources: &mut SourceMap,
    files: &[FileId],
    options: &Options,
    settings: &Settings,
    progress: &mut dyn FnMut(&str),
) -> (Fetched, Vec<Diagnostic>) {
    let cache = Cache::new(settings.cache_dir.as_deref());
    let mut fetched = Fetched::default();
    let mut diagnostics = Vec::new();
    // Keys whose fetch failed: reported once, at the first reference.
    let mut failed = BTreeSet::new();
    let mut scan: Vec<FileId> = files.to_vec();
    for _ in 0..MAX_DEPTH {
        // Decoding is the cost of this pass, and most sources ask for nothing: skip those
        // whose text cannot hold a `resolver` field.
        scan.retain(|&file| may_ask_to_fetch(sources.get(file).text()));
        if scan.is_empty() {
            break;
        }
        let wanted: Vec<Request> = {
            let (world, _) = request_world(sources, &scan, options);
            requests(&world)
                .into_iter()
                .filter(|r| !r.is_parameterised())
                .collect()
        };
        let mut new_files = Vec::new();
        for request in wanted {
            let key = request.key();
            if fetched.contains(&key) {
                continue;
            }
            if failed.contains(&key) {
                fetched.fail(request.resolver.span);
                continue;
            }
            match fetch_request(sources, &request, options, settings, &cache, progress) {
                Ok(file) => {
                    fetched.insert(key, file);
                    new_files.push(file);
                }
                Err(diagnostic) => {
                    fetched.fail(request.resolver.span);
                    failed.insert(key);
                    diagnostics.push(*diagnostic);
                }
            }
        }
        if new_files.is_empty() {
            break;
        }
        scan = new_files;
    }
    (fetched, diagnostics)
}

/// Whether a source's text may hold a reference through a resolver: every such reference
/// has a `resolver` field (the key, in YAML and in KDL), written as such unless escaped in a
/// quoted key.
fn may_ask_to_fetch(text: &str) -> bool {
    text.contains("resolver") || text.contains('\\')
}

/// Fetches one reference into a file of `sources` holding a document of the kind it wants.
fn fetch_request(
    sources: &mut SourceMap,
    request: &Request,
    options: &Options,
    settings: &Settings,
    cache: &Cache,
    progress: &mut dyn FnMut(&str),
) -> Result<FileId, Box<Diagnostic>> {
    let source = Source::parse(request)?;
    let resolver = source.resolver();
    let failure = |reason: String| {
        Box::new(
            Diagnostic::new(&FETCH_FAILED, format!("{resolver} resolver: {reason}"))
                .with_label(request.resolver.span, "not fetched")
                .with_help(help(&source, settings.offline)),
        )
    };
    progress(&describe(&source));
    let entry = fetch(&source, &request.key(), settings, cache).map_err(failure)?;
    let text = String::from_utf8(entry.bytes)
        .map_err(|_| failure(format!("{} is not UTF-8 text", entry.origin)))?;
    let file = sources.add_with_syntax(entry.origin.clone(), text, Syntax::Yaml);
    let (documents, _) = decode_file(sources, file, options);
    let wanted = request.kind;
    let fits = |kind: Kind| kind == wanted || (wanted == Kind::Task && kind == Kind::ClusterTask);
    if documents.iter().any(|d| fits(d.kind)) {
        Ok(file)
    } else {
        Err(failure(format!(
            "{} holds no {}",
            entry.origin,
            wanted.as_str()
        )))
    }
}

/// What the progress line says is being fetched.
pub fn describe(source: &Source) -> String {
    match source {
        Source::Git(g) => format!(
            "git {}@{}:{}",
            without_userinfo(&g.url),
            g.revision,
            g.path_in_repo
        ),
        Source::Http(h) => format!("http {}", without_userinfo(&h.url)),
        Source::Hub(h) => format!("hub {}/{}@{}", h.catalog, h.name, h.version),
        Source::Bundle(b) => format!("bundle {} ({} {})", b.bundle, b.kind, b.name),
        Source::Cluster(c) => format!("cluster {}/{} ({})", c.namespace, c.name, c.kind),
    }
}

/// `url` without the `user:password@` a URL may carry, for what tkc prints and keeps (the
/// progress line, origins in diagnostics and in the cache).
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn help(source: &Source, offline: bool) -> String {
    if offline {
        return "--offline reads only the cache: run once without it to fetch the reference".into();
    }
    match source {
        Source::Git(_) => "check the url, revision and pathInRepo params; git's own \
                           configuration gives credentials"
            .into(),
        Source::Http(_) | Source::Hub(_) => {
            "check the params, and that the host answers from this machine".into()
        }
        Source::Bundle(_) => "check the bundle, kind and name params (`tkc bundle list <bundle>` \
                              names what a bundle holds), and that the registry answers"
            .into(),
        Source::Cluster(_) => "check the kind, name and namespace params, and that the cluster \
                               of the current kubeconfig context holds the object"
            .into(),
    }
}

/// Fetches what `source` names; `key` is its reference's [`Request::key`], under which the
/// document is cached for `--offline`.
///
/// Each resolver is a function from the typed source to an [`Entry`] (the bytes of one YAML
/// document and its origin); the cache, the progress line, the diagnostics and the compiler's
/// following of the reference come with it. What was fetched is stored under `key`, so
/// `--offline` reads the last document fetched (for `cluster` too: Tekton reads the cluster
/// on every run, and so does tkc when online).
pub fn fetch(
    source: &Source,
    key: &str,
    settings: &Settings,
    cache: &Cache,
) -> Result<Entry, String> {
    if settings.offline {
        return cache
            .get(key)
            .ok_or_else(|| "not in the cache, and --offline fetches nothing".to_string());
    }
    let entry = match source {
        Source::Git(git) => git::fetch(git, settings, cache)?,
        Source::Http(source) => {
            let password = match &source.basic_auth {
                None => None,
                Some(auth) => Some(
                    settings
                        .secrets
                        .get(&auth.secret)
                        .and_then(|data| data.get(&auth.key))
                        .ok_or_else(|| {
                            format!(
                                "basic auth needs key `{}` of Secret `{}`: give it with \
                                 `--secret {}/{}=env:VAR` (tkc run)",
                                auth.key, auth.secret, auth.secret, auth.key
                            )
                        })?
                        .as_str(),
                ),
            };
            http::fetch(source, password, settings)?
        }
        Source::Hub(hub) => http::fetch_hub(hub, settings)?,
        Source::Bundle(source) => bundle::fetch(source, settings, cache)?,
        Source::Cluster(source) => cluster::fetch(source, settings)?,
    };
    if entry.bytes.len() as u64 > settings.max_bytes {
        return Err(format!(
            "{} is larger than {} bytes",
            entry.origin, settings.max_bytes
        ));
    }
    // The cache is an optimisation: a full disk still gives the document.
    let _ = cache.put(key, &entry);
    Ok(entry)
}

/// When a fetch must be over.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Deadline(Instant, Duration);

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Deadline {
        // A time-out too large for the clock (`TKC_FETCH_TIMEOUT=18446744073709551615`)
        // is no time-out: a year.
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        Deadline(at, timeout)
    }

    /// The time-out in whole seconds.
    pub(crate) fn seconds(&self) -> u64 {
        self.1.as_secs()
    }
}

/// Waits for `child` until `deadline`, then kills it. git stays in tkc's process group, so
/// that a Ctrl-C stops it with tkc; a helper that outlives a killed git (`git-remote-https`)
/// gives up a stalled transfer by itself (`GIT_HTTP_LOW_SPEED_*`, set by `git::git`).
pub(crate) fn wait_or_kill(
    child: &mut std::process::Child,
    deadline: &Deadline,
) -> Result<std::process::ExitStatus, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline.0 => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no answer within {}s (time-out)",
                    deadline.1.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod userinfo_tests {
    use super::without_userinfo;

    #[test]
    fn credentials_in_urls_are_not_repeated() {
        assert_eq!(
            without_userinfo("https://bot:s3cret@git.example/r.git"),
            "https://git.example/r.git"
        );
        assert_eq!(
            without_userinfo("https://h.example/a@b/t.yaml"),
            "https://h.example/a@b/t.yaml"
        );
        assert_eq!(
            without_userinfo("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(without_userinfo("https://h/x?u=a@b"), "https://h/x?u=a@b");
    }
}
