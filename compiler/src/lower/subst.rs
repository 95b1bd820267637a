//! Compositional substitution: Tekton's textual passes over strings that may hold values
//! only the run knows.
//!
//! A [`Tpl`] is text interleaved with run-time references ([`RunValue`]). Substitution runs
//! in passes, as Tekton's does (spec section 3, "Order"): each [`Pass`] scans the literal
//! text for the references it knows, in one left-to-right pass, and replaces them with a
//! value that is itself a `Tpl`. So a param whose value is `$(tasks.a.results.x)` puts a
//! structured task-result reference into the step, and a value holding
//! `$(context.taskRun.name)` is expanded by the later context pass, exactly as Tekton's
//! sequential passes do. References no pass knows stay as text (`$(date)`).

use crate::plan::{PathRef, RunValue, Template, TemplateRef, ValueTemplate, ValueType};
use crate::vars::{self, RefKind, Reference, Selector};
use std::collections::BTreeMap;

/// One piece of a [`Tpl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Ref(RunValue),
}

/// Text with run-time references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tpl {
    parts: Vec<Part>,
}

impl Tpl {
    pub fn lit(text: impl Into<String>) -> Tpl {
        let mut t = Tpl::default();
        t.push_str(&text.into());
        t
    }

    pub fn run(value: RunValue) -> Tpl {
        Tpl {
            parts: vec![Part::Ref(value)],
        }
    }

    pub fn push_str(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Part::Lit(last)) = self.parts.last_mut() {
            last.push_str(text);
        } else {
            self.parts.push(Part::Lit(text.to_string()));
        }
    }

    pub fn push_ref(&mut self, value: RunValue) {
        self.parts.push(Part::Ref(value));
    }

    pub fn append(&mut self, other: Tpl) {
        for part in other.parts {
            match part {
                Part::Lit(text) => self.push_str(&text),
                Part::Ref(value) => self.push_ref(value),
            }
        }
    }

    /// The text, if the template holds no run-time reference.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// The one reference this template consists of.
    pub fn single_ref(&self) -> Option<&RunValue> {
        match self.parts.as_slice() {
            [Part::Ref(value)] => Some(value),
            _ => None,
        }
    }

    pub fn has_refs(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Ref(_)))
    }

    pub fn refs(&self) -> impl Iterator<Item = &RunValue> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(v) => Some(v),
            Part::Lit(_) => None,
        })
    }

    /// The text with references written as `$(...)` (their canonical spelling).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(text) => out.push_str(text),
                Part::Ref(value) => out.push_str(&ref_text(value)),
            }
        }
        out
    }

    /// Does the text start with `prefix` (references count as their text)?
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.text().starts_with(prefix)
    }

    /// The same text with every reference made one of the parent run
    /// ([`RunValue::Parent`]): a value a pipeline task passes to a child pipeline.
    pub fn in_parent(&self) -> Tpl {
        Tpl {
            parts: self
                .parts
                .iter()
                .map(|p| match p {
                    Part::Ref(v) => Part::Ref(RunValue::Parent(Box::new(v.clone()))),
                    lit => lit.clone(),
                })
                .collect(),
        }
    }

    /// The plan's form: plain text, or text with byte-ranged references.
    pub fn to_template(&self) -> Template {
        if !self.has_refs() {
            return Template::Text(self.text());
        }
        let mut template = String::new();
        let mut refs = Vec::new();
        for part in &self.parts {
            match part {
                Part::Lit(text) => template.push_str(text),
                Part::Ref(value) => {
                    let start = template.len();
                    template.push_str(&ref_text(value));
                    refs.push(TemplateRef {
                        start,
                        end: template.len(),
                        value: value.clone(),
                    });
                }
            }
        }
        Template::Refs { template, refs }
    }
}

