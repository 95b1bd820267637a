//! Backends run task attempts. One attempt is one pod in Tekton's terms: the steps of a task,
//! in order, sharing `/tekton` and the workspaces.

pub mod local;
pub mod outcome;

use crate::events::{EventSink, TaskId};
use crate::values::Values;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tkc_compiler::plan::{ParamValue, Plan, TaskPlan};
use tokio::sync::watch;

/// Who the run is, for names and `context.*`.
#[derive(Clone, Debug)]
pub struct RunIdentity {
    pub name: String,
    pub uid: String,
}

/// One attempt of one task run.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub run: RunIdentity,
    pub task: TaskId,
    /// The TaskRun's name (`<run>-<task>` or `<run>-<task>-<i>`).
    pub task_run: String,
    /// 0 for the first attempt.
    pub retry: u32,
    pub plan: Arc<TaskPlan>,
    /// What the templates of the task refer to, paths excepted.
    pub values: Arc<Values>,
}

/// Why the scheduler stops an attempt early (Tekton deletes the pod).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    Cancel,
    Timeout,
}

/// A receiver that turns `Some` when the attempt must stop.
pub type StopSignal = watch::Receiver<Option<Stop>>;

/// How one step of an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub name: String,
    pub exit_code: Option<i32>,
    /// See [`crate::StepSummary::status`].
    pub status: String,
}

/// How an attempt ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptOutcome {
    pub steps: Vec<StepOutcome>,
    /// The task results that were written, decoded by their declared type.
    pub results: BTreeMap<String, ParamValue>,
    /// `None`: the attempt succeeded. Otherwise Tekton's TaskRun reason and message.
    pub failure: Option<(String, String)>,
}

impl AttemptOutcome {
    /// An attempt that failed before any step ran.
    pub fn failed(reason: &str, message: String) -> AttemptOutcome {
        AttemptOutcome {
            steps: vec![],
            results: BTreeMap::new(),
            failure: Some((reason.to_string(), message)),
        }
    }

    /// A pod whose container cannot get its configuration (a missing Secret, ConfigMap or
    /// key): Tekton's `isPodHitConfigError` (pkg/pod/status.go) fails the TaskRun at once,
    /// with the kubelet's waiting `message` after the colon. One outcome for every backend.
    pub fn config_error(message: &str) -> AttemptOutcome {
        AttemptOutcome::failed(
            "CreateContainerConfigError",
            format!("Failed to create pod due to config error: {message}"),
        )
    }
}

/// Runs attempts. `Send + Sync` so that attempts run concurrently.
pub trait Backend: Send + Sync + 'static {
    /// Called once before the first attempt; returns notes for the user.
    fn prepare(&self, plan: &Plan, run: &RunIdentity) -> Result<Vec<String>, String>;

    /// Runs one attempt to its end, or until `stop` turns `Some` (then everything it started
    /// must be gone when it returns).
    fn run_attempt(
        &self,
        attempt: Attempt,
        stop: StopSignal,
        events: EventSink,
    ) -> impl Future<Output = AttemptOutcome> + Send;
}
