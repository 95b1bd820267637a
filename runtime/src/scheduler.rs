//! The scheduler: one run of a [`Plan`], with Tekton's controller semantics (spec section 4
//! and 7). Backend-agnostic: a [`Backend`] runs each attempt; everything else — the DAG,
//! parallelism, `when`, results, retries, timeouts, `finally`, skip reasons, cancellation,
//! pipeline results and the final status — is decided here.

use crate::backend::{Attempt, AttemptOutcome, Backend, RunIdentity, Stop};
use crate::events::{Event, EventSink, RunSummary, StepSummary, TaskId, TaskStatus, TaskSummary};
use crate::partial::{self, Partial};
use crate::values::{self, ResultError, Values, no_paths};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tkc_compiler::model::Duration as GoDuration;
use tkc_compiler::names;
use tkc_compiler::plan::{
    OnError, ParamValue, Plan, RunKind, RunValue, Section, TaskPlan, Template, When, WhenOperator,
};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Tekton's skip reasons (`v1.SkippingReason`).
pub mod skip {
    pub const STOPPING: &str = "PipelineRun was stopping";
    pub const GRACEFULLY_CANCELLED: &str = "PipelineRun was gracefully cancelled";
    pub const GRACEFULLY_STOPPED: &str = "PipelineRun was gracefully stopped";
    pub const PARENT_SKIPPED: &str = "Parent Tasks were skipped";
    pub const RESULTS_MISSING: &str = "Results were missing";
    pub const WHEN: &str = "When Expressions evaluated to false";
    pub const PIPELINE_TIMEOUT: &str = "PipelineRun timeout has been reached";
    pub const TASKS_TIMEOUT: &str = "PipelineRun Tasks timeout has been reached";
    pub const FINALLY_TIMEOUT: &str = "PipelineRun Finally timeout has been reached";
    pub const EMPTY_MATRIX: &str = "Matrix Parameters have an empty array";
}

/// The TaskRun reason of a failed step. Older Tekton used `Failed`.
pub const STEP_FAILED: &str = "StepFailed";

/// Tekton's default timeout of runs and task runs.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// How to run.
#[derive(Debug)]
pub struct RunOptions {
    /// The run's name (a `generateName` already completed).
    pub name: String,
    pub uid: String,
    /// At most this many attempts at once (at least 1).
    pub parallel: usize,
    /// Turns `true` to cancel the run (Ctrl-C): Tekton's `spec.status: Cancelled`.
    pub cancel: watch::Receiver<bool>,
    /// The DAG tasks left out or reused (a partial run); the default runs them all.
    pub partial: Partial,
}

/// Why a running attempt is being stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum StopCause {
    TaskTimeout,
    Cancel,
    /// The pipeline, tasks or finally timeout.
    RunTimeout,
}

#[derive(Debug)]
enum Phase {
    Queued,
    Running {
        stop: watch::Sender<Option<Stop>>,
        deadline: Option<Instant>,
        stopping: Option<StopCause>,
        started: Instant,
    },
    Done,
}

#[derive(Debug)]
struct TaskRun {
    id: TaskId,
    name: String,
    matrix: BTreeMap<String, String>,
    attempts: u32,
    phase: Phase,
    elapsed: Duration,
    outcome: AttemptOutcome,
    status: TaskStatus,
    reason: String,
    message: String,
    /// The summary of the child PipelineRun, for a pipeline task that runs a Pipeline.
    child: Option<Box<RunSummary>>,
    /// The run this task run was taken from instead of running (`--rerun-failed`).
    reused_from: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum NodeState {
    Waiting,
    Active,
    Skipped(&'static str),
    /// Failed validation before it started (Tekton's `PipelineValidationFailed`).
    Invalid(String),
    /// Left out of a partial run: to the tasks after it, as if it had never been in the
    /// pipeline (no status, no results), and not counted in the run's condition.
    NotSelected,
    Done,
}

#[derive(Debug)]
struct Node {
    plan: Arc<TaskPlan>,
    state: NodeState,
    runs: Vec<TaskRun>,
}

impl Node {
    fn finally(&self) -> bool {
        self.plan.section == Section::Finally
    }

    fn done(&self) -> bool {
        matches!(
            self.state,
            NodeState::Skipped(_)
                | NodeState::Invalid(_)
                | NodeState::NotSelected
                | NodeState::Done
        )
    }

    /// `$(tasks.T.status)`.
    fn status_text(&self) -> &'static str {
        match self.state {
            NodeState::Done if self.runs.iter().all(|r| r.status == TaskStatus::Succeeded) => {
                "Succeeded"
            }
            NodeState::Done => "Failed",
            // A task that failed validation has no TaskRun (`GetPipelineTaskStatus`).
            _ => "None",
        }
    }

    /// Failed in a way that stops the pipeline.
    fn stops_pipeline(&self) -> bool {
        match &self.state {
            NodeState::Invalid(_) => true,
            NodeState::Active | NodeState::Done => self.runs.iter().any(|r| {
                matches!(r.phase, Phase::Done)
                    && matches!(
                        r.status,
                        TaskStatus::Failed | TaskStatus::TimedOut | TaskStatus::Cancelled
                    )
            }),
            _ => false,
        }
    }
}

/// How many attempts may run at once: shared by a run and the runs of its child pipelines,
/// so that `--parallel` bounds the pods of the whole run. A child pipeline's run holds no
/// slot itself (it is no pod).
#[derive(Debug)]
struct Slots {
    limit: usize,
    used: Mutex<usize>,
    /// Bumped whenever a slot is given back, to wake runs waiting for one.
    freed: watch::Sender<u64>,
}

impl Slots {
    fn new(limit: usize) -> Arc<Slots> {
        Arc::new(Slots {
            limit: limit.max(1),
            used: Mutex::new(0),
            freed: watch::channel(0).0,
        })
    }

    fn take(&self) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used < self.limit {
            *used += 1;
            true
        } else {
            false
        }
    }

