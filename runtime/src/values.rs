//! Run-time values: what the run knows (results, statuses, context, matrix params), filling
//! [`Template`]s with them, matrix combinations and result decoding.

use std::collections::BTreeMap;
use tkc_compiler::plan::{
    ParamValue, PathRef, ResultDecl, RunValue, TaskPlan, Template, ValueTemplate, ValueType,
};

/// Everything a template may refer to, except paths (the backend knows those).
#[derive(Clone, Debug, Default)]
pub struct Values {
    /// Results of finished pipeline tasks (a matrixed task's are arrays).
    pub results: BTreeMap<String, BTreeMap<String, ParamValue>>,
    /// `tasks.T.status` and `tasks.T.reason` of finished pipeline tasks.
    pub status: BTreeMap<String, (String, String)>,
    /// `tasks.status` once every DAG task is done.
    pub tasks_status: Option<String>,
    /// Number of task runs of matrixed tasks.
    pub matrix_lengths: BTreeMap<String, usize>,
    /// `context.*` variables, by their name after `context.`.
    pub context: BTreeMap<String, String>,
    /// This combination's matrix params.
    pub matrix: BTreeMap<String, String>,
    /// In a child pipeline's run: what its parent run knew when it created the child
    /// ([`RunValue::Parent`] references are looked up there).
    pub parent: Option<std::sync::Arc<Values>>,
}

