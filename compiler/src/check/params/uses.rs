//! Every `$(params...)` reference against the params visible where it is written: declared,
//! a key the object declares, a selector that fits the type, and a whole array or object only
//! where Tekton can put one.

use crate::check::scope::{
    Origin, ParamScope, Runs, Shape, Slot, Visible, is_whole_selector, pipeline_scope,
    pipeline_task_strings, selector_problem, task_scope,
};
use crate::check::{
    Checker, Container, Field, TaskCx, TaskSite, Text, describe, param_value_texts, pipeline_specs,
    pipeline_tasks, refs, task_specs, task_strings,
};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Resource, WorkspaceBinding};
use crate::resolve::Resolved;
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::{RefKind, Reference, Selector, param_ref_text};

declare_code! {
    /// # A reference to a param that is not declared
    ///
    /// `$(params.<name>)` must name a param the Task (or Pipeline) declares. Tekton's
    /// validating webhook rejects a Task whose steps use an undeclared param in `name`,
    /// `image`, `workingDir`, `script`, `command`, `args`, `env[].value`, `volumeMounts` or
    /// `onError` (`non-existent variable in "<value>"`: `ValidateUsageOfDeclaredParameters`
    /// → `validateStepVariables` in `pkg/apis/pipeline/v1/task_validation.go`), and a
    /// Pipeline whose task params do. Elsewhere (sidecars, `stepTemplate`, `volumes`, param
    /// defaults, step `when`, ...) Tekton does not look: the reference is left in place as
    /// text, and tkc warns with `tkc::params::literal-reference` instead.
    ///
    /// What is visible: a Task sees its own params. An inline `taskSpec` of a pipeline task
    /// also sees the Pipeline's params and the params the pipeline task passes (Tekton
    /// propagates them); an inline `taskSpec` of a TaskRun sees the run's params, and an inline
    /// `pipelineSpec` of a PipelineRun the run's params. A name with dots (`a.b`) is written
    /// `$(params["a.b"])`: where the webhook checks references it reads `$(params.a.b)` as
    /// key `b` of a param `a` and rejects it (`non-existent variable`); elsewhere the dotted
    /// form is replaced too.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: revision
    /// steps:
    ///   - image: alpine/git
    ///     script: git checkout $(params.revison)
    /// ```
    pub static UNDECLARED = "tkc::params::undeclared", Error;
}

declare_code! {
    /// # A reference to a key an object param does not declare
    ///
    /// `$(params.<object>.<key>)` must name one of the object's `properties`. Tekton rejects
    /// the Task (`non-existent variable`); at run time the reference would be left as text.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: repo
    ///     properties:
    ///       url: {}
    /// steps:
    ///   - script: git clone $(params.repo.uri)
    /// ```
    pub static UNKNOWN_KEY = "tkc::params::unknown-key", Error;
}

declare_code! {
    /// # A param reference Tekton leaves as literal text
    ///
    /// A warning, never an error: Tekton accepts the resource. Either the reference names a
    /// param that is not declared, in a field Tekton's webhook does not check (sidecars,
    /// `stepTemplate`, `volumes`, param defaults, step `when`, workspace mount paths: only the
    /// step fields `validateStepVariables` lists are checked, `pkg/apis/pipeline/v1/
    /// task_validation.go`), or it puts an index (`[N]`, `[*]`) or a key (`.key`) on a string
    /// param, an index on an object param, or a key on an array param that is an item of its
    /// own in `command`/`args` or an array value (the webhook's `ExtractVariablesFromString`
    /// trims indexes and keys, so it sees a use of a declared param), which no substitution
    /// pass replaces. Either way the step sees the text `$(params...)` as it is written, when
    /// it runs (stage: step run).
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: tag              # a string
    /// sidecars:
    ///   - image: registry:$(params.version)
    /// steps:
    ///   - script: echo $(params.tag[0])
    /// ```
    pub static LITERAL_REFERENCE = "tkc::params::literal-reference", Warning;
}

declare_code! {
    /// # A selector that does not fit the param's type
    ///
    /// `[N]` indexes an array param, `[*]` takes a whole array (or object), `.key` reads a key
    /// of an object param. A key on an array param in a string field (a step's `image`, `env`,
    /// `script`, a pipeline task's string param) is an error here: Tekton's webhook takes it
    /// for a use of the whole array (`ValidateNoReferencesToProhibitedVariables`, `variable
    /// type invalid`; stage: validating webhook). An index or key on a string param, an index
    /// on an object param, and a key on an array param that is a whole `args` item are
    /// accepted by the webhook and left in place as text: the warning
    /// `tkc::params::literal-reference`.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: image            # a string
    /// steps:
    ///   - image: $(params.image[0])
    /// ```
    pub static WRONG_SELECTOR = "tkc::params::wrong-selector", Error;
}