/// How a run-time reference is written in a template's text.
pub fn ref_text(value: &RunValue) -> String {
    let body = match value {
        // As the parent wrote it.
        RunValue::Parent(parent) => return ref_text(parent),
        RunValue::TaskResult {
            task,
            result,
            index,
            key,
            star,
        } => {
            let mut s = format!("tasks.{task}.results.{result}");
            if let Some(i) = index {
                s.push_str(&format!("[{i}]"));
            } else if let Some(k) = key {
                s.push('.');
                s.push_str(k);
            } else if *star {
                s.push_str("[*]");
            }
            s
        }
        RunValue::TaskStatus { task } => format!("tasks.{task}.status"),
        RunValue::TaskReason { task } => format!("tasks.{task}.reason"),
        RunValue::TasksStatus {} => "tasks.status".to_string(),
        RunValue::MatrixLength { task, result } => match result {
            Some(r) => format!("tasks.{task}.matrix.{r}.length"),
            None => format!("tasks.{task}.matrix.length"),
        },
        RunValue::Context { variable } => format!("context.{variable}"),
        RunValue::MatrixParam { name, index } => match index {
            Some(i) => format!("params.{name}[{i}]"),
            None => format!("params.{name}"),
        },
        RunValue::Path { path, .. } => match path {
            PathRef::Workspace { name } => format!("workspaces.{name}.path"),
            PathRef::Result { name } => format!("results.{name}.path"),
            PathRef::StepResult { name, .. } => format!("step.results.{name}.path"),
            PathRef::StepExitCode { step } => format!("steps.step-{step}.exitCode.path"),
            PathRef::Credentials {} => "credentials.path".to_string(),
        },
    };
    format!("$({body})")
}

/// A param value during lowering.
#[derive(Clone, Debug, PartialEq)]
pub enum PVal {
    Str(Tpl),
    Array(Vec<Tpl>),
    /// Keys in source order.
    Object(Vec<(String, Tpl)>),
    /// A whole array or object that only the run knows: one task-result reference (with
    /// `star` for an array).
    Deferred {
        value: RunValue,
        ty: ValueType,
    },
}

impl PVal {
    pub fn from_model(value: &crate::model::ParamValue) -> PVal {
        use crate::model::ParamValue as M;
        match value {
            M::String(s) => PVal::Str(Tpl::lit(s.as_str())),
            M::Array(items) => PVal::Array(items.iter().map(|i| Tpl::lit(i.as_str())).collect()),
            M::Object(entries) => PVal::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), Tpl::lit(v.as_str())))
                    .collect(),
            ),
        }
    }

    pub fn from_plan(value: &crate::plan::ParamValue) -> PVal {
        use crate::plan::ParamValue as P;
        match value {
            P::String(s) => PVal::Str(Tpl::lit(s.as_str())),
            P::Array(items) => PVal::Array(items.iter().map(|i| Tpl::lit(i.as_str())).collect()),
            P::Object(entries) => PVal::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Tpl::lit(v.as_str())))
                    .collect(),
            ),
        }
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            PVal::Str(_) => ValueType::String,
            PVal::Array(_) => ValueType::Array,
            PVal::Object(_) => ValueType::Object,
            PVal::Deferred { ty, .. } => *ty,
        }
    }

    /// The plan's form. A deferred array is a one-item array whose item is exactly the
    /// `[*]` reference (the runtime splices it); a deferred object is the reference.
    pub fn to_value_template(&self) -> ValueTemplate {
        match self {
            PVal::Str(t) => ValueTemplate::String(t.to_template()),
            PVal::Array(items) => {
                ValueTemplate::Array(items.iter().map(Tpl::to_template).collect())
            }
            PVal::Object(entries) => ValueTemplate::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_template()))
                    .collect(),
            ),
            PVal::Deferred { value, ty } => {
                let t = Tpl::run(value.clone()).to_template();
                match ty {
                    ValueType::Array => ValueTemplate::Array(vec![t]),
                    _ => ValueTemplate::String(t),
                }
            }
        }
    }

    /// The value as plain data, references written as text.
    pub fn to_plain(&self) -> crate::plan::ParamValue {
        use crate::plan::ParamValue as P;
        match self {
            PVal::Str(t) => P::String(t.text()),
            PVal::Array(items) => P::Array(items.iter().map(Tpl::text).collect()),
            PVal::Object(entries) => P::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.text()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            PVal::Deferred { value, .. } => P::String(ref_text(value)),
        }
    }

    /// An object value with the keys it leaves out taken from `default` (Tekton merges an
    /// object param's given keys over its default's).
    pub fn with_default_keys(self, default: &PVal) -> PVal {
        match (self, default) {
            (PVal::Object(mut given), PVal::Object(defaults)) => {
                for (key, value) in defaults {
                    if !given.iter().any(|(k, _)| k == key) {
                        given.push((key.clone(), value.clone()));
                    }
                }
                PVal::Object(given)
            }
            (value, _) => value,
        }
    }

    /// The value with every reference made one of the parent run ([`Tpl::in_parent`]).
    pub fn in_parent(&self) -> PVal {
        match self {
            PVal::Str(t) => PVal::Str(t.in_parent()),
            PVal::Array(items) => PVal::Array(items.iter().map(Tpl::in_parent).collect()),
            PVal::Object(entries) => PVal::Object(
                entries
                    .iter()
                    .map(|(k, t)| (k.clone(), t.in_parent()))
                    .collect(),
            ),
            PVal::Deferred { value, ty } => PVal::Deferred {
                value: RunValue::Parent(Box::new(value.clone())),
                ty: *ty,
            },
        }
    }

    /// Is every part known at compile time?
    pub fn is_literal(&self) -> bool {
        match self {
            PVal::Str(t) => !t.has_refs(),
            PVal::Array(items) => items.iter().all(|t| !t.has_refs()),
            PVal::Object(entries) => entries.iter().all(|(_, t)| !t.has_refs()),
            PVal::Deferred { .. } => false,
        }
    }

    /// Every template of the value.
    pub fn templates(&self) -> Vec<&Tpl> {
        match self {
            PVal::Str(t) => vec![t],
            PVal::Array(items) => items.iter().collect(),
            PVal::Object(entries) => entries.iter().map(|(_, t)| t).collect(),
            PVal::Deferred { .. } => Vec::new(),
        }
    }
}

