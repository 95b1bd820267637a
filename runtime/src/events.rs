//! What a run reports while it goes (a typed event stream) and when it ends (the summary).

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tkc_compiler::plan::ParamValue;
use tokio::sync::mpsc::UnboundedSender;

/// Which task run an event is about: the pipeline task, and the combination of a matrix.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    pub name: String,
    pub index: Option<usize>,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}]", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Output stream of a step.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One thing that happened in a run, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The run begins; `tasks` lists the pipeline tasks (DAG then finally).
    RunStarted {
        kind: String,
        name: String,
        tasks: Vec<String>,
    },
    /// Something the user should know once (for example that images are not pulled).
    Note(String),
    /// An attempt of a task run started (`attempt` counts from 0).
    TaskStarted { task: TaskId, attempt: u32 },
    /// An attempt failed and the task run will be tried again.
    TaskRetrying {
        task: TaskId,
        attempt: u32,
        reason: String,
    },
    /// A task was not run.
    TaskSkipped { task: String, reason: String },
    /// A task run is done.
    TaskFinished {
        task: TaskId,
        status: TaskStatus,
        reason: String,
        message: String,
        duration: Duration,
    },
    /// A line a step wrote (without its newline).
    StepLog {
        task: TaskId,
        step: String,
        stream: Stream,
        line: String,
    },
    /// The run is done.
    RunFinished {
        status: String,
        reason: String,
        message: String,
    },
}

/// Where events go; a closed receiver is not an error (nobody is listening).
#[derive(Clone, Debug)]
pub struct EventSink(Option<UnboundedSender<Event>>);

impl EventSink {
    pub fn new(sender: UnboundedSender<Event>) -> EventSink {
        EventSink(Some(sender))
    }

    /// A sink that drops everything.
    pub fn discard() -> EventSink {
        EventSink(None)
    }

    pub fn emit(&self, event: Event) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(event);
        }
    }
}

/// The outcome of a task run, as `tkc run` reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TaskStatus {
    Succeeded,
    Failed,
    /// Failed, with `onError: continue` on the pipeline task.
    FailureIgnored,
    Skipped,
    Cancelled,
    TimedOut,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Succeeded => "Succeeded",
            TaskStatus::Failed => "Failed",
            TaskStatus::FailureIgnored => "FailureIgnored",
            TaskStatus::Skipped => "Skipped",
            TaskStatus::Cancelled => "Cancelled",
            TaskStatus::TimedOut => "TimedOut",
        }
    }
}

/// The summary `tkc run --output json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// `PipelineRun` or `TaskRun`.
    pub kind: String,
    pub name: String,
    /// `Succeeded` (Tekton's condition True: reason `Succeeded` or `Completed`), `Failed`,
    /// `Cancelled` or `TimedOut`.
    pub status: String,
    /// Tekton's reason of the run's condition.
    pub reason: String,
    pub duration_ms: u64,
    pub tasks: Vec<TaskSummary>,
    pub results: BTreeMap<String, ParamValue>,
    /// Why the run could not start (the `tkc check --format json` diagnostics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<serde_json::Value>,
    /// Tekton's condition message (not part of the JSON summary).
    #[serde(skip)]
    pub message: String,
}

/// One task run (one per matrix combination).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskSummary {
    pub name: String,
    /// The combination of a matrixed task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub status: TaskStatus,
    pub reason: String,
    pub attempts: u32,
    pub results: BTreeMap<String, ParamValue>,
    pub steps: Vec<StepSummary>,
    /// Wall-clock time of all attempts (not part of the JSON summary).
    #[serde(skip)]
    pub duration: Duration,
    /// Tekton's condition message (not part of the JSON summary).
    #[serde(skip)]
    pub message: String,
}

/// One step of the last attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepSummary {
    pub name: String,
    /// `None` when the step did not run to an exit (skipped, killed).
    pub exit_code: Option<i32>,
    /// `Succeeded`, `Failed`, `Continued` (failed with `onError: continue`), `Skipped`,
    /// `TimedOut` or `Cancelled`.
    pub status: String,
}
