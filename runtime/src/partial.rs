//! Partial runs, tkc's own (Tekton has no such thing): which of a pipeline's DAG tasks a run
//! runs, which it leaves out, and which it takes from an earlier run instead of running them.
//!
//! The selection lives here, on the plan, so that every backend gets the same one; the
//! [scheduler](crate::scheduler) applies it before the first task starts. A task left out is
//! never a dependency of one that runs: a selection always takes in what its tasks need
//! (their `runAfter`, the producers of the results they use, in params and `when` alike),
//! transitively. `finally` tasks are the pipeline's cleanup: every partial run runs them.

use crate::events::{TaskStatus, TaskSummary};
use crate::values;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tkc_compiler::plan::{Plan, RunValue, Section, TaskPlan, Template};

/// The reason of a task a partial run leaves out.
pub const NOT_SELECTED: &str = "Not selected for this partial run";

/// Which tasks the user asked for (`--task`, `--from`, `--until`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// `--task`: each of these, with what it needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// `--from`: this task and everything downstream of it, with what they need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `--until`: this task and what it needs, nothing after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.from.is_none() && self.until.is_none()
    }

    /// The flags as given (`--task build`), for the summary.
    pub fn flags(&self) -> Vec<String> {
        self.names()
            .into_iter()
            .map(|(flag, name)| format!("{flag} {name}"))
            .collect()
    }

    /// Each name with the flag that gave it.
    pub fn names(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> =
            self.tasks.iter().map(|t| ("--task", t.as_str())).collect();
        out.extend(self.from.as_deref().map(|t| ("--from", t)));
        out.extend(self.until.as_deref().map(|t| ("--until", t)));
        out
    }
}

/// An earlier run whose succeeded task runs may stand in for tasks (`--rerun-failed`).
#[derive(Clone, Debug)]
pub struct Previous<'a> {
    /// Its id (`tkc runs`).
    pub id: &'a str,
    /// Its task runs, as its summary lists them.
    pub tasks: &'a [TaskSummary],
    /// The [`fingerprint`] of each of its tasks (empty: not known, taken as unchanged).
    pub fingerprints: &'a BTreeMap<String, String>,
}

/// What a task is, as far as reusing it goes: its lowered plan (params substituted, pod,
/// `when`, matrix), hashed. A task whose fingerprint changed since a run is not reused from
/// it: its old results may not be what it gives now.
pub fn fingerprint(task: &TaskPlan) -> String {
    tkc_compiler::names::md5_hex(&serde_json::to_string(task).unwrap_or_default())
}

/// The DAG tasks of `plan` whose [`fingerprint`] differs from the one in `previous`.
pub fn changed_tasks(plan: &Plan, previous: &BTreeMap<String, String>) -> BTreeSet<String> {
    dag_tasks(plan)
        .filter(|t| previous.get(&t.name).is_some_and(|f| *f != fingerprint(t)))
        .map(|t| t.name.clone())
        .collect()
}

/// What a run does differently from a whole run; the default is a whole run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Partial {
    /// DAG tasks not run.
    pub not_selected: BTreeSet<String>,
    /// DAG tasks whose task runs (one per matrix combination) come from run `reused_from`.
    pub reused: BTreeMap<String, Vec<TaskSummary>>,
    pub reused_from: Option<String>,
    /// The flags that made the run partial, for its summary.
    pub flags: Vec<String>,
}

/// How the summary of a partial run says it is one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialSummary {
    /// The flags that chose the tasks, as given (`--task build`, `--rerun-failed RUN`).
    pub flags: Vec<String>,
    /// The run whose succeeded task runs this run reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

impl Partial {
    pub fn is_whole(&self) -> bool {
        self.not_selected.is_empty() && self.reused.is_empty() && self.flags.is_empty()
    }

    pub fn summary(&self) -> Option<PartialSummary> {
        (!self.is_whole()).then(|| PartialSummary {
            flags: self.flags.clone(),
            reused_from: self.reused_from.clone(),
        })
    }
}

