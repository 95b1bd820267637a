//! References fetched by Tekton's resolvers (`taskRef`, `pipelineRef` or step `ref` with a
//! `resolver`): which ones the documents hold ([`requests`]), what each resolver's params
//! mean ([`Source::parse`], following the param handling of Tekton's resolvers), and where
//! the documents fetched for them are ([`Fetched`]).
//!
//! This module does no I/O. The fetching is `tkc-remote`'s: it loads each fetched document
//! into the [`SourceMap`] as a file of its own, named by its origin
//! (`git+file:///srv/catalog@<commit>:task/build.yaml`), and hands the compiler a
//! [`Fetched`] (in [`crate::Options::fetched`]); [`crate::resolve::World`] then follows
//! those references into the fetched documents as it follows local ones.

use crate::check::context::{pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Kind, Param, ParamValue, Resource, Str};
use crate::resolve::World;
use crate::source::{FileId, SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet};

declare_code! {
    /// # A resolver's params are missing or invalid
    ///
    /// Each resolver checks its params before it fetches anything, with the errors of
    /// Tekton's resolvers (`PopulateDefaultParams` of `pkg/resolution/resolver/git` and
    /// `http`, `populateDefaultParams` and `validateParams` of `hub`):
    ///
    /// - `git`: `url` (or `org` + `repo`, the SCM API mode), `revision` and `pathInRepo`;
    ///   not both `url` and `repo`; a revision must not begin with `-`; `pathInRepo` must not
    ///   hold `..`;
    /// - `http`: `url`, an `http` or `https` URL; `http-username` and
    ///   `http-password-secret` together;
    /// - `hub`: `name` and `version`; `type` is `artifact` (the default) or `tekton`; `kind`
    ///   is `task` (the default), `pipeline` or `stepaction`;
    /// - `bundles`: `bundle` and `name`; `kind` is `task` by default;
    /// - `cluster`: `kind` (`task` by default), `name` and `namespace`.
    ///
    /// Reported when references are resolved (`tkc compile`, `tkc run`, `tkc check
    /// --resolve`).
    pub static RESOLVER_PARAMS = "tkc::resolve::invalid-resolver-params", Error, reason = "CouldntGetTask";
}

declare_code! {
    /// # A resolver could not fetch the referenced resource
    ///
    /// `tkc compile`, `tkc run` and `tkc check --resolve` fetch what `git`, `http`, `hub`,
    /// `bundles` and `cluster` references name (see docs/resolvers.md). The message names the
    /// resolver and the reason: a revision or path that does not exist, a bundle without that
    /// kind and name, a digest or cluster object that does not exist, a host that cannot be
    /// reached, a time-out, a response too large, a document of the wrong kind, or (with `--offline`) a
    /// reference that is not in the cache yet. Tekton fails the run with
    /// `CouldntGetTask` / `CouldntGetPipeline` in the same cases.
    pub static FETCH_FAILED = "tkc::resolve::fetch-failed", Error, reason = "CouldntGetTask";
}

/// Every code of this module.
pub fn codes() -> Vec<&'static crate::diag::Code> {
    vec![&RESOLVER_PARAMS, &FETCH_FAILED]
}

/// One reference through a resolver.
#[derive(Clone, Debug)]
pub struct Request {
    /// The resolver's name (`git`, `http`, `hub`, `bundles`, `cluster`), where it is written.
    pub resolver: Str,
    /// What the reference runs: a Task, a Pipeline or a StepAction.
    pub kind: Kind,
    /// The params as written, string values only (Tekton's resolvers read `StringVal`).
    pub params: Vec<RequestParam>,
    /// The whole reference (`taskRef: ...`).
    pub head: Span,
}

/// One param of a [`Request`].
#[derive(Clone, Debug)]
pub struct RequestParam {
    pub name: Str,
    /// The string value; an array or object reads as the empty string, as in Tekton.
    pub value: String,
    /// The value where it is written (the name's span without one).
    pub span: Span,
}

impl Request {
    /// The identity of what the reference fetches: the resolver and its params, sorted by
    /// name. Two references with the same key fetch one document.
    pub fn key(&self) -> String {
        key(
            &self.resolver.value,
            self.params
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str())),
        )
    }

    /// The value of param `name`, if written.
    /// The last one wins, as in Tekton's params map (and in [`Request::key`]).
    pub fn param(&self, name: &str) -> Option<&RequestParam> {
        self.params.iter().rev().find(|p| p.name.as_str() == name)
    }

    /// Does a param value hold `$(...)`, substituted by Tekton from the run's params before
    /// resolution? Such a reference cannot be fetched before a run has values.
    pub fn is_parameterised(&self) -> bool {
        self.params.iter().any(|p| p.value.contains("$("))
    }
}