declare_code! {
    /// # A whole array is part of a longer string
    ///
    /// `$(params.<array>)` and `$(params.<array>[*])` expand into several items, so in
    /// `command`, `args` and array values they must be an item on their own. Tekton rejects
    /// `"--flags=$(params.flags[*])"` (`variable is not properly isolated`).
    ///
    /// ## Example
    /// ```yaml
    /// args: ["--flags=$(params.flags[*])"]
    /// ```
    /// Write `args: ["--flags", "$(params.flags[*])"]`, or use one item: `$(params.flags[0])`.
    pub static NOT_ISOLATED = "tkc::params::not-isolated", Error;
}

declare_code! {
    /// # A whole array or object where only a string can go
    ///
    /// A whole array param can only be an entire item of `command`/`args` (Task), or an entire
    /// param value or array item (Pipeline). A whole object param can only be the entire value
    /// of a pipeline task param. In `script`, `image`, `env` and other string fields Tekton
    /// rejects the Task (`variable type invalid`) or leaves the text in place.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   for f in $(params.files[*]); do echo "$f"; done
    /// ```
    /// Pass the array as `args: ["$(params.files[*])"]` and loop over `"$@"` in the script.
    pub static WHOLE_VALUE = "tkc::params::whole-value", Error;
}

/// How the place a scope belongs to is named in messages.
pub struct Place {
    /// "Task `build`", "pipeline task `fetch`", ...
    pub name: String,
    /// Where an undeclared param should be declared.
    pub declare_in: &'static str,
}

pub fn task_place(cx: &Checker, task: &TaskCx) -> Place {
    match task.site {
        TaskSite::Resource => Place {
            name: describe(cx.world.doc(task.doc)),
            declare_in: "declare it under the Task's `params`",
        },
        TaskSite::InPipeline { task: pt, .. } => Place {
            name: format!("the inline task of pipeline task `{}`", pt.name.value),
            declare_in: "declare it in the Pipeline's `params`, pass it from the pipeline task, or declare it in the inline task",
        },
        TaskSite::InTaskRun { .. } => Place {
            name: format!("the inline task of {}", describe(cx.world.doc(task.doc))),
            declare_in: "declare it in the inline task's `params`, or pass it in the TaskRun's `params`",
        },
    }
}

/// The slot a string of a Task is in.
pub fn task_slot(field: Field) -> Slot {
    match field {
        Field::Command | Field::Args | Field::When => Slot::ArrayItem,
        Field::StepParam => Slot::Value,
        _ => Slot::String,
    }
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    let runs = Runs::new(world);
    for task in task_specs(world) {
        let scope = task_scope(&runs, &task);
        let place = task_place(cx, &task);
        for s in task_strings(task.spec) {
            let site = Site {
                slot: task_slot(s.field),
                field: s.field.as_str(),
                checked: task_string_checked(s.container, s.field),
            };
            check_text(cx, &scope, &place, s.text, site);
        }
        for ws in &task.spec.workspaces {
            if let Some(path) = &ws.mount_path {
                let site = Site {
                    slot: Slot::String,
                    field: "workspaces",
                    checked: Checked::Literal,
                };
                check_text(cx, &scope, &place, path.into(), site);
            }
        }
        // A default may use another param (Tekton substitutes one level on the Task side);
        // no webhook function reads the references of a Task's defaults.
        for param in &task.spec.params {
            if let Some(default) = &param.default {
                for text in param_value_texts(default) {
                    let site = Site {
                        slot: Slot::Value,
                        field: "default",
                        checked: Checked::Literal,
                    };
                    check_text(cx, &scope, &place, text, site);
                }
            }
        }
    }
    for pipeline in pipeline_specs(world) {
        let scope = pipeline_scope(&pipeline);
        let place = Place {
            name: describe(world.doc(pipeline.doc)),
            declare_in: "declare it under the Pipeline's `params`",
        };
        for (_, task) in pipeline_tasks(pipeline.spec) {
            let matrixed;
            // A matrixed task's own matrix params are visible in its displayName.
            let scope = match &task.matrix {
                Some(m) if task.is_matrixed() => {
                    matrixed = with_matrix_params(&pipeline, m);
                    &matrixed
                }
                _ => &scope,
            };
            for s in pipeline_task_strings(task) {
                let site = Site {
                    slot: s.slot,
                    field: s.field.as_str(),
                    checked: Checked::Webhook,
                };
                check_text(cx, scope, &place, s.text, site);
            }
        }
    }
    run_workspace_sub_paths(cx);
}