    fn give(&self) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(1);
        drop(used);
        self.freed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Where a run sits: the top-level run, or a child pipeline's run inside it.
struct Nesting {
    /// Prefixed to the task names of events (`<pipeline task>/` per level), so that the
    /// tasks of a child pipeline are told apart from the parent's in logs and the live view.
    prefix: String,
    /// What the parent run knew when it created this child run.
    parent: Option<Arc<Values>>,
    slots: Arc<Slots>,
}

/// What ended: an attempt (one pod), or the run of a child pipeline.
enum Finished {
    Attempt(AttemptOutcome),
    Child(RunSummary),
}

struct Scheduler<B: Backend> {
    plan: Arc<Plan>,
    backend: Arc<B>,
    events: EventSink,
    identity: RunIdentity,
    nesting: Nesting,
    freed: watch::Receiver<u64>,
    nodes: Vec<Node>,
    index: BTreeMap<String, usize>,
    /// Attempts and child runs under way (in `join`).
    running: usize,
    join: JoinSet<(usize, usize, Finished)>,
    started: Instant,
    cancelled: bool,
    graceful: Option<&'static str>,
    pipeline_deadline: Option<Instant>,
    tasks_deadline: Option<Instant>,
    finally_timeout: Option<Duration>,
    finally_deadline: Option<Instant>,
    finally_started: bool,
    /// Which timeout ended the run, with its text.
    timed_out: Option<(TimeoutKind, String)>,
    tasks_timed_out: bool,
    finally_timed_out: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum TimeoutKind {
    Pipeline,
    Tasks,
    Finally,
}

fn duration_of(text: Option<&str>, default: Option<Duration>) -> Option<Duration> {
    match text.and_then(GoDuration::parse) {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(Duration::from_millis(d.as_millis())),
        None => default,
    }
}

fn go_text(d: Duration) -> String {
    GoDuration {
        nanos: i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        text: String::new(),
    }
    .canonical()
}

/// Runs `plan` to its end and returns the summary. `events` receives the run as it goes.
pub async fn run<B: Backend>(
    plan: &Plan,
    backend: Arc<B>,
    options: RunOptions,
    events: EventSink,
) -> RunSummary {
    let plan = Arc::new(plan.clone());
    let identity = RunIdentity {
        name: options.name.clone(),
        uid: options.uid.clone(),
    };
    let kind = match plan.run.kind {
        RunKind::PipelineRun => "PipelineRun",
        RunKind::TaskRun => "TaskRun",
    };
    let mut tasks = vec![];
    task_names(&plan, "", &mut tasks);
    events.emit(Event::RunStarted {
        kind: kind.to_string(),
        name: identity.name.clone(),
        tasks,
    });
    let started = Instant::now();
    match backend.prepare(&plan, &identity) {
        Ok(notes) => notes.into_iter().for_each(|n| events.emit(Event::Note(n))),
        Err(message) => {
            let summary = RunSummary {
                kind: kind.to_string(),
                name: identity.name.clone(),
                status: "Failed".into(),
                reason: match plan.run.kind {
                    RunKind::PipelineRun => "CouldntCreateWorkspacePVC",
                    RunKind::TaskRun => "TaskRunValidationFailed",
                }
                .into(),
                duration_ms: 0,
                tasks: vec![],
                results: BTreeMap::new(),
                diagnostics: None,
                partial: options.partial.summary(),
                message,
            };
            finish_event(&events, &summary);
            return summary;
        }
    }
    let nesting = Nesting {
        prefix: String::new(),
        parent: None,
        slots: Slots::new(options.parallel),
    };
    let mut scheduler = Scheduler::new(plan, backend, identity, nesting, events, started);
    scheduler.apply_partial(&options.partial);
    scheduler.drive(options.cancel).await;
    let mut summary = scheduler.summary();
    summary.partial = options.partial.summary();
    finish_event(&scheduler.events, &summary);
    summary
}

/// The names of every task of a run, those of child pipelines as `<pipeline task>/<task>`.
fn task_names(plan: &Plan, prefix: &str, out: &mut Vec<String>) {
    for t in &plan.tasks {
        out.push(format!("{prefix}{}", t.name));
        if let Some(child) = &t.pipeline {
            task_names(child, &format!("{prefix}{}/", t.name), out);
        }
    }
}

fn finish_event(events: &EventSink, summary: &RunSummary) {
    events.emit(Event::RunFinished {
        status: summary.status.clone(),
        reason: summary.reason.clone(),
        message: summary.message.clone(),
    });
}

impl<B: Backend> Scheduler<B> {
    fn new(
        plan: Arc<Plan>,
        backend: Arc<B>,
        identity: RunIdentity,
        nesting: Nesting,
        events: EventSink,
        started: Instant,
    ) -> Scheduler<B> {
        let nodes: Vec<Node> = plan
            .tasks
            .iter()
            .map(|t| Node {
                plan: Arc::new(t.clone()),
                state: NodeState::Waiting,
                runs: vec![],
            })
            .collect();
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.plan.name.clone(), i))
            .collect();
        let t = &plan.run.timeouts;
        let pipeline = duration_of(t.pipeline.as_deref(), Some(DEFAULT_TIMEOUT));
        let set = |s: &Option<String>| duration_of(s.as_deref(), None);
        let both = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => a.checked_sub(b),
            _ => None,
        };
        let (pipeline_set, finally_set, tasks_set) =
            (set(&t.pipeline), set(&t.finally), set(&t.tasks));
        let tasks = tasks_set.or_else(|| both(pipeline_set, finally_set));
        let finally = finally_set.or_else(|| both(pipeline_set, tasks_set));
        let is_pipeline = plan.run.kind == RunKind::PipelineRun;
        let graceful = match plan.run.status.as_deref() {
            Some("CancelledRunFinally") => Some(skip::GRACEFULLY_CANCELLED),
            Some("StoppedRunFinally") => Some(skip::GRACEFULLY_STOPPED),
            _ => None,
        };
        Scheduler {
            // `spec.status: Cancelled` on a PipelineRun, `TaskRunCancelled` on a TaskRun
            // (taskrun.go cancels it before creating a pod).
            cancelled: match plan.run.kind {
                RunKind::PipelineRun => plan.run.status.as_deref() == Some("Cancelled"),
                RunKind::TaskRun => plan.run.status.as_deref() == Some("TaskRunCancelled"),
            },
            plan,
            backend,
            events,
            identity,
            freed: nesting.slots.freed.subscribe(),
            nesting,
            nodes,
            index,
            running: 0,
            join: JoinSet::new(),
            started,
            graceful,
            pipeline_deadline: pipeline.filter(|_| is_pipeline).map(|d| started + d),
            tasks_deadline: tasks.filter(|_| is_pipeline).map(|d| started + d),
            finally_timeout: finally.filter(|_| is_pipeline),
            finally_deadline: None,
            finally_started: false,
            timed_out: None,
            tasks_timed_out: false,
            finally_timed_out: false,
        }
    }

    /// Settles the DAG tasks a partial run does not run before anything starts: those left
    /// out, and those whose task runs of an earlier run stand in for them (as if they had
    /// just succeeded here, with those results).
    fn apply_partial(&mut self, partial: &Partial) {
        let from = partial.reused_from.clone().unwrap_or_default();
        for i in 0..self.nodes.len() {
            let name = self.nodes[i].plan.name.clone();
            if partial.not_selected.contains(&name) {
                self.nodes[i].state = NodeState::NotSelected;
                self.events.emit(Event::TaskSkipped {
                    task: format!("{}{name}", self.nesting.prefix),
                    reason: partial::NOT_SELECTED.to_string(),
                });
            } else if let Some(previous) = partial.reused.get(&name) {
                let count = previous.len();
                let matrixed = self.nodes[i].plan.matrix.is_some();
                self.nodes[i].runs = previous
                    .iter()
                    .enumerate()
                    .map(|(k, t)| self.reused_run(&name, k, count, matrixed, t, &from))
                    .collect();
                self.nodes[i].state = NodeState::Done;
                self.events.emit(Event::TaskReused {
                    task: format!("{}{name}", self.nesting.prefix),
                    from: from.clone(),
                });
            }
        }
    }

    /// Task run `k` of `count` of pipeline task `name`, as run `from` left it.
    fn reused_run(
        &self,
        name: &str,
        k: usize,
        count: usize,
        matrixed: bool,
        previous: &TaskSummary,
        from: &str,
    ) -> TaskRun {
        TaskRun {
            id: TaskId {
                name: format!("{}{name}", self.nesting.prefix),
                index: matrixed.then_some(previous.index.unwrap_or(k)),
            },
            name: names::task_run_name(&self.identity.name, name, k, count),
            matrix: BTreeMap::new(),
            attempts: previous.attempts,
            phase: Phase::Done,
            elapsed: Duration::ZERO,
            outcome: AttemptOutcome {
                steps: previous
                    .steps
                    .iter()
                    .map(|s| crate::backend::StepOutcome {
                        name: s.name.clone(),
                        exit_code: s.exit_code,
                        status: s.status.clone(),
                    })
                    .collect(),
                results: previous.results.clone(),
                failure: None,
            },
            status: previous.status,
            reason: previous.reason.clone(),
            message: format!("reused from run {from}"),
            child: previous.pipeline_run.clone(),
            reused_from: Some(from.to_string()),
        }
    }

    async fn drive(&mut self, mut cancel: watch::Receiver<bool>) {
        let mut listening = true;
        if self.cancelled {
            self.cancel_all();
        }
        loop {
            if listening && !self.cancelled && *cancel.borrow() {
                self.cancelled = true;
                self.cancel_all();
            }
            self.check_deadlines();
            self.schedule();
            // Slots given back from now on wake this run.
            self.freed.borrow_and_update();
            self.start_queued();
            let queued = self.has_queued();
            if self.running == 0 && !queued {
                break;
            }
            let wake = self.next_deadline();
            tokio::select! {
                Some(joined) = self.join.join_next() => {
                    match joined {
                        Ok((node, run, Finished::Attempt(outcome))) => {
                            self.nesting.slots.give();
                            self.finish_attempt(node, run, outcome);
                        }
                        Ok((node, run, Finished::Child(summary))) => {
                            self.finish_child(node, run, summary);
                        }
                        Err(_) => {}
                    }
                }
                _ = sleep_until(wake) => {}
                _ = self.freed.changed(), if queued => {}
                changed = cancel.changed(), if listening && !self.cancelled => {
                    if changed.is_err() {
                        listening = false;
                    }
                }
            }
        }
        // A task that never became ready (a dependency on a task that is not there).
        for node in &mut self.nodes {
            if node.state == NodeState::Waiting {
                node.state = NodeState::Skipped(skip::STOPPING);
            }
        }
        // Tekton recomputes `skip()` at every reconcile, the last one included, and checks
        // `IsStopping` first: once a DAG task failed (a cancel by timeout included) or failed
        // validation, every DAG task that never started reports "PipelineRun was stopping".
        if self.stopping() {
            for node in &mut self.nodes {
                if !node.finally() && matches!(node.state, NodeState::Skipped(_)) {
                    node.state = NodeState::Skipped(skip::STOPPING);
                }
            }
        }
    }

    fn dag_done(&self) -> bool {
        self.nodes.iter().filter(|n| !n.finally()).all(Node::done)
    }

    fn stopping(&self) -> bool {
        self.nodes
            .iter()
            .filter(|n| !n.finally())
            .any(|n| n.stops_pipeline() && n.plan.on_error != OnError::Continue)
    }

    fn cancel_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i, StopCause::Cancel, skip::STOPPING);
        }
    }

    /// Stops the running attempts of a node and settles what has not started.
    fn stop_node(&mut self, i: usize, cause: StopCause, reason: &'static str) {
        let node = &mut self.nodes[i];
        match node.state {
            NodeState::Waiting => {
                node.state = NodeState::Skipped(reason);
                let name = format!("{}{}", self.nesting.prefix, node.plan.name);
                self.events.emit(Event::TaskSkipped {
                    task: name,
                    reason: reason.to_string(),
                });
            }
            NodeState::Active => {
                for run in &mut node.runs {
                    match &mut run.phase {
                        Phase::Queued => {
                            run.phase = Phase::Done;
                            (run.status, run.reason, run.message) = stopped(cause, &run.name);
                        }
                        Phase::Running { stop, stopping, .. } => {
                            if stopping.is_none() || cause != StopCause::TaskTimeout {
                                *stopping = Some(cause);
                            }
                            let _ = stop.send(Some(match cause {
                                StopCause::TaskTimeout => Stop::Timeout,
                                _ => Stop::Cancel,
                            }));
                        }
                        Phase::Done => {}
                    }
                }
                self.settle(i);
            }
            _ => {}
        }
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        // The pipeline timeout still holds after the tasks or finally timeout.
        let pipeline_timed_out = matches!(self.timed_out, Some((TimeoutKind::Pipeline, _)));
        if !pipeline_timed_out && self.pipeline_deadline.is_some_and(|d| now >= d) {
            let d = self
                .pipeline_deadline
                .map(|d| d - self.started)
                .unwrap_or_default();
            self.timed_out = Some((TimeoutKind::Pipeline, go_text(d)));
            for i in 0..self.nodes.len() {
                self.stop_node(i, StopCause::RunTimeout, skip::PIPELINE_TIMEOUT);
            }
        }
        if !self.tasks_timed_out
            && !self.dag_done()
            && self.tasks_deadline.is_some_and(|d| now >= d)
        {
            self.tasks_timed_out = true;
            let d = self
                .tasks_deadline
                .map(|d| d - self.started)
                .unwrap_or_default();
            self.timed_out
                .get_or_insert((TimeoutKind::Tasks, go_text(d)));
            for i in 0..self.nodes.len() {
                if !self.nodes[i].finally() {
                    self.stop_node(i, StopCause::RunTimeout, skip::TASKS_TIMEOUT);
                }
            }
        }
        if !self.finally_timed_out && self.finally_deadline.is_some_and(|d| now >= d) {
            self.finally_timed_out = true;
            let d = self.finally_timeout.unwrap_or_default();
            self.timed_out
                .get_or_insert((TimeoutKind::Finally, go_text(d)));
            for i in 0..self.nodes.len() {
                if self.nodes[i].finally() {
                    self.stop_node(i, StopCause::RunTimeout, skip::FINALLY_TIMEOUT);
                }
            }
        }
        for node in &mut self.nodes {
            for run in &mut node.runs {
                if let Phase::Running {
                    stop,
                    deadline: Some(d),
                    stopping: stopping @ None,
                    ..
                } = &mut run.phase
                    && now >= *d
                {
                    *stopping = Some(StopCause::TaskTimeout);
                    let _ = stop.send(Some(Stop::Timeout));
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut all = vec![];
        if !matches!(self.timed_out, Some((TimeoutKind::Pipeline, _))) {
            all.extend(self.pipeline_deadline);
        }
        if !self.tasks_timed_out && !self.dag_done() {
            all.extend(self.tasks_deadline);
        }
        if !self.finally_timed_out {
            all.extend(self.finally_deadline);
        }
        for node in &self.nodes {
            for run in &node.runs {
                if let Phase::Running {
                    deadline: Some(d),
                    stopping: None,
                    ..
                } = run.phase
                {
                    all.push(d);
                }
            }
        }
        all.into_iter().min()
    }

    /// Decides, until nothing changes, which waiting tasks are skipped, invalid or ready.
    fn schedule(&mut self) {
        loop {
            let mut changed = false;
            for i in 0..self.nodes.len() {
                if self.nodes[i].state != NodeState::Waiting || self.nodes[i].finally() {
                    continue;
                }
                changed |= self.evaluate(i);
            }
            if self.dag_done() && !self.finally_started {
                self.finally_started = true;
                changed = true;
                if self.nodes.iter().any(Node::finally) {
                    self.finally_deadline = self.finally_timeout.map(|d| Instant::now() + d);
                }
            }
            if self.finally_started {
                for i in 0..self.nodes.len() {
                    if self.nodes[i].state == NodeState::Waiting && self.nodes[i].finally() {
                        changed |= self.evaluate(i);
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// One waiting task: returns whether its state changed.
    fn evaluate(&mut self, i: usize) -> bool {
        let decision = self.decide(i);
        let name = self.nodes[i].plan.name.clone();
        match decision {
            Decision::Wait => false,
            Decision::Skip(reason) => {
                self.nodes[i].state = NodeState::Skipped(reason);
                self.events.emit(Event::TaskSkipped {
                    task: format!("{}{name}", self.nesting.prefix),
                    reason: reason.to_string(),
                });
                true
            }
            Decision::Invalid(message) => {
                self.nodes[i].state = NodeState::Invalid(message);
                true
            }
            Decision::Start(combos) => {
                let matrixed = self.nodes[i].plan.matrix.is_some();
                let count = combos.len();
                let mut runs: Vec<TaskRun> = combos
                    .into_iter()
                    .enumerate()
                    .map(|(k, matrix)| TaskRun {
                        id: TaskId {
                            name: format!("{}{name}", self.nesting.prefix),
                            index: matrixed.then_some(k),
                        },
                        name: if self.plan.run.kind == RunKind::TaskRun {
                            self.identity.name.clone()
                        } else {
                            names::task_run_name(&self.identity.name, &name, k, count)
                        },
                        matrix,
                        attempts: 0,
                        phase: Phase::Queued,
                        elapsed: Duration::ZERO,
                        outcome: AttemptOutcome::default(),
                        status: TaskStatus::Succeeded,
                        reason: String::new(),
                        message: String::new(),
                        child: None,
                        reused_from: None,
                    })
                    .collect();
                if runs.is_empty() {
                    self.nodes[i].state = NodeState::Skipped(skip::EMPTY_MATRIX);
                    return true;
                }
                runs.shrink_to_fit();
                self.nodes[i].runs = runs;
                self.nodes[i].state = NodeState::Active;
                self.events.emit(Event::TaskReady { task: name });
                true
            }
        }
    }

    fn decide(&self, i: usize) -> Decision {
        let node = &self.nodes[i];
        let task = &node.plan;
        if !node.finally() {
            if self.cancelled {
                return Decision::Skip(skip::STOPPING);
            }
            if self.stopping() {
                return Decision::Skip(skip::STOPPING);
            }
            if let Some(reason) = self.graceful {
                return Decision::Skip(reason);
            }
            // Tekton's `skip()` order: stopping, gracefully cancelled/stopped, `when` (once the
            // parents are done), parent skipped, results missing.
            let parents: Vec<&Node> = task
                .after
                .iter()
                .filter_map(|p| self.index.get(p).map(|&j| &self.nodes[j]))
                .collect();
            let parents_done = parents.iter().all(|p| p.done());
            if !parents_done {
                return if parents
                    .iter()
                    .any(|p| matches!(p.state, NodeState::Skipped(r) if r != skip::WHEN))
                {
                    Decision::Skip(skip::PARENT_SKIPPED)
                } else {
                    Decision::Wait
                };
            }
            let values = self.values();
            match when_holds(&task.when, &values) {
                Ok(true) => {}
                Ok(false) => return Decision::Skip(skip::WHEN),
                Err(e) => {
                    return Decision::Invalid(format!(
                        "when expression of task \"{}\": {e}",
                        task.name
                    ));
                }
            }
            if parents
                .iter()
                .any(|p| matches!(p.state, NodeState::Skipped(r) if r != skip::WHEN))
            {
                return Decision::Skip(skip::PARENT_SKIPPED);
            }
            if let Err(errors) = self.resolve_results(task, &values) {
                let producer_when_skipped = errors.iter().any(|e| {
                    self.index
                        .get(e.task())
                        .is_some_and(|&j| self.nodes[j].state == NodeState::Skipped(skip::WHEN))
                });
                if task.on_error == OnError::Continue || producer_when_skipped {
                    return Decision::Skip(skip::RESULTS_MISSING);
                }
                return Decision::Invalid(self.invalid_message(&errors[0], &task.name));
            }
            return match self.combinations(task, &values) {
                Some(combos) if combos.is_empty() => Decision::Skip(skip::EMPTY_MATRIX),
                Some(combos) => Decision::Start(combos),
                None => Decision::Start(vec![BTreeMap::new()]),
            };
        }
        if self.cancelled {
            return Decision::Skip(skip::STOPPING);
        }
        // A finally task (`IsFinallySkipped`): results missing, then `when`.
        let values = self.values();
        if self.resolve_results(task, &values).is_err() {
            return Decision::Skip(skip::RESULTS_MISSING);
        }
        match when_holds(&task.when, &values) {
            Ok(true) => {}
            Ok(false) => return Decision::Skip(skip::WHEN),
            Err(e) => {
                return Decision::Invalid(format!(
                    "when expression of task \"{}\": {e}",
                    task.name
                ));
            }
        }
        match self.combinations(task, &values) {
            Some(combos) if combos.is_empty() => Decision::Skip(skip::EMPTY_MATRIX),
            Some(combos) => Decision::Start(combos),
            None => Decision::Start(vec![BTreeMap::new()]),
        }
    }

    fn invalid_message(&self, error: &ResultError, consumer: &str) -> String {
        match error {
            ResultError::Missing { task, result } => {
                let succeeded = self
                    .index
                    .get(task)
                    .is_some_and(|&j| self.nodes[j].status_text() == "Succeeded");
                if succeeded {
                    format!(
                        "task \"{task}\" completed successfully but did not emit the result \"{result}\", which is referenced by task \"{consumer}\""
                    )
                } else {
                    format!(
                        "Invalid task result reference: Could not find result with name {result} for pipeline task {task}"
                    )
                }
            }
            ResultError::OutOfBounds {
                task,
                result,
                index,
                len,
            } => format!(
                "array Result Index {index} for Task {task} Result {result} is out of bound of size {len}"
            ),
            ResultError::MissingKey { task, result, key } => format!(
                "Invalid task result reference: Could not find key {key} in object result {result} of pipeline task {task}"
            ),
        }
    }

    /// Every task result the task refers to must exist.
    fn resolve_results(&self, task: &TaskPlan, values: &Values) -> Result<(), Vec<ResultError>> {
        let mut errors = vec![];
        let mut seen = BTreeSet::new();
        values::for_each_template(task, &mut |t: &Template| {
            for r in t.refs() {
                if let RunValue::TaskResult {
                    task: producer,
                    result,
                    index,
                    key,
                    ..
                } = &r.value
                {
                    if !seen.insert((producer.clone(), result.clone(), *index, key.clone())) {
                        continue;
                    }
                    if let Err(e) = values.task_result(producer, result, *index, key.as_deref()) {
                        errors.push(e);
                    }
                }
            }
        });
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The combinations of a matrixed task (`None`: not matrixed).
    fn combinations(
        &self,
        task: &TaskPlan,
        values: &Values,
    ) -> Option<Vec<BTreeMap<String, String>>> {
        let matrix = task.matrix.as_ref()?;
        if let Some(c) = &matrix.combinations {
            return Some(c.clone());
        }
        let as_list = |v: ParamValue| match v {
            ParamValue::Array(items) => items,
            ParamValue::String(s) => vec![s],
            ParamValue::Object(map) => map.into_values().collect(),
        };
        let params: Vec<(String, Vec<String>)> = matrix
            .params
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    as_list(values.render_value(&p.value, &no_paths)),
                )
            })
            .collect();
        if params.iter().any(|(_, v)| v.is_empty()) {
            return Some(vec![]);
        }
        let include: Vec<BTreeMap<String, String>> = matrix
            .include
            .iter()
            .map(|i| {
                i.params
                    .iter()
                    .map(|p| {
                        let v = values.render_value(&p.value, &no_paths);
                        (p.name.clone(), values::value_text(&v))
                    })
                    .collect()
            })
            .collect();
        Some(tkc_compiler::plan::fan_out(&params, &include))
    }

    /// What finished tasks tell the templates.
    fn values(&self) -> Values {
        let mut v = Values {
            parent: self.nesting.parent.clone(),
            ..Values::default()
        };
        for node in &self.nodes {
            let name = &node.plan.name;
            if node.done() {
                let reason = match (&node.state, node.runs.first()) {
                    (NodeState::Done, Some(r)) => node
                        .runs
                        .iter()
                        .find(|r| r.status != TaskStatus::Succeeded)
                        .unwrap_or(r)
                        .reason
                        .clone(),
                    _ => String::new(),
                };
                v.status
                    .insert(name.clone(), (node.status_text().to_string(), reason));
            }
            if node.state != NodeState::Done {
                continue;
            }
            if node.plan.matrix.is_some() {
                v.matrix_lengths.insert(name.clone(), node.runs.len());
                let mut runs: Vec<&TaskRun> = node.runs.iter().collect();
                runs.sort_by(|a, b| a.name.cmp(&b.name));
                let mut agg: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for run in runs {
                    for (k, value) in &run.outcome.results {
                        let entry = agg.entry(k.clone()).or_default();
                        match value {
                            ParamValue::Array(items) => entry.extend(items.iter().cloned()),
                            other => entry.push(values::value_text(other)),
                        }
                    }
                }
                v.results.insert(
                    name.clone(),
                    agg.into_iter()
                        .map(|(k, a)| (k, ParamValue::Array(a)))
                        .collect(),
                );
            } else if let Some(run) = node.runs.first() {
                v.results.insert(name.clone(), run.outcome.results.clone());
            }
        }
        if self.dag_done() {
            let dag = self.nodes.iter().filter(|n| !n.finally());
            let failed = dag.clone().any(|n| n.status_text() == "Failed");
            let skipped = dag
                .clone()
                .any(|n| matches!(n.state, NodeState::Skipped(_)));
            v.tasks_status = Some(
                if failed {
                    "Failed"
                } else if skipped {
                    "Completed"
                } else {
                    "Succeeded"
                }
                .to_string(),
            );
        }
        let run = &self.plan.run;
        let c = &mut v.context;
        c.insert("pipelineRun.name".into(), self.identity.name.clone());
        c.insert("pipelineRun.uid".into(), self.identity.uid.clone());
        c.insert("pipelineRun.namespace".into(), run.namespace.clone());
        c.insert("pipeline.name".into(), run.pipeline.clone());
        c.insert("taskRun.namespace".into(), run.namespace.clone());
        v
    }

    fn start_queued(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].state != NodeState::Active {
                continue;
            }
            let child = self.nodes[i].plan.pipeline.is_some();
            for k in 0..self.nodes[i].runs.len() {
                if !matches!(self.nodes[i].runs[k].phase, Phase::Queued) {
                    continue;
                }
                if child {
                    self.start_child(i, k);
                } else if self.nesting.slots.take() {
                    self.start(i, k);
                } else {
                    return;
                }
            }
        }
    }

    /// Some task run waits for a slot.
    fn has_queued(&self) -> bool {
        self.nodes.iter().any(|n| {
            n.state == NodeState::Active && n.runs.iter().any(|r| matches!(r.phase, Phase::Queued))
        })
    }

    /// Starts the child PipelineRun of a pipeline task that runs a Pipeline, as Tekton's
    /// `createChildPipelineRun` does: named `<run>-<task>` (kmeta `ChildName`), with what
    /// this run knows now for the values the pipeline task passes. The child is a run of its
    /// own (its own timeouts, status and reason); its tasks' attempts share this run's
    /// backend and slots. Stopping the pipeline task cancels the child run.
    fn start_child(&mut self, i: usize, k: usize) {
        let values = Arc::new(self.values());
        let node = &self.nodes[i];
        let Some(child_plan) = node.plan.pipeline.clone() else {
            return;
        };
        let run = &node.runs[k];
        let identity = RunIdentity {
            name: run.name.clone(),
            uid: uid_of(&self.identity.uid, &run.name),
        };
        let nesting = Nesting {
            prefix: format!("{}{}/", self.nesting.prefix, node.plan.name),
            parent: Some(values),
            slots: self.nesting.slots.clone(),
        };
        let (stop_tx, mut stop_rx) = watch::channel(None);
        let now = Instant::now();
        self.events.emit(Event::TaskStarted {
            task: run.id.clone(),
            attempt: 0,
        });
        let run = &mut self.nodes[i].runs[k];
        run.attempts += 1;
        run.phase = Phase::Running {
            stop: stop_tx,
            deadline: None,
            stopping: None,
            started: now,
        };
        self.running += 1;
        let mut child = Scheduler::new(
            Arc::new(*child_plan),
            self.backend.clone(),
            identity,
            nesting,
            self.events.clone(),
            now,
        );
        let task: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
            Box::pin(async move {
                let (cancel_tx, cancel_rx) = watch::channel(false);
                {
                    let drive = child.drive(cancel_rx);
                    tokio::pin!(drive);
                    let mut listening = true;
                    loop {
                        tokio::select! {
                            () = &mut drive => break,
                            changed = stop_rx.changed(), if listening => {
                                if changed.is_err() {
                                    listening = false;
                                } else if stop_rx.borrow().is_some() {
                                    let _ = cancel_tx.send(true);
                                }
                            }
                        }
                    }
                }
                (i, k, Finished::Child(child.summary()))
            });
        self.join.spawn(task);
    }

    /// A child PipelineRun ended: the pipeline task's status and reason are the child's
    /// condition (`isSuccessful`, `isFailure` and `getReason` of `ResolvedPipelineTask` in
    /// `pipelinerunresolution.go` read the child PipelineRun's). Tekton passes no results
    /// back (`GetTaskRunsResults` skips child pipelines), and retries none.
    fn finish_child(&mut self, i: usize, k: usize, summary: RunSummary) {
        self.running = self.running.saturating_sub(1);
        let on_error = self.nodes[i].plan.on_error;
        let run = &mut self.nodes[i].runs[k];
        let Phase::Running {
            stopping, started, ..
        } = &run.phase
        else {
            return;
        };
        let stopping = *stopping;
        run.elapsed += started.elapsed();
        run.outcome = AttemptOutcome::default();
        run.status = if summary.status == "Succeeded" {
            TaskStatus::Succeeded
        } else {
            match stopping {
                Some(StopCause::RunTimeout) => TaskStatus::TimedOut,
                Some(StopCause::Cancel) => TaskStatus::Cancelled,
                _ if on_error == OnError::Continue => TaskStatus::FailureIgnored,
                _ => TaskStatus::Failed,
            }
        };
        run.reason = summary.reason.clone();
        run.message = summary.message.clone();
        run.child = Some(Box::new(summary));
        run.phase = Phase::Done;
        self.events.emit(Event::TaskFinished {
            task: run.id.clone(),
            status: run.status,
            reason: run.reason.clone(),
            message: run.message.clone(),
            duration: run.elapsed,
        });
        self.settle(i);
    }

    fn start(&mut self, i: usize, k: usize) {
        let mut values = self.values();
        let node = &self.nodes[i];
        let plan = node.plan.clone();
        let run = &node.runs[k];
        let retry = run.attempts;
        let c = &mut values.context;
        c.insert("taskRun.name".into(), run.name.clone());
        c.insert("taskRun.uid".into(), uid_of(&self.identity.uid, &run.name));
        c.insert("task.name".into(), plan.task_ref.clone());
        c.insert("task.retry-count".into(), retry.to_string());
        c.insert("pipelineTask.retries".into(), plan.retries.to_string());
        values.matrix = with_task_defaults(&plan, &run.matrix, &values);
        let attempt = Attempt {
            run: self.identity.clone(),
            task: run.id.clone(),
            task_run: run.name.clone(),
            retry,
            plan: plan.clone(),
            values: Arc::new(values),
        };
        let (stop_tx, stop_rx) = watch::channel(None);
        let now = Instant::now();
        let deadline = duration_of(plan.timeout.as_deref(), Some(DEFAULT_TIMEOUT)).map(|d| now + d);
        self.events.emit(Event::TaskStarted {
            task: run.id.clone(),
            attempt: retry,
        });
        let run = &mut self.nodes[i].runs[k];
        run.attempts += 1;
        run.phase = Phase::Running {
            stop: stop_tx,
            deadline,
            stopping: None,
            started: now,
        };
        self.running += 1;
        let backend = self.backend.clone();
        let events = self.events.clone();
        self.join.spawn(async move {
            let outcome = backend.run_attempt(attempt, stop_rx, events).await;
            (i, k, Finished::Attempt(outcome))
        });
    }

    fn finish_attempt(&mut self, i: usize, k: usize, outcome: AttemptOutcome) {
        self.running = self.running.saturating_sub(1);
        let plan = self.nodes[i].plan.clone();
        let cancelled = self.cancelled;
        let run = &mut self.nodes[i].runs[k];
        let Phase::Running {
            stopping, started, ..
        } = &run.phase
        else {
            return;
        };
        let stopping = *stopping;
        run.elapsed += started.elapsed();
        run.outcome = outcome;
        let timeout_text = duration_of(plan.timeout.as_deref(), Some(DEFAULT_TIMEOUT))
            .map(go_text)
            .unwrap_or_default();
        (run.status, run.reason, run.message) = match stopping {
            Some(StopCause::TaskTimeout) => (
                TaskStatus::TimedOut,
                "TaskRunTimeout".to_string(),
                format!(
                    "TaskRun \"{}\" failed to finish within \"{timeout_text}\"",
                    run.name
                ),
            ),
            Some(cause) => stopped(cause, &run.name),
            None => match &run.outcome.failure {
                None => (
                    TaskStatus::Succeeded,
                    "Succeeded".to_string(),
                    "All Steps have completed executing".to_string(),
                ),
                Some((reason, message)) => (TaskStatus::Failed, reason.clone(), message.clone()),
            },
        };
        let retryable = matches!(stopping, None | Some(StopCause::TaskTimeout))
            && matches!(run.status, TaskStatus::Failed | TaskStatus::TimedOut);
        if retryable && !cancelled && run.attempts <= plan.retries {
            self.events.emit(Event::TaskRetrying {
                task: run.id.clone(),
                attempt: run.attempts,
                reason: run.reason.clone(),
            });
            run.phase = Phase::Queued;
            return;
        }
        // `onError: continue` turns only a failed pod into `FailureIgnored` (`pod.MakeTaskRunStatus`);
        // `TaskRunTimeout` and `TaskRunCancelled` stay.
        if plan.on_error == OnError::Continue && run.status == TaskStatus::Failed {
            run.status = TaskStatus::FailureIgnored;
            run.reason = "FailureIgnored".to_string();
        }
        run.phase = Phase::Done;
        self.events.emit(Event::TaskFinished {
            task: run.id.clone(),
            status: run.status,
            reason: run.reason.clone(),
            message: run.message.clone(),
            duration: run.elapsed,
        });
        self.settle(i);
    }

    /// A node whose runs are all done is done.
    fn settle(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.state == NodeState::Active
            && node.runs.iter().all(|r| matches!(r.phase, Phase::Done))
        {
            node.state = NodeState::Done;
        }
    }

    fn summary(&self) -> RunSummary {
        let kind = match self.plan.run.kind {
            RunKind::PipelineRun => "PipelineRun",
            RunKind::TaskRun => "TaskRun",
        };
        let mut tasks = vec![];
        for node in &self.nodes {
            let name = node.plan.name.clone();
            match &node.state {
                // A TaskRun that never started was cancelled: it is not a pipeline task.
                NodeState::Skipped(_) if self.plan.run.kind == RunKind::TaskRun => {
                    tasks.push(TaskSummary {
                        name,
                        index: None,
                        status: TaskStatus::Cancelled,
                        reason: "TaskRunCancelled".into(),
                        attempts: 0,
                        results: BTreeMap::new(),
                        steps: vec![],
                        pipeline_run: None,
                        reused_from: None,
                        duration: Duration::ZERO,
                        message: format!("TaskRun \"{}\" was cancelled", self.identity.name),
                    })
                }
                NodeState::Skipped(reason) => tasks.push(TaskSummary {
                    name,
                    index: None,
                    status: TaskStatus::Skipped,
                    reason: reason.to_string(),
                    attempts: 0,
                    results: BTreeMap::new(),
                    steps: vec![],
                    pipeline_run: None,
                    reused_from: None,
                    duration: Duration::ZERO,
                    message: String::new(),
                }),
                NodeState::NotSelected => tasks.push(TaskSummary {
                    name,
                    index: None,
                    status: TaskStatus::NotRun,
                    reason: partial::NOT_SELECTED.into(),
                    attempts: 0,
                    results: BTreeMap::new(),
                    steps: vec![],
                    pipeline_run: None,
                    reused_from: None,
                    duration: Duration::ZERO,
                    message: String::new(),
                }),
                NodeState::Invalid(message) => tasks.push(TaskSummary {
                    name,
                    index: None,
                    status: TaskStatus::Failed,
                    reason: "PipelineValidationFailed".into(),
                    attempts: 0,
                    results: BTreeMap::new(),
                    steps: vec![],
                    pipeline_run: None,
                    reused_from: None,
                    duration: Duration::ZERO,
                    message: message.clone(),
                }),
                _ => {
                    for run in &node.runs {
                        tasks.push(TaskSummary {
                            name: name.clone(),
                            index: run.id.index,
                            status: run.status,
                            reason: run.reason.clone(),
                            attempts: run.attempts,
                            results: run.outcome.results.clone(),
                            steps: run
                                .outcome
                                .steps
                                .iter()
                                .map(|s| StepSummary {
                                    name: s.name.clone(),
                                    exit_code: s.exit_code,
                                    status: s.status.clone(),
                                })
                                .collect(),
                            pipeline_run: run.child.clone(),
                            reused_from: run.reused_from.clone(),
                            duration: run.elapsed,
                            message: run.message.clone(),
                        });
                    }
                }
            }
        }
        let (reason, message) = match self.plan.run.kind {
            RunKind::TaskRun => self.taskrun_condition(),
            RunKind::PipelineRun => self.pipelinerun_condition(),
        };
        let (reason, message, results) = if self.plan.run.kind == RunKind::PipelineRun {
            self.pipeline_results(reason, message)
        } else {
            let results = tasks.first().map(|t| t.results.clone()).unwrap_or_default();
            (reason, message, results)
        };
        RunSummary {
            kind: kind.to_string(),
            name: self.identity.name.clone(),
            status: run_status(&reason).to_string(),
            reason,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            tasks,
            results,
            diagnostics: None,
            partial: None,
            message,
        }
    }

    fn taskrun_condition(&self) -> (String, String) {
        match self.nodes.first().and_then(|n| n.runs.first()) {
            Some(run) => (run.reason.clone(), run.message.clone()),
            None => (
                "TaskRunCancelled".into(),
                format!("TaskRun \"{}\" was cancelled", self.identity.name),
            ),
        }
    }

    /// The run's condition as `GetPipelineConditionStatus` computes it once every task is
    /// done: the pipeline timeout, then the tasks timeout (checked now, as the run ends),
    /// then the counts of `getPipelineTasksCount` (one per pipeline task, matrixed or not).
    fn pipelinerun_condition(&self) -> (String, String) {
        let name = &self.identity.name;
        let now = Instant::now();
        let pipeline_timed_out = matches!(self.timed_out, Some((TimeoutKind::Pipeline, _)))
            || self.pipeline_deadline.is_some_and(|d| now > d);
        if pipeline_timed_out {
            let d = self
                .pipeline_deadline
                .map(|d| go_text(d - self.started))
                .unwrap_or_default();
            return (
                "PipelineRunTimeout".into(),
                format!("PipelineRun \"{name}\" failed to finish within \"{d}\""),
            );
        }
        if let Some(deadline) = self.tasks_deadline
            && (self.tasks_timed_out || now > deadline)
        {
            let d = go_text(deadline - self.started);
            return (
                "PipelineRunTimeout".into(),
                format!(
                    "PipelineRun \"{name}\" failed due to tasks failed to finish within \"{d}\""
                ),
            );
        }
        if self.cancelled {
            return (
                "Cancelled".into(),
                format!("PipelineRun \"{name}\" was cancelled"),
            );
        }
        let (mut s, mut f, mut ignored, mut c, mut k, mut k_timeout) = (0, 0, 0, 0, 0, 0);
        let mut invalid: BTreeMap<&str, &str> = BTreeMap::new();
        for node in &self.nodes {
            match &node.state {
                NodeState::Skipped(reason) => {
                    k += 1;
                    if matches!(
                        *reason,
                        skip::PIPELINE_TIMEOUT | skip::TASKS_TIMEOUT | skip::FINALLY_TIMEOUT
                    ) {
                        k_timeout += 1;
                    }
                }
                NodeState::Invalid(m) => {
                    invalid.insert(&node.plan.name, m);
                }
                NodeState::NotSelected => {}
                _ => {
                    let runs = &node.runs;
                    if runs.iter().all(|r| r.status == TaskStatus::Succeeded) {
                        s += 1;
                    } else if runs
                        .iter()
                        .any(|r| r.status == TaskStatus::TimedOut && r.reason == "TaskRunCancelled")
                    {
                        // `isCancelledForTimeOut`: counted as a failure.
                        f += 1;
                    } else if runs.iter().any(|r| r.status == TaskStatus::Cancelled) {
                        c += 1;
                    } else if node.plan.on_error == OnError::Continue {
                        ignored += 1;
                    } else {
                        f += 1;
                    }
                }
            }
        }
        let ignored_text = if ignored > 0 {
            format!(" (Ignored: {ignored})")
        } else {
            String::new()
        };
        let mut message = format!(
            "Tasks Completed: {} (Failed: {}{ignored_text}, Cancelled {c}), Skipped: {k}",
            s + f + c + ignored,
            f + ignored
        );
        if !invalid.is_empty() {
            let mut errors = invalid.values().copied().collect::<Vec<_>>().join("; ");
            if errors.len() > 1024 {
                let mut cut = 1024;
                while !errors.is_char_boundary(cut) {
                    cut -= 1;
                }
                errors.truncate(cut);
                errors.push_str("...");
            }
            message.push_str(&format!(
                ", Failed Validation: {} ({errors})",
                invalid.len()
            ));
            return ("PipelineValidationFailed".into(), message);
        }
        let reason = if f > 0 || k_timeout > 0 {
            "Failed"
        } else if self.graceful.is_some() {
            message = format!("PipelineRun \"{name}\" was cancelled");
            "Cancelled"
        } else if c > 0 {
            "Cancelled"
        } else if k > 0 {
            "Completed"
        } else {
            "Succeeded"
        };
        (reason.into(), message)
    }

    /// Pipeline results: omitted when a task they refer to did not succeed; a missing result
    /// of a task that did succeed fails the run with `CouldntGetPipelineResult`.
    fn pipeline_results(
        &self,
        reason: String,
        message: String,
    ) -> (String, String, BTreeMap<String, ParamValue>) {
        let values = self.values();
        let mut out = BTreeMap::new();
        let mut invalid = vec![];
        for result in &self.plan.results {
            let mut ok = true;
            let mut missing = false;
            for t in values::value_templates(&result.value) {
                for r in t.refs() {
                    if let RunValue::TaskResult {
                        task,
                        result: name,
                        index,
                        key,
                        ..
                    } = &r.value
                    {
                        // A value the task wrote counts, whatever its status; a missing one
                        // drops the result when the task did not succeed, and is an error
                        // when it did (`ApplyTaskResultsToPipelineResults`).
                        if values
                            .task_result(task, name, *index, key.as_deref())
                            .is_ok()
                        {
                            continue;
                        }
                        let succeeded = self
                            .index
                            .get(task)
                            .is_some_and(|&j| self.nodes[j].status_text() == "Succeeded");
                        if succeeded {
                            missing = true;
                        } else {
                            ok = false;
                        }
                    }
                }
            }
            if missing {
                invalid.push(result.name.clone());
                continue;
            }
            if !ok {
                continue;
            }
            out.insert(
                result.name.clone(),
                values.render_value(&result.value, &no_paths),
            );
        }
        // `CouldntGetPipelineResult` replaces whatever reason the run ended with, a timeout's
        // included; only a hard cancel returns before results are computed.
        if !invalid.is_empty() && !self.cancelled {
            let message = format!(
                "Failed to get PipelineResult from TaskRun Results for PipelineRun {}: invalid pipelineresults [{}], the referenced results don't exist",
                self.identity.name,
                invalid.join(" ")
            );
            return ("CouldntGetPipelineResult".into(), message, out);
        }
        (reason, message, out)
    }
}

enum Decision {
    Wait,
    Skip(&'static str),
    Invalid(String),
    Start(Vec<BTreeMap<String, String>>),
}

/// A combination with the Task's own value of every matrix param it lacks. Tekton's `FanOut`
/// (`matrix_types.go`) gives a combination only the params it has; the TaskRun then gets the
/// Task's default for the others, where tkc used to pass `""`.
fn with_task_defaults(
    plan: &TaskPlan,
    combination: &BTreeMap<String, String>,
    values: &Values,
) -> BTreeMap<String, String> {
    let mut out = combination.clone();
    let Some(matrix) = &plan.matrix else {
        return out;
    };
    let names = matrix.params.iter().map(|p| &p.name).chain(
        matrix
            .include
            .iter()
            .flat_map(|i| i.params.iter().map(|p| &p.name)),
    );
    for name in names {
        if out.contains_key(name) {
            continue;
        }
        let Some(value) = plan.params.get(name) else {
            continue;
        };
        // Without a default, the task's value is the matrix param itself.
        let own = values::value_templates(value).iter().any(|t| {
            t.refs()
                .iter()
                .any(|r| matches!(r.value, RunValue::MatrixParam { .. }))
        });
        if !own {
            let text = values::value_text(&values.render_value(value, &no_paths));
            out.insert(name.clone(), text);
        }
    }
    out
}

/// Status, reason and message of a task run stopped by the run.
fn stopped(cause: StopCause, name: &str) -> (TaskStatus, String, String) {
    match cause {
        StopCause::RunTimeout => (
            TaskStatus::TimedOut,
            "TaskRunCancelled".into(),
            "TaskRun cancelled as the PipelineRun it belongs to has timed out.".into(),
        ),
        _ => (
            TaskStatus::Cancelled,
            "TaskRunCancelled".into(),
            format!("TaskRun \"{name}\" was cancelled"),
        ),
    }
}

/// `tkc run`'s status of a run, from its reason.
fn run_status(reason: &str) -> &'static str {
    match reason {
        "Succeeded" | "Completed" => "Succeeded",
        "Cancelled" | "TaskRunCancelled" => "Cancelled",
        "PipelineRunTimeout" | "TaskRunTimeout" => "TimedOut",
        _ => "Failed",
    }
}

/// Evaluates `when` expressions (all must hold). A CEL expression is evaluated after
/// substitution with tkc's CEL subset; one outside it is an error.
pub fn when_holds(when: &[When], values: &Values) -> Result<bool, String> {
    for w in when {
        if let Some(cel) = &w.cel {
            let text = values.render(cel, &no_paths);
            let holds = tkc_compiler::cel::evaluate_bool(&text)
                .map_err(|e| format!("cannot evaluate CEL `{text}`: {e}"))?;
            if !holds {
                return Ok(false);
            }
            continue;
        }
        let (Some(input), Some(op)) = (&w.input, w.operator) else {
            continue;
        };
        let input = values.render(input, &no_paths);
        let list = values.render_list(&w.values, &no_paths);
        let found = list.contains(&input);
        let holds = match op {
            WhenOperator::In => found,
            WhenOperator::Notin => !found,
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A stable uid for a child of the run.
fn uid_of(run_uid: &str, name: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (run_uid, name).hash(&mut h);
    let a = h.finish();
    name.hash(&mut h);
    let b = h.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