fn key<'a>(resolver: &str, params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = params.collect();
    let mut out = resolver.to_string();
    for (name, value) in sorted {
        out.push('\n');
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

fn request_params(params: &[Param]) -> Vec<RequestParam> {
    params
        .iter()
        .map(|p| {
            let (value, span) = match &p.value {
                Some(v) => match &v.value {
                    ParamValue::String(s) => (s.clone(), v.span),
                    _ => (String::new(), v.span),
                },
                None => (String::new(), p.name.span),
            };
            RequestParam {
                name: p.name.clone(),
                value,
                span,
            }
        })
        .collect()
}

/// The key a reference with this resolver and these params has ([`Request::key`]).
pub fn key_of(resolver: &str, params: &[Param]) -> String {
    let params = request_params(params);
    key(
        resolver,
        params.iter().map(|p| (p.name.as_str(), p.value.as_str())),
    )
}

/// Every reference through a resolver in the documents of `files`: runs' `taskRef` and
/// `pipelineRef`, pipeline tasks' (inline pipelines' too), and steps' `ref`, in document
/// order (several may have one key: they fetch one document).
pub fn requests(world: &World) -> Vec<Request> {
    let mut out = Vec::new();
    // A reference with a `name` and a resolver is the concise syntax (`name:
    // git://...`), which tkc does not fetch: it stays a remote reference.
    let mut push =
        |name: &Option<Str>, resolver: &Option<Str>, params: &[Param], kind: Kind, head: Span| {
            if let Some(resolver) = resolver
                && !resolver.is_empty()
                && name.as_ref().is_none_or(|n| n.is_empty())
            {
                out.push(Request {
                    resolver: resolver.clone(),
                    kind,
                    params: request_params(params),
                    head,
                });
            }
        };
    for (_, document) in world.checked() {
        match &document.resource {
            Resource::TaskRun(run) => {
                if let Some(r) = &run.task_ref {
                    push(&r.name, &r.resolver, &r.params, Kind::Task, r.head);
                }
            }
            Resource::PipelineRun(run) => {
                if let Some(r) = &run.pipeline_ref {
                    push(&r.name, &r.resolver, &r.params, Kind::Pipeline, r.head);
                }
            }
            _ => {}
        }
    }
    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            if let Some(r) = &task.task_ref {
                push(&r.name, &r.resolver, &r.params, Kind::Task, r.head);
            }
            if let Some(r) = &task.pipeline_ref {
                push(&r.name, &r.resolver, &r.params, Kind::Pipeline, r.head);
            }
        }
    }
    for task in task_specs(world) {
        for step in &task.spec.steps {
            if let Some(r) = &step.r#ref {
                push(&r.name, &r.resolver, &r.params, Kind::StepAction, r.head);
            }
        }
    }
    out
}

/// What a resolver fetches, its params read and defaulted as Tekton's resolver does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Git(GitSource),
    Http(HttpSource),
    Hub(HubSource),
    Bundle(BundleSource),
    Cluster(ClusterSource),
}

/// `resolver: git`, the anonymous clone mode (`url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitSource {
    pub url: String,
    /// A branch, a tag or a commit.
    pub revision: String,
    /// The file, relative to the repository's root (leading `/` removed, as Tekton does).
    pub path_in_repo: String,
}

/// `resolver: http`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSource {
    pub url: String,
    /// `digest`: `sha256:<hex>` or `sha512:<hex>` the body must match (checked after the
    /// fetch, as Tekton's `validateDigest` does).
    pub digest: Option<String>,
    /// Basic auth: the user name and the Secret (name, key) holding the password.
    pub basic_auth: Option<BasicAuth>,
}

/// The basic auth params of the http resolver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub secret: String,
    /// `http-password-secret-key`, `password` by default.
    pub key: String,
}

/// Which hub the hub resolver asks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HubType {
    /// Artifact Hub (`https://artifacthub.io`, or `ARTIFACT_HUB_API`).
    Artifact,
    /// The Tekton Hub API (`TEKTON_HUB_API`, no default).
    Tekton,
}

