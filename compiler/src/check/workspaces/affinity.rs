//! The affinity assistant's rule: under the default `coschedule: workspaces`, the workspaces
//! of one TaskRun are backed by at most one PersistentVolumeClaim, since the assistant pins
//! the TaskRun's pod to the node of that one claim.
//!
//! Tekton checks it when it reconciles a TaskRun (`workspace.ValidateOnlyOnePVCIsUsed`,
//! `pkg/workspace/validate.go`, called from `Reconciler.prepare` in
//! `pkg/reconciler/taskrun/taskrun.go` when `GetAffinityAssistantBehavior` is
//! `AffinityAssistantPerWorkspace`): for a TaskRun as written, and for the TaskRun of each
//! pipeline task, whose bindings are the PipelineRun's bindings of the pipeline workspaces
//! it names (a `volumeClaimTemplate` becomes one claim per pipeline workspace).

use super::super::{Checker, pipeline_tasks};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{PipelineRunSpec, PipelineSpec, TaskRunSpec, WorkspaceBinding};
use crate::resolve::Resolved;
use crate::source::Span;

declare_code! {
    /// # More than one PersistentVolumeClaim bound to one TaskRun
    ///
    /// **Stage:** reconcile (the TaskRun fails with `TaskRunValidationFailed`: `more than one
    /// PersistentVolumeClaim is bound`; `workspace.ValidateOnlyOnePVCIsUsed` in
    /// `pkg/workspace/validate.go`).
    ///
    /// With the cluster's default affinity assistant (`coschedule: workspaces` in the
    /// `feature-flags` ConfigMap), each PVC-backed workspace pins the pods that use it to the
    /// node of its volume, so one TaskRun may use at most one claim: a `persistentVolumeClaim`
    /// (claims with the same `claimName` count once) or a `volumeClaimTemplate` (one claim per
    /// PipelineRun workspace). This applies to a TaskRun's bindings and to each pipeline task
    /// of a PipelineRun, through the PipelineRun workspaces it binds. `emptyDir`, `configMap`,
    /// `secret`, `projected` and `csi` do not count.
    ///
    /// ## Example
    /// ```yaml
    /// kind: PipelineRun
    /// spec:
    ///   workspaces:
    ///     - name: source
    ///       volumeClaimTemplate: {...}
    ///     - name: cache
    ///       persistentVolumeClaim: {claimName: go-cache}
    /// # a pipeline task binding both `source` and `cache` fails
    /// ```
    /// Put both in one volume (bind the same workspace with different `subPath`s), use an
    /// `emptyDir` for one, or, if the cluster sets `coschedule: pipelineruns`, `isolate-pipelinerun`
    /// or `disabled`, turn this code off in tkc.toml.
    pub static MORE_THAN_ONE_PVC = "tkc::workspaces::more-than-one-pvc", Error, reason = "TaskRunValidationFailed";
}

/// What backs a binding, as `ValidateOnlyOnePVCIsUsed` counts it: a claim's name, or a
/// template's workspace. `None`: not a claim, or a claim named by a reference (unknown).
fn claim_key(b: &WorkspaceBinding) -> Option<String> {
    if let Some(pvc) = &b.persistent_volume_claim {
        return (!crate::vars::has_references(&pvc.claim_name.value))
            .then(|| format!("claim {}", pvc.claim_name.value));
    }
    b.volume_claim_template
        .as_ref()
        .map(|_| format!("template {}", b.name.value))
}

/// Is any claim named by a reference (then two bindings may be one claim: not checked)?
fn has_unknown_claim<'a>(bindings: impl IntoIterator<Item = &'a WorkspaceBinding>) -> bool {
    bindings.into_iter().any(|b| {
        b.persistent_volume_claim
            .as_ref()
            .is_some_and(|p| crate::vars::has_references(&p.claim_name.value))
    })
}

/// The first binding of each distinct claim, in order.
fn distinct_claims<'a>(
    bindings: impl IntoIterator<Item = &'a WorkspaceBinding>,
) -> Vec<&'a WorkspaceBinding> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for b in bindings {
        if let Some(key) = claim_key(b)
            && !seen.contains(&key)
        {
            seen.push(key);
            out.push(b);
        }
    }
    out
}

fn claim_label(b: &WorkspaceBinding) -> String {
    match &b.persistent_volume_claim {
        Some(pvc) => format!("claim `{}`", pvc.claim_name.value),
        None => format!("a claim from `{}`'s volumeClaimTemplate", b.name.value),
    }
}

const HELP: &str = "bind one PVC-backed workspace (with `subPath`s for separate directories), use `emptyDir` for scratch space, or turn this code off if the cluster's affinity assistant is not `coschedule: workspaces`";

pub fn task_run(cx: &mut Checker, run: &TaskRunSpec) {
    if has_unknown_claim(&run.workspaces) {
        return;
    }
    let claims = distinct_claims(&run.workspaces);
    let [first, second, ..] = claims.as_slice() else {
        return;
    };
    cx.report(
        Diagnostic::new(
            &MORE_THAN_ONE_PVC,
            "more than one PersistentVolumeClaim is bound",
        )
        .with_label(second.name.span, claim_label(second))
        .with_secondary(first.name.span, claim_label(first))
        .with_help(HELP),
    );
}

pub fn pipeline_run(cx: &mut Checker, run: &PipelineRunSpec) {
    if has_unknown_claim(&run.workspaces) {
        return;
    }
    let world = cx.world;
    let spec: &PipelineSpec = match (&run.pipeline_spec, &run.pipeline_ref) {
        (Some(spec), _) => spec,
        (None, Some(r)) => match world.resolve_pipeline_ref(r) {
            Resolved::Found { spec, .. } => spec,
            _ => return,
        },
        _ => return,
    };
    // Per pipeline task: the run's bindings of the pipeline workspaces it binds.
    let mut offenders: Vec<(Span, String)> = Vec::new();
    let mut primary: Option<(&WorkspaceBinding, &WorkspaceBinding)> = None;
    for (_, task) in pipeline_tasks(spec) {
        let bound = task.workspaces.iter().filter_map(|w| {
            let pipeline_ws = w.workspace.as_ref().unwrap_or(&w.name);
            run.workspaces
                .iter()
                .find(|b| b.name.as_str() == pipeline_ws.as_str())
        });
        let claims = distinct_claims(bound);
        if let [first, second, ..] = claims.as_slice() {
            offenders.push((task.name.span, task.name.value.clone()));
            primary.get_or_insert((first, second));
        }
    }
    let Some((first, second)) = primary else {
        return;
    };
    let names: Vec<String> = offenders.iter().map(|(_, n)| format!("`{n}`")).collect();
    let mut d = Diagnostic::new(
        &MORE_THAN_ONE_PVC,
        format!(
            "more than one PersistentVolumeClaim is bound to the TaskRun of pipeline task{} {}",
            if names.len() > 1 { "s" } else { "" },
            names.join(", ")
        ),
    )
    .with_label(second.name.span, claim_label(second))
    .with_secondary(first.name.span, claim_label(first));
    for (span, name) in &offenders {
        d = d.with_secondary(*span, format!("`{name}` binds more than one"));
    }
    cx.report(d.with_help(HELP));
}
