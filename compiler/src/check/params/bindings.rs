//! The values given to a Task or Pipeline against the params it declares: by a pipeline task
//! (to its Task), by a PipelineRun (to its Pipeline), by a TaskRun (to its Task).
//!
//! Only bodies tkc can see are checked: a reference through a resolver, to a resource that is
//! not found, or to a custom task is skipped here (the `resolve` codes report those).

use crate::check::scope::{
    PipelineIndex, Shape, declared_shape, pipeline_scope, pipeline_task_strings, reference_shape,
    sole_reference,
};
use crate::check::{
    Checker, PipelineCx, describe, param_value_texts, pipeline_specs, pipeline_tasks, refs,
    task_strings,
};
use crate::declare_code;
use crate::diag::{Code, Diagnostic, Fix, NewParam};
use crate::model::{
    Param, ParamSpec, ParamType, ParamValue, PipelineRunSpec, Resource, Str, TaskRunSpec, TaskSpec,
};
use crate::resolve::{DocId, Resolved};
use crate::source::{Span, Syntax};
use crate::suggest::did_you_mean;
use crate::vars::{self, RefKind, Selector};
use std::collections::{HashMap, HashSet};

declare_code! {
    /// # A required param is not given
    ///
    /// A param without a `default` must be given a value: by the pipeline task that runs the
    /// Task, or by the PipelineRun that runs the Pipeline. Tekton fails the run
    /// (`ParameterMissing`: `pipelineRun missing parameters: [...]`; for a pipeline task the
    /// PipelineRun fails validation with `missing values for these params which have no
    /// default values`). A matrix param counts as given.
    ///
    /// In an editor, `tkc lsp` offers a quick fix on a pipeline task: the missing bindings
    /// added to its `params`, with an empty value of the param's type to fill in.
    ///
    /// ## Example
    /// ```yaml
    /// tasks:
    ///   - name: build
    ///     taskRef: {name: kaniko}      # declares `IMAGE` without a default
    ///     params: []
    /// ```
    pub static MISSING = "tkc::params::missing", Error, reason = "ParameterMissing";
}

declare_code! {
    /// # A param the Task or Pipeline does not declare
    ///
    /// Tekton accepts extra params and ignores them, so this is a warning: the value goes
    /// nowhere, which is usually a misspelt name. For runs it is reported only when the name
    /// is close to a declared one.
    ///
    /// A `--param` of `tkc run` or `tkc compile` that the run does not declare is an
    /// **error**, with a did-you-mean: on the command line it can only be a typo, and
    /// `tkn pipeline start` refuses it too ("param 'x' not present in spec").
    pub static UNKNOWN = "tkc::params::unknown", Warning;
}

declare_code! {
    /// # A param value of the wrong type
    ///
    /// A string param needs a string, an array param a list, an object param a mapping.
    /// A string that is exactly one reference to an array or object (`"$(params.files[*])"`,
    /// `"$(tasks.t.results.list)"`) is retyped by Tekton and fits an array or object param.
    /// Tekton fails the run (`ParameterTypeMismatch`; a PipelineRun gets no retyping: a string
    /// for an array param fails).
    pub static TYPE_MISMATCH = "tkc::params::type-mismatch", Error, reason = "ParameterTypeMismatch";
}

declare_code! {
    /// # An object value without all the declared keys
    ///
    /// The value of an object param must have every key its `properties` declare (keys the
    /// default has may be left out). Tekton fails the run (`ObjectParameterMissKeys`).
    pub static MISSING_KEYS = "tkc::params::missing-keys", Error, reason = "ObjectParameterMissKeys";
}

declare_code! {
    /// # A value that is not in the param's enum
    ///
    /// A param with `enum` (alpha) accepts only the listed values. Tekton fails the run
    /// (`InvalidParamValue`).
    pub static NOT_IN_ENUM = "tkc::params::not-in-enum", Error, reason = "InvalidParamValue";
}

declare_code! {
    /// # An array index past the end of the array
    ///
    /// `$(params.<array>[N])` needs an array with more than N items: the value the run or
    /// pipeline task gives, else the default. Tekton fails the run
    /// (`ParamArrayIndexingInvalid`). Indexes count from 0.
    pub static INDEX_OUT_OF_RANGE = "tkc::params::index-out-of-range", Error, reason = "ParamArrayIndexingInvalid";
}