/// `resolver: hub`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubSource {
    pub hub: HubType,
    /// `task`, `pipeline` or `stepaction`.
    pub kind: String,
    pub name: String,
    /// As the API wants it: Artifact Hub `x.y.z`, Tekton Hub `x.y` (Tekton's
    /// `resolveVersion`).
    pub version: String,
    pub catalog: String,
}

/// `resolver: bundles`: an OCI image whose layers are Tekton resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSource {
    pub bundle: String,
    pub name: String,
    pub kind: String,
}

/// `resolver: cluster`: a resource of a namespace of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSource {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Source {
    /// The resolver's name.
    pub fn resolver(&self) -> &'static str {
        match self {
            Source::Git(_) => "git",
            Source::Http(_) => "http",
            Source::Hub(_) => "hub",
            Source::Bundle(_) => "bundles",
            Source::Cluster(_) => "cluster",
        }
    }

    /// Reads a reference's params as its resolver does; a missing or invalid param is a
    /// [`RESOLVER_PARAMS`] diagnostic with Tekton's message, at the param (or at the
    /// resolver when a param is missing).
    pub fn parse(request: &Request) -> Result<Source, Box<Diagnostic>> {
        let resolver = request.resolver.as_str();
        let fail = |message: String, at: Span, label: &str| {
            Box::new(
                Diagnostic::new(&RESOLVER_PARAMS, format!("{resolver} resolver: {message}"))
                    .with_label(at, label)
                    .with_help(format!(
                        "see the params of the {resolver} resolver in docs/resolvers.md"
                    )),
            )
        };
        let at = request.resolver.span;
        let source = match resolver {
            "git" => parse_git(request),
            "http" => parse_http(request),
            "hub" => parse_hub(request),
            "bundles" => parse_bundle(request),
            "cluster" => parse_cluster(request),
            other => {
                return Err(fail(
                    format!(
                        "tkc knows the git, http, hub, bundles and cluster resolvers, not `{other}`"
                    ),
                    at,
                    "unknown resolver",
                ));
            }
        };
        source.map_err(|(message, span)| match span {
            Some(span) => fail(message, span, "not accepted"),
            None => fail(message, at, "params incomplete"),
        })
    }
}

/// An error message and the param it is about (`None`: a missing param).
type ParamError = (String, Option<Span>);

/// Tekton's `PopulateDefaultParams` of the git resolver, without a resolver ConfigMap (no
/// default URL, revision or org).
fn parse_git(r: &Request) -> Result<Source, ParamError> {
    let get = |name: &str| r.param(name);
    let mut missing = Vec::new();
    if get("revision").is_none() {
        missing.push("revision");
    }
    if get("pathInRepo").is_none() {
        missing.push("pathInRepo");
    }
    let url = get("url").filter(|p| !p.value.is_empty());
    let repo = get("repo").filter(|p| !p.value.is_empty());
    if let (Some(_), Some(repo)) = (url, repo) {
        return Err((
            "cannot specify both 'url' and 'repo'".into(),
            Some(repo.span),
        ));
    }
    let Some(url) = url else {
        return match repo {
            None => Err(("must specify one of 'url' or 'repo'".into(), None)),
            Some(repo) if get("org").is_none() => Err((
                "'org' is required when 'repo' is specified".into(),
                Some(repo.span),
            )),
            Some(repo) => Err((
                "the SCM API mode (`org` + `repo`) needs the API of a git provider and a \
                 token: tkc does not support it; give the repository's clone URL as `url`"
                    .into(),
                Some(repo.span),
            )),
        };
    };
    if !missing.is_empty() {
        return Err((
            format!(
                "missing required git resolver params: {}",
                missing.join(", ")
            ),
            None,
        ));
    }
    let (Some(revision), Some(path)) = (get("revision"), get("pathInRepo")) else {
        return Err(("missing required git resolver params".into(), None));
    };
    if revision.value.starts_with('-') {
        return Err((
            format!(
                "invalid revision {:?}: must not begin with '-'",
                revision.value
            ),
            Some(revision.span),
        ));
    }
    if !valid_repo_url(&url.value) {
        return Err((
            format!("invalid git repository url: {}", url.value),
            Some(url.span),
        ));
    }
    let path_in_repo = path.value.trim_start_matches('/').to_string();
    if path_in_repo.split(['/', '\\']).any(|part| part == "..") {
        return Err((
            format!("invalid path {path_in_repo:?}: must not contain '..' components"),
            Some(path.span),
        ));
    }
    Ok(Source::Git(GitSource {
        url: url.value.clone(),
        revision: revision.value.clone(),
        path_in_repo,
    }))
}

