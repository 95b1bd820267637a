//! What a run reports while it goes (a typed event stream) and when it ends (the summary).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// A pipeline task's dependencies are done and it will run: its task runs wait for a free
    /// slot (the parallelism limit) until they start.
    TaskReady { task: String },
    /// An attempt of a task run started (`attempt` counts from 0).
    TaskStarted { task: TaskId, attempt: u32 },
    /// An attempt waits for its sidecars to be ready before its first step (`ready: false`),
    /// or they are (`ready: true`).
    TaskSidecars { task: TaskId, ready: bool },
    /// An attempt failed and the task run will be tried again.
    TaskRetrying {
        task: TaskId,
        attempt: u32,
        reason: String,
    },
    /// A task was not run.
    TaskSkipped { task: String, reason: String },
    /// A task is not run: the task runs of run `from` stand in for it (`--rerun-failed`).
    TaskReused { task: String, from: String },
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
pub struct EventSink {
    sender: Option<UnboundedSender<Event>>,
    logs: Option<Arc<LogBudget>>,
}

impl EventSink {
    pub fn new(sender: UnboundedSender<Event>) -> EventSink {
        EventSink {
            sender: Some(sender),
            logs: None,
        }
    }

    /// A sink whose step logs wait while `budget` is spent: the receiver
    /// [releases](LogBudget::release) each [`Event::StepLog`] once it has written it, so a
    /// step that writes faster than the output is read is slowed down (its pipe fills and
    /// its writes block, as in a container whose log is not read) instead of queueing its
    /// output in memory.
    pub fn with_log_budget(sender: UnboundedSender<Event>, budget: Arc<LogBudget>) -> EventSink {
        EventSink {
            sender: Some(sender),
            logs: Some(budget),
        }
    }

    /// A sink that drops everything.
    pub fn discard() -> EventSink {
        EventSink {
            sender: None,
            logs: None,
        }
    }

    pub fn emit(&self, event: Event) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(event);
        }
    }

    /// Emits a [`Event::StepLog`], first waiting for room in the log budget, if any.
    pub async fn emit_log(&self, task: TaskId, step: String, stream: Stream, line: String) {
        let Some(sender) = &self.sender else {
            return;
        };
        if let Some(budget) = &self.logs {
            // A receiver that is gone releases nothing: do not wait for it.
            if !sender.is_closed() {
                budget.acquire(LogBudget::cost(&line)).await;
            }
        }
        let _ = sender.send(Event::StepLog {
            task,
            step,
            stream,
            line,
        });
    }
}

/// How many bytes of step logs may wait, sent and not yet written, at once.
#[derive(Debug)]
pub struct LogBudget {
    limit: usize,
    pending: std::sync::Mutex<usize>,
    room: tokio::sync::Notify,
}

impl LogBudget {
    /// A budget of `limit` bytes (a line larger than it still passes, alone).
    pub fn new(limit: usize) -> LogBudget {
        LogBudget {
            limit,
            pending: std::sync::Mutex::new(0),
            room: tokio::sync::Notify::new(),
        }
    }

    /// What a line counts for: its bytes and the event around it.
    pub fn cost(line: &str) -> usize {
        line.len() + 64
    }

    async fn acquire(&self, cost: usize) {
        loop {
            let notified = self.room.notified();
            {
                let mut pending = self
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *pending == 0 || *pending + cost <= self.limit {
                    *pending += cost;
                    return;
                }
            }
            notified.await;
        }
    }

    /// The receiver has written a line of this cost.
    pub fn release(&self, cost: usize) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending = pending.saturating_sub(cost);
        drop(pending);
        self.room.notify_waiters();
    }
}

/// The outcome of a task run, as `tkc run` reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    Succeeded,
    Failed,
    /// Failed, with `onError: continue` on the pipeline task.
    FailureIgnored,
    Skipped,
    Cancelled,
    TimedOut,
    /// Left out of a partial run (`--task`, `--from`, `--until`): tkc's, not Tekton's.
    NotRun,
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
            TaskStatus::NotRun => "NotRun",
        }
    }
}

