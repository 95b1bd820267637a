//! `tkc run --task/--from/--until/--rerun-failed`: the flags of a partial run, checked
//! against the plan and, for `--rerun-failed`, against the run they take up. Which tasks run
//! is decided by [`tkc_runtime::partial`], for every backend alike.

use super::store::{self, Reusable};
use std::path::PathBuf;
use tkc_compiler::plan::{Plan, RunKind};
use tkc_runtime::backend::local;
use tkc_runtime::partial::{self, Partial, Previous, Selection};

/// What `tkc run` does differently in a partial run.
#[derive(Debug, Default)]
pub struct Chosen {
    pub partial: Partial,
    /// What `--task`, `--from` and `--until` asked for, if anything (the kube backend stores
    /// it with the run, for `--attach`).
    pub selection: Option<Selection>,
    /// The kept run directory whose run-scoped workspaces the run uses (`--rerun-failed`).
    pub workspaces_from: Option<PathBuf>,
}

/// The tasks of a run of `plan` from the flags; an error says what is wrong and what to do.
pub fn choose(
    plan: &Plan,
    selection: &Selection,
    rerun_failed: Option<&str>,
) -> Result<Chosen, String> {
    if selection.is_empty() && rerun_failed.is_none() {
        return Ok(Chosen::default());
    }
    if plan.run.kind == RunKind::TaskRun {
        return Err(
            "--task, --from, --until and --rerun-failed choose among a pipeline's tasks; a TaskRun has one task: run it whole"
                .into(),
        );
    }
    let unknown = partial::unknown_tasks(plan, selection);
    if !unknown.is_empty() {
        let lines: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        return Err(lines.join("\nerror: "));
    }
    let mut flags = selection.flags();
    let Some(key) = rerun_failed else {
        return Ok(Chosen {
            partial: partial::plan_partial(plan, selection, None, flags),
            selection: Some(selection.clone()),
            workspaces_from: None,
        });
    };
    let (id, previous) = store::reusable(key)?;
    let workspaces_from = check_reusable(plan, &id, &previous)?;
    flags.push(format!("--rerun-failed {id}"));
    let previous_tasks = Previous {
        id: &id,
        tasks: &previous.summary.tasks,
        fingerprints: &previous.plan.fingerprints,
    };
    let changed = partial::changed_tasks(plan, &previous.plan.fingerprints);
    if !changed.is_empty() {
        let names: Vec<&str> = changed.iter().map(String::as_str).collect();
        eprintln!(
            "note: changed since run {id}, so run again: {}",
            names.join(", ")
        );
    }
    Ok(Chosen {
        partial: partial::plan_partial(plan, selection, Some(previous_tasks), flags),
        selection: (!selection.is_empty()).then(|| selection.clone()),
        workspaces_from,
    })
}

/// Whether the results and workspaces of run `id` can stand in for tasks of `plan`: the same
/// tasks, the same params, and its workspaces still there if the plan has run-scoped ones
/// (then the directory that holds them).
fn check_reusable(plan: &Plan, id: &str, previous: &Reusable) -> Result<Option<PathBuf>, String> {
    let cannot = format!("--rerun-failed {id}: that run cannot be taken up");
    let tasks: Vec<String> = plan.tasks.iter().map(|t| t.name.clone()).collect();
    if tasks != previous.plan.tasks {
        return Err(format!(
            "{cannot}: the pipeline's tasks changed since (then: {}; now: {}); run the pipeline whole",
            previous.plan.tasks.join(", "),
            tasks.join(", ")
        ));
    }
    let names: std::collections::BTreeSet<&String> = plan
        .params
        .keys()
        .chain(previous.plan.params.keys())
        .collect();
    for name in names {
        let (then, now) = (previous.plan.params.get(name), plan.params.get(name));
        if then != now {
            let text = |v: Option<&tkc_compiler::plan::ParamValue>| match v {
                Some(v) => tkc_runtime::values::value_text(v),
                None => "(none)".into(),
            };
            return Err(format!(
                "{cannot}: param `{name}` was `{}` and is now `{}`; pass the same params (--param {name}=...) or run the pipeline whole",
                text(then),
                text(now)
            ));
        }
    }
    let scoped = local::run_scoped_workspaces(plan);
    if scoped.is_empty() {
        return Ok(None);
    }
    match &previous.plan.workspaces {
        Some(dir) if dir.is_dir() => Ok(Some(dir.clone())),
        Some(dir) => Err(format!(
            "{cannot}: its workspaces ({}) are gone with its run directory {}; run the pipeline whole",
            scoped.join(", "),
            dir.display()
        )),
        None => Err(format!(
            "{cannot}: it was not kept, so the files of its workspaces ({}) are gone; run the pipeline whole with --keep to be able to rerun its failures, or bind them to your own directories (--workspace NAME=dir:PATH)",
            scoped.join(", ")
        )),
    }
}
