//! References between resources: `taskRef`, `pipelineRef` and step `ref`.
//!
//! A reference tkc cannot follow (fetched by a resolver, to a resource that is not among the
//! files checked nor on the search paths, or to a name defined in several files equally near
//! it) is reported once per document and referenced name, as
//! a warning with a label at every use: the checks that need the body are skipped for it. A
//! referenced resource labelled `tekton.dev/deprecated: "true"` is reported the same way. The
//! structural rules are errors: a pipeline task, TaskRun or PipelineRun names exactly one of a
//! reference and an inline spec, and an inline `taskSpec` with steps is not a custom task.

mod fields;

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{Document, Kind, PipelineTask, Resource, Str};
use crate::resolve::{self, DocId, Resolved, World};
use crate::source::Span;
use crate::suggest::did_you_mean;
use fields::{RefFields, check_ref};
use std::collections::HashMap;

declare_code! {
    /// # Exactly one of a reference and an inline spec
    ///
    /// A pipeline task runs one thing: `taskRef` (a Task by name or resolver), `taskSpec` (a
    /// Task written inline), or, with alpha features, `pipelineRef` / `pipelineSpec`. A TaskRun
    /// has exactly one of `taskRef` and `taskSpec`, a PipelineRun exactly one of `pipelineRef`
    /// and `pipelineSpec`. A reference needs a `name` unless it has a `resolver`. Tekton rejects
    /// the resource (`expected exactly one, got both` / `expected exactly one, got neither`).
    ///
    /// ## Example
    /// ```yaml
    /// tasks:
    ///   - name: build
    ///     taskRef:
    ///       name: golang-build
    ///     taskSpec:
    ///       steps: [...]
    /// ```
    /// Keep one of them.
    pub static REF_OR_SPEC = "tkc::references::ref-or-spec", Error;
}

declare_code! {
    /// # An inline task with steps that also names a custom task kind
    ///
    /// A `taskSpec` with `apiVersion` and `kind` is a custom task (run by another controller as
    /// a CustomRun); a `taskSpec` with `steps` is a Task. Tekton rejects one that is both
    /// (`taskSpec.apiVersion cannot be specified when using taskSpec.steps`). Remove
    /// `apiVersion` and `kind` to run the steps, or the steps to run the custom task.
    pub static EMBEDDED_CUSTOM = "tkc::references::embedded-custom", Error;
}

declare_code! {
    /// # A reference to a deprecated resource
    ///
    /// The referenced Task, Pipeline or StepAction carries the label
    /// `tekton.dev/deprecated: "true"`: its maintainers want users to move to something else.
    /// It still runs; see the resource's description for its replacement.
    pub static DEPRECATED = "tkc::references::deprecated", Warning;
}

/// This family's codes (the remote and not-found warnings are declared in `resolve`).
pub const CODES: &[&Code] = &[
    &REF_OR_SPEC,
    &EMBEDDED_CUSTOM,
    &DEPRECATED,
    &fields::INVALID_NAME,
    &fields::RESOLVER_PARAMS,
    &fields::CONCISE_SYNTAX,
    &fields::CUSTOM_TASK,
];

/// One use of a reference that cannot be followed, or that leads to a deprecated resource.
struct Use {
    span: Span,
    what: &'static str,
}

/// What a group of uses is about, keyed for "once per document and name".
#[derive(Clone, PartialEq, Eq, Hash)]
enum Target {
    NotFound(Kind, String),
    Ambiguous(Kind, String),
    Remote(String),
    Deprecated(DocId),
}

/// Uses of unfollowable or deprecated references in one document, in source order of their
/// first use.
#[derive(Default)]
struct Uses {
    order: Vec<Target>,
    by_target: HashMap<Target, Vec<Use>>,
}

impl Uses {
    fn add(&mut self, target: Target, span: Span, what: &'static str) {
        let list = self.by_target.entry(target.clone()).or_default();
        if list.is_empty() {
            self.order.push(target);
        }
        list.push(Use { span, what });
    }

    /// Records where a reference leads, if that is worth reporting.
    fn record<T>(&mut self, world: &World, resolved: Resolved<'_, T>, kind: Kind, span: Span) {
        let what = kind_noun(kind);
        match resolved {
            Resolved::NotFound { name } => {
                self.add(Target::NotFound(kind, name.value.clone()), name.span, what)
            }
            Resolved::Ambiguous { name } => {
                self.add(Target::Ambiguous(kind, name.value.clone()), name.span, what)
            }
            Resolved::Remote { resolver } => {
                self.add(Target::Remote(resolver.value.clone()), resolver.span, what)
            }
            Resolved::Found { doc: Some(doc), .. } if is_deprecated(world.doc(doc)) => {
                self.add(Target::Deprecated(doc), span, what)
            }
            _ => {}
        }
    }
}

