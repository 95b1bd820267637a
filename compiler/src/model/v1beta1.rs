//! `tekton.dev/v1beta1` → `v1`, as Tekton's conversion webhook does it.
//!
//! Renamed fields (`resources` → `computeResources`, `stepOverrides` → `stepSpecs`,
//! `taskServiceAccountName` → `serviceAccountName`, ...) are read under their v1beta1 names by
//! the decoder; fields dropped in v1 (PipelineResources, deprecated container fields) are
//! reported as warnings there. What is left is moving v1beta1-only fields to their v1 places.

use super::common::{Param, ParamValue, Str};
use super::decode::Spanned;
use super::pipeline::{PipelineRef, PipelineSpec, PipelineTask, TaskRef};
use super::run::{TaskRunTemplate, Timeouts};
use super::{Document, Resource};

/// Converts a v1beta1 document (already decoded with v1beta1 field names) to v1.
pub fn convert(document: &mut Document) {
    match &mut document.resource {
        Resource::Pipeline(spec) => convert_pipeline(spec),
        Resource::TaskRun(run) => {
            if let Some(task_ref) = &mut run.task_ref {
                convert_task_ref(task_ref);
            }
        }
        Resource::PipelineRun(run) => {
            if let Some(pipeline_ref) = &mut run.pipeline_ref {
                convert_pipeline_ref(pipeline_ref);
            }
            if let Some(spec) = &mut run.pipeline_spec {
                convert_pipeline(spec);
            }
            if let Some(timeout) = run.timeout.take() {
                let timeouts = run.timeouts.get_or_insert_with(|| Timeouts {
                    span: timeout.span,
                    ..Timeouts::default()
                });
                if timeouts.pipeline.is_none() {
                    timeouts.pipeline = Some(timeout);
                }
            }
            let service_account = run.service_account_name.take();
            let pod_template = run.pod_template.take();
            if service_account.is_some() || pod_template.is_some() {
                let template = run
                    .task_run_template
                    .get_or_insert_with(TaskRunTemplate::default);
                if template.service_account_name.is_none() {
                    template.service_account_name = service_account;
                }
                if template.pod_template.is_none() {
                    template.pod_template = pod_template;
                }
            }
        }
        Resource::Task(_)
        | Resource::StepAction(_)
        | Resource::ConfigMap(_)
        | Resource::Secret(_) => {}
    }
}

fn convert_pipeline(spec: &mut PipelineSpec) {
    for task in spec.tasks.iter_mut().chain(spec.finally.iter_mut()) {
        convert_pipeline_task(task);
    }
}

fn convert_pipeline_task(task: &mut PipelineTask) {
    if let Some(task_ref) = &mut task.task_ref {
        convert_task_ref(task_ref);
    }
}

/// `taskRef.bundle` becomes the `bundles` resolver with params `bundle`, `name`, `kind`.
fn convert_task_ref(task_ref: &mut TaskRef) {
    if let Some(bundle) = task_ref.bundle.take() {
        let name = task_ref.name.take();
        let kind = task_ref
            .kind
            .take()
            .map_or_else(|| "task".to_string(), |k| k.value.to_lowercase());
        task_ref.resolver = Some(Spanned::new("bundles".to_string(), bundle.span));
        task_ref.params = bundle_params(bundle, name, kind);
    }
}

fn convert_pipeline_ref(pipeline_ref: &mut PipelineRef) {
    if let Some(bundle) = pipeline_ref.bundle.take() {
        let name = pipeline_ref.name.take();
        pipeline_ref.resolver = Some(Spanned::new("bundles".to_string(), bundle.span));
        pipeline_ref.params = bundle_params(bundle, name, "pipeline".to_string());
    }
}

fn bundle_params(bundle: Str, name: Option<Str>, kind: String) -> Vec<Param> {
    let span = bundle.span;
    let param = |key: &str, value: String, span| Param {
        name: Spanned::new(key.to_string(), span),
        value: Some(Spanned::new(ParamValue::String(value), span)),
        span,
        head: span,
    };
    let name_span = name.as_ref().map_or(span, |n| n.span);
    vec![
        param("bundle", bundle.value, span),
        param("name", name.map(|n| n.value).unwrap_or_default(), name_span),
        param("kind", kind, span),
    ]
}
