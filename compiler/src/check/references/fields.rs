//! The fields of a reference, at every reference site: a pipeline task's `taskRef` and
//! `pipelineRef`, a TaskRun's `taskRef`, a PipelineRun's `pipelineRef` and a step's `ref`.
//!
//! Tekton's admission webhook checks them all with one function, `validateRef`
//! (`pkg/apis/pipeline/v1/container_validation.go`, called by `TaskRef.Validate`,
//! `PipelineRef.Validate` and `Ref.Validate`; v1beta1 has a copy in `TaskRef.Validate`), and
//! a pipeline task's custom task with `PipelineTask.validateCustomTask`
//! (`pipeline_validation.go`).

use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{EmbeddedTask, Param, PipelineTask, Str, TaskRef};
use crate::source::Span;

use super::super::Checker;
use super::super::names::is_qualified_name;

declare_code! {
    /// # A reference name that is not a resource name
    ///
    /// **Stage:** admission (the validating webhook, `validateRef` in
    /// `pkg/apis/pipeline/v1/container_validation.go`).
    ///
    /// Without a `resolver`, a `taskRef`, `pipelineRef` or step `ref` names a resource of the
    /// namespace, and that name must be a Kubernetes qualified name (`IsQualifiedName`: at
    /// most 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit). A
    /// `$(params.x)` name is not one: Tekton does not substitute params into a local
    /// reference's name. With a `resolver`, a `name` is only accepted as a URL that the
    /// resolver reads (concise resolver syntax); a plain name there is rejected (`invalid
    /// value: invalid URI for request: name`).
    ///
    /// ## Example
    /// ```yaml
    /// taskRef:
    ///   name: $(params.task)       # not a resource name
    /// ---
    /// taskRef:
    ///   resolver: cluster
    ///   name: git-clone            # the cluster resolver takes the name as a param
    /// ```
    /// Write the resource's name, or pass the name to the resolver in `params`.
    pub static INVALID_NAME = "tkc::references::invalid-ref-name", Error;
}

declare_code! {
    /// # Resolver params with a `name`, or without a `resolver`
    ///
    /// **Stage:** admission (`validateRef` in `pkg/apis/pipeline/v1/container_validation.go`).
    ///
    /// `params` of a `taskRef`, `pipelineRef` or step `ref` are the resolver's params: they
    /// need a `resolver` (`missing field(s): resolver`), and the resource is then found by
    /// them, so a `name` beside them is rejected (`expected exactly one, got both: name,
    /// params`).
    ///
    /// ## Example
    /// ```yaml
    /// taskRef:
    ///   name: git-clone
    ///   resolver: hub
    ///   params:
    ///     - name: name
    ///       value: git-clone
    /// ```
    /// Remove `name`: the hub resolver finds the Task by its `name` param.
    pub static RESOLVER_PARAMS = "tkc::references::resolver-params", Error;
}

declare_code! {
    /// # A URL as a reference name without concise resolver syntax
    ///
    /// **Stage:** admission (`validateRef` in `pkg/apis/pipeline/v1/container_validation.go`).
    ///
    /// A `name` that looks like a URL (`git://...`, `bundle://...`, `https://...`) is the
    /// *concise resolver syntax*: it is accepted only with the cluster's feature flag
    /// `enable-concise-resolver-syntax: "true"` (check with `--enable-concise-resolver-syntax`,
    /// or `enable-concise-resolver-syntax = true` in tkc.toml), and only together with a
    /// `resolver` (`feature flag enable-concise-resolver-syntax should be set to true to use
    /// concise resolver syntax`; `missing field(s): resolver`).
    ///
    /// ## Example
    /// ```yaml
    /// taskRef:
    ///   name: git://github.com/tektoncd/catalog/task/git-clone/0.9/git-clone.yaml
    /// ```
    /// Use the resolver's `params`, or set `resolver: git` and enable the flag.
    pub static CONCISE_SYNTAX = "tkc::references::concise-syntax", Error;
}

