//! Pipeline: a DAG of tasks with params, workspaces, results and `finally`.

use super::common::{Param, ParamSpec, ParamType, ParamValue, Str, WhenExpression};
use super::decode::{ApiFields, Spanned};
use super::duration::Duration;
use super::task::EmbeddedTask;
use crate::model;

model! {
    /// A DAG of tasks: they run as soon as the tasks they depend on (`runAfter`, result
    /// references) are done; `finally` tasks run at the end, whatever happened.
    #[what = "pipeline spec"]
    #[dropped_v1beta1 = ["resources"]]
    pub struct PipelineSpec {
        pub display_name: Option<Str> = "displayName",
        pub description: Option<Str> = "description",
        /// The tasks of the DAG.
        pub tasks: Vec<PipelineTask> = "tasks" { kdl_item: Some("task") },
        /// Inputs of the Pipeline.
        pub params: Vec<ParamSpec> = "params" { kdl_item: Some("param") },
        /// Volumes the PipelineRun provides and the tasks share.
        pub workspaces: Vec<PipelineWorkspaceDeclaration> = "workspaces" { kdl_item: Some("workspace") },
        /// Values the Pipeline emits, computed from task results.
        pub results: Vec<PipelineResult> = "results" { kdl_item: Some("result") },
        /// Tasks that run after all DAG tasks are done, whether they succeeded or not.
        pub finally: Vec<PipelineTask> = "finally" { kdl_item: Some("finally") },
    }
}

model! {
    /// One task of a Pipeline.
    #[what = "pipeline task"]
    #[dropped_v1beta1 = ["resources", "conditions"]]
    pub struct PipelineTask {
        /// A DNS label, unique over `tasks` and `finally`.
        pub name: Str = "name" { required: true, positional: true },
        pub display_name: Option<Str> = "displayName",
        pub description: Option<Str> = "description",
        /// The Task to run, by name or resolver.
        pub task_ref: Option<TaskRef> = "taskRef",
        /// The Task to run, written inline.
        pub task_spec: Option<Box<EmbeddedTask>> = "taskSpec" { schemaless: true },
        /// A Pipeline to run as this task (alpha: pipelines in pipelines).
        pub pipeline_ref: Option<Box<PipelineRef>> = "pipelineRef" { gate: ApiFields::Alpha },
        /// A Pipeline written inline to run as this task (alpha).
        pub pipeline_spec: Option<Box<PipelineSpec>> = "pipelineSpec" { gate: ApiFields::Alpha, schemaless: true },
        /// The task runs only if every expression is true; otherwise it is skipped (its
        /// dependents still run).
        pub when: Vec<WhenExpression> = "when" { kdl_item: Some("when") },
        /// How often a failed run is retried.
        pub retries: Option<Spanned<i64>> = "retries",
        /// Tasks that must be done before this one starts.
        pub run_after: Vec<Str> = "runAfter",
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// Fan out: one run per combination of these array params (beta).
        pub matrix: Option<Box<Matrix>> = "matrix" { gate: ApiFields::Beta },
        /// Pipeline workspaces given to the Task's workspaces.
        pub workspaces: Vec<WorkspacePipelineTaskBinding> = "workspaces" { kdl_item: Some("workspace") },
        /// The most one run of the task may take.
        pub timeout: Option<Box<Spanned<Duration>>> = "timeout",
        /// `continue`: a failure of this task does not fail the Pipeline (beta).
        pub on_error: Option<Str> = "onError" { gate: ApiFields::Beta, values: crate::model::ON_ERROR },
    }
}

impl Matrix {
    /// Every param the matrix passes: its own, then those of each `include`.
    pub fn all_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .chain(self.include.iter().flat_map(|i| &i.params))
    }
}

impl PipelineResult {
    /// The type as Tekton defaults it: explicit, else the value's (see
    /// [`ParamType::defaulted`]).
    pub fn result_type(&self) -> Option<ParamType> {
        ParamType::defaulted(
            self.r#type.as_deref().map(String::as_str),
            false,
            self.value.as_deref().map(ParamType::of_value),
        )
    }
}

impl PipelineTask {
    /// The params of the task's matrix, if it has one (see [`Matrix::all_params`]).
    pub fn matrix_params(&self) -> impl Iterator<Item = &Param> {
        self.matrix
            .as_deref()
            .into_iter()
            .flat_map(Matrix::all_params)
    }

    /// Does this task fan out over a matrix?
    pub fn is_matrixed(&self) -> bool {
        self.matrix
            .as_ref()
            .is_some_and(|m| !m.params.is_empty() || !m.include.is_empty())
    }
}

model! {
    /// A reference to a Task by name (in the same namespace) or through a resolver.
    #[what = "task ref"]
    pub struct TaskRef {
        pub name: Option<Str> = "name" { positional: true },
        /// `Task` (the default), or a custom task's kind.
        pub kind: Option<Str> = "kind",
        /// Set (with `kind`) for custom tasks.
        pub api_version: Option<Str> = "apiVersion",
        /// `git`, `hub`, `bundles`, `cluster`, `http`: fetched when the run starts.
        pub resolver: Option<Str> = "resolver",
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// v1beta1: an OCI bundle holding the Task (v1: the `bundles` resolver).
        pub bundle: Option<Str> = "bundle" { v1beta1_only: true },
    }
}

model! {
    /// A reference to a Pipeline by name or through a resolver.
    #[what = "pipeline ref"]
    pub struct PipelineRef {
        pub name: Option<Str> = "name" { positional: true },
        pub api_version: Option<Str> = "apiVersion",
        pub resolver: Option<Str> = "resolver",
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// v1beta1: an OCI bundle holding the Pipeline.
        pub bundle: Option<Str> = "bundle" { v1beta1_only: true },
    }
}

model! {
    /// Fan-out parameters of a pipeline task.
    #[what = "matrix"]
    pub struct Matrix {
        /// Array params: one run per combination of their values.
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// Extra combinations, or extra params for matching combinations.
        pub include: Vec<MatrixInclude> = "include" { kdl_item: Some("include") },
    }
}

model! {
    /// One `include` entry of a matrix.
    #[what = "matrix include"]
    pub struct MatrixInclude {
        pub name: Option<Str> = "name" { positional: true },
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
    }
}

model! {
    /// A pipeline workspace given to one of the Task's workspaces.
    #[what = "pipeline task workspace"]
    pub struct WorkspacePipelineTaskBinding {
        /// The Task's workspace.
        pub name: Str = "name" { required: true, positional: true },
        /// The Pipeline's workspace (default: the same name).
        pub workspace: Option<Str> = "workspace",
        /// A directory inside the workspace.
        pub sub_path: Option<Str> = "subPath",
    }
}

model! {
    /// A workspace the PipelineRun provides.
    #[what = "pipeline workspace"]
    pub struct PipelineWorkspaceDeclaration {
        pub name: Str = "name" { required: true, positional: true },
        pub description: Option<Str> = "description",
        /// The run may leave it unbound.
        pub optional: Option<Spanned<bool>> = "optional",
    }
}

model! {
    /// A value the Pipeline emits, from task results.
    #[what = "pipeline result"]
    pub struct PipelineResult {
        pub name: Str = "name" { required: true, positional: true },
        pub r#type: Option<Str> = "type" { values: crate::model::TYPES },
        pub description: Option<Str> = "description",
        /// `$(tasks.<task>.results.<result>)` (or several references in a string).
        pub value: Option<Spanned<ParamValue>> = "value",
    }
}