fn kind_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Task | Kind::ClusterTask => "task",
        Kind::Pipeline => "pipeline",
        Kind::StepAction => "step action",
        _ => "resource",
    }
}

fn is_deprecated(document: &Document) -> bool {
    deprecated_label(document).is_some()
}

fn deprecated_label(document: &Document) -> Option<&Str> {
    let labels = document.metadata.labels.as_ref()?;
    labels
        .0
        .iter()
        .find(|(k, v)| k.value == "tekton.dev/deprecated" && v.value.eq_ignore_ascii_case("true"))
        .map(|(k, _)| k)
}

/// Uses per document, documents in the order of their first use.
#[derive(Default)]
struct PerDocument {
    order: Vec<DocId>,
    per_doc: HashMap<DocId, Uses>,
}

impl PerDocument {
    fn uses_of(&mut self, doc: DocId) -> &mut Uses {
        if !self.per_doc.contains_key(&doc) {
            self.order.push(doc);
        }
        self.per_doc.entry(doc).or_default()
    }
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    let mut all = PerDocument::default();

    for (doc, document) in world.checked() {
        match &document.resource {
            Resource::TaskRun(run) => {
                let head = run.head;
                ref_or_spec(
                    cx,
                    &[
                        ("taskRef", run.task_ref.as_ref().map(|r| r.head)),
                        ("taskSpec", run.task_spec.as_ref().map(|s| s.head)),
                    ],
                    head,
                    "this TaskRun",
                    "taskRef",
                );
                if let Some(task_ref) = &run.task_ref {
                    check_ref(cx, &fields::task_ref(task_ref));
                    missing_name(
                        cx,
                        task_ref.name.as_ref(),
                        !task_ref.params.is_empty(),
                        task_ref.resolver.as_ref(),
                        task_ref.head,
                        "taskRef",
                    );
                    if resolvable(task_ref.name.as_ref(), task_ref.resolver.as_ref()) {
                        let resolved = world.resolve_task_ref(task_ref);
                        all.uses_of(doc)
                            .record(world, resolved, Kind::Task, task_ref.head);
                    }
                }
            }
            Resource::PipelineRun(run) => {
                ref_or_spec(
                    cx,
                    &[
                        ("pipelineRef", run.pipeline_ref.as_ref().map(|r| r.head)),
                        ("pipelineSpec", run.pipeline_spec.as_ref().map(|s| s.head)),
                    ],
                    run.head,
                    "this PipelineRun",
                    "pipelineRef",
                );
                if let Some(pipeline_ref) = &run.pipeline_ref {
                    check_ref(cx, &pipeline_ref_fields(pipeline_ref));
                    missing_name(
                        cx,
                        pipeline_ref.name.as_ref(),
                        !pipeline_ref.params.is_empty(),
                        pipeline_ref.resolver.as_ref(),
                        pipeline_ref.head,
                        "pipelineRef",
                    );
                    if resolvable(pipeline_ref.name.as_ref(), pipeline_ref.resolver.as_ref()) {
                        let resolved = world.resolve_pipeline_ref(pipeline_ref);
                        all.uses_of(doc)
                            .record(world, resolved, Kind::Pipeline, pipeline_ref.head);
                    }
                }
            }
            _ => {}
        }
    }

    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            pipeline_task(cx, task);
            if let Some(task_ref) = &task.task_ref
                && !fields::is_custom(task)
                && resolvable(task_ref.name.as_ref(), task_ref.resolver.as_ref())
            {
                let resolved = world.resolve_pipeline_task(task);
                all.uses_of(pipeline.doc)
                    .record(world, resolved, Kind::Task, task_ref.head);
            }
            if let Some(pipeline_ref) = &task.pipeline_ref
                && resolvable(pipeline_ref.name.as_ref(), pipeline_ref.resolver.as_ref())
            {
                let resolved = world.resolve_pipeline_ref(pipeline_ref);
                all.uses_of(pipeline.doc).record(
                    world,
                    resolved,
                    Kind::Pipeline,
                    pipeline_ref.head,
                );
            }
        }
    }

    for task in task_specs(world) {
        for step in &task.spec.steps {
            if let Some(step_ref) = &step.r#ref {
                check_ref(
                    cx,
                    &RefFields {
                        name: step_ref.name.as_ref(),
                        resolver: step_ref.resolver.as_ref(),
                        params: &step_ref.params,
                        field: "ref",
                    },
                );
                missing_name(
                    cx,
                    step_ref.name.as_ref(),
                    !step_ref.params.is_empty(),
                    step_ref.resolver.as_ref(),
                    step_ref.head,
                    "ref",
                );
                if resolvable(step_ref.name.as_ref(), step_ref.resolver.as_ref()) {
                    let resolved = world.resolve_step_ref(step_ref);
                    all.uses_of(task.doc)
                        .record(world, resolved, Kind::StepAction, step_ref.head);
                }
            }
        }
    }

    for doc in std::mem::take(&mut all.order) {
        let Some(mut uses) = all.per_doc.remove(&doc) else {
            continue;
        };
        for target in std::mem::take(&mut uses.order) {
            let list = uses.by_target.remove(&target).unwrap_or_default();
            report(cx, world, &target, &list);
        }
    }
}