/// The pipeline's scope plus a matrix's params (one string per combination).
fn with_matrix_params<'w>(
    pipeline: &crate::check::PipelineCx<'w>,
    matrix: &'w crate::model::Matrix,
) -> ParamScope<'w> {
    let mut scope = pipeline_scope(pipeline);
    scope.add_matrix(matrix);
    scope
}

/// Runs substitute their (string) params into their workspace bindings' `subPath`.
fn run_workspace_sub_paths(cx: &mut Checker) {
    let world = cx.world;
    for (_, document) in world.checked() {
        let (bindings, scope): (&[WorkspaceBinding], ParamScope) = match &document.resource {
            Resource::PipelineRun(run) => {
                let resolved = match (&run.pipeline_spec, &run.pipeline_ref) {
                    (Some(spec), _) => Some(spec),
                    (None, Some(r)) => world.resolve_pipeline_ref(r).spec(),
                    _ => None,
                };
                let Some(spec) = resolved else { continue };
                let mut scope = ParamScope::default();
                scope.declare(&spec.params, Origin::Declared);
                scope.give(&run.params, Origin::Run);
                (&run.workspaces, scope)
            }
            Resource::TaskRun(run) => {
                let resolved = match (&run.task_spec, &run.task_ref) {
                    (Some(spec), _) => Some(spec),
                    (None, Some(r)) => match world.resolve_task_ref(r) {
                        Resolved::Found { spec, .. } => Some(spec),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(spec) = resolved else { continue };
                let mut scope = ParamScope::default();
                scope.declare(&spec.params, Origin::Declared);
                scope.give(&run.params, Origin::Run);
                (&run.workspaces, scope)
            }
            _ => continue,
        };
        let place = Place {
            name: describe(document),
            declare_in: "declare it in the params of what the run runs",
        };
        for binding in bindings {
            if let Some(sub) = &binding.sub_path {
                let site = Site {
                    slot: Slot::String,
                    field: "subPath",
                    checked: Checked::Webhook,
                };
                check_text(cx, &scope, &place, sub.into(), site);
            }
        }
    }
}

/// Whether Tekton's webhook looks at the param references of a field.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Checked {
    /// An undeclared param there is rejected.
    Webhook,
    /// Tekton leaves an unknown reference there as literal text.
    Literal,
}

/// Where a string sits: what may stand there, and whether Tekton checks it.
#[derive(Copy, Clone)]
pub struct Site<'a> {
    pub slot: Slot,
    pub field: &'a str,
    pub checked: Checked,
}

/// The step fields whose params Tekton's webhook checks (`validateStepVariables`,
/// `pkg/apis/pipeline/v1/task_validation.go`); it reads `ts.Steps`, before the
/// `stepTemplate` is merged, and never sidecars, volumes or step `when`.
fn task_string_checked(container: Container, field: Field) -> Checked {
    let step_field = matches!(
        field,
        Field::Name
            | Field::Image
            | Field::WorkingDir
            | Field::Script
            | Field::Command
            | Field::Args
            | Field::EnvValue
            | Field::VolumeMount
            | Field::OnError
    );
    match container {
        Container::Step(_) if step_field => Checked::Webhook,
        _ => Checked::Literal,
    }
}

/// Checks every param reference of one string.
pub fn check_text(cx: &mut Checker, scope: &ParamScope, place: &Place, text: Text, site: Site) {
    if !text.text.contains("$(") {
        return;
    }
    for (r, span) in &refs(cx.world, text) {
        if let RefKind::Param { .. } = r.kind {
            check_use(cx, scope, place, r, span, text, site);
        }
    }
}