/// Tekton's `defaultValidateRepoURL` (`^([^@]+@[^:]+|(git|ssh|ftps?|https?)://)`), and
/// `file://`, which Tekton's tests allow and which a local mirror uses.
fn valid_repo_url(url: &str) -> bool {
    let schemes = [
        "git://", "ssh://", "ftp://", "ftps://", "http://", "https://", "file://",
    ];
    if schemes.iter().any(|s| url.starts_with(s)) {
        return true;
    }
    // scp-like `user@host:path`.
    match url.split_once('@') {
        Some((user, rest)) => {
            !user.is_empty() && rest.split_once(':').is_some_and(|(h, _)| !h.is_empty())
        }
        None => false,
    }
}

/// Tekton's `PopulateDefaultParams` of the http resolver.
fn parse_http(r: &Request) -> Result<Source, ParamError> {
    let Some(url) = r.param("url") else {
        return Err(("missing required http resolver params: url".into(), None));
    };
    let scheme = url.value.split_once("://").map(|(s, _)| s);
    if scheme != Some("http") && scheme != Some("https") {
        return Err((
            format!("url {} is not a valid http(s) url", url.value),
            Some(url.span),
        ));
    }
    let username = r.param("http-username");
    let secret = r.param("http-password-secret");
    let basic_auth = match (username, secret) {
        (None, None) => None,
        (Some(u), None) => {
            return Err((
                "missing required param http-password-secret when using http-username".into(),
                Some(u.name.span),
            ));
        }
        (None, Some(s)) => {
            return Err((
                "missing required param http-username when using http-password-secret".into(),
                Some(s.name.span),
            ));
        }
        (Some(u), _) if u.value.is_empty() => {
            return Err(("value http-username cannot be empty".into(), Some(u.span)));
        }
        (_, Some(s)) if s.value.is_empty() => {
            return Err((
                "value http-password-secret cannot be empty".into(),
                Some(s.span),
            ));
        }
        (Some(u), Some(s)) => Some(BasicAuth {
            username: u.value.clone(),
            secret: s.value.clone(),
            key: r
                .param("http-password-secret-key")
                .map_or("password".to_string(), |k| k.value.clone()),
        }),
    };
    Ok(Source::Http(HttpSource {
        url: url.value.clone(),
        digest: r.param("digest").map(|d| d.value.clone()),
        basic_auth,
    }))
}

/// Tekton's `populateDefaultParams`, `validateParams` and `resolveVersion` of the hub
/// resolver, with the defaults of its ConfigMap (`default-type: artifact`, `default-kind:
/// task`, catalogs `tekton-catalog-tasks`, `tekton-catalog-pipelines` and `Tekton`).
fn parse_hub(r: &Request) -> Result<Source, ParamError> {
    let hub = match r.param("type") {
        None => HubType::Artifact,
        Some(p) if p.value == "artifact" => HubType::Artifact,
        Some(p) if p.value == "tekton" => HubType::Tekton,
        Some(p) => return Err(("type param must be artifact or tekton".into(), Some(p.span))),
    };
    let kind = r.param("kind").map_or("task", |p| p.value.as_str());
    let catalog = match r.param("catalog") {
        Some(p) => p.value.clone(),
        None => match (hub, kind) {
            (HubType::Tekton, _) => "Tekton".to_string(),
            (HubType::Artifact, "task") => "tekton-catalog-tasks".to_string(),
            (HubType::Artifact, "pipeline") => "tekton-catalog-pipelines".to_string(),
            (HubType::Artifact, other) => {
                return Err((
                    format!("failed to resolve catalog name with kind: {other}"),
                    r.param("kind").map(|p| p.span),
                ));
            }
        },
    };
    let mut missing = Vec::new();
    if r.param("name").is_none() {
        missing.push("name");
    }
    if r.param("version").is_none() {
        missing.push("version");
    }
    if !["task", "pipeline", "stepaction"].contains(&kind) {
        return Err((
            "kind param must be one of: task, pipeline, stepaction".into(),
            r.param("kind").map(|p| p.span),
        ));
    }
    let (Some(name), Some(version)) = (r.param("name"), r.param("version")) else {
        return Err((
            format!(
                "missing required hub resolver params: {}",
                missing.join(", ")
            ),
            None,
        ));
    };
    // Name and catalog are path segments of the hub's URL: one segment each, nothing that
    // would pick another path or query on the hub (Tekton's Sprintf would).
    for (param, value) in [("name", Some(name)), ("catalog", r.param("catalog"))] {
        if let Some(p) = value
            && (p.value.is_empty()
                || p.value == ".."
                || p.value == "."
                || p.value.contains(['/', '\\', '?', '#', '%']))
        {
            return Err((
                format!(
                    "{param} {:?} must be one path segment of the hub's URL",
                    p.value
                ),
                Some(p.span),
            ));
        }
    }
    let parts: Vec<&str> = version.value.split('.').collect();
    if version.value.is_empty()
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err((
            format!(
                "version {:?}: tkc fetches an exact version (`0.9` or `0.9.0`), not a constraint",
                version.value
            ),
            Some(version.span),
        ));
    }
    let version = match (hub, parts.len()) {
        (HubType::Artifact, 2) => format!("{}.0", version.value),
        (HubType::Tekton, n) if n > 2 => parts[..2].join("."),
        _ => version.value.clone(),
    };
    Ok(Source::Hub(HubSource {
        hub,
        kind: kind.to_string(),
        name: name.value.clone(),
        version,
        catalog,
    }))
}

