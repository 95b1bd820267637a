//! `$(params...)` and task results pasted into a CEL `when` expression.

use super::script_injection::{fixed_or_structured, injected};
use crate::check::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::WhenExpression;
use crate::vars::RefKind;
use std::collections::HashSet;

declare_code! {
    /// # A param or result pasted into a CEL expression
    ///
    /// Tekton substitutes `$(params.x)` and `$(tasks.t.results.r)` into a `when` expression's
    /// `cel` text before the expression is parsed (`WhenExpression.applyReplacements` in
    /// `when_types.go`, then `ResolvedPipelineTask.EvaluateCEL` compiles the result), so the
    /// value becomes CEL code. With
    /// `cel: "'$(params.branch)' == 'main'"`, the branch name `x' || true || '` makes the
    /// expression true: a deploy gate that any run's params can open.
    ///
    /// Compare with `input`/`operator`/`values` instead: the value is compared as a string
    /// and never parsed. Params with an `enum`, and arrays and objects, are not reported.
    ///
    /// ## Example
    /// ```yaml
    /// when:
    ///   - cel: "'$(params.branch)' == 'main'"
    /// ```
    /// Write instead:
    /// ```yaml
    /// when:
    ///   - input: $(params.branch)
    ///     operator: in
    ///     values: [main]
    /// ```
    pub static CEL_INJECTION = "tkc::lint::cel-injection", Warning;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for pipeline in pipeline_specs(world) {
        let skipped = fixed_or_structured(&pipeline.spec.params);
        for (_, task) in pipeline_tasks(pipeline.spec) {
            for when in &task.when {
                check_when(cx, when, &skipped);
            }
        }
    }
    for task in task_specs(world) {
        let skipped = fixed_or_structured(&task.spec.params);
        for step in &task.spec.steps {
            for when in &step.when {
                check_when(cx, when, &skipped);
            }
        }
    }
}

fn check_when(cx: &mut Checker, when: &WhenExpression, skipped: &HashSet<&str>) {
    let Some(cel) = &when.cel else {
        return;
    };
    if !cel.contains("$(") {
        return;
    }
    let found = injected(cx, cel.into(), skipped, true);
    let Some((first, first_span)) = found.first() else {
        return;
    };
    let what = match &first.kind {
        RefKind::TaskResult { .. } => "a task result",
        _ => "a param",
    };
    let message = if found.len() == 1 {
        format!("`{first}` is pasted into a CEL expression as code")
    } else {
        format!(
            "{} values are pasted into a CEL expression as code",
            found.len()
        )
    };
    let mut d = Diagnostic::new(&CEL_INJECTION, message).with_label(
        *first_span,
        format!("{what}'s value becomes part of the expression"),
    );
    for (_, span) in found.iter().skip(1) {
        d = d.with_secondary(*span, "pasted here too");
    }
    cx.report(d.with_help(format!(
        "compare with input/operator/values, which never parse the value:\n\
         - input: {first}\n  operator: in\n  values: [...]"
    )));
}