/// What is wrong with one use against one visible param.
enum Problem<'a> {
    /// A selector that does not fit and that Tekton accepts, leaving the text in place.
    Literal(&'static str),
    Selector(&'static str),
    UnknownKey(&'a str, Option<&'a [&'a str]>),
    NotIsolated,
    WholeValue,
}

fn problem<'a>(
    visible: &'a Visible<'a>,
    selector: &'a Selector,
    whole_text: bool,
    slot: Slot,
) -> Option<Problem<'a>> {
    // A value passed to an inline spec has a type only by inference: Tekton does not check
    // uses of propagated params, so only a missing object key is reported for them.
    let declared = matches!(visible.origin, Origin::Declared | Origin::Pipeline);
    if !declared {
        return match (&visible.shape, selector) {
            (Shape::Object(Some(keys)), Selector::Key(k)) if !keys.contains(&k.as_str()) => {
                Some(Problem::UnknownKey(k, Some(keys)))
            }
            _ => None,
        };
    }
    if let Some(p) = selector_problem(&visible.shape, selector) {
        return Some(match (&visible.shape, selector) {
            // Tekton's webhook reads `$(params.s[0])`, `$(params.s.k)` and `$(params.o[0])` as
            // uses of `s` and `o` (`ExtractVariablesFromString` trims the index and the key)
            // and no substitution pass replaces them: they stay as text.
            (Shape::String, _) | (Shape::Object(_), Selector::Index(_)) => Problem::Literal(p),
            // `$(params.arr.k)` is a use of the array `arr` for the webhook: an isolated item of
            // `command`/`args` or of an array value passes `ValidateVariableReferenceIsIsolated`
            // (and stays as text); inside a longer item it is not isolated; in any other field
            // `ValidateNoReferencesToProhibitedVariables` rejects it (`variable type invalid`).
            (Shape::Array(_), Selector::Key(_)) if slot == Slot::ArrayItem => {
                if whole_text {
                    Problem::Literal(p)
                } else {
                    Problem::NotIsolated
                }
            }
            _ => Problem::Selector(p),
        });
    }
    match (&visible.shape, selector) {
        (Shape::Object(Some(keys)), Selector::Key(k)) if !keys.contains(&k.as_str()) => {
            Some(Problem::UnknownKey(k, Some(keys)))
        }
        (Shape::Array(_), s) if is_whole_selector(s) => match slot {
            Slot::ArrayItem | Slot::Value if whole_text => None,
            Slot::ArrayItem => Some(Problem::NotIsolated),
            Slot::Value | Slot::String => Some(Problem::WholeValue),
        },
        (Shape::Object(_), s) if is_whole_selector(s) => match slot {
            Slot::Value if whole_text => None,
            _ => Some(Problem::WholeValue),
        },
        _ => None,
    }
}

fn check_use(
    cx: &mut Checker,
    scope: &ParamScope,
    place: &Place,
    r: &Reference,
    span: Span,
    text: Text,
    site: Site,
) {
    let Site { slot, field, .. } = site;
    let RefKind::Param { name, selector, .. } = &r.kind else {
        return;
    };
    // `$(params.a.b)` may name a param literally called `a.b`.
    let dotted = match selector {
        Selector::Key(k) => scope.get(&format!("{name}.{k}")),
        _ => None,
    };
    let whole_text = r.is_whole(text.text);
    let Some(visible) = scope.get(name) else {
        if let Some(dotted) = dotted {
            // The webhook's pattern (`ExtractVariablesFromString`, pkg/substitution) reads
            // `params.a.b` as key `b` of param `a`; only the bracket form names `a.b` there.
            if site.checked == Checked::Webhook
                && let Selector::Key(key) = selector
            {
                let full = format!("{name}.{key}");
                let mut d = Diagnostic::new(
                    &UNDECLARED,
                    format!("non-existent variable `{name}` in `{r}`: Tekton reads it as key `{key}` of a param `{name}`"),
                )
                .with_label(span, format!("not the param `{full}`"))
                .with_help(format!("write `$(params[\"{full}\"])` for a param whose name has dots"));
                if let Some(v) = dotted.first() {
                    d = d.with_secondary(v.span, format!("`{full}` is declared here"));
                }
                cx.report(d);
            }
            return;
        }
        if site.checked == Checked::Literal {
            cx.report(
                Diagnostic::new(
                    &LITERAL_REFERENCE,
                    format!(
                        "param `{name}` is not declared in {}; Tekton leaves `{r}` in {field} as text",
                        place.name
                    ),
                )
                .with_label(span, "undeclared param, not substituted")
                .with_help(match did_you_mean(name, scope.names()) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => place.declare_in.to_string(),
                }),
            );
            return;
        }
        report_undeclared(cx, scope, place, name, span);
        return;
    };
    if dotted.is_some() {
        return;
    }
    let mut first = None;
    for v in visible {
        match problem(v, selector, whole_text, slot) {
            None => return,
            Some(p) => {
                if first.is_none() {
                    first = Some((v, p));
                }
            }
        }
    }
    let Some((v, p)) = first else { return };
    let ty = v.shape.type_name();
    let d = match p {
        // No substitution pass replaces an index or key of a string param: it stays text.
        Problem::Literal(what) => {
            let fix = match &v.shape {
                Shape::Array(_) => format!("use an item, `{}`", param_ref_text(name, &Selector::Index(0))),
                Shape::Object(_) => format!("use a key, `$(params.{name}.<key>)`"),
                _ => format!("use `{}`", param_ref_text(name, &Selector::Whole)),
            };
            Diagnostic::new(
                &LITERAL_REFERENCE,
                format!("`{r}` does not fit {ty} param `{name}`; Tekton leaves it as text"),
            )
            .with_label(span, what.to_string())
            .with_secondary(v.span, format!("`{name}` is {} {ty}", article(ty)))
            .with_help(fix)
        }
        Problem::Selector(what) => {
            let fix = match &v.shape {
                Shape::String => format!("use `{}`", param_ref_text(name, &Selector::Whole)),
                Shape::Array(_) => format!("use an item, `{}`", param_ref_text(name, &Selector::Index(0))),
                _ => format!("use a key, `$(params.{name}.<key>)`"),
            };
            Diagnostic::new(
                &WRONG_SELECTOR,
                format!("`{r}` does not fit {ty} param `{name}`"),
            )
            .with_label(span, what.to_string())
            .with_secondary(v.span, format!("`{name}` is {} {ty}", article(ty)))
            .with_help(fix)
        }
        Problem::UnknownKey(key, keys) => {
            let keys = keys.unwrap_or_default();
            let help = match did_you_mean(key, keys.iter().copied()) {
                Some(k) => format!("did you mean `$(params.{name}.{k})`?"),
                None if keys.is_empty() => format!("declare `{key}` under the properties of `{name}`"),
                None => format!(
                    "`{name}` has {}; or declare `{key}` under its properties",
                    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            Diagnostic::new(
                &UNKNOWN_KEY,
                format!("object param `{name}` has no key `{key}`"),
            )
            .with_label(span, "not a declared key")
            .with_secondary(v.span, format!("`{name}` declared here"))
            .with_help(help)
        }
        Problem::NotIsolated => Diagnostic::new(
            &NOT_ISOLATED,
            format!("array param `{name}` is not an item of its own in {field}"),
        )
        .with_label(span, "a whole array inside a longer string")
        .with_secondary(v.span, format!("`{name}` is an array"))
        .with_help(format!(
            "give `$(params.{name}[*])` an item of its own (it expands to one item per element), or use one element: `$(params.{name}[0])`"
        )),
        Problem::WholeValue => {
            let help = match (&v.shape, slot) {
                (Shape::Object(_), _) => format!(
                    "use one key, `$(params.{name}.<key>)`; a whole object can only be the entire value of a pipeline task param"
                ),
                (_, Slot::String) if field == "script" => format!(
                    "pass it as its own `args` item, `args: [\"$(params.{name}[*])\"]`, and read \"$@\" in the script, or use one element: `$(params.{name}[0])`"
                ),
                (_, Slot::String) => format!("use one element: `$(params.{name}[0])`"),
                _ => format!(
                    "make `$(params.{name}[*])` the entire value, or use one element: `$(params.{name}[0])`"
                ),
            };
            Diagnostic::new(
                &WHOLE_VALUE,
                format!("whole {ty} param `{name}` used in {field}"),
            )
            .with_label(span, format!("a whole {ty} cannot go here"))
            .with_secondary(v.span, format!("`{name}` is {} {ty}", article(ty)))
            .with_help(help)
        }
    };
    cx.report(d);
}

fn article(ty: &str) -> &'static str {
    if ty.starts_with(['a', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

pub fn report_undeclared(
    cx: &mut Checker,
    scope: &ParamScope,
    place: &Place,
    name: &str,
    span: Span,
) {
    let mut d = Diagnostic::new(
        &UNDECLARED,
        format!("param `{name}` is not declared in {}", place.name),
    )
    .with_label(span, "undeclared param");
    match did_you_mean(name, scope.names()) {
        Some(candidate) => {
            if let Some(v) = scope.get(candidate).and_then(|v| v.first()) {
                d = d.with_secondary(v.span, format!("`{candidate}` is declared here"));
            }
            d = d.with_help(format!("did you mean `{candidate}`?"));
        }
        None => d = d.with_help(place.declare_in),
    }
    cx.report(d);
}
