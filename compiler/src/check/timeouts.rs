//! Timeouts: negative durations, and a PipelineRun's `timeouts` against each other and
//! against the per-task limits.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{Duration, PipelineRunSpec, PipelineSpec, Resource, Spanned, Timeouts};
use crate::resolve::Resolved;
use crate::source::Span;

/// Tekton's `default-timeout-minutes` (60).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60 * 60;

declare_code! {
    /// # A negative timeout
    ///
    /// Timeouts are durations of at least `0` (`0` means no timeout). Tekton rejects a
    /// negative one on a step, a pipeline task, a TaskRun, a PipelineRun's `timeouts` or a
    /// `taskRunSpecs` entry (`invalid value: -1m0s: negative timeout`,
    /// `-1m0s should be >= 0`).
    pub static NEGATIVE = "tkc::timeouts::negative", Error;
}

declare_code! {
    /// # A PipelineRun's tasks or finally timeout exceeds the pipeline timeout
    ///
    /// With `P` = `timeouts.pipeline` (default 60m), Tekton rejects a PipelineRun whose
    /// `timeouts.tasks` or `timeouts.finally` is greater than `P`, or `0` (no timeout) while
    /// `P` is not, or whose `tasks` + `finally` together exceed `P`
    /// (`<d> should be <= pipeline duration`). Tekton checks that sum even when `P` is `0` (no
    /// timeout): with `timeouts.pipeline: 0`, leave `tasks` or `finally` unset, or set both to
    /// `0`.
    ///
    /// ## Example
    /// ```yaml
    /// timeouts:
    ///   pipeline: 1h
    ///   tasks: 50m
    ///   finally: 20m    # 50m + 20m > 1h
    /// ```
    pub static EXCEEDS_PIPELINE = "tkc::timeouts::exceeds-pipeline", Error;
}

declare_code! {
    /// # A taskRunSpecs timeout exceeds the PipelineRun's limit
    ///
    /// A `taskRunSpecs[].timeout` must not be greater than `timeouts.tasks`, else
    /// `timeouts.pipeline`, else the 60m default (unless that bound is `0`, no timeout).
    /// Tekton rejects the PipelineRun (`<d> should be <= pipeline tasks duration <max>`).
    pub static TASK_RUN_SPEC = "tkc::timeouts::task-run-spec", Error;
}

declare_code! {
    /// # A pipeline task's timeout is longer than the run allows
    ///
    /// The task's TaskRun gets its own `timeout`, but the PipelineRun's `timeouts.tasks`
    /// (or `timeouts.finally`, or `timeouts.pipeline`) cancels it earlier, so the longer
    /// limit never takes effect. Tekton accepts it; lower the task's timeout or raise the
    /// run's.
    pub static TASK_EXCEEDS = "tkc::timeouts::task-exceeds", Warning;
}

/// This family's codes.
pub const CODES: &[&Code] = &[&NEGATIVE, &EXCEEDS_PIPELINE, &TASK_RUN_SPEC, &TASK_EXCEEDS];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        for step in &task.spec.steps {
            negative(cx, step.timeout.as_ref(), "step timeout");
        }
    }
    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            negative(cx, task.timeout.as_deref(), "pipeline task timeout");
        }
    }
    for (_, document) in world.checked() {
        match &document.resource {
            Resource::TaskRun(run) => {
                negative(cx, run.timeout.as_ref(), "TaskRun timeout");
            }
            Resource::PipelineRun(run) => pipeline_run(cx, run),
            _ => {}
        }
    }
}

fn negative(cx: &mut Checker, d: Option<&Spanned<Duration>>, what: &str) -> bool {
    let Some(d) = d else {
        return false;
    };
    if !d.is_negative() {
        return false;
    }
    cx.report(
        Diagnostic::new(&NEGATIVE, format!("{what} `{}` is negative", d.value))
            .with_label(d.span, "negative timeout")
            .with_help("use a positive duration such as `10m`, or `0` for no timeout"),
    );
    true
}