/// Reports one unfollowable or deprecated target, with a label at every use.
fn report(cx: &mut Checker, world: &World, target: &Target, uses: &[Use]) {
    let Some(first) = uses.first() else {
        return;
    };
    let times = if uses.len() > 1 {
        format!(" ({} uses)", uses.len())
    } else {
        String::new()
    };
    let mut d = match target {
        Target::NotFound(kind, name) => {
            let known = world
                .iter()
                .filter(|(_, d)| d.kind == *kind || (*kind == Kind::Task && d.kind == Kind::ClusterTask))
                .filter_map(|(_, d)| d.metadata.name.as_ref().map(|n| n.as_str()));
            let help = match did_you_mean(name, known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "checks that need its body are skipped; add the file that defines it to the check, or its directory to `--search-path` (or `search-paths` in tkc.toml)".to_string(),
            };
            Diagnostic::new(
                &resolve::NOT_FOUND,
                format!("{} `{name}` was not found{times}", kind.as_str()),
            )
            .with_help(help)
        }
        Target::Ambiguous(kind, name) => {
            let files: Vec<&str> = match world.lookup(*kind, name, first.span) {
                resolve::Lookup::Ambiguous(ids) => ids
                    .iter()
                    .map(|id| world.sources.get(world.doc(*id).file()).name())
                    .collect(),
                _ => Vec::new(),
            };
            Diagnostic::new(
                &resolve::AMBIGUOUS_REF,
                format!(
                    "{} `{name}` is defined in {} files, none nearer than the others{times}",
                    kind.as_str(),
                    files.len().max(2)
                ),
            )
            .with_help(format!(
                "`kubectl apply` keeps the copy applied last ({}); checks against its body are \
                 skipped. Check this file with only the copy it means, or move it beside that copy",
                files.join(", ")
            ))
        }
        Target::Remote(resolver) => Diagnostic::new(
            &resolve::REMOTE_REF,
            format!("the `{resolver}` resolver fetches this {} when the run starts; tkc does not check it{times}", first.what),
        )
        .with_help("`tkc check --resolve` fetches it and checks against it (docs/resolvers.md); or set `\"tkc::resolve::remote-ref\" = \"off\"` under `[severity]` in tkc.toml"),
        Target::Deprecated(doc) => {
            let document = world.doc(*doc);
            let mut d = Diagnostic::new(
                &DEPRECATED,
                format!("{} `{}` is deprecated{times}", document.kind.as_str(), document.name()),
            )
            .with_help("see its description for a replacement");
            if let Some(label) = deprecated_label(document) {
                d = d.with_secondary(label.span, "marked deprecated here");
            }
            d
        }
    };
    for (i, u) in uses.iter().enumerate() {
        let message = match target {
            Target::NotFound(..) => "not found",
            Target::Ambiguous(..) => "ambiguous",
            Target::Remote(_) => "fetched when the run starts",
            Target::Deprecated(_) => "deprecated",
        };
        d = if i == 0 {
            d.with_label(u.span, message)
        } else {
            d.with_secondary(u.span, message)
        };
    }
    cx.report(d);
}