/// A name of `selection` that is not a DAG task of `plan`, with the flag, a suggestion and
/// whether it is a `finally` task (which every run runs anyway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTask {
    pub flag: &'static str,
    pub name: String,
    pub finally: bool,
    pub did_you_mean: Option<String>,
}

impl std::fmt::Display for UnknownTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (flag, name) = (self.flag, &self.name);
        if self.finally {
            return write!(
                f,
                "{flag} {name}: `{name}` is a finally task; finally tasks run in every partial run"
            );
        }
        write!(f, "{flag} {name}: the pipeline has no task `{name}`")?;
        match &self.did_you_mean {
            Some(s) => write!(f, "; did you mean `{s}`?"),
            None => Ok(()),
        }
    }
}

/// The names of `selection` that are not DAG tasks of `plan`.
pub fn unknown_tasks(plan: &Plan, selection: &Selection) -> Vec<UnknownTask> {
    let dag: Vec<&str> = dag_tasks(plan).map(|t| t.name.as_str()).collect();
    selection
        .names()
        .into_iter()
        .filter(|(_, name)| !dag.contains(name))
        .map(|(flag, name)| UnknownTask {
            flag,
            name: name.to_string(),
            finally: plan
                .tasks
                .iter()
                .any(|t| t.section == Section::Finally && t.name == name),
            did_you_mean: tkc_compiler::suggest::did_you_mean(name, dag.iter().copied())
                .map(str::to_string),
        })
        .collect()
}

fn dag_tasks(plan: &Plan) -> impl Iterator<Item = &TaskPlan> {
    plan.tasks.iter().filter(|t| t.section == Section::Tasks)
}

/// The tasks `task` needs: the plan's `after` (its `runAfter` and the producers of the
/// results it uses, the edges the scheduler orders by), and the producers of results it uses
/// in the bracket form (`$(tasks.a.results["x"])`), which Tekton orders nothing after
/// (`PipelineTaskResultRefs`' pattern does not match them; `task_after` in lowering) but which
/// a run without them cannot resolve at all.
fn direct_needs(task: &TaskPlan) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = task.after.iter().cloned().collect();
    values::for_each_template(task, &mut |t: &Template| {
        for r in t.refs() {
            if let RunValue::TaskResult { task: producer, .. } = &r.value {
                out.insert(producer.clone());
            }
        }
    });
    out.remove(&task.name);
    out
}

/// `roots` and every DAG task they need, transitively.
pub fn with_needs(plan: &Plan, roots: &BTreeSet<String>) -> BTreeSet<String> {
    let needs: BTreeMap<&str, BTreeSet<String>> = dag_tasks(plan)
        .map(|t| (t.name.as_str(), direct_needs(t)))
        .collect();
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        if let Some(n) = needs.get(name.as_str()) {
            todo.extend(n.iter().filter(|p| !out.contains(*p)).cloned());
        }
        out.insert(name);
    }
    out.retain(|n| needs.contains_key(n.as_str()));
    out
}

