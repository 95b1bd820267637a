//! The type system shared by the param, result, workspace and reference checks: the shape of a
//! param or result (string, array, object with keys), which params a `$(params...)` reference
//! can see where it is written (declarations, and what propagates into inline specs), and the
//! substituted strings of a pipeline task with the kind of slot each one is.

use super::{PipelineCx, Section, TaskCx, TaskSite, Text, param_value_texts, pipeline_tasks};
use crate::model::{
    Matrix, Param, ParamSpec, ParamType, ParamValue, PipelineRunSpec, PipelineSpec, PipelineTask,
    Properties, Resource, Spanned, StepResult, TaskResult,
};
use crate::resolve::World;
use crate::source::Span;
use crate::vars::{self, RefKind, Reference, Selector};
use std::collections::HashMap;

/// What is known of a value's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape<'w> {
    String,
    /// An array; its length when it is a literal.
    Array(Option<usize>),
    /// An object; its keys when known (declared `properties`, or a literal value's keys).
    Object(Option<Vec<&'w str>>),
    /// Not known (an invalid declared type, a value that is one reference Tekton retypes).
    Unknown,
}

impl Shape<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Shape::String => "string",
            Shape::Array(_) => "array",
            Shape::Object(_) => "object",
            Shape::Unknown => "unknown",
        }
    }

    pub fn param_type(&self) -> Option<ParamType> {
        match self {
            Shape::String => Some(ParamType::String),
            Shape::Array(_) => Some(ParamType::Array),
            Shape::Object(_) => Some(ParamType::Object),
            Shape::Unknown => None,
        }
    }
}

fn keys(properties: &Properties) -> Vec<&str> {
    properties.keys().map(|k| k.as_str()).collect()
}

/// The shape of a declared param (Tekton's type defaulting).
pub fn declared_shape(param: &ParamSpec) -> Shape<'_> {
    match param.param_type() {
        Some(ParamType::String) => Shape::String,
        Some(ParamType::Array) => Shape::Array(match param.default.as_deref() {
            Some(ParamValue::Array(items)) => Some(items.len()),
            _ => None,
        }),
        Some(ParamType::Object) => {
            Shape::Object(match (&param.properties, param.default.as_deref()) {
                (Some(p), _) => Some(keys(p)),
                (None, Some(ParamValue::Object(entries))) => {
                    Some(entries.iter().map(|(k, _)| k.as_str()).collect())
                }
                _ => None,
            })
        }
        None => Shape::Unknown,
    }
}

/// The declared type of a result (Tekton's defaulting, [`ParamType::defaulted`]); keys from
/// `properties`.
pub fn result_shape<'w>(
    ty: Option<&'w str>,
    properties: Option<&'w Properties>,
) -> Option<Shape<'w>> {
    Some(
        match ParamType::defaulted(ty, properties.is_some(), None)? {
            ParamType::String => Shape::String,
            ParamType::Array => Shape::Array(None),
            ParamType::Object => Shape::Object(properties.map(keys)),
        },
    )
}

pub fn task_result_shape(result: &TaskResult) -> Shape<'_> {
    result_shape(
        result.r#type.as_deref().map(String::as_str),
        result.properties.as_ref(),
    )
    .unwrap_or(Shape::Unknown)
}

pub fn step_result_shape(result: &StepResult) -> Shape<'_> {
    result_shape(
        result.r#type.as_deref().map(String::as_str),
        result.properties.as_ref(),
    )
    .unwrap_or(Shape::Unknown)
}

/// The single reference a string consists of, if it is exactly one `$(...)`.
pub fn sole_reference(text: &str) -> Option<Reference> {
    // Most values are not one reference: no need to parse them to know it.
    if !(text.starts_with("$(") && text.ends_with(')')) {
        return None;
    }
    let refs = vars::parse(text);
    match refs.as_slice() {
        [r] if r.is_whole(text) && r.kind != RefKind::Unknown => Some(r.clone()),
        _ => None,
    }
}

/// The shape of a given value. A string that is exactly one reference is `Unknown` (Tekton
/// retypes it to the referenced array or object when the run starts).
pub fn value_shape(value: &ParamValue) -> Shape<'_> {
    match value {
        ParamValue::String(s) if sole_reference(s).is_some() => Shape::Unknown,
        ParamValue::String(_) => Shape::String,
        ParamValue::Array(items) => Shape::Array(Some(items.len())),
        ParamValue::Object(entries) => {
            Shape::Object(Some(entries.iter().map(|(k, _)| k.as_str()).collect()))
        }
    }
}