/// What one pass of substitution knows.
pub trait Pass {
    /// The value of `r` in a string; `None` leaves it for a later pass (or as text).
    fn string(&self, r: &Reference) -> Option<Tpl>;
    /// The items `r` expands to when it is an entire item of a list (`command`, `args`,
    /// array values, when `values`): a whole array.
    fn elements(&self, _r: &Reference) -> Option<Vec<Tpl>> {
        None
    }
    /// The whole value `r` stands for when it is an entire param value (an array or object
    /// param or result retypes the value).
    fn whole(&self, _r: &Reference) -> Option<PVal> {
        None
    }
}

impl<F: Fn(&Reference) -> Option<Tpl>> Pass for F {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        self(r)
    }
}

/// One pass over a template's text.
pub fn apply(tpl: &Tpl, pass: &dyn Pass) -> Tpl {
    let mut out = Tpl::default();
    for part in &tpl.parts {
        match part {
            Part::Ref(value) => out.push_ref(value.clone()),
            Part::Lit(text) => {
                let mut at = 0;
                for r in vars::parse(text) {
                    if let Some(value) = pass.string(&r) {
                        out.push_str(&text[at..r.start]);
                        out.append(value);
                        at = r.end;
                    }
                }
                out.push_str(&text[at..]);
            }
        }
    }
    out
}

/// The reference an item consists of entirely, if any.
fn whole_ref(tpl: &Tpl) -> Option<Reference> {
    let text = tpl.as_literal()?;
    let refs = vars::parse(text);
    match refs.as_slice() {
        [r] if r.is_whole(text) => Some(r.clone()),
        _ => None,
    }
}

/// One pass over a list: an item that is exactly a whole-array reference becomes its items.
pub fn apply_list(items: &[Tpl], pass: &dyn Pass) -> Vec<Tpl> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(r) = whole_ref(item)
            && let Some(elements) = pass.elements(&r)
        {
            out.extend(elements);
            continue;
        }
        out.push(apply(item, pass));
    }
    out
}