/// A value as text: strings as they are, arrays and objects as JSON.
pub fn value_text(value: &ParamValue) -> String {
    match value {
        ParamValue::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Why a task result reference cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultError {
    /// The producer has no such result (or it has not run).
    Missing { task: String, result: String },
    /// `[N]` past the end of the array.
    OutOfBounds {
        task: String,
        result: String,
        index: usize,
        len: usize,
    },
    /// `.key` that the object does not have.
    MissingKey {
        task: String,
        result: String,
        key: String,
    },
}

impl ResultError {
    /// The producing task.
    pub fn task(&self) -> &str {
        match self {
            ResultError::Missing { task, .. }
            | ResultError::OutOfBounds { task, .. }
            | ResultError::MissingKey { task, .. } => task,
        }
    }
}

impl Values {
    /// The value of a task result reference.
    pub fn task_result(
        &self,
        task: &str,
        result: &str,
        index: Option<usize>,
        key: Option<&str>,
    ) -> Result<ParamValue, ResultError> {
        let missing = || ResultError::Missing {
            task: task.to_string(),
            result: result.to_string(),
        };
        let value = self
            .results
            .get(task)
            .and_then(|r| r.get(result))
            .ok_or_else(missing)?;
        match (index, key, value) {
            (Some(i), _, ParamValue::Array(items)) => items
                .get(i)
                .map(|s| ParamValue::String(s.clone()))
                .ok_or(ResultError::OutOfBounds {
                    task: task.to_string(),
                    result: result.to_string(),
                    index: i,
                    len: items.len(),
                }),
            (Some(_), _, _) => Err(missing()),
            (None, Some(k), ParamValue::Object(map)) => map
                .get(k)
                .map(|s| ParamValue::String(s.clone()))
                .ok_or_else(|| ResultError::MissingKey {
                    task: task.to_string(),
                    result: result.to_string(),
                    key: k.to_string(),
                }),
            (None, Some(_), _) => Err(missing()),
            (None, None, v) => Ok(v.clone()),
        }
    }

    /// The value of a reference, or `None` to leave it as written (paths; unknown names).
    pub fn lookup(&self, value: &RunValue) -> Option<ParamValue> {
        let text = |s: &str| Some(ParamValue::String(s.to_string()));
        match value {
            RunValue::TaskResult {
                task,
                result,
                index,
                key,
                ..
            } => self.task_result(task, result, *index, key.as_deref()).ok(),
            RunValue::TaskStatus { task } => match self.status.get(task) {
                Some((status, _)) => text(status),
                None => text("None"),
            },
            RunValue::TaskReason { task } => match self.status.get(task) {
                Some((_, reason)) => text(reason),
                None => text(""),
            },
            RunValue::TasksStatus {} => text(self.tasks_status.as_deref().unwrap_or("None")),
            RunValue::MatrixLength { task, result } => match result {
                None => self
                    .matrix_lengths
                    .get(task)
                    .map(|n| n.to_string())
                    .map(ParamValue::String),
                Some(r) => match self.results.get(task).and_then(|m| m.get(r)) {
                    Some(ParamValue::Array(items)) => text(&items.len().to_string()),
                    _ => None,
                },
            },
            RunValue::Context { variable } => self.context.get(variable).map(|s| text(s))?,
            RunValue::MatrixParam { name, .. } => self.matrix.get(name).map(|s| text(s))?,
            RunValue::Path { .. } => None,
            RunValue::Parent(parent) => self.parent.as_ref()?.lookup(parent),
        }
    }

    /// The run a reference is about and the reference there: [`RunValue::Parent`] layers
    /// peeled off.
    fn owner<'a>(&'a self, value: &'a RunValue) -> Option<(&'a Values, &'a RunValue)> {
        match value {
            RunValue::Parent(parent) => self.parent.as_deref()?.owner(parent),
            other => Some((self, other)),
        }
    }

    /// Renders a template; `paths` gives the path of a [`RunValue::Path`] (`None`: keep it).
    pub fn render(
        &self,
        template: &Template,
        paths: &dyn Fn(&PathRef, &str) -> Option<String>,
    ) -> String {
        template.render(|v| match v {
            RunValue::Path { path, tekton } => paths(path, tekton),
            other => self.lookup(other).map(|v| value_text(&v)),
        })
    }

    /// Renders a list (args, command, when values): an item that is exactly one array
    /// reference becomes the array's elements, as Tekton splices `$(...[*])`.
    pub fn render_list(
        &self,
        templates: &[Template],
        paths: &dyn Fn(&PathRef, &str) -> Option<String>,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(templates.len());
        for t in templates {
            match self.as_array(t) {
                Some(items) => out.extend(items),
                None => out.push(self.render(t, paths)),
            }
        }
        out
    }

    /// The array a template stands for, when it is exactly one reference to an array.
    fn as_array(&self, template: &Template) -> Option<Vec<String>> {
        let (values, r) = self.owner(template.as_single_ref()?)?;
        if !matches!(
            r,
            RunValue::TaskResult {
                index: None,
                key: None,
                ..
            }
        ) {
            return None;
        }
        match values.lookup(r)? {
            ParamValue::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Renders a value template, keeping its type; a string that is exactly one reference to
    /// an array or object result becomes that array or object.
    pub fn render_value(
        &self,
        value: &ValueTemplate,
        paths: &dyn Fn(&PathRef, &str) -> Option<String>,
    ) -> ParamValue {
        match value {
            ValueTemplate::String(t) => {
                if let Some((
                    values,
                    r @ RunValue::TaskResult {
                        index: None,
                        key: None,
                        ..
                    },
                )) = t.as_single_ref().and_then(|r| self.owner(r))
                    && let Some(v @ (ParamValue::Array(_) | ParamValue::Object(_))) =
                        values.lookup(r)
                {
                    return v;
                }
                ParamValue::String(self.render(t, paths))
            }
            ValueTemplate::Array(items) => ParamValue::Array(self.render_list(items, paths)),
            ValueTemplate::Object(map) => ParamValue::Object(
                map.iter()
                    .map(|(k, t)| (k.clone(), self.render(t, paths)))
                    .collect(),
            ),
        }
    }
}

/// No paths known: keep `$(...)` path references as written.
pub fn no_paths(_: &PathRef, _: &str) -> Option<String> {
    None
}

/// Every template of a value template.
pub fn value_templates(value: &ValueTemplate) -> Vec<&Template> {
    match value {
        ValueTemplate::String(t) => vec![t],
        ValueTemplate::Array(items) => items.iter().collect(),
        ValueTemplate::Object(map) => map.values().collect(),
    }
}

/// Calls `f` with every template of a task: when, matrix, params, display name and pod.
pub fn for_each_template<'a>(task: &'a TaskPlan, f: &mut impl FnMut(&'a Template)) {
    if let Some(t) = &task.display_name {
        f(t);
    }
    for w in &task.when {
        when_templates(w, f);
    }
    if let Some(m) = &task.matrix {
        for p in &m.params {
            value_templates(&p.value).into_iter().for_each(&mut *f);
        }
        for i in &m.include {
            for p in &i.params {
                value_templates(&p.value).into_iter().for_each(&mut *f);
            }
        }
    }
    for v in task.params.values() {
        value_templates(v).into_iter().for_each(&mut *f);
    }
    let pod = &task.pod;
    for s in &pod.steps {
        f(&s.image);
        s.command.iter().chain(&s.args).for_each(&mut *f);
        s.script.iter().for_each(&mut *f);
        s.env
            .iter()
            .filter_map(|e| e.value.as_ref())
            .for_each(&mut *f);
        s.working_dir.iter().for_each(&mut *f);
        s.stdout_path.iter().chain(&s.stderr_path).for_each(&mut *f);
        for m in &s.volume_mounts {
            f(&m.mount_path);
            m.sub_path.iter().for_each(&mut *f);
        }
        for w in &s.when {
            when_templates(w, f);
        }
    }
    for s in &pod.sidecars {
        f(&s.image);
        s.command.iter().chain(&s.args).for_each(&mut *f);
        s.script.iter().for_each(&mut *f);
        s.env
            .iter()
            .filter_map(|e| e.value.as_ref())
            .for_each(&mut *f);
        s.working_dir.iter().for_each(&mut *f);
    }
    for w in &pod.workspaces {
        w.sub_path.iter().for_each(&mut *f);
    }
}

fn when_templates<'a>(w: &'a tkc_compiler::plan::When, f: &mut impl FnMut(&'a Template)) {
    w.input.iter().for_each(&mut *f);
    w.values.iter().for_each(&mut *f);
    w.cel.iter().for_each(&mut *f);
}

/// Decodes a task result as Tekton does: a `string` result is the raw text; otherwise the
/// text is read as JSON (falling back to a string), and must have the declared type (and an
/// object its declared keys). An error is Tekton's `TaskRunValidationFailed` message.
pub fn decode_result(decl: &ResultDecl, raw: &str) -> Result<ParamValue, String> {
    let value = match decl.result_type {
        ValueType::String => return Ok(ParamValue::String(raw.to_string())),
        _ => serde_json::from_str::<ParamValue>(raw).unwrap_or(ParamValue::String(raw.to_string())),
    };
    let got = match &value {
        ParamValue::String(_) => ValueType::String,
        ParamValue::Array(_) => ValueType::Array,
        ParamValue::Object(_) => ValueType::Object,
    };
    if got != decl.result_type {
        return Err(format!(
            "Provided results don't match declared results; may be invalid JSON or missing result declaration: \"{}\": task result is expected to be \"{}\" type but was initialized to a different type \"{}\"",
            decl.name,
            type_name(decl.result_type),
            type_name(got)
        ));
    }
    if let ParamValue::Object(map) = &value {
        let missing: Vec<&str> = decl
            .properties
            .iter()
            .filter(|k| !map.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing keys for these results which are required in TaskResult's properties map[{}:[{}]]",
                decl.name,
                missing.join(" ")
            ));
        }
    }
    Ok(value)
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::String => "string",
        ValueType::Array => "array",
        ValueType::Object => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn results_decode_by_declared_type() {
        let decl = |t| ResultDecl {
            name: s("r"),
            result_type: t,
            properties: vec![],
            from_step: None,
        };
        assert_eq!(
            decode_result(&decl(ValueType::String), "[\"a\"]\n"),
            Ok(ParamValue::String(s("[\"a\"]\n")))
        );
        assert_eq!(
            decode_result(&decl(ValueType::Array), "[\"a\",\"b\"]"),
            Ok(ParamValue::Array(vec![s("a"), s("b")]))
        );
        assert!(decode_result(&decl(ValueType::Array), "plain").is_err());
    }
}
