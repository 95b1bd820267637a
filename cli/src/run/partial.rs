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
    if !selection.is_empty() && partial::selected(plan, selection).is_empty() {
        return Err(empty_selection(selection));
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

/// Why a selection that picks no DAG task is refused: a run of only the finally tasks would
/// report Succeeded having done nothing that was asked (only `--from A --until B` with `B`
/// not downstream of `A` gets here: every other selection names a task it then runs).
fn empty_selection(selection: &Selection) -> String {
    format!(
        "{}: no task is selected (`--until`'s task does not come after `--from`'s); swap them or name tasks that lie on one path",
        selection.flags().join(" ")
    )
}

/// Whether the results and workspaces of run `id` can stand in for tasks of `plan`: the same
/// tasks, the same params, the same workspace bindings, and its workspaces still there (and
/// still private to the user) if the plan has run-scoped ones (then the directory that holds
/// them).
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
    check_bindings(plan, &cannot, previous)?;
    let scoped = local::run_scoped_workspaces(plan);
    if scoped.is_empty() {
        return Ok(None);
    }
    match &previous.plan.workspaces {
        // A run directory of another user's (or a link to one) would hand the rerun files
        // that user wrote: the same check as for a fresh run directory.
        Some(dir) if std::fs::symlink_metadata(dir).is_ok() => {
            local::check_private(dir).map_err(|e| format!("{cannot}: {e}"))?;
            Ok(Some(dir.clone()))
        }
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

/// Refuses a run whose workspaces were bound otherwise: the reused tasks wrote to the old
/// bindings, the tasks that run again would read the new ones.
fn check_bindings(plan: &Plan, cannot: &str, previous: &Reusable) -> Result<(), String> {
    let now = store::binding_texts(plan);
    let then = &previous.plan.bindings;
    let names: std::collections::BTreeSet<&String> = now.keys().chain(then.keys()).collect();
    for name in names {
        let (was, is) = (then.get(name), now.get(name));
        if was != is {
            let text = |b: Option<&String>| b.map_or("(nothing)".to_string(), Clone::clone);
            return Err(format!(
                "{cannot}: workspace `{name}` was bound to `{}` and is now bound to `{}`; bind it the same way (--workspace {name}=...) or run the pipeline whole",
                text(was),
                text(is)
            ));
        }
    }
    Ok(())
}