/// One pass over a param value (with retyping of an entire whole-array/object reference).
pub fn apply_value(value: &PVal, pass: &dyn Pass) -> PVal {
    match value {
        PVal::Str(t) => {
            if let Some(r) = whole_ref(t)
                && let Some(whole) = pass.whole(&r)
            {
                return whole;
            }
            PVal::Str(apply(t, pass))
        }
        PVal::Array(items) => PVal::Array(apply_list(items, pass)),
        PVal::Object(entries) => PVal::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), apply(v, pass)))
                .collect(),
        ),
        PVal::Deferred { .. } => value.clone(),
    }
}

/// A sequence of passes.
#[derive(Default)]
pub struct Chain<'a> {
    passes: Vec<&'a dyn Pass>,
}

impl<'a> Chain<'a> {
    pub fn new(passes: Vec<&'a dyn Pass>) -> Chain<'a> {
        Chain { passes }
    }

    pub fn then(&self, more: &[&'a dyn Pass]) -> Chain<'a> {
        let mut passes = self.passes.clone();
        passes.extend_from_slice(more);
        Chain { passes }
    }

    pub fn tpl(&self, tpl: Tpl) -> Tpl {
        self.passes.iter().fold(tpl, |t, p| apply(&t, *p))
    }

    pub fn str(&self, text: &str) -> Tpl {
        self.tpl(Tpl::lit(text))
    }

    pub fn list<'s>(&self, items: impl IntoIterator<Item = &'s str>) -> Vec<Tpl> {
        let items: Vec<Tpl> = items.into_iter().map(Tpl::lit).collect();
        self.passes.iter().fold(items, |t, p| apply_list(&t, *p))
    }

    pub fn tpl_list(&self, items: Vec<Tpl>) -> Vec<Tpl> {
        self.passes.iter().fold(items, |t, p| apply_list(&t, *p))
    }

    pub fn value(&self, value: PVal) -> PVal {
        self.passes.iter().fold(value, |v, p| apply_value(&v, *p))
    }

    /// Every string of a JSON value (a Kubernetes object tkc passes on), substituted and
    /// written back as text.
    pub fn json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match value {
            J::String(s) => J::String(self.str(s).text()),
            J::Array(items) => J::Array(items.iter().map(|v| self.json(v)).collect()),
            J::Object(map) => {
                J::Object(map.iter().map(|(k, v)| (k.clone(), self.json(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// `$(params...)`: the params of a scope (pipeline or task).
pub struct Params<'a> {
    pub values: &'a BTreeMap<String, PVal>,
    /// Names left alone (pipeline params shadowed by a pipeline task's own in an inline spec).
    pub except: &'a [String],
}

impl Params<'_> {
    fn get<'s>(&'s self, r: &'s Reference) -> Option<(&'s PVal, &'s Selector)> {
        let RefKind::Param { name, selector, .. } = &r.kind else {
            return None;
        };
        if self.except.contains(name) {
            return None;
        }
        Some((self.values.get(name)?, selector))
    }
}

/// A value that is exactly a whole step result reference (`$(steps.S.results.R)` or its
/// `[*]`), as a StepAction param given a step's result: (step, result).
fn whole_step_result(value: &PVal) -> Option<(String, String)> {
    let PVal::Str(t) = value else {
        return None;
    };
    let text = t.text();
    let refs = crate::vars::parse(&text);
    match refs.as_slice() {
        [r] if r.is_whole(&text) => match &r.kind {
            RefKind::StepResult {
                step,
                result,
                selector: Selector::Whole | Selector::Star,
            } => Some((step.clone(), result.clone())),
            _ => None,
        },
        _ => None,
    }
}

impl Pass for Params<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let (value, selector) = self.get(r)?;
        // A param holding a whole step result: its item or key is that of the step result,
        // which the entrypoint fills in when the step starts.
        if let Some((step, result)) = whole_step_result(value) {
            let suffix = match selector {
                Selector::Whole => String::new(),
                Selector::Star => "[*]".to_string(),
                Selector::Index(i) => format!("[{i}]"),
                Selector::Key(k) => format!(".{k}"),
            };
            return Some(Tpl::lit(format!(
                "$(steps.{step}.results.{result}{suffix})"
            )));
        }
        match (value, selector) {
            (PVal::Str(t), Selector::Whole) => Some(t.clone()),
            (PVal::Array(items), Selector::Index(i)) => items.get(*i).cloned(),
            (PVal::Object(entries), Selector::Key(k)) => entries
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone()),
            (
                PVal::Deferred {
                    value,
                    ty: ValueType::Array,
                },
                Selector::Index(i),
            ) => Some(Tpl::run(select(value, Some(*i), None))),
            (
                PVal::Deferred {
                    value,
                    ty: ValueType::Object,
                },
                Selector::Key(k),
            ) => Some(Tpl::run(select(value, None, Some(k.clone())))),
            _ => None,
        }
    }

    fn elements(&self, r: &Reference) -> Option<Vec<Tpl>> {
        let (value, selector) = self.get(r)?;
        if !matches!(selector, Selector::Whole | Selector::Star) {
            return None;
        }
        if let Some((step, result)) = whole_step_result(value) {
            // The entrypoint splices a whole `[*]` argument into the array's items.
            return Some(vec![Tpl::lit(format!(
                "$(steps.{step}.results.{result}[*])"
            ))]);
        }
        match value {
            PVal::Array(items) => Some(items.clone()),
            PVal::Deferred {
                value,
                ty: ValueType::Array,
            } => Some(vec![Tpl::run(value.clone())]),
            _ => None,
        }
    }

    fn whole(&self, r: &Reference) -> Option<PVal> {
        let (value, selector) = self.get(r)?;
        match (value, selector) {
            (PVal::Array(_), Selector::Whole | Selector::Star) => Some(value.clone()),
            (PVal::Object(_), Selector::Whole | Selector::Star) => Some(value.clone()),
            (PVal::Deferred { .. }, Selector::Whole | Selector::Star) => Some(value.clone()),
            _ => None,
        }
    }
}

/// A task result reference with `[N]` or `.key` instead of the whole value.
fn select(value: &RunValue, index: Option<usize>, key: Option<String>) -> RunValue {
    match value {
        RunValue::TaskResult { task, result, .. } => RunValue::TaskResult {
            task: task.clone(),
            result: result.clone(),
            index,
            key,
            star: false,
        },
        other => other.clone(),
    }
}

/// What the pipeline knows of a task's results: their declared types, and whether the task
/// fans out (its results are then arrays).
#[derive(Clone, Debug, Default)]
pub struct ResultTypes {
    pub matrixed: bool,
    pub types: BTreeMap<String, ValueType>,
}

/// `$(tasks.T.results.R...)` (and `$(finally.T.results.R...)` in pipeline results).
pub struct TaskResults<'a> {
    pub tasks: &'a BTreeMap<String, ResultTypes>,
    pub allow_finally: bool,
}

impl TaskResults<'_> {
    fn reference(&self, r: &Reference) -> Option<(RunValue, ValueType)> {
        let RefKind::TaskResult {
            task,
            result,
            selector,
            finally,
            ..
        } = &r.kind
        else {
            return None;
        };
        if *finally && !self.allow_finally {
            return None;
        }
        let declared = self.tasks.get(task).map_or(ValueType::String, |t| {
            if t.matrixed {
                ValueType::Array
            } else {
                t.types.get(result).copied().unwrap_or_default()
            }
        });
        let (index, key, star) = match selector {
            Selector::Whole => (None, None, false),
            Selector::Star => (None, None, true),
            Selector::Index(i) => (Some(*i), None, false),
            Selector::Key(k) => (None, Some(k.clone()), false),
        };
        Some((
            RunValue::TaskResult {
                task: task.clone(),
                result: result.clone(),
                index,
                key,
                star,
            },
            declared,
        ))
    }
}

impl Pass for TaskResults<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        self.reference(r).map(|(value, _)| Tpl::run(value))
    }

    fn elements(&self, r: &Reference) -> Option<Vec<Tpl>> {
        let (value, declared) = self.reference(r)?;
        whole_array(value, declared).map(|v| vec![Tpl::run(v)])
    }

    fn whole(&self, r: &Reference) -> Option<PVal> {
        let (value, declared) = self.reference(r)?;
        if let Some(star) = whole_array(value.clone(), declared) {
            return Some(PVal::Deferred {
                value: star,
                ty: ValueType::Array,
            });
        }
        match (&value, declared) {
            (
                RunValue::TaskResult {
                    index: None,
                    key: None,
                    ..
                },
                ValueType::Object,
            ) => Some(PVal::Deferred {
                value,
                ty: ValueType::Object,
            }),
            _ => None,
        }
    }
}