/// Where a visible param comes from (for messages).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Declared in the spec's own `params`.
    Declared,
    /// A Pipeline param, propagated into an inline spec.
    Pipeline,
    /// A value the pipeline task passes to its inline spec.
    PipelineTask,
    /// A value the run passes to its inline spec.
    Run,
}

/// One param a reference can see.
#[derive(Clone, Debug)]
pub struct Visible<'w> {
    pub shape: Shape<'w>,
    /// The declaration, or the value given.
    pub span: Span,
    pub origin: Origin,
}

/// The params visible at some place, by name (several when a value shadows a declaration).
#[derive(Default, Debug)]
pub struct ParamScope<'w> {
    map: HashMap<&'w str, Vec<Visible<'w>>>,
    /// Names in the order they were added (for suggestions, deterministic).
    names: Vec<&'w str>,
}

impl<'w> ParamScope<'w> {
    pub fn add(&mut self, name: &'w str, visible: Visible<'w>) {
        let entry = self.map.entry(name).or_default();
        if entry.is_empty() {
            self.names.push(name);
        }
        entry.push(visible);
    }

    /// A matrix's params, as each combination passes them: strings, from the pipeline task.
    pub fn add_matrix(&mut self, matrix: &'w Matrix) {
        for p in matrix.all_params() {
            self.add(
                &p.name,
                Visible {
                    shape: Shape::String,
                    span: p.name.span,
                    origin: Origin::PipelineTask,
                },
            );
        }
    }

    pub fn declare(&mut self, params: &'w [ParamSpec], origin: Origin) {
        for p in params {
            self.add(
                &p.name,
                Visible {
                    shape: declared_shape(p),
                    span: p.name.span,
                    origin,
                },
            );
        }
    }

    pub fn give(&mut self, params: &'w [Param], origin: Origin) {
        for p in params {
            let shape = p.value.as_ref().map_or(Shape::String, |v| value_shape(v));
            self.add(
                &p.name,
                Visible {
                    shape,
                    span: p.name.span,
                    origin,
                },
            );
        }
    }

    pub fn get(&self, name: &str) -> Option<&[Visible<'w>]> {
        self.map.get(name).map(Vec::as_slice)
    }

    pub fn names(&self) -> impl Iterator<Item = &'w str> + '_ {
        self.names.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The PipelineRun each inline pipeline spec is written in (built once; looked up per task).
pub struct Runs<'w> {
    by_spec: HashMap<*const PipelineSpec, &'w PipelineRunSpec>,
}

impl<'w> Runs<'w> {
    pub fn new(world: &'w World) -> Runs<'w> {
        let mut by_spec = HashMap::new();
        for (_, document) in world.checked() {
            if let Resource::PipelineRun(run) = &document.resource
                && let Some(spec) = &run.pipeline_spec
            {
                by_spec.insert(spec as *const PipelineSpec, &**run);
            }
        }
        Runs { by_spec }
    }

    /// The run a pipeline spec is inline in, if any.
    pub fn of(&self, spec: &PipelineSpec) -> Option<&'w PipelineRunSpec> {
        self.by_spec.get(&(spec as *const PipelineSpec)).copied()
    }
}

/// The params a pipeline's own strings (task params, matrix, when, ...) can see: its
/// declarations and, for a spec inline in a PipelineRun, the run's params (they propagate).
pub fn pipeline_scope<'w>(pipeline: &PipelineCx<'w>) -> ParamScope<'w> {
    let mut scope = ParamScope::default();
    scope.declare(&pipeline.spec.params, Origin::Declared);
    if let Some(run) = pipeline.run {
        scope.give(&run.params, Origin::Run);
    }
    scope
}

/// The params a Task spec's strings can see: its declarations; in an inline spec of a
/// pipeline task also the pipeline's params (and its run's), and the values the pipeline task
/// passes; in an inline spec of a TaskRun also the run's params.
pub fn task_scope<'w>(runs: &Runs<'w>, task: &TaskCx<'w>) -> ParamScope<'w> {
    let mut scope = ParamScope::default();
    scope.declare(&task.spec.params, Origin::Declared);
    match task.site {
        TaskSite::Resource => {}
        TaskSite::InTaskRun { run } => scope.give(&run.params, Origin::Run),
        TaskSite::InPipeline { pipeline, task, .. } => {
            scope.give(&task.params, Origin::PipelineTask);
            if let Some(matrix) = &task.matrix {
                scope.add_matrix(matrix);
            }
            scope.declare(&pipeline.params, Origin::Pipeline);
            if let Some(run) = runs.of(pipeline) {
                scope.give(&run.params, Origin::Run);
            }
        }
    }
    scope
}

