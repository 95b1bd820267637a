//! Matrix fan-out (beta): the number of combinations, param names and types, and how the
//! results of a matrixed task may be consumed.

use super::{Checker, PipelineCx, Text, param_value_texts, pipeline_specs, pipeline_tasks, refs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{Param, ParamType, ParamValue, PipelineSpec, PipelineTask, Str};
use crate::source::Span;
use crate::vars::{self, RefKind, Selector};
use std::collections::{HashMap, HashSet};

/// Tekton's `default-max-matrix-combinations-count`.
pub const MAX_COMBINATIONS: usize = 256;

declare_code! {
    /// # A matrix with more combinations than Tekton allows
    ///
    /// A matrixed task runs once per combination of its matrix params (the product of their
    /// lengths, plus the extra combinations `include` adds). Tekton's default limit is 256
    /// (`default-max-matrix-combinations-count`); above it the Pipeline is rejected
    /// (`expected 0 <= <n> <= 256: matrix`). When the lengths come from params, tkc counts
    /// with the values it can see (the run's, else the defaults) and warns instead.
    pub static COMBINATIONS = "tkc::matrix::combinations", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # A param given both in the matrix and in params
    ///
    /// A pipeline task's param comes either from `matrix` (one value per combination) or from
    /// `params` (the same for every run). Tekton rejects a name in both (`expected exactly one,
    /// got both: matrix[<n>], params[<n>]`).
    pub static PARAM_IN_BOTH = "tkc::matrix::param-in-both", Error;
}

declare_code! {
    /// # A matrix param of the wrong type
    ///
    /// `matrix.params` values are arrays (the task fans out over their items); the params of
    /// a `matrix.include` entry are strings. Tekton fails the run with
    /// `InvalidMatrixParameterTypes` otherwise. A string that is exactly one reference to an
    /// array param or result (`$(params.platforms)`) becomes that array and is fine.
    pub static PARAM_TYPE = "tkc::matrix::param-type", Error, reason = "InvalidMatrixParameterTypes";
}

declare_code! {
    /// # The Task does not take a matrix param as a string
    ///
    /// Each run of a matrixed task gets one item of each matrix param, so the Task must declare
    /// those params as `string`. An `array` (or `object`) declaration fails the run.
    pub static TASK_PARAM_TYPE = "tkc::matrix::task-param-type", Error, reason = "InvalidMatrixParameterTypes";
}

declare_code! {
    /// # A result of a matrixed task used as a single value
    ///
    /// A matrixed task runs many times, so each of its results is an array holding one value
    /// per run. It can only be consumed whole, as `$(tasks.<task>.results.<result>[*])`, and
    /// the Task must declare it as a `string` (Tekton collects the strings into the array).
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: digests
    ///     value: $(tasks.build.results.digest)   # build has a matrix
    /// ```
    /// Write `value: $(tasks.build.results.digest[*])` and declare `digests` as an array.
    pub static RESULT_REF = "tkc::matrix::result-ref", Error, reason = "PipelineValidationFailed";
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &COMBINATIONS,
    &PARAM_IN_BOTH,
    &PARAM_TYPE,
    &TASK_PARAM_TYPE,
    &RESULT_REF,
];

pub fn run(cx: &mut Checker) {
    for pipeline in pipeline_specs(cx.world) {
        let spec = pipeline.spec;
        for (_, task) in pipeline_tasks(spec) {
            if let Some(matrix) = &task.matrix {
                duplicate_names(cx, &matrix.params);
                for include in &matrix.include {
                    duplicate_names(cx, &include.params);
                }
                in_both(cx, task);
            }
            if task.is_matrixed() {
                combinations(cx, pipeline, task);
                param_types(cx, spec, task);
                task_param_types(cx, task);
            }
        }
        matrixed_results(cx, spec);
    }
}

fn duplicate_names(cx: &mut Checker, params: &[Param]) {
    let mut seen: HashMap<&str, &Str> = HashMap::new();
    for param in params {
        if let Some(first) = seen.get(param.name.as_str()) {
            cx.report(
                Diagnostic::new(
                    &super::names::DUPLICATE,
                    format!("matrix param `{}` is given twice", param.name.value),
                )
                .with_label(param.name.span, "given again here")
                .with_secondary(first.span, "first given here"),
            );
        } else {
            seen.insert(&param.name, &param.name);
        }
    }
}

fn in_both(cx: &mut Checker, task: &PipelineTask) {
    let mut matrix_names: HashMap<&str, &Str> = HashMap::new();
    for p in task.matrix_params() {
        matrix_names.entry(&p.name).or_insert(&p.name);
    }
    for param in &task.params {
        if let Some(in_matrix) = matrix_names.get(param.name.as_str()) {
            cx.report(
                Diagnostic::new(
                    &PARAM_IN_BOTH,
                    format!(
                        "expected exactly one, got both: matrix[{0}], params[{0}]",
                        param.name.value
                    ),
                )
                .with_label(param.name.span, "given in params")
                .with_secondary(in_matrix.span, "and in the matrix")
                .with_help(
                    "remove one: matrix params vary per run, params are the same for every run",
                ),
            );
        }
    }
}

/// The length of a matrix param's value: known (a literal array), from a param whose value
/// tkc can see, or unknown.
enum Length {
    Literal(usize),
    Assumed(usize, String),
    Unknown,
}

fn length(pipeline: PipelineCx, value: &ParamValue) -> Length {
    match value {
        ParamValue::Array(items) => Length::Literal(items.len()),
        ParamValue::String(s) => {
            let Some(name) = whole_param_ref(s) else {
                return Length::Unknown;
            };
            let given = pipeline
                .run
                .and_then(|run| run.params.iter().find(|p| p.name.value == name))
                .and_then(|p| p.value.as_ref());
            if let Some(v) = given
                && let ParamValue::Array(items) = &v.value
            {
                return Length::Assumed(items.len(), format!("the run's value of `{name}`"));
            }
            let default = pipeline
                .spec
                .params
                .iter()
                .find(|p| p.name.value == name)
                .and_then(|p| p.default.as_ref());
            match default.map(|d| &d.value) {
                Some(ParamValue::Array(items)) => {
                    Length::Assumed(items.len(), format!("the default of `{name}`"))
                }
                _ => Length::Unknown,
            }
        }
        ParamValue::Object(_) => Length::Unknown,
    }
}

/// `$(params.p)` or `$(params.p[*])` as the whole string: the param's name.
fn whole_param_ref(s: &str) -> Option<String> {
    let refs = vars::parse(s);
    match refs.as_slice() {
        [r] if r.is_whole(s) => match &r.kind {
            RefKind::Param {
                name,
                selector: Selector::Whole | Selector::Star,
                ..
            } => Some(name.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Is the string exactly one reference that yields an array (a param or a task result)?
fn whole_array_ref(s: &str) -> bool {
    let refs = vars::parse(s);
    matches!(refs.as_slice(), [r] if r.is_whole(s) && matches!(
        &r.kind,
        RefKind::Param { selector: Selector::Whole | Selector::Star, .. }
            | RefKind::TaskResult { selector: Selector::Whole | Selector::Star, .. }
    ))
}

fn combinations(cx: &mut Checker, pipeline: PipelineCx, task: &PipelineTask) {
    let Some(matrix) = &task.matrix else {
        return;
    };
    let mut product: usize = if matrix.params.is_empty() { 0 } else { 1 };
    let mut assumed: Vec<String> = Vec::new();
    let mut literal_values: HashMap<&str, Vec<&str>> = HashMap::new();
    for param in &matrix.params {
        let Some(value) = &param.value else {
            return;
        };
        let n = match length(pipeline, &value.value) {
            Length::Literal(n) => n,
            Length::Assumed(n, from) => {
                assumed.push(from);
                n
            }
            Length::Unknown => return,
        };
        if let ParamValue::Array(items) = &value.value {
            literal_values.insert(&param.name, items.iter().map(|s| s.as_str()).collect());
        }
        product = product.saturating_mul(n);
    }
    // Include entries that match no combination add one each (Tekton's count).
    let mut extra = 0usize;
    if matrix.params.is_empty() {
        extra = matrix.include.len();
    } else {
        for include in &matrix.include {
            for param in &include.params {
                let Some(values) = literal_values.get(param.name.as_str()) else {
                    continue;
                };
                let value = param
                    .value
                    .as_ref()
                    .and_then(|v| v.value.as_string())
                    .unwrap_or_default();
                if values.contains(&value) {
                    break;
                }
                extra += 1;
            }
        }
    }
    let count = product.saturating_add(extra);
    if count <= MAX_COMBINATIONS {
        return;
    }
    let span = matrix.head;
    let mut d = Diagnostic::new(
        &COMBINATIONS,
        format!("expected 0 <= {count} <= {MAX_COMBINATIONS}: matrix"),
    );
    let lengths: Vec<String> = matrix
        .params
        .iter()
        .filter_map(|p| {
            let n = match length(pipeline, &p.value.as_ref()?.value) {
                Length::Literal(n) | Length::Assumed(n, _) => n,
                Length::Unknown => return None,
            };
            Some(format!("{} ({n})", p.name.value))
        })
        .collect();
    let label = format!(
        "{count} combinations: {}{}",
        lengths.join(" × "),
        if extra > 0 {
            format!(" + {extra} from include")
        } else {
            String::new()
        }
    );
    if assumed.is_empty() {
        d = d.with_label(span, label);
    } else {
        d = d
            .with_severity(crate::diag::Severity::Warning)
            .with_label(span, format!("{label}, counting {}", assumed.join(" and ")));
    }
    cx.report(d.with_help(format!(
        "split the task, or shorten the arrays: Tekton runs at most {MAX_COMBINATIONS} combinations (`default-max-matrix-combinations-count`)"
    )));
}

fn param_types(cx: &mut Checker, spec: &PipelineSpec, task: &PipelineTask) {
    let Some(matrix) = &task.matrix else {
        return;
    };
    let declared: HashMap<&str, Option<ParamType>> = spec
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.param_type()))
        .collect();
    for param in &matrix.params {
        let Some(value) = &param.value else {
            continue;
        };
        let problem = match &value.value {
            ParamValue::Array(_) => None,
            ParamValue::Object(_) => Some("an object".to_string()),
            ParamValue::String(s) => match whole_param_ref(s) {
                Some(name) => match declared.get(name.as_str()) {
                    Some(Some(t)) if *t != ParamType::Array => {
                        Some(format!("the {} param `{name}`", t.as_str()))
                    }
                    _ => None,
                },
                None if whole_array_ref(s) => None,
                None => Some("a string".to_string()),
            },
        };
        if let Some(what) = problem {
            cx.report(
                Diagnostic::new(
                    &PARAM_TYPE,
                    format!(
                        "matrix param `{}` must be an array, not {what}",
                        param.name.value
                    ),
                )
                .with_label(value.span, "not an array")
                .with_help(
                    "give the values to fan out over as a list: `value: [a, b]`, or a whole array param `$(params.<array>[*])`; a single value belongs in `params`, or in `matrix.include`",
                ),
            );
        }
    }
    for include in &matrix.include {
        for param in &include.params {
            let Some(value) = &param.value else {
                continue;
            };
            let problem = match &value.value {
                ParamValue::String(s) if whole_array_ref(s) => match whole_param_ref(s) {
                    Some(name) => match declared.get(name.as_str()) {
                        Some(Some(t)) if *t != ParamType::String => {
                            Some(format!("the {} param `{name}`", t.as_str()))
                        }
                        _ => None,
                    },
                    None => None,
                },
                ParamValue::String(_) => None,
                other => Some(format!("an {}", other.type_name())),
            };
            if let Some(what) = problem {
                cx.report(
                    Diagnostic::new(
                        &PARAM_TYPE,
                        format!(
                            "matrix include param `{}` must be a string, not {what}",
                            param.name.value
                        ),
                    )
                    .with_label(value.span, "not a string")
                    .with_help(
                        "an include entry adds one combination: give each param one string value",
                    ),
                );
            }
        }
    }
}

fn task_param_types(cx: &mut Checker, task: &PipelineTask) {
    let Some(target) = cx.world.resolve_pipeline_task(task).spec() else {
        return;
    };
    let mut seen: HashSet<&str> = HashSet::new();
    for param in task.matrix_params() {
        if !seen.insert(&param.name) {
            continue;
        }
        let Some(declaration) = target
            .params
            .iter()
            .find(|p| p.name.value == param.name.value)
        else {
            continue;
        };
        let Some(t) = declaration.param_type() else {
            continue;
        };
        if t != ParamType::String {
            let at = declaration
                .r#type
                .as_ref()
                .map_or(declaration.name.span, |t| t.span);
            cx.report(
                Diagnostic::new(
                    &TASK_PARAM_TYPE,
                    format!(
                        "the Task declares matrix param `{}` as {}; each run gets one string",
                        param.name.value,
                        t.as_str()
                    ),
                )
                .with_label(param.name.span, "fanned out by the matrix")
                .with_secondary(at, format!("declared {} here", t.as_str()))
                .with_help("declare the param as `type: string` in the Task"),
            );
        }
    }
}

/// Results of matrixed tasks are consumed only whole, and are declared strings.
fn matrixed_results(cx: &mut Checker, spec: &PipelineSpec) {
    let matrixed: HashMap<&str, &PipelineTask> = pipeline_tasks(spec)
        .filter(|(_, t)| t.is_matrixed())
        .map(|(_, t)| (t.name.as_str(), t))
        .collect();
    if matrixed.is_empty() {
        return;
    }
    let mut reported_types: HashSet<(String, String)> = HashSet::new();
    for (_, task) in pipeline_tasks(spec) {
        let mut texts: Vec<Text> = Vec::new();
        for param in task.params.iter().chain(task.matrix_params()) {
            if let Some(value) = &param.value {
                texts.extend(param_value_texts(value));
            }
        }
        for when in &task.when {
            texts.extend(when.input.iter().map(Text::from));
            texts.extend(when.values.iter().map(Text::from));
        }
        for text in texts {
            for (r, span) in &refs(cx.world, text) {
                let RefKind::TaskResult {
                    task: producer,
                    result,
                    selector,
                    finally: false,
                    ..
                } = &r.kind
                else {
                    continue;
                };
                let Some(producer_task) = matrixed.get(producer.as_str()) else {
                    continue;
                };
                if *selector != Selector::Star {
                    cx.report(
                        Diagnostic::new(
                            &RESULT_REF,
                            format!(
                                "`{producer}` has a matrix, so its result `{result}` is an array of one value per run"
                            ),
                        )
                        .with_label(span, "used as a single value")
                        .with_secondary(producer_task.name.span, "matrixed task")
                        .with_help(format!(
                            "use the whole array: `$(tasks.{producer}.results.{result}[*])`"
                        )),
                    );
                }
                if reported_types.contains(&(producer.clone(), result.clone())) {
                    continue;
                }
                let Some(target) = cx.world.resolve_pipeline_task(producer_task).spec() else {
                    continue;
                };
                let Some(declaration) = target.results.iter().find(|d| d.name.value == *result)
                else {
                    continue;
                };
                let declared_type = match (&declaration.r#type, &declaration.properties) {
                    (Some(t), _) if !t.is_empty() => t.value.clone(),
                    (_, Some(_)) => "object".to_string(),
                    _ => "string".to_string(),
                };
                if declared_type != "string" {
                    reported_types.insert((producer.clone(), result.clone()));
                    let at: Span = declaration
                        .r#type
                        .as_ref()
                        .map_or(declaration.name.span, |t| t.span);
                    cx.report(
                        Diagnostic::new(
                            &RESULT_REF,
                            format!(
                                "result `{result}` of matrixed task `{producer}` is declared {declared_type}; a matrixed task's results must be strings"
                            ),
                        )
                        .with_label(span, "consumed here")
                        .with_secondary(at, format!("declared {declared_type} here"))
                        .with_help("declare the result as `type: string`; Tekton collects one string per run into an array"),
                    );
                }
            }
        }
    }
}