/// `roots` and every DAG task that needs one of them, transitively.
pub fn with_dependents(plan: &Plan, roots: &BTreeSet<String>) -> BTreeSet<String> {
    let tasks: Vec<(&str, BTreeSet<String>)> = dag_tasks(plan)
        .map(|t| (t.name.as_str(), direct_needs(t)))
        .collect();
    let mut out = roots.clone();
    loop {
        let before = out.len();
        for (name, needs) in &tasks {
            if needs.iter().any(|n| out.contains(n)) {
                out.insert((*name).to_string());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// The DAG tasks a selection runs (or reuses): every DAG task when it is empty. `--task`
/// adds each task; `--from` its task and what is downstream of it; `--until` its task and
/// what is upstream of it; `--from` and `--until` together, the tasks between them. What
/// these tasks need is always added: a task cannot run without its parents' results.
pub fn selected(plan: &Plan, selection: &Selection) -> BTreeSet<String> {
    if selection.is_empty() {
        return dag_tasks(plan).map(|t| t.name.clone()).collect();
    }
    let one = |name: &String| BTreeSet::from([name.clone()]);
    let from = selection
        .from
        .as_ref()
        .map(|t| with_dependents(plan, &one(t)));
    let until = selection.until.as_ref().map(|t| with_needs(plan, &one(t)));
    let mut targets: BTreeSet<String> = match (from, until) {
        (Some(f), Some(u)) => f.intersection(&u).cloned().collect(),
        (Some(s), None) | (None, Some(s)) => s,
        (None, None) => BTreeSet::new(),
    };
    targets.extend(selection.tasks.iter().cloned());
    with_needs(plan, &targets)
}

/// What a run of `plan` does: runs the tasks `selection` selects, except those whose task
/// runs in `previous` all succeeded, which it reuses; but the tasks `--task` names,
/// `--from`'s task and what is downstream of it, and the tasks that changed since
/// ([`changed_tasks`]) run again whatever they did before, and so does every task downstream
/// of one that runs again (its inputs may change).
pub fn plan_partial(
    plan: &Plan,
    selection: &Selection,
    previous: Option<Previous<'_>>,
    flags: Vec<String>,
) -> Partial {
    let selected = selected(plan, selection);
    let not_selected = dag_tasks(plan)
        .map(|t| t.name.clone())
        .filter(|n| !selected.contains(n))
        .collect();
    let mut partial = Partial {
        not_selected,
        flags,
        ..Partial::default()
    };
    let Some(previous) = previous else {
        return partial;
    };
    let mut again: BTreeSet<String> = selection.tasks.iter().cloned().collect();
    again.extend(changed_tasks(plan, previous.fingerprints));
    if let Some(from) = &selection.from {
        again.extend(with_dependents(plan, &BTreeSet::from([from.clone()])));
    }
    let mut reusable: BTreeMap<String, Vec<TaskSummary>> = BTreeMap::new();
    for t in previous.tasks {
        reusable.entry(t.name.clone()).or_default().push(t.clone());
    }
    for name in &selected {
        let succeeded = reusable.get(name).is_some_and(|runs| {
            !runs.is_empty() && runs.iter().all(|r| r.status == TaskStatus::Succeeded)
        });
        if !succeeded {
            again.insert(name.clone());
        }
    }
    let again = with_dependents(plan, &again);
    for name in selected.iter().filter(|n| !again.contains(*n)) {
        if let Some(runs) = reusable.remove(name) {
            partial.reused.insert(name.clone(), runs);
        }
    }
    partial.reused_from = Some(previous.id.to_string());
    partial
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use tkc_compiler::lower::RunRequest;
    use tkc_compiler::source::SourceMap;

    fn plan_of(yaml: &str) -> Plan {
        let mut sources = SourceMap::new();
        let file = sources.add("run.yaml", yaml);
        let compiled = tkc_compiler::compile(
            &sources,
            &[file],
            &[],
            &RunRequest::default(),
            &Default::default(),
        );
        compiled.plan.expect("the pipeline compiles")
    }

    /// `use` reads `make`'s result in the bracket form: Tekton orders nothing after it
    /// (`PipelineTaskResultRefs`' pattern does not match brackets), but `--task use` still
    /// runs `make`, without which the reference could never resolve; `other` stays out.
    #[test]
    fn a_task_needs_the_producers_of_its_bracket_references() {
        let plan = plan_of(
            r#"apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: make
      taskSpec:
        results: [{name: v}]
        steps: [{name: v, image: alpine, script: "printf 7 > $(results.v.path)"}]
    - name: other
      taskSpec:
        steps: [{name: o, image: alpine, script: "true"}]
    - name: use
      params: [{name: v, value: '$(tasks.make.results["v"])'}]
      taskSpec:
        params: [{name: v}]
        steps: [{name: u, image: alpine, script: "echo $(params.v)"}]
"#,
        );
        let using = plan.tasks.iter().find(|t| t.name == "use");
        assert_eq!(using.map(|t| t.after.len()), Some(0), "no edge in the plan");
        let roots = BTreeSet::from(["use".to_owned()]);
        let want = BTreeSet::from(["make".to_owned(), "use".to_owned()]);
        assert_eq!(with_needs(&plan, &roots), want);
    }
}
