//! The tkc runtime: runs a [`Plan`](tkc_compiler::plan::Plan) with Tekton's semantics.
//!
//! - [`scheduler`] owns a run: the DAG, parallelism, `when`, result propagation, retries,
//!   timeouts, `finally`, skip reasons, cancellation, pipeline results and the final status,
//!   all as Tekton's controller computes them. It knows nothing about processes.
//! - [`backend`] runs one task attempt (one pod in Tekton's terms); [`backend::local`] runs
//!   its steps as host processes chained by the tkc entrypoint.
//! - [`partial`] chooses the tasks of a partial run (`--task`, `--from`, `--until`,
//!   `--rerun-failed`) on the plan, for every backend alike.
//! - [`events`] is the typed stream a run reports on (renderers live in the CLI), and the
//!   final [`events::RunSummary`].
//!
//! The library never prints and never exits.

pub mod backend;
pub mod events;
pub mod partial;
pub mod scheduler;
pub mod values;

pub use events::{Event, EventSink, LogBudget, RunSummary, StepSummary, TaskStatus, TaskSummary};
pub use scheduler::{RunOptions, run};