declare_code! {
    /// # A TaskRun's params do not fit its Task
    ///
    /// A TaskRun must give every param without a default, of the declared type (a string
    /// holding a `$(...)` reference is accepted for an array or object), with every declared
    /// key of an object, and with arrays long enough for every `$(params.<array>[N])`. Tekton
    /// fails the TaskRun (`TaskRunValidationFailed`: `missing values for these params which
    /// have no default values`, `param types don't match the user-specified type`, `missing
    /// keys for these params`, `non-existent param references`).
    pub static TASKRUN_INVALID = "tkc::params::taskrun-invalid", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # A PipelineRun param holds a task result reference
    ///
    /// PipelineRun params are given before any task runs, so they cannot use
    /// `$(tasks.<task>.results.<result>)`. Tekton rejects the PipelineRun (`cannot use result
    /// expressions in [...] as PipelineRun parameter values`).
    pub static RESULT_IN_RUN_PARAM = "tkc::params::result-in-run-param", Error;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for pipeline in pipeline_specs(world) {
        pipeline_task_bindings(cx, &pipeline);
    }
    for (doc, document) in world.checked() {
        match &document.resource {
            Resource::PipelineRun(run) => pipeline_run_bindings(cx, run, document.syntax),
            Resource::TaskRun(run) => task_run_bindings(cx, doc, run),
            _ => {}
        }
    }
}

/// Which binding is checked: the codes and words differ.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Binder {
    PipelineTask,
    PipelineRun,
    TaskRun,
}

