//! Timeouts after Tekton's defaulting (spec section 4, "Timeouts / cancel").

use crate::model::{Duration, Timeouts};
use crate::plan;
use crate::plan::Section;

/// Tekton's default timeout of a TaskRun and of a PipelineRun (`default-timeout-minutes`).
pub const DEFAULT_MINUTES: u64 = 60;

fn default_timeout() -> Duration {
    Duration::from_secs(DEFAULT_MINUTES * 60)
}

/// Go's spelling of a duration (`1h0m0s`).
pub fn go(d: &Duration) -> String {
    d.canonical()
}

/// The PipelineRun's timeouts; `pipeline` defaults to 60m, `tasks` and `finally` stay unset.
#[derive(Clone, Debug)]
pub struct RunTimeouts {
    pub pipeline: Duration,
    pub tasks: Option<Duration>,
    pub finally: Option<Duration>,
}

impl RunTimeouts {
    pub fn new(timeouts: Option<&Timeouts>) -> RunTimeouts {
        let get = |f: fn(&Timeouts) -> Option<&Duration>| timeouts.and_then(f).cloned();
        RunTimeouts {
            pipeline: get(|t| t.pipeline.as_deref()).unwrap_or_else(default_timeout),
            tasks: get(|t| t.tasks.as_deref()),
            finally: get(|t| t.finally.as_deref()),
        }
    }

    pub fn to_plan(&self) -> plan::Timeouts {
        plan::Timeouts {
            pipeline: Some(go(&self.pipeline)),
            tasks: self.tasks.as_ref().map(go),
            finally: self.finally.as_ref().map(go),
        }
    }

    /// The time all tasks of a section may take together: its own timeout, else the
    /// pipeline's less the other section's, when both are set and not zero.
    fn section(&self, section: Section) -> Option<Duration> {
        let (own, other) = match section {
            Section::Tasks => (&self.tasks, &self.finally),
            Section::Finally => (&self.finally, &self.tasks),
        };
        if own.is_some() {
            return own.clone();
        }
        match other {
            Some(other) if !self.pipeline.is_zero() && !other.is_zero() => Some(Duration {
                nanos: (self.pipeline.nanos - other.nanos).max(0),
                text: String::new(),
            }),
            _ => None,
        }
    }

    /// One attempt of a pipeline task: `taskRunSpecs[].timeout`, else the task's own, else
    /// the section's when it is zero (none) or longer than the TaskRun default, else the
    /// TaskRun default (60m; the pipeline's clock may cut it shorter).
    pub fn task(
        &self,
        section: Section,
        own: Option<&Duration>,
        run_spec: Option<&Duration>,
    ) -> String {
        if let Some(d) = run_spec.or(own) {
            return go(d);
        }
        match self.section(section) {
            Some(d) if d.is_zero() || d.nanos > default_timeout().nanos => go(&d),
            _ => go(&default_timeout()),
        }
    }
}

/// A TaskRun's timeout: as given, else 60m.
pub fn task_run(timeout: Option<&Duration>) -> String {
    timeout.map_or_else(|| go(&default_timeout()), go)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        Duration::parse(s).unwrap()
    }

    #[test]
    fn child_timeouts_follow_tekton() {
        let run = RunTimeouts {
            pipeline: d("2h"),
            tasks: None,
            finally: Some(d("30m")),
        };
        // tasks = pipeline - finally = 1h30m > 60m: used.
        assert_eq!(run.task(Section::Tasks, None, None), "1h30m0s");
        // finally = 30m <= 60m: the TaskRun default.
        assert_eq!(run.task(Section::Finally, None, None), "1h0m0s");
        assert_eq!(run.task(Section::Tasks, Some(&d("5m")), None), "5m0s");
        assert_eq!(
            run.task(Section::Tasks, Some(&d("5m")), Some(&d("1m"))),
            "1m0s"
        );
        let none = RunTimeouts {
            pipeline: d("0"),
            tasks: Some(d("0")),
            finally: None,
        };
        assert_eq!(none.task(Section::Tasks, None, None), "0s");
        assert_eq!(task_run(None), "1h0m0s");
    }
}
