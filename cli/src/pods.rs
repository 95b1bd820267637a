//! `tkc compile --emit pods`: the Kubernetes objects of every task attempt of a plan, as
//! multi-document YAML for review and `kubectl apply --dry-run=server`.
//!
//! What only the run knows (results of other tasks, statuses, uids, matrix combinations
//! computed from results) stays visible as `$(...)`, with a comment on the pod saying so.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use tkc_compiler::plan::{ParamValue, Plan, RunKind, RunValue, TaskPlan, ValueTemplate};
use tkc_pods::yaml::{Document, stream};
use tkc_pods::{AttemptInput, EntrypointBinary, Identity, Options, Resolve};

/// The values known when compiling, recording the references it could not fill.
struct Known<'a> {
    context: BTreeMap<&'static str, String>,
    combination: Option<&'a BTreeMap<String, String>>,
    task: &'a TaskPlan,
    missing: RefCell<BTreeSet<String>>,
}

impl Resolve for Known<'_> {
    fn value(&self, value: &RunValue) -> Option<ParamValue> {
        let found = match value {
            RunValue::Context { variable } => self
                .context
                .get(variable.as_str())
                .map(|v| ParamValue::String(v.clone())),
            RunValue::MatrixParam { name, index: None } => self
                .combination
                .and_then(|c| c.get(name))
                .cloned()
                .or_else(|| match self.task.params.get(name) {
                    Some(ValueTemplate::String(t)) if t.refs().is_empty() => {
                        Some(t.text().to_string())
                    }
                    _ => None,
                })
                .map(ParamValue::String),
            _ => None,
        };
        if found.is_none() {
            self.missing.borrow_mut().insert(reference_text(value));
        }
        found
    }
}

/// A reference as Tekton spells it; a path as the pod sees it.
fn reference_text(value: &RunValue) -> String {
    match value {
        RunValue::Path { tekton, .. } => tekton.clone(),
        other => tkc_compiler::lower::subst::ref_text(other),
    }
}

/// The tasks of a plan that run pods, with the name of the run each belongs to: those of a
/// child pipeline under its child run's name.
fn child_tasks<'p>(plan: &'p Plan, run: &str, out: &mut Vec<(String, &'p TaskPlan)>) {
    for task in &plan.tasks {
        match &task.pipeline {
            Some(child) => child_tasks(child, &tkc_pods::task_run_name(run, &task.name, None), out),
            None => out.push((run.to_string(), task)),
        }
    }
}