fn fmt(d: &Duration) -> String {
    if d.is_zero() {
        "0 (no timeout)".to_string()
    } else {
        format!("`{d}`")
    }
}

fn pipeline_run(cx: &mut Checker, run: &PipelineRunSpec) {
    let timeouts = run.timeouts.as_ref();
    let mut bad = false;
    if let Some(t) = timeouts {
        for (d, what) in [
            (&t.pipeline, "timeouts.pipeline"),
            (&t.tasks, "timeouts.tasks"),
            (&t.finally, "timeouts.finally"),
        ] {
            bad |= negative(cx, d.as_ref(), what);
        }
    }
    for spec in &run.task_run_specs {
        bad |= negative(cx, spec.timeout.as_ref(), "taskRunSpecs timeout");
    }
    if bad {
        return;
    }
    let default = Duration::from_secs(DEFAULT_TIMEOUT_SECS);
    let pipeline = timeouts.and_then(|t| t.pipeline.as_ref());
    let p = pipeline.map_or(&default, |p| &p.value);
    if let Some(t) = timeouts {
        sections(cx, t, p, pipeline.map(|p| p.span));
    }
    task_run_specs(cx, run, timeouts, &default);
    task_timeouts(cx, run, timeouts, p);
}

/// `tasks` and `finally` against the pipeline timeout `p` (given at `p_span`, or defaulted).
fn sections(cx: &mut Checker, t: &Timeouts, p: &Duration, p_span: Option<Span>) {
    let p_text = match p_span {
        Some(_) => format!("the pipeline timeout {}", fmt(p)),
        None => format!("the default pipeline timeout {}", fmt(p)),
    };
    let mut individual = false;
    for (d, what) in [(&t.tasks, "tasks"), (&t.finally, "finally")] {
        let Some(d) = d else {
            continue;
        };
        let too_long = !p.is_zero() && d.nanos > p.nanos;
        let unlimited = d.is_zero() && !p.is_zero();
        if !(too_long || unlimited) {
            continue;
        }
        individual = true;
        let mut diag = Diagnostic::new(
            &EXCEEDS_PIPELINE,
            format!(
                "{}{} should be <= pipeline duration",
                d.value,
                if unlimited { " (no timeout)" } else { "" }
            ),
        )
        .with_label(
            d.span,
            if unlimited {
                format!("no {what} timeout, but {p_text}")
            } else {
                format!("longer than {p_text}")
            },
        );
        if let Some(span) = p_span {
            diag = diag.with_secondary(span, "pipeline timeout");
        }
        let help = if p_span.is_none() {
            format!(
                "set `timeouts.pipeline` to at least {} (it defaults to 60m)",
                d.value
            )
        } else if unlimited {
            format!(
                "give `timeouts.{what}` a duration up to the pipeline timeout, or set `timeouts.pipeline: 0` too"
            )
        } else {
            format!("lower `timeouts.{what}`, or raise `timeouts.pipeline`")
        };
        cx.report(diag.with_help(help));
    }
    if individual {
        return;
    }
    if let (Some(tasks), Some(finally)) = (&t.tasks, &t.finally)
        && tasks.nanos.saturating_add(finally.nanos) > p.nanos
    {
        let mut diag = Diagnostic::new(
            &EXCEEDS_PIPELINE,
            format!(
                "{} + {} should be <= pipeline duration",
                tasks.value, finally.value
            ),
        )
        .with_label(tasks.span, "tasks timeout")
        .with_secondary(
            finally.span,
            format!("plus the finally timeout exceed {p_text}"),
        );
        if let Some(span) = p_span {
            diag = diag.with_secondary(span, "pipeline timeout");
        }
        let help = if p.is_zero() {
            "Tekton checks the sum even when the pipeline has no timeout: leave `tasks` or `finally` unset, or set both to 0".to_string()
        } else {
            "make `tasks` + `finally` at most the pipeline timeout".to_string()
        };
        cx.report(diag.with_help(help));
    }
}