/// The summary `tkc run --output json` prints (and `--rerun-failed` reads back).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<serde_json::Value>,
    /// What made this a partial run; absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<crate::partial::PartialSummary>,
    /// Tekton's condition message (not part of the JSON summary).
    #[serde(skip)]
    pub message: String,
}

/// One task run (one per matrix combination).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub name: String,
    /// The combination of a matrixed task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub status: TaskStatus,
    pub reason: String,
    pub attempts: u32,
    pub results: BTreeMap<String, ParamValue>,
    pub steps: Vec<StepSummary>,
    /// The child PipelineRun of a pipeline task that runs a Pipeline (alpha
    /// `pipelineRef`/`pipelineSpec`), with its own tasks and results.
    #[serde(
        rename = "pipelineRun",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pipeline_run: Option<Box<RunSummary>>,
    /// The run whose task run this is, when `--rerun-failed` reused it instead of running
    /// the task again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
    /// Wall-clock time of all attempts (not part of the JSON summary).
    #[serde(skip)]
    pub duration: Duration,
    /// Tekton's condition message (not part of the JSON summary).
    #[serde(skip)]
    pub message: String,
}

/// One step of the last attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    pub name: String,
    /// `None` when the step did not run to an exit (skipped, killed).
    pub exit_code: Option<i32>,
    /// `Succeeded`, `Failed`, `Continued` (failed with `onError: continue`), `Skipped`,
    /// `TimedOut` or `Cancelled`.
    pub status: String,
}

/// Cuts a step's output into log lines, for every backend: at `\n`, or every
/// [`LogLines::MAX_LINE`] bytes of output without newlines (so a 1 GB line never piles up);
/// a trailing `\r` is dropped and invalid UTF-8 replaced.
#[derive(Debug, Default)]
pub struct LogLines {
    buf: Vec<u8>,
}

impl LogLines {
    /// The longest log line passed on whole; a longer one is cut into lines of this size.
    pub const MAX_LINE: usize = 64 * 1024;

    /// Takes what it can of `chunk` (at least one byte of a non-empty one): how many bytes it
    /// took, and the line they completed, if any.
    pub fn take(&mut self, chunk: &[u8]) -> (usize, Option<String>) {
        let window = &chunk[..chunk.len().min(Self::MAX_LINE - self.buf.len())];
        match window.iter().position(|b| *b == b'\n') {
            Some(at) => {
                self.buf.extend_from_slice(&window[..at]);
                (at + 1, Some(self.line()))
            }
            None => {
                self.buf.extend_from_slice(window);
                let full = self.buf.len() >= Self::MAX_LINE;
                (window.len(), full.then(|| self.line()))
            }
        }
    }

    /// The last line, if the output did not end with a newline.
    pub fn finish(&mut self) -> Option<String> {
        (!self.buf.is_empty()).then(|| self.line())
    }

    fn line(&mut self) -> String {
        while self.buf.last().is_some_and(|b| *b == b'\r') {
            self.buf.pop();
        }
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        line
    }
}

#[cfg(test)]
mod log_lines_tests {
    use super::LogLines;

    #[test]
    fn lines_are_cut_at_newlines_and_at_the_limit() {
        let mut lines = LogLines::default();
        assert_eq!(lines.take(b"ab\r\ncd"), (4, Some("ab".to_string())));
        assert_eq!(lines.take(b"cd"), (2, None));
        assert_eq!(lines.finish(), Some("cd".to_string()));
        let long = vec![b'x'; LogLines::MAX_LINE + 10];
        let (took, line) = lines.take(&long);
        assert_eq!(took, LogLines::MAX_LINE);
        assert_eq!(line.map(|l| l.len()), Some(LogLines::MAX_LINE));
        assert_eq!(lines.finish(), None);
    }
}