/// The `[*]` form of a reference to a whole array result (no selector on a result declared
/// `array`, or `[*]` on one not declared `object`: `[*]` of an object is the whole object).
fn whole_array(value: RunValue, declared: ValueType) -> Option<RunValue> {
    match value {
        RunValue::TaskResult {
            task,
            result,
            index: None,
            key: None,
            star,
        } if declared == ValueType::Array || (star && declared != ValueType::Object) => {
            Some(RunValue::TaskResult {
                task,
                result,
                index: None,
                key: None,
                star: true,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn result(task: &str, name: &str) -> RunValue {
        RunValue::TaskResult {
            task: task.into(),
            result: name.into(),
            index: None,
            key: None,
            star: false,
        }
    }

    #[test]
    fn injected_values_keep_their_references() {
        let mut values = BTreeMap::new();
        values.insert(
            "digest".to_string(),
            PVal::Str(Tpl::run(result("build", "digest"))),
        );
        values.insert(
            "ctx".to_string(),
            PVal::Str(Tpl::lit("$(context.taskRun.name)")),
        );
        let params = Params {
            values: &values,
            except: &[],
        };
        let context = |r: &Reference| match &r.kind {
            RefKind::Context(c) => Some(Tpl::run(RunValue::Context {
                variable: c.as_str().to_string(),
            })),
            _ => None,
        };
        let chain = Chain::new(vec![&params, &context]);
        let out = chain.str("img@$(params.digest) by $(params.ctx) at $(date)");
        assert_eq!(
            out.text(),
            "img@$(tasks.build.results.digest) by $(context.taskRun.name) at $(date)"
        );
        let Template::Refs { template, refs } = out.to_template() else {
            panic!("expected references");
        };
        assert_eq!(refs.len(), 2);
        assert_eq!(
            &template[refs[0].start..refs[0].end],
            "$(tasks.build.results.digest)"
        );
        assert_eq!(
            refs[1].value,
            RunValue::Context {
                variable: "taskRun.name".into()
            }
        );
    }

    #[test]
    fn whole_arrays_expand_in_lists() {
        let mut values = BTreeMap::new();
        values.insert(
            "flags".to_string(),
            PVal::Array(vec![Tpl::lit("-v"), Tpl::lit("-x")]),
        );
        values.insert("none".to_string(), PVal::Array(vec![]));
        values.insert(
            "later".to_string(),
            PVal::Deferred {
                value: RunValue::TaskResult {
                    task: "a".into(),
                    result: "r".into(),
                    index: None,
                    key: None,
                    star: true,
                },
                ty: ValueType::Array,
            },
        );
        let params = Params {
            values: &values,
            except: &[],
        };
        let chain = Chain::new(vec![&params]);
        let out = chain.list([
            "run",
            "$(params.flags[*])",
            "$(params.none)",
            "$(params.later)",
            "$(params.later[1])",
            "x$(params.flags[1])",
        ]);
        let texts: Vec<String> = out.iter().map(Tpl::text).collect();
        assert_eq!(
            texts,
            [
                "run",
                "-v",
                "-x",
                "$(tasks.a.results.r[*])",
                "$(tasks.a.results.r[1])",
                "x-x"
            ]
        );
        assert!(out[3].single_ref().is_some());
    }

    #[test]
    fn one_pass_does_not_rescan_what_it_inserted() {
        let mut values = BTreeMap::new();
        values.insert("a".to_string(), PVal::Str(Tpl::lit("$(params.b)")));
        values.insert("b".to_string(), PVal::Str(Tpl::lit("B")));
        let params = Params {
            values: &values,
            except: &[],
        };
        assert_eq!(
            Chain::new(vec![&params]).str("$(params.a)").text(),
            "$(params.b)"
        );
    }
}