declare_code! {
    /// # A custom task without `apiVersion` or `kind`
    ///
    /// **Stage:** admission (`PipelineTask.validateCustomTask` in
    /// `pkg/apis/pipeline/v1/pipeline_validation.go`).
    ///
    /// A pipeline task whose `taskRef` (or inline `taskSpec`) has a `kind` other than `Task`,
    /// or an `apiVersion`, runs a custom task, which needs both: a `kind` and an `apiVersion`
    /// of the form `group/version`. `kind: ClusterTask` is such a kind: ClusterTasks were
    /// removed from Tekton, and so is `kind: task` (kinds are case-sensitive). Tekton rejects
    /// the Pipeline (`invalid value: custom task ref must specify apiVersion: taskRef.apiVersion`).
    ///
    /// ## Example
    /// ```yaml
    /// taskRef:
    ///   name: git-clone
    ///   kind: ClusterTask
    /// ```
    /// Remove `kind` (a Task is the default), or resolve the former ClusterTask with
    /// `resolver: cluster`.
    pub static CUSTOM_TASK = "tkc::references::custom-task", Error;
}

/// The fields of one reference, wherever it is.
pub struct RefFields<'a> {
    pub name: Option<&'a Str>,
    pub resolver: Option<&'a Str>,
    pub params: &'a [Param],
    /// `taskRef`, `pipelineRef`, `ref`.
    pub field: &'static str,
}

/// RefNameLikeUrl: Tekton's `[\w-]+:\/\/*`, unanchored: a word, `:`, `/`.
fn is_url_like(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.windows(2).enumerate().any(|(i, w)| {
        w == b":/"
            && i > 0
            && bytes[i - 1].is_ascii_alphanumeric() | matches!(bytes[i - 1], b'_' | b'-')
    })
}

/// `validateRef` over one reference. A reference with neither name nor resolver is
/// `ref-or-spec`'s.
pub fn check_ref(cx: &mut Checker, r: &RefFields) {
    let name = r.name.filter(|n| !n.is_empty());
    let resolver = r.resolver.filter(|n| !n.is_empty());
    let concise = cx.options.enable_concise_resolver_syntax;
    let field = r.field;
    if let (Some(name), Some(first)) = (name, r.params.first()) {
        cx.report(
            Diagnostic::new(
                &RESOLVER_PARAMS,
                format!("{field}: expected exactly one, got both: name, params"),
            )
            .with_label(name.span, "a name")
            .with_secondary(first.name.span, "and resolver params")
            .with_help("the resolver finds the resource by its params: remove `name`"),
        );
    }
    if let (None, Some(first)) = (resolver, r.params.first()) {
        cx.report(
            Diagnostic::new(
                &RESOLVER_PARAMS,
                format!("{field}: missing field(s): resolver"),
            )
            .with_label(first.name.span, "resolver params without a `resolver`")
            .with_help("add `resolver: git` (or `hub`, `bundles`, `cluster`, `http`), or refer to the resource by `name`"),
        );
    }
    let Some(name) = name else {
        return;
    };
    if is_url_like(&name.value) {
        if !concise {
            cx.report(
                Diagnostic::new(
                    &CONCISE_SYNTAX,
                    "feature flag enable-concise-resolver-syntax should be set to true to use concise resolver syntax",
                )
                .with_label(name.span, "a URL as the name")
                .with_help("pass the URL's parts in the resolver's `params`, or check with `--enable-concise-resolver-syntax` if the cluster enables it"),
            );
        }
        if resolver.is_none() {
            cx.report(
                Diagnostic::new(
                    &CONCISE_SYNTAX,
                    format!("{field}: missing field(s): resolver"),
                )
                .with_label(name.span, "a URL needs the resolver that reads it")
                .with_help("add `resolver: git` (or the resolver this URL is for)"),
            );
        }
    } else if resolver.is_some() {
        if r.params.is_empty() {
            cx.report(
                Diagnostic::new(
                    &INVALID_NAME,
                    format!("{field}: invalid value: invalid URI for request: name"),
                )
                .with_label(name.span, "a plain name with a resolver")
                .with_help("a resolver finds the resource by its `params`: pass the name there (for the cluster resolver, `kind`, `name`, `namespace`), or remove `resolver` to use the Task of the namespace"),
            );
        }
    } else if !is_qualified_name(&name.value) {
        let why = if crate::vars::has_references(&name.value) {
            "Tekton does not substitute params into a reference's name"
        } else {
            "not a Kubernetes qualified name"
        };
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("{field}: invalid value: `{}` is not a qualified name: name", name.value),
            )
            .with_label(name.span, why)
            .with_help("a name is at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
        );
    }
}

