//! Params declared and never used.

use crate::check::scope::pipeline_task_strings;
use crate::check::{
    Checker, TaskSite, Text, param_value_texts, pipeline_specs, pipeline_tasks, refs, task_specs,
    task_strings,
};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Object, ParamSpec, Resource, StepActionSpec, TaskSpec};
use crate::resolve::World;
use crate::syntax::{Node, Value};
use crate::vars::{RefKind, Selector};
use std::collections::HashSet;

declare_code! {
    /// # A param that nothing uses
    ///
    /// The param is declared but no `$(params.<name>)` refers to it: not in the steps,
    /// sidecars, step template, volumes, workspaces, results or other params' defaults (for a
    /// Pipeline: not in its tasks' params, matrix, `when`, names or subPaths, nor in the inline
    /// tasks it propagates into). A run may set it and see no effect. Using only keys of an
    /// object param (`$(params.repo.url)`) counts as a use.
    ///
    /// Remove the param, or use it.
    pub static UNUSED_PARAM = "tkc::lint::unused-param", Warning;
}

/// The names used by `$(params...)` references in some texts (`a` and `a.b` for
/// `$(params.a.b)`).
fn used_names<'a>(world: &World, texts: impl IntoIterator<Item = Text<'a>>) -> HashSet<String> {
    let mut used = HashSet::new();
    for text in texts {
        for (r, _) in &refs(world, text) {
            match &r.kind {
                RefKind::Param { name, selector, .. } => {
                    if let Selector::Key(k) = selector {
                        used.insert(format!("{name}.{k}"));
                    }
                    used.insert(name.clone());
                }
                // `$(params.repo.url.host)` is malformed (reported as such) but meant `repo`.
                RefKind::Malformed {
                    prefix: "params", ..
                } => {
                    if let Some(name) = r
                        .expr
                        .strip_prefix("params.")
                        .and_then(|rest| rest.split(['.', '[']).next())
                    {
                        used.insert(name.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    used
}

/// Every text of a Task spec a param can be used in.
/// Every string below a schemaless field (`env[].valueFrom`, `envFrom`): Tekton substitutes
/// params in them too (`ApplyReplacements` on the whole container), so a use there counts.
fn object_texts<'a>(node: &'a Node, out: &mut Vec<Text<'a>>) {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Scalar(s) => out.push(Text {
                text: &s.text,
                span: node.span,
            }),
            Value::Seq(items) => stack.extend(items),
            Value::Map(map) => stack.extend(map.entries.iter().map(|e| &e.value)),
            Value::Null => {}
        }
    }
}

/// The `env[].valueFrom` and `envFrom` texts of a container.
fn env_source_texts<'a>(
    env: &'a [crate::model::EnvVar],
    env_from: &'a [crate::model::Kube<crate::model::kube::EnvFromSource>],
    out: &mut Vec<Text<'a>>,
) {
    let objects = env
        .iter()
        .filter_map(|e| e.value_from.as_deref())
        .chain(env_from.iter().map(|e| &**e));
    for Object(node) in objects {
        if let Some(node) = node {
            object_texts(node, out);
        }
    }
}

fn task_texts(spec: &TaskSpec) -> Vec<Text<'_>> {
    let mut texts: Vec<Text> = task_strings(spec).into_iter().map(|s| s.text).collect();
    for step in &spec.steps {
        env_source_texts(&step.env, &step.env_from, &mut texts);
    }
    if let Some(t) = &spec.step_template {
        env_source_texts(&t.env, &t.env_from, &mut texts);
    }
    for sidecar in &spec.sidecars {
        env_source_texts(&sidecar.env, &sidecar.env_from, &mut texts);
    }
    texts.extend(
        spec.workspaces
            .iter()
            .filter_map(|w| w.mount_path.as_ref())
            .map(Text::from),
    );
    texts.extend(
        spec.params
            .iter()
            .filter_map(|p| p.default.as_ref())
            .flat_map(param_value_texts),
    );
    texts
}

fn step_action_texts(spec: &StepActionSpec) -> Vec<Text<'_>> {
    let mut texts: Vec<Text> = vec![Text::from(&spec.image)];
    texts.extend(spec.command.iter().map(Text::from));
    texts.extend(spec.args.iter().map(Text::from));
    texts.extend(
        spec.env
            .iter()
            .filter_map(|e| e.value.as_ref())
            .map(Text::from),
    );
    texts.extend(spec.script.iter().map(Text::from));
    texts.extend(spec.working_dir.iter().map(Text::from));
    for m in &spec.volume_mounts {
        texts.push(Text::from(&m.name));
        texts.push(Text::from(&m.mount_path));
    }
    texts.extend(
        spec.params
            .iter()
            .filter_map(|p| p.default.as_ref())
            .flat_map(param_value_texts),
    );
    texts
}

fn report(cx: &mut Checker, params: &[ParamSpec], used: &HashSet<String>, what: &str) {
    for p in params {
        // A missing name is a schema error already.
        if p.name.is_empty() || used.contains(p.name.as_str()) {
            continue;
        }
        cx.report(
            Diagnostic::new(
                &UNUSED_PARAM,
                format!("param `{}` is never used", p.name.value),
            )
            .with_label(
                p.name.span,
                format!("declared by {what}, referenced nowhere"),
            )
            .with_help(format!(
                "remove it, or use it as `$(params.{})`",
                p.name.value
            )),
        );
    }
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        // A Task without steps is a schema error; its params have nothing to be used by.
        if task.spec.params.is_empty() || task.spec.steps.is_empty() {
            continue;
        }
        let used = used_names(world, task_texts(task.spec));
        let what = match task.site {
            TaskSite::Resource => "the Task",
            _ => "the inline task",
        };
        report(cx, &task.spec.params, &used, what);
    }
    for pipeline in pipeline_specs(world) {
        let spec = pipeline.spec;
        if spec.params.is_empty() {
            continue;
        }
        let mut texts: Vec<Text> = Vec::new();
        let mut implicit: HashSet<String> = HashSet::new();
        for (_, pt) in pipeline_tasks(spec) {
            texts.extend(pipeline_task_strings(pt).into_iter().map(|s| s.text));
            if let Some(embedded) = &pt.task_spec {
                // Pipeline params propagate into inline tasks; one the inline task declares
                // without a value from the pipeline task is given the pipeline's.
                texts.extend(task_texts(&embedded.task));
                for p in &embedded.task.params {
                    if !pt.params.iter().any(|g| g.name.as_str() == p.name.as_str()) {
                        implicit.insert(p.name.value.clone());
                    }
                }
            }
        }
        texts.extend(
            spec.params
                .iter()
                .filter_map(|p| p.default.as_ref())
                .flat_map(param_value_texts),
        );
        let mut used = used_names(world, texts);
        used.extend(implicit);
        // A PipelineRun substitutes its pipeline's params into its workspace bindings.
        if let Some(run) = pipeline.run {
            used.extend(used_names(
                world,
                run.workspaces
                    .iter()
                    .filter_map(|w| w.sub_path.as_ref())
                    .map(Text::from),
            ));
        }
        report(cx, &spec.params, &used, "the Pipeline");
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            let used = used_names(world, step_action_texts(spec));
            report(cx, &spec.params, &used, "the StepAction");
        }
    }
}