/// How a string is used, which decides where whole arrays and objects may appear.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A plain string field: only strings, array items and object keys.
    String,
    /// One item of an array (`command`, `args`, an array param value, when `values`): a whole
    /// array may be the entire item.
    ArrayItem,
    /// The entire string value of a param: a whole array or object may be all of it (the
    /// value is retyped).
    Value,
}

/// Where in a pipeline task a string is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PtField {
    Param,
    MatrixParam,
    MatrixInclude,
    WhenInput,
    WhenValues,
    WhenCel,
    DisplayName,
    TaskRefName,
    TaskRefParam,
    WorkspaceSubPath,
    OnError,
}

impl PtField {
    /// Does Tekton check the references in this field against the pipeline's params (and
    /// their prefixes) at admission?
    pub fn is_validated(self) -> bool {
        matches!(
            self,
            PtField::Param
                | PtField::MatrixParam
                | PtField::MatrixInclude
                | PtField::WhenInput
                | PtField::WhenValues
                | PtField::WhenCel
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PtField::Param => "params",
            PtField::MatrixParam => "matrix params",
            PtField::MatrixInclude => "matrix include params",
            PtField::WhenInput => "when input",
            PtField::WhenValues => "when values",
            PtField::WhenCel => "when cel",
            PtField::DisplayName => "displayName",
            PtField::TaskRefName => "taskRef name",
            PtField::TaskRefParam => "taskRef params",
            PtField::WorkspaceSubPath => "workspace subPath",
            PtField::OnError => "onError",
        }
    }
}

/// One substituted string of a pipeline task.
#[derive(Copy, Clone, Debug)]
pub struct PtString<'w> {
    pub field: PtField,
    pub slot: Slot,
    pub text: Text<'w>,
}

fn push_param_value<'w>(
    out: &mut Vec<PtString<'w>>,
    field: PtField,
    value: &'w Spanned<ParamValue>,
) {
    let slot = match &value.value {
        ParamValue::String(_) => Slot::Value,
        ParamValue::Array(_) => Slot::ArrayItem,
        ParamValue::Object(_) => Slot::String,
    };
    for text in param_value_texts(value) {
        out.push(PtString { field, slot, text });
    }
}

/// Every string of a pipeline task Tekton substitutes pipeline variables in (not its inline
/// spec), in source order by field.
pub fn pipeline_task_strings(task: &PipelineTask) -> Vec<PtString<'_>> {
    let mut out = Vec::new();
    for p in &task.params {
        if let Some(v) = &p.value {
            push_param_value(&mut out, PtField::Param, v);
        }
    }
    if let Some(matrix) = &task.matrix {
        for p in &matrix.params {
            if let Some(v) = &p.value {
                push_param_value(&mut out, PtField::MatrixParam, v);
            }
        }
        for p in matrix.include.iter().flat_map(|i| &i.params) {
            if let Some(v) = &p.value {
                for text in param_value_texts(v) {
                    out.push(PtString {
                        field: PtField::MatrixInclude,
                        slot: Slot::String,
                        text,
                    });
                }
            }
        }
    }
    for when in &task.when {
        if let Some(input) = &when.input {
            out.push(PtString {
                field: PtField::WhenInput,
                slot: Slot::String,
                text: input.into(),
            });
        }
        for v in &when.values {
            out.push(PtString {
                field: PtField::WhenValues,
                slot: Slot::ArrayItem,
                text: v.into(),
            });
        }
        if let Some(cel) = &when.cel {
            out.push(PtString {
                field: PtField::WhenCel,
                slot: Slot::String,
                text: cel.into(),
            });
        }
    }
    fn single(field: PtField, s: &crate::model::Str) -> PtString<'_> {
        PtString {
            field,
            slot: Slot::String,
            text: s.into(),
        }
    }
    let mut rest = Vec::new();
    if let Some(d) = &task.display_name {
        rest.push(single(PtField::DisplayName, d));
    }
    if let Some(r) = &task.task_ref {
        if let Some(name) = &r.name {
            rest.push(single(PtField::TaskRefName, name));
        }
        for p in &r.params {
            if let Some(v) = &p.value {
                push_param_value(&mut rest, PtField::TaskRefParam, v);
            }
        }
    }
    for ws in &task.workspaces {
        if let Some(sub) = &ws.sub_path {
            rest.push(single(PtField::WorkspaceSubPath, sub));
        }
    }
    if let Some(on_error) = &task.on_error {
        rest.push(single(PtField::OnError, on_error));
    }
    out.extend(rest);
    out
}

