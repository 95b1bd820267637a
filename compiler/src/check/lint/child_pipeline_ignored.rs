//! `tkc::lint::child-pipeline-ignored`: `retries` or `timeout` on a pipeline task that runs a
//! Pipeline, which Tekton does not pass on.

use crate::check::{Checker, pipeline_specs, pipeline_tasks};
use crate::declare_code;
use crate::diag::Diagnostic;

declare_code! {
    /// # `retries` or `timeout` on a pipeline task that runs a Pipeline
    ///
    /// A pipeline task with `pipelineRef` or `pipelineSpec` (alpha) runs a child PipelineRun.
    /// Tekton creates it with the task's params and workspaces only
    /// (`createChildPipelineRun` in `pkg/reconciler/pipelinerun/pipelinerun.go`): the task's
    /// `retries` and `timeout` are accepted and ignored, so the child runs once, with the
    /// default timeouts (`docs/pipelines-in-pipelines.md` lists it as a limitation). Set
    /// `retries` and `timeout` on the tasks of the child Pipeline instead.
    ///
    /// ## Example
    /// ```yaml
    /// - name: scans
    ///   retries: 2        # not applied
    ///   timeout: 10m      # not applied
    ///   pipelineRef:
    ///     name: security-scans
    /// ```
    pub static CHILD_PIPELINE_IGNORED = "tkc::lint::child-pipeline-ignored", Warning;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for pipeline in pipeline_specs(world) {
        for (_, pt) in pipeline_tasks(pipeline.spec) {
            if pt.pipeline_ref.is_none() && pt.pipeline_spec.is_none() {
                continue;
            }
            let spans = [
                pt.retries.as_ref().map(|r| (r.span, "retries")),
                pt.timeout.as_ref().map(|t| (t.span, "timeout")),
            ];
            for (span, field) in spans.into_iter().flatten() {
                cx.report(
                    Diagnostic::new(
                        &CHILD_PIPELINE_IGNORED,
                        format!(
                            "`{field}` of pipeline task `{}` is not applied: Tekton does not pass it to the child PipelineRun",
                            pt.name.value
                        ),
                    )
                    .with_label(span, "ignored for a pipeline in a pipeline")
                    .with_help(format!(
                        "set `{field}` on the tasks of the child Pipeline instead"
                    )),
                );
            }
        }
    }
}