/// The fields of a `taskRef`.
pub fn task_ref(r: &TaskRef) -> RefFields<'_> {
    RefFields {
        name: r.name.as_ref(),
        resolver: r.resolver.as_ref(),
        params: &r.params,
        field: "taskRef",
    }
}

/// Does Tekton take this pipeline task for a custom task (`PipelineTask.Validate`: a kind
/// other than `""`/`Task`, or an `apiVersion`, on the ref or the inline spec)?
pub fn is_custom(task: &PipelineTask) -> bool {
    let odd_kind = |k: Option<&Str>| k.is_some_and(|k| !matches!(k.as_str(), "" | "Task"));
    let has = |v: Option<&Str>| v.is_some_and(|v| !v.is_empty());
    task.task_ref
        .as_ref()
        .is_some_and(|r| odd_kind(r.kind.as_ref()) || has(r.api_version.as_ref()))
        || task
            .task_spec
            .as_ref()
            .is_some_and(|s| odd_kind(s.kind.as_ref()) || has(s.api_version.as_ref()))
}

/// `PipelineTask.validateCustomTask`: a custom task needs a kind and a `group/version`.
pub fn custom_task(cx: &mut Checker, task: &PipelineTask) {
    if !is_custom(task) {
        return;
    }
    if let Some(r) = &task.task_ref {
        custom_fields(
            cx,
            r.kind.as_ref(),
            r.api_version.as_ref(),
            r.head,
            "taskRef",
            "ref",
        );
    }
    if let Some(EmbeddedTask {
        kind, api_version, ..
    }) = task.task_spec.as_deref()
    {
        let head = task
            .task_spec
            .as_ref()
            .map(|s| s.task.head)
            .filter(|h| !h.is_empty())
            .unwrap_or(task.name.span);
        custom_fields(
            cx,
            kind.as_ref(),
            api_version.as_ref(),
            head,
            "taskSpec",
            "spec",
        );
    }
}

fn custom_fields(
    cx: &mut Checker,
    kind: Option<&Str>,
    api_version: Option<&Str>,
    head: Span,
    field: &str,
    noun: &str,
) {
    let kind = kind.filter(|k| !k.is_empty());
    if kind.is_none() {
        cx.report(
            Diagnostic::new(
                &CUSTOM_TASK,
                format!("invalid value: custom task {noun} must specify kind: {field}.kind"),
            )
            .with_label(head, "an `apiVersion` without a `kind`")
            .with_help("add the custom task's `kind`, or remove `apiVersion` to run a Task"),
        );
    }
    match api_version.filter(|v| !v.is_empty()) {
        Some(v) => {
            let valid = v
                .split_once('/')
                .is_some_and(|(g, ver)| !g.is_empty() && !ver.is_empty() && !ver.contains('/'));
            if !valid {
                cx.report(
                    Diagnostic::new(
                        &CUSTOM_TASK,
                        format!(
                            "invalid value: invalid apiVersion format \"{}\", must be in the format \"group/version\": {field}.apiVersion",
                            v.value
                        ),
                    )
                    .with_label(v.span, "not `group/version`")
                    .with_help("write the custom task's group and version, such as `example.dev/v1alpha1`"),
                );
            }
        }
        None => {
            let (span, label, help) = match kind {
                Some(k) if k.as_str() == "ClusterTask" => (
                    k.span,
                    "ClusterTasks were removed from Tekton",
                    "remove `kind` to run the Task of the namespace, or use `resolver: cluster` to fetch a Task from another namespace",
                ),
                Some(k) if k.as_str().eq_ignore_ascii_case("task") => (
                    k.span,
                    "kinds are case-sensitive: only `Task` is a Task",
                    "write `kind: Task`, or remove `kind` (a Task is the default)",
                ),
                Some(k) => (
                    k.span,
                    "a custom task's kind",
                    "add the custom task's `apiVersion` (`group/version`), or remove `kind` to run a Task",
                ),
                None => (
                    head,
                    "no `apiVersion`",
                    "add the custom task's `apiVersion`",
                ),
            };
            cx.report(
                Diagnostic::new(
                    &CUSTOM_TASK,
                    format!("invalid value: custom task {noun} must specify apiVersion: {field}.apiVersion"),
                )
                .with_label(span, label)
                .with_help(help),
            );
        }
    }
}