fn task_run_specs(
    cx: &mut Checker,
    run: &PipelineRunSpec,
    timeouts: Option<&Timeouts>,
    default: &Duration,
) {
    let (max, source, span) = match timeouts {
        Some(Timeouts { tasks: Some(t), .. }) => {
            (&t.value, "pipeline tasks duration", Some(t.span))
        }
        Some(Timeouts {
            pipeline: Some(p), ..
        }) => (&p.value, "pipeline duration", Some(p.span)),
        _ => (default, "default timeout duration", None),
    };
    if max.is_zero() {
        return;
    }
    for spec in &run.task_run_specs {
        let Some(timeout) = &spec.timeout else {
            continue;
        };
        if timeout.nanos <= max.nanos {
            continue;
        }
        let mut d = Diagnostic::new(
            &TASK_RUN_SPEC,
            format!(
                "{} should be <= {source} {}",
                timeout.value,
                max.canonical()
            ),
        )
        .with_label(
            timeout.span,
            format!("timeout of `{}`", spec.pipeline_task_name.value),
        );
        if let Some(span) = span {
            d = d.with_secondary(span, "the limit");
        }
        cx.report(d.with_help(format!("lower it to at most {}", max.canonical())));
    }
}

/// A pipeline task's own `timeout` beyond its section's limit never takes effect.
fn task_timeouts(
    cx: &mut Checker,
    run: &PipelineRunSpec,
    timeouts: Option<&Timeouts>,
    p: &Duration,
) {
    let spec: &PipelineSpec = match (&run.pipeline_spec, &run.pipeline_ref) {
        (Some(spec), _) => spec,
        (None, Some(r)) => match cx.world.resolve_pipeline_ref(r) {
            Resolved::Found { spec, .. } => spec,
            _ => return,
        },
        _ => return,
    };
    let tasks = timeouts.and_then(|t| t.tasks.as_ref());
    let finally = timeouts.and_then(|t| t.finally.as_ref());
    // Tekton's section limits: the section's own timeout, else pipeline minus the other.
    let pipeline_span = timeouts.and_then(|t| t.pipeline.as_ref()).map(|d| d.span);
    let limit = |own: Option<&Spanned<Duration>>,
                 other: Option<&Spanned<Duration>>,
                 own_name: &'static str,
                 other_name: &'static str|
     -> Option<(i128, Option<Span>, String)> {
        if let Some(own) = own {
            return (!own.is_zero())
                .then(|| (own.nanos, Some(own.span), format!("`timeouts.{own_name}`")));
        }
        if p.is_zero() {
            return None;
        }
        match other {
            Some(other) if !other.is_zero() => Some((
                p.nanos - other.nanos,
                pipeline_span,
                format!("`timeouts.pipeline` less `timeouts.{other_name}`"),
            )),
            _ => Some((p.nanos, pipeline_span, "`timeouts.pipeline`".to_string())),
        }
    };
    for (section, list, bound) in [
        (
            "task",
            &spec.tasks,
            limit(tasks, finally, "tasks", "finally"),
        ),
        (
            "finally task",
            &spec.finally,
            limit(finally, tasks, "finally", "tasks"),
        ),
    ] {
        let Some((max, span, what)) = bound else {
            continue;
        };
        for task in list {
            let Some(timeout) = &task.timeout else {
                continue;
            };
            if timeout.is_zero() || timeout.nanos <= max {
                continue;
            }
            let max_text = Duration {
                nanos: max,
                text: String::new(),
            }
            .canonical();
            let mut d = Diagnostic::new(
                &TASK_EXCEEDS,
                format!(
                    "the timeout of {section} `{}` ({}) is longer than the run allows ({max_text})",
                    task.name.value, timeout.value
                ),
            )
            .with_label(
                timeout.span,
                format!("cut short after {max_text} by {what}"),
            );
            if let Some(span) = span {
                d = d.with_secondary(span, "the run's limit");
            }
            cx.report(
                d.with_help("lower the task's timeout, or raise the PipelineRun's `timeouts`"),
            );
        }
    }
}