/// The whole stream: a header, then per task attempt its claims (each once), its scripts
/// ConfigMap and its pod; the entrypoint ConfigMaps last. Attempts that cannot be built
/// are named in a comment and returned as errors.
pub fn emit(
    plan: &Plan,
    binaries: &[EntrypointBinary],
    binary_docs: Vec<Document>,
) -> (String, Vec<String>) {
    let mut docs: Vec<Document> = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Vec<String> = vec![header(plan, binaries, !binary_docs.is_empty())];
    let mut claims_seen = BTreeSet::new();
    // A generated name gets five random characters; `xxxxx` stands for them.
    let run = &if plan.run.generate_name {
        format!("{}xxxxx", plan.run.name)
    } else {
        plan.run.name.clone()
    };
    // A child pipeline's tasks run in its child PipelineRun, `<run>-<pipeline task>`.
    let mut tasks: Vec<(String, &TaskPlan)> = vec![];
    child_tasks(plan, run, &mut tasks);
    // Pods are the top-level run's (labels, owner), as the kube backend creates them.
    let top = run;
    for (run, task) in &tasks {
        let run = &run.clone();
        let combinations: Vec<Option<(usize, &BTreeMap<String, String>)>> =
            match task.matrix.as_ref().map(|m| m.combinations.as_ref()) {
                None => vec![None],
                Some(Some(list)) => list.iter().enumerate().map(Some).collect(),
                Some(None) => {
                    pending.push(format!(
                        "task `{}`: its matrix combinations depend on results, known only at \
                         run time; one attempt is shown with the matrix params as `$(params...)`",
                        task.name
                    ));
                    vec![None]
                }
            };
        let count = combinations.len();
        for combination in combinations {
            let task_run = match plan.run.kind {
                RunKind::TaskRun => run.clone(),
                RunKind::PipelineRun => {
                    tkc_pods::task_run_name(run, &task.name, combination.map(|(i, _)| (i, count)))
                }
            };
            for retry in 0..=task.retries {
                let mut context = BTreeMap::from([
                    ("taskRun.name", task_run.clone()),
                    ("task.retry-count", retry.to_string()),
                ]);
                if !plan.run.generate_name {
                    context.insert("pipelineRun.name", run.clone());
                }
                let known = Known {
                    context,
                    combination: combination.map(|(_, c)| c),
                    task,
                    missing: RefCell::new(BTreeSet::new()),
                };
                let identity = Identity {
                    run: top.clone(),
                    run_uid: top.clone(),
                    namespace: plan.run.namespace.clone(),
                    task_run: task_run.clone(),
                    retry,
                };
                let input = AttemptInput {
                    plan,
                    task,
                    identity: &identity,
                    values: &known,
                    entrypoints: binaries,
                    options: &Options::default(),
                };
                let mut what = format!("task `{}`", task.name);
                if let Some((i, c)) = combination {
                    let values: Vec<String> = c.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    what.push_str(&format!(", combination {i} ({})", values.join(", ")));
                }
                if retry > 0 {
                    what.push_str(&format!(", retry {retry}"));
                }
                match tkc_pods::build(&input) {
                    Ok(objects) => {
                        for claim in &objects.claims {
                            if claims_seen.insert(claim.metadata.name.clone()) {
                                docs.push(with_pending(Document::of(claim), &mut pending));
                            }
                        }
                        for cm in &objects.config_maps {
                            docs.push(with_pending(Document::of(cm), &mut pending));
                        }
                        let mut pod = Document::of(&objects.pod).with_comment(what);
                        let missing = known.missing.into_inner();
                        if !missing.is_empty() {
                            let list: Vec<String> = missing.into_iter().collect();
                            pod = pod.with_comment(format!(
                                "needs values known only at run time, left as written: {}",
                                list.join(", ")
                            ));
                        }
                        docs.push(with_pending(pod, &mut pending));
                    }
                    Err(e) => {
                        pending.push(format!("{what}: no pod: {e}"));
                        errors.push(format!("{what}: {e}"));
                    }
                }
            }
        }
    }
    for mut doc in binary_docs {
        // In the run's namespace, beside the pods that mount it.
        if let Some(meta) = doc
            .object
            .get_mut("metadata")
            .and_then(|m| m.as_object_mut())
        {
            meta.insert(
                "namespace".to_string(),
                serde_json::Value::String(plan.run.namespace.clone()),
            );
        }
        docs.push(with_pending(doc, &mut pending));
    }
    if !pending.is_empty() {
        docs.push(Document {
            comments: pending,
            object: serde_json::Value::Null,
        });
    }
    (stream(&docs), errors)
}

/// `doc` with the comments collected so far above its own.
fn with_pending(mut doc: Document, pending: &mut Vec<String>) -> Document {
    let mut comments = std::mem::take(pending);
    comments.append(&mut doc.comments);
    doc.comments = comments;
    doc
}

fn header(plan: &Plan, binaries: &[EntrypointBinary], with_binaries: bool) -> String {
    let kind = match plan.run.kind {
        RunKind::PipelineRun => "PipelineRun",
        RunKind::TaskRun => "TaskRun",
    };
    let mut text = format!(
        "tkc compile --emit pods: the objects of every task attempt of {kind} `{}`\n\
         (claims and ConfigMaps before the pod that uses them). The run's uid is not known\n\
         yet: labels and claim names use its name.",
        plan.run.name
    );
    if plan.run.generate_name {
        text.push_str(
            "\nThe run has `generateName`: `xxxxx` stands for the random suffix its name gets.",
        );
    }
    if !with_binaries {
        let names: Vec<&str> = binaries.iter().map(|b| b.config_map.as_str()).collect();
        text.push_str(&format!(
            "\nThe entrypoint ConfigMap ({}) is not included: pass --entrypoint-binary FILE\n\
             (built by entrypoint/build-static.sh) to add it under its content-addressed name.",
            names.join(", ")
        ));
    }
    text
}