/// The bundles resolver's params as Tekton's `OptionsFromParams` reads them
/// (`pkg/resolution/resolver/bundle/params.go`): `bundle` and `name` required, in that order,
/// with its message; `kind` by default the installed resolver's `default-kind`, `task`
/// (`config/resolvers/bundleresolver-config.yaml`).
fn parse_bundle(r: &Request) -> Result<Source, ParamError> {
    let value = |n: &str| {
        r.param(n)
            .map(|p| p.value.clone())
            .filter(|v| !v.is_empty())
    };
    let required = |n: &str| value(n).ok_or_else(|| (format!("parameter \"{n}\" required"), None));
    Ok(Source::Bundle(BundleSource {
        bundle: required("bundle")?,
        name: required("name")?,
        kind: value("kind").unwrap_or_else(|| "task".to_string()),
    }))
}

/// The cluster resolver's params (`kind`, `task` by default; `name`; `namespace`).
fn parse_cluster(r: &Request) -> Result<Source, ParamError> {
    let missing: Vec<&str> = ["name", "namespace"]
        .into_iter()
        .filter(|n| r.param(n).is_none_or(|p| p.value.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err((
            format!(
                "missing required cluster resolver params: {}",
                missing.join(", ")
            ),
            None,
        ));
    }
    let value = |n: &str| r.param(n).map(|p| p.value.clone()).unwrap_or_default();
    Ok(Source::Cluster(ClusterSource {
        kind: r
            .param("kind")
            .map_or("task".to_string(), |p| p.value.clone()),
        name: value("name"),
        namespace: value("namespace"),
    }))
}

/// The documents fetched for the references of one compilation.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    /// The file holding each fetched reference's document, by [`Request::key`].
    files: BTreeMap<String, FileId>,
    /// The `resolver` spans of references whose fetch failed (reported as
    /// [`FETCH_FAILED`] or [`RESOLVER_PARAMS`]): the warnings and errors that would only say
    /// again that the reference was not followed are dropped there.
    failed: BTreeSet<Span>,
}

impl Fetched {
    /// Records the file fetched for `key`.
    pub fn insert(&mut self, key: String, file: FileId) {
        self.files.insert(key, file);
    }

    /// Records a failed reference.
    pub fn fail(&mut self, resolver: Span) {
        self.failed.insert(resolver);
    }

    /// The file fetched for `key`.
    pub fn file(&self, key: &str) -> Option<FileId> {
        self.files.get(key).copied()
    }

    /// Was this key fetched (successfully) already?
    pub fn contains(&self, key: &str) -> bool {
        self.files.contains_key(key)
    }

    /// Every fetched reference's key and file.
    pub fn entries(&self) -> impl Iterator<Item = (&str, FileId)> {
        self.files.iter().map(|(k, &f)| (k.as_str(), f))
    }

    /// Every fetched file, in file order, once.
    pub fn file_ids(&self) -> Vec<FileId> {
        let set: BTreeSet<FileId> = self.files.values().copied().collect();
        set.into_iter().collect()
    }

    /// Did the reference whose resolver is at `span` fail?
    pub fn failed_at(&self, span: Span) -> bool {
        self.failed.contains(&span)
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.failed.is_empty()
    }
}