/// `taskRef`/`taskSpec` (and alpha `pipelineRef`/`pipelineSpec`) of a pipeline task.
fn pipeline_task(cx: &mut Checker, task: &PipelineTask) {
    ref_or_spec(
        cx,
        &[
            ("taskRef", task.task_ref.as_ref().map(|r| r.head)),
            (
                "taskSpec",
                task.task_spec.as_ref().map(|s| match &s.kind {
                    Some(k) => k.span,
                    None if s.task.head.is_empty() => task.name.span,
                    None => s.task.head,
                }),
            ),
            ("pipelineRef", task.pipeline_ref.as_ref().map(|r| r.head)),
            ("pipelineSpec", task.pipeline_spec.as_ref().map(|s| s.head)),
        ],
        task.name.span,
        &format!("pipeline task `{}`", task.name.value),
        "taskRef",
    );
    // `PipelineTask.Validate`: a custom task's fields, or else `validateTask`'s references.
    let custom = fields::is_custom(task);
    if custom {
        fields::custom_task(cx, task);
    }
    if let Some(task_ref) = &task.task_ref
        && !custom
    {
        check_ref(cx, &fields::task_ref(task_ref));
        missing_name(
            cx,
            task_ref.name.as_ref(),
            !task_ref.params.is_empty(),
            task_ref.resolver.as_ref(),
            task_ref.head,
            "taskRef",
        );
    }
    if let Some(pipeline_ref) = &task.pipeline_ref {
        if !custom {
            check_ref(cx, &pipeline_ref_fields(pipeline_ref));
        }
        missing_name(
            cx,
            pipeline_ref.name.as_ref(),
            !pipeline_ref.params.is_empty(),
            pipeline_ref.resolver.as_ref(),
            pipeline_ref.head,
            "pipelineRef",
        );
    }
    if let Some(embedded) = &task.task_spec
        && !embedded.task.steps.is_empty()
    {
        for field in [&embedded.api_version, &embedded.kind]
            .into_iter()
            .flatten()
        {
            let key = if Some(field) == embedded.api_version.as_ref() {
                "apiVersion"
            } else {
                "kind"
            };
            cx.report(
                Diagnostic::new(
                    &EMBEDDED_CUSTOM,
                    format!("taskSpec.{key} cannot be specified when using taskSpec.steps"),
                )
                .with_label(field.span, format!("`{key}` makes this a custom task"))
                .with_secondary(embedded.task.steps[0].head, "but it has steps")
                .with_help(format!("remove `{key}` to run the steps as a Task")),
            );
        }
    }
}

fn pipeline_ref_fields(r: &crate::model::PipelineRef) -> RefFields<'_> {
    RefFields {
        name: r.name.as_ref(),
        resolver: r.resolver.as_ref(),
        params: &r.params,
        field: "pipelineRef",
    }
}

/// Exactly one of the given fields (field name, span of its key if present).
fn ref_or_spec(
    cx: &mut Checker,
    fields: &[(&str, Option<Span>)],
    owner: Span,
    what: &str,
    first_choice: &str,
) {
    let present: Vec<(&str, Span)> = fields
        .iter()
        .filter_map(|(name, span)| span.map(|s| (*name, s)))
        .collect();
    match present.as_slice() {
        [] => {
            let names: Vec<String> = fields
                .iter()
                .take(2)
                .map(|(n, _)| format!("`{n}`"))
                .collect();
            cx.report(
                Diagnostic::new(
                    &REF_OR_SPEC,
                    format!(
                        "expected exactly one of {}, got neither",
                        names.join(" and ")
                    ),
                )
                .with_label(owner, format!("{what} says nothing to run"))
                .with_help(format!(
                    "add `{first_choice}: {{name: ...}}` to refer to a resource, or write it inline"
                )),
            );
        }
        [_] => {}
        [(first, first_span), rest @ ..] => {
            let names: Vec<String> = present.iter().map(|(n, _)| format!("`{n}`")).collect();
            let mut d = Diagnostic::new(
                &REF_OR_SPEC,
                format!(
                    "expected exactly one of {}, got {}",
                    names.join(", "),
                    if present.len() == 2 {
                        "both"
                    } else {
                        "several"
                    }
                ),
            );
            for (name, span) in rest {
                d = d.with_label(*span, format!("`{name}` given here"));
            }
            d = d.with_secondary(*first_span, format!("`{first}` given here"));
            cx.report(d.with_help("keep one of them"));
        }
    }
}

/// Does the reference name something (a resource or a resolver)?
fn followable(name: Option<&Str>, resolver: Option<&Str>) -> bool {
    name.is_some_and(|n| !n.is_empty()) || resolver.is_some_and(|r| !r.is_empty())
}

/// Is the reference worth following: named by a resolver or by a valid name (an invalid
/// name is reported by `check_ref`, and not also as not found)?
fn resolvable(name: Option<&Str>, resolver: Option<&Str>) -> bool {
    followable(name, resolver)
        && (resolver.is_some_and(|r| !r.is_empty())
            || name.is_some_and(|n| super::names::is_qualified_name(&n.value)))
}

fn missing_name(
    cx: &mut Checker,
    name: Option<&Str>,
    has_params: bool,
    resolver: Option<&Str>,
    head: Span,
    field: &str,
) {
    // With resolver params, `validateRef` asks for the resolver (`resolver-params`), not a name.
    if !followable(name, resolver) && !has_params {
        cx.report(
            Diagnostic::new(&REF_OR_SPEC, format!("{field} must specify name"))
                .with_label(head, "no `name` and no `resolver`")
                .with_help("give the name of the resource, or a `resolver` with its params"),
        );
    }
}