impl Binder {
    fn code(self, normal: &'static Code) -> &'static Code {
        match self {
            Binder::TaskRun => &TASKRUN_INVALID,
            _ => normal,
        }
    }
}

/// A placeholder value of a type, for help text.
fn placeholder(param: &ParamSpec) -> String {
    match declared_shape(param) {
        Shape::Array(_) => "[\"<item>\"]".to_string(),
        Shape::Object(Some(keys)) if !keys.is_empty() => format!(
            "{{{}}}",
            keys.iter()
                .map(|k| format!("{k}: <value>"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Shape::Object(_) => "{<key>: <value>}".to_string(),
        _ => "<value>".to_string(),
    }
}

fn add_params_help(missing: &[&ParamSpec], under: &str, syntax: Syntax) -> String {
    let under = match syntax {
        Syntax::Yaml => under,
        Syntax::Kdl => under.trim_end_matches("'s params"),
    };
    let mut help = format!("add to {under}:");
    for p in missing {
        match syntax {
            Syntax::Yaml => help.push_str(&format!(
                "\n  - name: {}\n    value: {}",
                p.name.value,
                placeholder(p)
            )),
            Syntax::Kdl => help.push_str(&format!(
                "\n  param {:?} {}",
                p.name.value,
                kdl_placeholder(p)
            )),
        }
    }
    help
}

/// A binding for the fix of a missing param: an empty value of its type, for the user to
/// fill in (`""`, `[]`, an object with its declared keys).
fn new_param(param: &ParamSpec) -> NewParam {
    let (yaml_value, kdl_value) = match declared_shape(param) {
        Shape::Array(_) => ("[]".to_string(), "{ (array)value; }".to_string()),
        Shape::Object(Some(keys)) if !keys.is_empty() => (
            format!(
                "{{{}}}",
                keys.iter()
                    .map(|k| format!("{k}: \"\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "{{ value {}; }}",
                keys.iter()
                    .map(|k| format!("{k}=\"\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        Shape::Object(_) => ("{}".to_string(), "{ (object)value; }".to_string()),
        _ => ("\"\"".to_string(), "value=\"\"".to_string()),
    };
    NewParam {
        name: param.name.value.clone(),
        yaml_value,
        kdl_value,
    }
}

/// A placeholder value in KDL: `value="<value>"`, `{ value "<item>" }`, `{ value key="<value>" }`.
fn kdl_placeholder(param: &ParamSpec) -> String {
    match declared_shape(param) {
        Shape::Array(_) => "{ value \"<item>\" }".to_string(),
        Shape::Object(Some(keys)) if !keys.is_empty() => format!(
            "{{ value {} }}",
            keys.iter()
                .map(|k| format!("{k}=\"<value>\""))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Shape::Object(_) => "{ value <key>=\"<value>\" }".to_string(),
        _ => "value=\"<value>\"".to_string(),
    }
}

fn names_list(missing: &[&ParamSpec]) -> String {
    missing
        .iter()
        .map(|p| format!("`{}`", p.name.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How the target of a binding is named: "Task `kaniko`", "its inline task".
fn target_name(cx: &Checker, doc: Option<DocId>, inline: &str) -> String {
    match doc {
        Some(doc) => describe(cx.world.doc(doc)),
        None => inline.to_string(),
    }
}

fn pipeline_task_bindings(cx: &mut Checker, pipeline: &PipelineCx) {
    let world = cx.world;
    let scope = pipeline_scope(pipeline);
    let index = PipelineIndex::new(pipeline.spec);
    for (_, pt) in pipeline_tasks(pipeline.spec) {
        let Resolved::Found { spec, doc } = world.resolve_pipeline_task(pt) else {
            continue;
        };
        let inline = doc.is_none();
        let target = target_name(cx, doc, "its inline task");
        let given: HashMap<&str, &Param> = pt.params.iter().map(|p| (p.name.as_str(), p)).collect();
        let matrix: HashSet<&str> = pt.matrix_params().map(|p| p.name.as_str()).collect();
        let declared: HashMap<&str, &ParamSpec> =
            spec.params.iter().map(|p| (p.name.as_str(), p)).collect();

        let missing: Vec<&ParamSpec> = spec
            .params
            .iter()
            .filter(|p| p.default.is_none())
            .filter(|p| !given.contains_key(p.name.as_str()) && !matrix.contains(p.name.as_str()))
            // An inline task also gets the pipeline's params of the same name.
            .filter(|p| !(inline && scope.get(&p.name).is_some()))
            .collect();
        if !missing.is_empty() {
            let mut d = Diagnostic::new(
                &MISSING,
                format!(
                    "pipeline task `{}` does not give param{} {} that {target} requires",
                    pt.name.value,
                    plural(missing.len()),
                    names_list(&missing)
                ),
            );
            d = label_missing(d, Some(pt.name.span), &missing);
            let syntax = world.doc(pipeline.doc).syntax;
            let fix = Fix::AddParams {
                task: pt.name.span,
                params: missing.iter().map(|p| new_param(p)).collect(),
            };
            cx.report(
                d.with_help(add_params_help(
                    &missing,
                    "the pipeline task's params",
                    syntax,
                ))
                .with_fix(fix),
            );
        }

        if !inline {
            for p in pt.params.iter().chain(pt.matrix_params()) {
                if declared.contains_key(p.name.as_str()) {
                    continue;
                }
                let mut d = Diagnostic::new(
                    &UNKNOWN,
                    format!("{target} has no param `{}`", p.name.value),
                )
                .with_label(
                    p.name.span,
                    "not declared by the Task; the value is ignored",
                );
                let not_given = spec
                    .params
                    .iter()
                    .map(|d| d.name.as_str())
                    .filter(|n| !given.contains_key(n) && !matrix.contains(n));
                d = match did_you_mean(&p.name, not_given) {
                    Some(s) => {
                        let decl = declared.get(s).map(|p| p.name.span);
                        let d = d.with_help(format!("did you mean `{s}`?"));
                        match decl {
                            Some(span) => d.with_secondary(span, format!("`{s}` is declared here")),
                            None => d,
                        }
                    }
                    None => d.with_help(format!(
                        "remove it, or declare `{}` in the Task",
                        p.name.value
                    )),
                };
                cx.report(d);
            }
        }

        for p in &pt.params {
            let Some(decl) = declared.get(p.name.as_str()) else {
                continue;
            };
            let Some(value) = &p.value else { continue };
            check_value(
                cx,
                Binder::PipelineTask,
                decl,
                &value.value,
                value.span,
                |r| reference_shape(world, &scope, &index, r),
            );
        }

        // Indexes into the Task's array params, against the given value or the default.
        let lengths = array_lengths(spec, &pt.params);
        if !lengths.is_empty() {
            index_uses(
                cx,
                Binder::PipelineTask,
                spec,
                &lengths,
                pt.name.span,
                &target,
            );
        }
    }
}

/// The length each array param will have: the literal value given, else the default.
fn array_lengths<'w>(
    spec: &'w TaskSpec,
    given: &'w [Param],
) -> HashMap<&'w str, (usize, Span, bool)> {
    let given: HashMap<&str, &Param> = given.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out = HashMap::new();
    for p in &spec.params {
        if p.param_type() != Some(ParamType::Array) {
            continue;
        }
        match given.get(p.name.as_str()).and_then(|g| g.value.as_ref()) {
            Some(v) => {
                if let ParamValue::Array(items) = &v.value {
                    out.insert(p.name.as_str(), (items.len(), v.span, true));
                }
            }
            None => {
                if let Some(d) = &p.default
                    && let ParamValue::Array(items) = &d.value
                {
                    out.insert(p.name.as_str(), (items.len(), d.span, false));
                }
            }
        }
    }
    out
}

/// Reports `$(params.<array>[N])` in a Task's strings with N past the known length.
fn index_uses(
    cx: &mut Checker,
    binder: Binder,
    spec: &TaskSpec,
    lengths: &HashMap<&str, (usize, Span, bool)>,
    at: Span,
    target: &str,
) {
    let mut seen: HashSet<(&str, usize)> = HashSet::new();
    let mut texts: Vec<crate::check::Text> =
        task_strings(spec).into_iter().map(|s| s.text).collect();
    texts.extend(
        spec.workspaces
            .iter()
            .filter_map(|w| w.mount_path.as_ref())
            .map(crate::check::Text::from),
    );
    for text in texts {
        if !text.text.contains('[') {
            continue;
        }
        for (r, span) in &refs(cx.world, text) {
            let RefKind::Param {
                name,
                selector: Selector::Index(i),
                ..
            } = &r.kind
            else {
                continue;
            };
            let Some(&(len, value_span, given)) = lengths.get(name.as_str()) else {
                continue;
            };
            if *i < len {
                continue;
            }
            let Some(key) = lengths.get_key_value(name.as_str()).map(|(k, _)| *k) else {
                continue;
            };
            if !seen.insert((key, *i)) {
                continue;
            }
            let source = if given {
                "the value given"
            } else {
                "the default"
            };
            let primary = if given { value_span } else { at };
            let items = format!("{len} item{}", plural(len));
            let mut d = Diagnostic::new(
                binder.code(&INDEX_OUT_OF_RANGE),
                format!("`{r}` is out of range: `{name}` has {items} here"),
            )
            .with_label(primary, format!("{source} has {items}"))
            .with_secondary(span, format!("{target} reads item {i}"));
            if primary != value_span {
                d = d.with_secondary(value_span, format!("{source}: {items}"));
            }
            cx.report(d.with_help(format!(
                "give `{name}` at least {} items, or use an index below {len}",
                i + 1
            )));
        }
    }
}

/// Checks one given value against its declaration: type, object keys, enum.
fn check_value<'w>(
    cx: &mut Checker,
    binder: Binder,
    decl: &ParamSpec,
    value: &'w ParamValue,
    span: Span,
    sole_shape: impl Fn(&vars::Reference) -> Option<Shape<'w>>,
) {
    let Some(declared) = decl.param_type() else {
        return;
    };
    let name = &decl.name.value;
    let actual = match value {
        ParamValue::String(s) => match sole_reference(s) {
            // A run param is not retyped (strict).
            Some(_) if binder == Binder::PipelineRun => Some(ParamType::String),
            // A TaskRun accepts a string holding a reference for an array or object.
            Some(_) if binder == Binder::TaskRun => None,
            Some(r) => sole_shape(&r).and_then(|s| s.param_type()),
            None => Some(ParamType::String),
        },
        ParamValue::Array(_) => Some(ParamType::Array),
        ParamValue::Object(_) => Some(ParamType::Object),
    };
    if let Some(actual) = actual
        && actual != declared
    {
        let help = match (declared, value) {
            (ParamType::Array, ParamValue::String(s)) if sole_reference(s).is_none() => {
                format!(
                    "write a list: `value: [{}]`",
                    serde_json::Value::from(s.as_str())
                )
            }
            (ParamType::Array, _) => "give a list of strings".to_string(),
            (ParamType::String, ParamValue::Array(_)) => {
                "give one string, or make the param an array".to_string()
            }
            (ParamType::String, _) => "give a string".to_string(),
            (ParamType::Object, _) => format!("give a mapping: `value: {}`", placeholder(decl)),
        };
        let what = if sole_reference(value.as_string().unwrap_or_default()).is_some() {
            format!("a reference to {} {}", article(actual), actual.as_str())
        } else {
            format!("{} {}", article(actual), actual.as_str())
        };
        cx.report(
            Diagnostic::new(
                binder.code(&TYPE_MISMATCH),
                format!(
                    "param `{name}` is {} {}, but is given {what}",
                    article(declared),
                    declared.as_str()
                ),
            )
            .with_label(span, what.clone())
            .with_secondary(
                decl.name.span,
                format!("declared {} here", declared.as_str()),
            )
            .with_help(help),
        );
        return;
    }
    if let (Some(properties), ParamValue::Object(entries)) = (&decl.properties, value) {
        let have: HashSet<&str> = entries
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(match decl.default.as_deref() {
                Some(ParamValue::Object(d)) => d.iter().map(|(k, _)| k.as_str()).collect(),
                _ => Vec::new(),
            })
            .collect();
        let missing: Vec<&Str> = properties
            .keys()
            .filter(|k| !have.contains(k.as_str()))
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|k| format!("`{}`", k.value))
                .collect::<Vec<_>>()
                .join(", ");
            let mut d = Diagnostic::new(
                binder.code(&MISSING_KEYS),
                format!(
                    "object param `{name}` is given without key{} {list}",
                    plural(missing.len())
                ),
            )
            .with_label(span, format!("no {list}"));
            for k in &missing {
                d = d.with_secondary(k.span, format!("`{}` declared here", k.value));
            }
            cx.report(d.with_help(format!("add {list} to the value")));
        }
    }
    if let ParamValue::String(s) = value
        && !decl.r#enum.is_empty()
        && !vars::has_references(s)
        && !decl.r#enum.iter().any(|e| e.as_str() == s)
    {
        let values: Vec<&str> = decl.r#enum.iter().map(|v| v.as_str()).collect();
        let help = match did_you_mean(s, values.iter().copied()) {
            Some(v) => format!("did you mean `{v}`?"),
            None => format!("use one of: {}", values.join(", ")),
        };
        let first = decl.r#enum.first().map_or(decl.name.span, |e| e.span);
        let last = decl.r#enum.last().map_or(first, |e| e.span);
        cx.report(
            Diagnostic::new(
                &NOT_IN_ENUM,
                format!("`{s}` is not an allowed value of param `{name}`"),
            )
            .with_label(span, "not in the enum")
            .with_secondary(first.to(last), "the allowed values")
            .with_help(help),
        );
    }
}

fn article(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "a",
        _ => "an",
    }
}

/// The params without a default that a run does not give.
fn missing_from_run<'s>(
    params: &'s [ParamSpec],
    given: &HashMap<&str, &Param>,
) -> Vec<&'s ParamSpec> {
    params
        .iter()
        .filter(|p| p.default.is_none() && !given.contains_key(p.name.as_str()))
        .collect()
}

/// Labels for required params left out: at `anchor` (the task or ref naming the target) with
/// each declaration beside it; with no anchor (an inline spec), at the declarations alone.
fn label_missing(mut d: Diagnostic, anchor: Option<Span>, missing: &[&ParamSpec]) -> Diagnostic {
    match anchor {
        Some(at) => {
            d = d.with_label(at, format!("missing {}", names_list(missing)));
            for p in missing {
                d = d.with_secondary(p.name.span, format!("`{}` has no default", p.name.value));
            }
        }
        None => {
            for (i, p) in missing.iter().enumerate() {
                let msg = format!("`{}` has no default and no value", p.name.value);
                d = if i == 0 {
                    d.with_label(p.name.span, msg)
                } else {
                    d.with_secondary(p.name.span, msg)
                };
            }
        }
    }
    d
}

fn pipeline_run_bindings(cx: &mut Checker, run: &PipelineRunSpec, syntax: Syntax) {
    let world = cx.world;
    for p in &run.params {
        let Some(value) = &p.value else { continue };
        for text in param_value_texts(value) {
            for (r, span) in &refs(world, text) {
                if let RefKind::TaskResult { .. } = r.kind {
                    cx.report(
                        Diagnostic::new(
                            &RESULT_IN_RUN_PARAM,
                            format!("PipelineRun param `{}` uses a task result", p.name.value),
                        )
                        .with_label(span, "no task has run when params are given")
                        .with_help(
                            "pass the result from task to task inside the Pipeline (a pipeline task param `value: $(tasks.<task>.results.<result>)`)",
                        ),
                    );
                }
            }
        }
    }
    let (spec, inline) = match (&run.pipeline_spec, &run.pipeline_ref) {
        (Some(spec), _) => (spec, true),
        (None, Some(r)) => match world.resolve_pipeline_ref(r) {
            Resolved::Found { spec, .. } => (spec, false),
            _ => return,
        },
        _ => return,
    };
    let anchor = run
        .pipeline_ref
        .as_ref()
        .and_then(|r| r.name.as_ref())
        .map(|n| n.span);
    let given: HashMap<&str, &Param> = run.params.iter().map(|p| (p.name.as_str(), p)).collect();
    let declared: HashMap<&str, &ParamSpec> =
        spec.params.iter().map(|p| (p.name.as_str(), p)).collect();
    let missing = missing_from_run(&spec.params, &given);
    if !missing.is_empty() {
        let mut d = Diagnostic::new(
            &MISSING,
            format!(
                "the PipelineRun does not give param{} {} that the Pipeline requires",
                plural(missing.len()),
                names_list(&missing)
            ),
        );
        d = label_missing(d, anchor, &missing);
        cx.report(d.with_help(add_params_help(
            &missing,
            "the PipelineRun's params",
            syntax,
        )));
    }
    for p in &run.params {
        let Some(decl) = declared.get(p.name.as_str()) else {
            if !inline {
                misspelt_run_param(
                    cx,
                    &p.name,
                    &spec.params,
                    &given,
                    "the Pipeline",
                    "Pipeline",
                );
            }
            continue;
        };
        let Some(value) = &p.value else { continue };
        check_value(
            cx,
            Binder::PipelineRun,
            decl,
            &value.value,
            value.span,
            |_| None,
        );
    }
    // `$(params.<array>[N])` in the pipeline tasks, against the run's value or the default.
    let mut lengths: HashMap<&str, (usize, Span, bool)> = HashMap::new();
    for p in &spec.params {
        if p.param_type() != Some(ParamType::Array) {
            continue;
        }
        match given.get(p.name.as_str()).and_then(|g| g.value.as_ref()) {
            Some(v) => {
                if let ParamValue::Array(items) = &v.value {
                    lengths.insert(p.name.as_str(), (items.len(), v.span, true));
                }
            }
            None => {
                if let Some(d) = &p.default
                    && let ParamValue::Array(items) = &d.value
                {
                    lengths.insert(p.name.as_str(), (items.len(), d.span, false));
                }
            }
        }
    }
    if lengths.is_empty() {
        return;
    }
    let mut seen: HashSet<(String, usize)> = HashSet::new();
    for (_, pt) in pipeline_tasks(spec) {
        for s in pipeline_task_strings(pt) {
            if !s.text.text.contains('[') {
                continue;
            }
            for (r, span) in &refs(world, s.text) {
                let RefKind::Param {
                    name,
                    selector: Selector::Index(i),
                    ..
                } = &r.kind
                else {
                    continue;
                };
                let Some(&(len, value_span, from_run)) = lengths.get(name.as_str()) else {
                    continue;
                };
                if *i < len || !seen.insert((name.clone(), *i)) {
                    continue;
                }
                let items = format!("{len} item{}", plural(len));
                let source = if from_run {
                    "the PipelineRun gives"
                } else {
                    "the default has"
                };
                let primary = match (from_run, anchor) {
                    (true, _) => value_span,
                    (false, Some(a)) => a,
                    (false, None) => span,
                };
                let primary_label = if from_run {
                    format!("{source} {items}")
                } else {
                    format!("`{name}` is not given; its default has {items}")
                };
                let mut d = Diagnostic::new(
                    &INDEX_OUT_OF_RANGE,
                    format!("`{r}` is out of range: `{name}` has {items}"),
                )
                .with_label(primary, primary_label);
                if primary != span {
                    d = d.with_secondary(
                        span,
                        format!("pipeline task `{}` reads item {i}", pt.name.value),
                    );
                }
                if primary != value_span {
                    d = d.with_secondary(value_span, format!("{source} {items}"));
                }
                cx.report(d.with_help(format!(
                    "give `{name}` at least {} items, or use an index below {len}",
                    i + 1
                )));
            }
        }
    }
}

fn task_run_bindings(cx: &mut Checker, doc: DocId, run: &TaskRunSpec) {
    let world = cx.world;
    let (spec, inline, target) = match (&run.task_spec, &run.task_ref) {
        (Some(spec), _) => (spec, true, "its inline task".to_string()),
        (None, Some(r)) => match world.resolve_task_ref(r) {
            Resolved::Found { spec, doc } => (spec, false, target_name(cx, doc, "its Task")),
            _ => return,
        },
        _ => return,
    };
    let anchor = run
        .task_ref
        .as_ref()
        .and_then(|r| r.name.as_ref())
        .map(|n| n.span);
    let given: HashMap<&str, &Param> = run.params.iter().map(|p| (p.name.as_str(), p)).collect();
    let declared: HashMap<&str, &ParamSpec> =
        spec.params.iter().map(|p| (p.name.as_str(), p)).collect();
    let missing = missing_from_run(&spec.params, &given);
    if !missing.is_empty() {
        let mut d = Diagnostic::new(
            &TASKRUN_INVALID,
            format!(
                "the TaskRun does not give param{} {} that {target} requires",
                plural(missing.len()),
                names_list(&missing)
            ),
        );
        d = label_missing(d, anchor, &missing);
        let syntax = world.doc(doc).syntax;
        cx.report(d.with_help(add_params_help(&missing, "the TaskRun's params", syntax)));
    }
    for p in &run.params {
        let Some(decl) = declared.get(p.name.as_str()) else {
            if !inline {
                misspelt_run_param(cx, &p.name, &spec.params, &given, &target, "Task");
            }
            continue;
        };
        let Some(value) = &p.value else { continue };
        check_value(cx, Binder::TaskRun, decl, &value.value, value.span, |_| {
            None
        });
    }
    let lengths = array_lengths(spec, &run.params);
    if !lengths.is_empty() {
        let at = anchor.unwrap_or_else(|| cx.world.doc(doc).name_span());
        index_uses(cx, Binder::TaskRun, spec, &lengths, at, &target);
    }
}

/// A run param the spec does not declare, reported when it looks like a misspelling of a
/// declared param the run does not give (Tekton ignores undeclared run params).
fn misspelt_run_param<V>(
    cx: &mut Checker,
    name: &Str,
    declared: &[ParamSpec],
    given: &std::collections::HashMap<&str, V>,
    target: &str,
    kind: &str,
) {
    let not_given = declared
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| !given.contains_key(n));
    if let Some(s) = did_you_mean(name, not_given) {
        cx.report(
            Diagnostic::new(&UNKNOWN, format!("{target} has no param `{}`", name.value))
                .with_label(
                    name.span,
                    format!("not declared by the {kind}; the value is ignored"),
                )
                .with_help(format!("did you mean `{s}`?")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_type() {
        let p = ParamSpec {
            r#type: Some(Str::new("array".into(), Span::default())),
            ..ParamSpec::default()
        };
        assert_eq!(placeholder(&p), "[\"<item>\"]");
        assert_eq!(placeholder(&ParamSpec::default()), "<value>");
    }
}