/// The world of `files` (all of them checked) for [`requests`], the fetched documents
/// followed as [`crate::Options::fetched`] says.
pub fn request_world<'s>(
    sources: &'s SourceMap,
    files: &[FileId],
    options: &crate::Options,
) -> (World<'s>, Vec<Diagnostic>) {
    let (documents, diagnostics) = crate::decode_files(sources, files, options);
    let world = World::build(sources, documents, files, &mut Default::default())
        .with_fetched(&options.fetched);
    (world, diagnostics.into_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::Spanned;

    fn request(resolver: &str, params: &[(&str, &str)]) -> Request {
        let span = Span::new(FileId::default(), 0, 0);
        Request {
            resolver: Spanned::new(resolver.to_string(), span),
            kind: Kind::Task,
            params: params
                .iter()
                .map(|(n, v)| RequestParam {
                    name: Spanned::new(n.to_string(), span),
                    value: v.to_string(),
                    span,
                })
                .collect(),
            head: span,
        }
    }

    fn error(resolver: &str, params: &[(&str, &str)]) -> String {
        match Source::parse(&request(resolver, params)) {
            Ok(s) => panic!("{s:?}"),
            Err(d) => d.message,
        }
    }

    #[test]
    fn git_params_as_tekton() {
        let ok = Source::parse(&request(
            "git",
            &[
                ("url", "file:///r"),
                ("revision", "main"),
                ("pathInRepo", "/t.yaml"),
            ],
        ))
        .unwrap();
        assert_eq!(
            ok,
            Source::Git(GitSource {
                url: "file:///r".into(),
                revision: "main".into(),
                path_in_repo: "t.yaml".into()
            })
        );
        assert_eq!(
            error("git", &[("url", "file:///r")]),
            "git resolver: missing required git resolver params: revision, pathInRepo"
        );
        assert_eq!(
            error("git", &[("revision", "main"), ("pathInRepo", "t")]),
            "git resolver: must specify one of 'url' or 'repo'"
        );
        assert_eq!(
            error(
                "git",
                &[
                    ("url", "u"),
                    ("repo", "r"),
                    ("revision", "m"),
                    ("pathInRepo", "t")
                ]
            ),
            "git resolver: cannot specify both 'url' and 'repo'"
        );
        assert!(
            error(
                "git",
                &[
                    ("url", "file:///r"),
                    ("revision", "--upload-pack=x"),
                    ("pathInRepo", "t")
                ]
            )
            .contains("must not begin with '-'")
        );
        assert!(
            error(
                "git",
                &[
                    ("url", "file:///r"),
                    ("revision", "m"),
                    ("pathInRepo", "a/../../b")
                ]
            )
            .contains("'..'")
        );
        assert!(
            error(
                "git",
                &[("url", "/r"), ("revision", "m"), ("pathInRepo", "t")]
            )
            .contains("invalid git repository url")
        );
        assert!(valid_repo_url("git@github.com:tektoncd/catalog.git"));
    }

    #[test]
    fn http_and_hub_params_as_tekton() {
        assert_eq!(
            error("http", &[]),
            "http resolver: missing required http resolver params: url"
        );
        assert_eq!(
            error("http", &[("url", "ftp://x")]),
            "http resolver: url ftp://x is not a valid http(s) url"
        );
        assert!(
            error("http", &[("url", "http://x"), ("http-username", "u")])
                .contains("missing required param http-password-secret")
        );
        assert_eq!(
            error("hub", &[("name", "git-clone")]),
            "hub resolver: missing required hub resolver params: version"
        );
        assert_eq!(
            error("hub", &[("type", "x"), ("name", "n"), ("version", "1")]),
            "hub resolver: type param must be artifact or tekton"
        );
        // Name and catalog stay one segment of the hub's URL path (tkc's rule).
        for bad in [".", "..", "a/b", "a?b", "%2e"] {
            for param in ["name", "catalog"] {
                let mut params = vec![("name", "n"), ("version", "1")];
                params.retain(|(p, _)| *p != param);
                params.push((param, bad));
                assert!(
                    error("hub", &params).contains("must be one path segment"),
                    "{param} {bad}"
                );
            }
        }
        let Source::Hub(hub) = Source::parse(&request(
            "hub",
            &[("name", "git-clone"), ("version", "0.9")],
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (hub.version.as_str(), hub.catalog.as_str()),
            ("0.9.0", "tekton-catalog-tasks")
        );
    }

    #[test]
    fn keys_ignore_param_order() {
        let a = request("git", &[("url", "u"), ("revision", "r")]);
        let b = request("git", &[("revision", "r"), ("url", "u")]);
        assert_eq!(a.key(), b.key());
    }
}