/// The tasks of one pipeline by name, with their section.
pub struct PipelineIndex<'w> {
    by_name: HashMap<&'w str, (Section, &'w PipelineTask)>,
}

impl<'w> PipelineIndex<'w> {
    pub fn new(spec: &'w PipelineSpec) -> PipelineIndex<'w> {
        let mut by_name = HashMap::new();
        for (section, task) in pipeline_tasks(spec) {
            by_name.entry(task.name.as_str()).or_insert((section, task));
        }
        PipelineIndex { by_name }
    }

    pub fn get(&self, name: &str) -> Option<(Section, &'w PipelineTask)> {
        self.by_name.get(name).copied()
    }

    /// The shape of result `result` of pipeline task `task`: `None` if the task or its Task is
    /// unknown, or the Task does not declare the result; a matrixed task's results are arrays.
    pub fn result_shape(&self, world: &'w World, task: &str, result: &str) -> Option<Shape<'w>> {
        let (_, pt) = self.get(task)?;
        let spec = world.resolve_pipeline_task(pt).spec()?;
        let declared = spec.results.iter().find(|r| r.name.as_str() == result)?;
        if pt.is_matrixed() {
            return Some(Shape::Array(None));
        }
        Some(task_result_shape(declared))
    }
}

/// The shape a reference stands for, when it is all of a value: a param, a task result (or a
/// part of one). `None` when not known.
pub fn reference_shape<'w>(
    world: &'w World,
    scope: &ParamScope<'w>,
    index: &PipelineIndex<'w>,
    r: &Reference,
) -> Option<Shape<'w>> {
    let (shape, selector) = match &r.kind {
        RefKind::Param { name, selector, .. } => {
            (scope.get(name)?.first()?.shape.clone(), selector)
        }
        RefKind::TaskResult {
            task,
            result,
            selector,
            finally: false,
            ..
        } => (index.result_shape(world, task, result)?, selector),
        RefKind::TaskResult { .. } => return None,
        _ => return Some(Shape::String),
    };
    match selector {
        Selector::Whole | Selector::Star => Some(shape),
        Selector::Index(_) | Selector::Key(_) => Some(Shape::String),
    }
}

/// Does a param of this shape accept this selector? `None` if it does; otherwise what is
/// wrong, for a message.
pub fn selector_problem(shape: &Shape, selector: &Selector) -> Option<&'static str> {
    match (shape, selector) {
        (Shape::Unknown, _) => None,
        (Shape::String, Selector::Whole) => None,
        (Shape::String, Selector::Star) => Some("`[*]` selects a whole array"),
        (Shape::String, Selector::Index(_)) => Some("`[N]` indexes an array"),
        (Shape::String, Selector::Key(_)) => Some("`.key` selects a key of an object"),
        (Shape::Array(_), Selector::Key(_)) => Some("`.key` selects a key of an object"),
        (Shape::Array(_), _) => None,
        (Shape::Object(_), Selector::Index(_)) => Some("`[N]` indexes an array"),
        (Shape::Object(_), _) => None,
    }
}

/// Is the selector a use of the whole value (`$(x)` or `$(x[*])`)?
pub fn is_whole_selector(selector: &Selector) -> bool {
    matches!(selector, Selector::Whole | Selector::Star)
}

/// Does Tekton's generic variable pattern match this expression? It is
/// `[_a-zA-Z0-9.-]+` with an optional `[N]` or `[*]`: only such references are seen by the
/// prefix check of pipeline task params (bracket forms and shell text with spaces escape it).
pub fn matches_generic_pattern(expr: &str) -> bool {
    let body = match expr.strip_suffix(']').and_then(|e| e.rsplit_once('[')) {
        Some((body, index))
            if index == "*" || (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())) =>
        {
            body
        }
        _ => expr,
    };
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_pattern() {
        assert!(matches_generic_pattern("date"));
        assert!(matches_generic_pattern("params.a[1]"));
        assert!(matches_generic_pattern("params.a[*]"));
        assert!(!matches_generic_pattern("params[\"a\"]"));
        assert!(!matches_generic_pattern("ls -la"));
        assert!(!matches_generic_pattern(""));
    }

    #[test]
    fn sole_reference_is_exactly_one() {
        assert!(sole_reference("$(params.a)").is_some());
        assert!(sole_reference("x$(params.a)").is_none());
        assert!(sole_reference("$(params.a)$(params.b)").is_none());
        assert!(sole_reference("$(date)").is_none());
    }
}
