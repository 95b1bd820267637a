//! How `tkc run` shows a run: a live view of task states on a terminal (plain lines
//! otherwise), step logs prefixed `[task/step]`, and the final summary (human or JSON).

use super::Output;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};
use tkc_runtime::events::{Event, Stream, TaskId};
use tkc_runtime::partial::NOT_SELECTED;
use tkc_runtime::{RunSummary, TaskStatus};

pub fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A task's status in a sentence: `failure ignored`, `timed out` (not `failureignored`).
fn status_words(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Failed => "failed",
        TaskStatus::FailureIgnored => "failure ignored",
        TaskStatus::Skipped => "skipped",
        TaskStatus::Cancelled => "cancelled",
        TaskStatus::TimedOut => "timed out",
        TaskStatus::NotRun => "not run",
    }
}

pub(crate) fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[derive(Clone)]
enum State {
    /// Waiting for the tasks it depends on.
    Pending,
    /// Ready, waiting for a free slot (`--parallel`).
    Ready,
    Running(Instant),
    /// Running, its first step waiting for its sidecars to be ready.
    Sidecars(Instant),
    Done(TaskStatus, Duration),
    Skipped(String),
    /// Not run: the task runs of an earlier run (its id) stand in for it.
    Reused(String),
}

/// The colours of task prefixes: a task keeps its colour (by its name) from run to run.
const TASK_COLORS: [&str; 6] = ["36", "33", "35", "32", "34", "96"];

/// The colour of a task's prefix: an FNV-1a hash of its name (stable across runs and builds).
pub fn task_color(name: &str) -> &'static str {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    TASK_COLORS[h as usize % TASK_COLORS.len()]
}

/// The terminal's rows and columns (of stdout), if it is one.
fn terminal_size() -> Option<(usize, usize)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0)
        .then(|| (usize::from(size.ws_row), usize::from(size.ws_col)))
}

/// `text` cut to `width` characters (the panel's lines must not wrap: a wrapped line takes
/// two rows, and the panel would no longer know how far up it starts).
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Renders events as they come.
pub struct Renderer {
    output: Output,
    live: bool,
    color: bool,
    order: Vec<String>,
    states: BTreeMap<TaskId, State>,
    drawn: usize,
    noted: Vec<String>,
}

impl Renderer {
    pub fn new(output: Output, live: bool, color: bool) -> Renderer {
        Renderer {
            output,
            live,
            color,
            order: vec![],
            states: BTreeMap::new(),
            drawn: 0,
            noted: vec![],
        }
    }

    pub fn note(&mut self, text: &str) {
        if self.noted.iter().any(|n| n == text) {
            return;
        }
        self.noted.push(text.to_string());
        let line = format!("{} {text}", paint(self.color, "2", "note:"));
        self.line(&line, true);
    }

    /// Prints one line above the live view (stderr for notes and with `--output json`).
    fn line(&mut self, text: &str, stderr_in_json: bool) {
        match self.output {
            Output::Json => {
                if stderr_in_json {
                    eprintln!("{text}");
                }
            }
            Output::Human => {
                let mut out = std::io::stdout().lock();
                if self.live && self.drawn > 0 {
                    let _ = write!(out, "\x1b[{}A\x1b[J", self.drawn);
                    self.drawn = 0;
                }
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
                drop(out);
                if self.live {
                    self.draw();
                }
            }
        }
    }

    /// A task's line: its mark and its state.
    fn task_line(&self, id: &TaskId, width: usize) -> String {
        let (mark, mark_color, text) = match &self.states[id] {
            State::Pending => ("·", "2", "waiting for dependencies".to_string()),
            State::Ready => ("·", "2", "waiting for a free slot".to_string()),
            State::Running(t) => ("⏳", "33", format!("running {}", secs(t.elapsed()))),
            State::Sidecars(t) => (
                "⏳",
                "33",
                format!("waiting for sidecars {}", secs(t.elapsed())),
            ),
            State::Done(TaskStatus::Succeeded, d) => ("✓", "32", format!("succeeded {}", secs(*d))),
            State::Done(s, d) => ("✗", "31", format!("{} {}", status_words(*s), secs(*d))),
            State::Skipped(r) if r == NOT_SELECTED => ("⊘", "2", format!("not run: {r}")),
            State::Skipped(r) => ("⊘", "2", format!("skipped: {r}")),
            State::Reused(from) => ("↺", "32", format!("reused from run {from}")),
        };
        // The colours are added after the cut, which counts characters.
        let name = id.to_string();
        let plain = fit(&format!("  {mark} {name:<24} {text}"), width);
        let Some(rest) = plain.strip_prefix(&format!("  {mark} ")) else {
            return plain;
        };
        let cut = rest
            .char_indices()
            .nth(name.chars().count())
            .map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(cut);
        format!(
            "  {} {}{}",
            paint(self.color, mark_color, mark),
            paint(self.color, task_color(&id.name), head),
            tail
        )
    }

    /// Redraws the panel of tasks not yet done, below the lines printed so far. It fits the
    /// terminal: at most its height less two rows, lines cut to its width, and what does not
    /// fit folded into `… and N more` (running tasks first). Finished tasks are not in it:
    /// their line was printed once, above it.
    fn draw(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A\x1b[J", self.drawn);
        }
        let (rows, cols) = terminal_size().unwrap_or((24, 80));
        let width = cols.saturating_sub(1).max(10);
        let room = rows.saturating_sub(2).max(1);
        let mut ids: Vec<&TaskId> = self
            .states
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s,
                    State::Pending | State::Ready | State::Running(_) | State::Sidecars(_)
                )
            })
            .map(|(id, _)| id)
            .collect();
        ids.sort_by_key(|id| {
            (
                !matches!(self.states[*id], State::Running(_) | State::Sidecars(_)),
                self.order.iter().position(|o| *o == id.name),
                id.index,
            )
        });
        let shown = if ids.len() > room {
            room - 1
        } else {
            ids.len()
        };
        let mut lines: Vec<String> = ids[..shown]
            .iter()
            .map(|id| self.task_line(id, width))
            .collect();
        if shown < ids.len() {
            let rest = &ids[shown..];
            let running = rest
                .iter()
                .filter(|id| matches!(self.states[**id], State::Running(_) | State::Sidecars(_)))
                .count();
            let waiting = rest.len() - running;
            let what = match (running, waiting) {
                (r, 0) => format!("{r} running"),
                (0, w) => format!("{w} waiting"),
                (r, w) => format!("{r} running, {w} waiting"),
            };
            lines.push(fit(&format!("  … and {} more ({what})", rest.len()), width));
        }
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
        self.drawn = lines.len();
    }

    /// In the live view, a task that is done leaves its line once, above the panel.
    fn done_line(&mut self, id: &TaskId) {
        let width = terminal_size().map_or(79, |(_, c)| c.saturating_sub(1).max(10));
        let line = self.task_line(id, width);
        self.line(&line, true);
    }

    pub fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { kind, name, tasks } => {
                self.order = tasks.clone();
                for t in tasks {
                    self.states.insert(
                        TaskId {
                            name: t.clone(),
                            index: None,
                        },
                        State::Pending,
                    );
                }
                let text = format!("{} {kind} {name}", paint(self.color, "1", "running"));
                self.line(&text, true);
            }
            Event::Note(n) => self.note(n),
            Event::TaskSidecars { task, ready } => {
                let state = self.states.get_mut(task);
                if let Some(State::Running(t) | State::Sidecars(t)) = state {
                    let t = *t;
                    if let Some(s) = self.states.get_mut(task) {
                        *s = if *ready {
                            State::Running(t)
                        } else {
                            State::Sidecars(t)
                        };
                    }
                    if self.live {
                        self.draw();
                    }
                }
            }
            Event::TaskReady { task } => {
                let id = TaskId {
                    name: task.clone(),
                    index: None,
                };
                if let Some(state @ State::Pending) = self.states.get_mut(&id) {
                    *state = State::Ready;
                    if self.live {
                        self.draw();
                    }
                }
            }
            Event::TaskStarted { task, attempt } => {
                if task.index.is_some() {
                    self.states.remove(&TaskId {
                        name: task.name.clone(),
                        index: None,
                    });
                }
                self.states
                    .insert(task.clone(), State::Running(Instant::now()));
                if !self.live {
                    // Attempts count from 1 here, as in the summary ("2 attempts").
                    let retry = if *attempt > 0 {
                        format!(" (attempt {})", attempt + 1)
                    } else {
                        String::new()
                    };
                    self.line(&format!("task {task} started{retry}"), true);
                } else {
                    self.draw();
                }
            }
            Event::TaskRetrying {
                task,
                attempt,
                reason,
            } => {
                self.line(
                    // `attempt` is the number of attempts made, so the failed one's number.
                    &format!("task {task} attempt {attempt} failed ({reason}); retrying"),
                    true,
                );
            }
            Event::TaskSkipped { task, reason } => {
                // A skipped child pipeline never runs its tasks: they leave the view.
                let nested = format!("{task}/");
                self.states.retain(|id, state| {
                    !(matches!(state, State::Pending) && id.name.starts_with(&nested))
                });
                self.states.insert(
                    TaskId {
                        name: task.clone(),
                        index: None,
                    },
                    State::Skipped(reason.clone()),
                );
                if self.live {
                    self.done_line(&TaskId {
                        name: task.clone(),
                        index: None,
                    });
                } else {
                    let what = if reason == NOT_SELECTED {
                        "not run"
                    } else {
                        "skipped"
                    };
                    self.line(&format!("task {task} {what}: {reason}"), true);
                }
            }
            Event::TaskReused { task, from } => {
                let id = TaskId {
                    name: task.clone(),
                    index: None,
                };
                self.states.insert(id.clone(), State::Reused(from.clone()));
                if self.live {
                    self.done_line(&id);
                } else {
                    self.line(&format!("task {task} reused from run {from}"), true);
                }
            }
            Event::TaskFinished {
                task,
                status,
                reason,
                message,
                duration,
            } => {
                self.states
                    .insert(task.clone(), State::Done(*status, *duration));
                if self.live {
                    self.done_line(task);
                    if *status != TaskStatus::Succeeded && !message.is_empty() {
                        let text = paint(
                            self.color,
                            "31",
                            &format!("task {task} {}: {message}", status_words(*status)),
                        );
                        self.line(&text, true);
                    }
                } else {
                    let detail = if *status == TaskStatus::Succeeded {
                        String::new()
                    } else {
                        format!(" ({reason}: {message})")
                    };
                    self.line(
                        &format!(
                            "task {task} {} ({}){detail}",
                            status_words(*status),
                            secs(*duration)
                        ),
                        true,
                    );
                }
            }
            Event::StepLog {
                task,
                step,
                stream,
                line,
            } => {
                // Each task has its colour; stderr is dimmed.
                let prefix = paint(
                    self.color,
                    &if *stream == Stream::Stderr {
                        format!("2;{}", task_color(&task.name))
                    } else {
                        task_color(&task.name).to_string()
                    },
                    &format!("[{task}/{step}]"),
                );
                let text = format!("{prefix} {line}");
                match self.output {
                    Output::Json => eprintln!("{text}"),
                    Output::Human => self.line(&text, false),
                }
            }
            Event::RunFinished { .. } => {}
        }
    }

    /// Ends the live view: every task's line has been printed once; the panel goes.
    pub fn finish(&mut self) {
        if self.live {
            for s in self.states.values_mut() {
                if matches!(
                    s,
                    State::Pending | State::Ready | State::Running(_) | State::Sidecars(_)
                ) {
                    // Not done and never will be (the run ended): not shown again.
                    *s = State::Skipped(String::new());
                }
            }
            self.draw();
            self.drawn = 0;
        }
    }
}

/// The JSON summary.
pub fn json_summary(summary: &RunSummary) -> String {
    serde_json::to_string_pretty(summary).unwrap_or_default()
}

/// The human summary: status, a table of tasks, results.
pub fn human_summary(s: &RunSummary, color: bool) -> String {
    let mut out = String::new();
    let status_color = match s.status.as_str() {
        "Succeeded" => "32",
        _ => "31",
    };
    out.push_str(&format!(
        "\n{} {} {}: {} ({}) in {}\n",
        paint(color, "1", "──"),
        s.kind,
        s.name,
        paint(color, status_color, &s.status),
        s.reason,
        secs(Duration::from_millis(s.duration_ms))
    ));
    if !s.message.is_empty() {
        out.push_str(&format!("   {}\n", s.message));
    }
    if let Some(partial) = &s.partial {
        out.push_str(&format!(
            "   a partial run ({}), not a whole PipelineRun\n",
            partial.flags.join(" ")
        ));
    }
    if !s.tasks.is_empty() {
        // The tasks of a child pipeline follow its pipeline task, as `<task>/<its task>`.
        let mut rows = vec![];
        task_rows(&s.tasks, "", &mut rows);
        let width = rows
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        out.push_str(&format!(
            "   {:<width$}  {:<15} {:>8}  {}\n",
            "TASK", "STATUS", "TIME", "REASON"
        ));
        for (label, t) in rows {
            let time = if t.attempts == 0 || t.reused_from.is_some() {
                "-".to_string()
            } else {
                secs(t.duration)
            };
            let retries = if t.attempts > 1 {
                format!(" ({} attempts)", t.attempts)
            } else {
                String::new()
            };
            let reason = if let Some(from) = &t.reused_from {
                format!("reused from run {from}")
            } else if t.status == TaskStatus::Succeeded {
                String::new()
            } else {
                t.reason.clone()
            };
            let st = format!("{:<15}", t.status.as_str());
            let st = match t.status {
                TaskStatus::Succeeded => paint(color, "32", &st),
                TaskStatus::Skipped | TaskStatus::NotRun => paint(color, "2", &st),
                _ => paint(color, "31", &st),
            };
            out.push_str(&format!(
                "   {label:<width$}  {st} {time:>8}  {reason}{retries}\n"
            ));
            for (k, v) in &t.results {
                out.push_str(&format!("   {:<width$}    {k} = {}\n", "", short(v)));
            }
        }
    }
    if !s.results.is_empty() {
        out.push_str("   results:\n");
        for (k, v) in &s.results {
            out.push_str(&format!("     {k} = {}\n", short(v)));
        }
    }
    out
}

/// Each task run with its label, the tasks of child pipelines after their pipeline task.
fn task_rows<'s>(
    tasks: &'s [tkc_runtime::TaskSummary],
    prefix: &str,
    rows: &mut Vec<(String, &'s tkc_runtime::TaskSummary)>,
) {
    for t in tasks {
        let label = format!("{prefix}{}", task_label(t));
        if let Some(child) = &t.pipeline_run {
            rows.push((label.clone(), t));
            task_rows(&child.tasks, &format!("{label}/"), rows);
        } else {
            rows.push((label, t));
        }
    }
}

fn task_label(t: &tkc_runtime::TaskSummary) -> String {
    match t.index {
        Some(i) => format!("{}[{i}]", t.name),
        None => t.name.clone(),
    }
}

fn short(v: &tkc_compiler::plan::ParamValue) -> String {
    let text = tkc_runtime::values::value_text(v);
    let text = text.trim_end();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The last lines of the step that made each failed task run fail, below the summary, and
/// where the whole log is.
pub fn failing_lines(
    s: &RunSummary,
    tails: &super::store::Tails,
    log_id: Option<&str>,
    color: bool,
) -> String {
    let mut out = String::new();
    for t in &s.tasks {
        let Some(step) = super::store::failing_step(t) else {
            continue;
        };
        let id = super::store::task_id(t);
        let lines: Vec<&str> = tails.of(&id, step).collect();
        let whole = match log_id {
            Some(run) => format!(" (all of it: tkc logs {run} {id}/{step})"),
            None => String::new(),
        };
        if lines.is_empty() {
            out.push_str(&format!("\n   {id}/{step} wrote nothing\n"));
            continue;
        }
        out.push_str(&format!(
            "\n   {}{whole}\n",
            paint(color, "1", &format!("last lines of {id}/{step}:"))
        ));
        for line in lines {
            out.push_str(&format!("   {} {line}\n", paint(color, "31", "│")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> TaskId {
        TaskId {
            name: name.into(),
            index: None,
        }
    }

    /// The panel tells apart waiting for dependencies, for a free slot and for sidecars.
    #[test]
    fn waiting_states_are_told_apart() {
        let mut r = Renderer::new(Output::Json, false, false);
        r.event(&Event::RunStarted {
            kind: "PipelineRun".into(),
            name: "r".into(),
            tasks: vec!["a".into(), "b".into(), "c".into()],
        });
        r.event(&Event::TaskReady { task: "b".into() });
        r.event(&Event::TaskReady { task: "c".into() });
        r.event(&Event::TaskStarted {
            task: id("c"),
            attempt: 0,
        });
        r.event(&Event::TaskSidecars {
            task: id("c"),
            ready: false,
        });
        let line = |r: &Renderer, t: &str| r.task_line(&id(t), 80);
        assert!(line(&r, "a").ends_with("waiting for dependencies"));
        assert!(line(&r, "b").ends_with("waiting for a free slot"));
        assert!(line(&r, "c").contains("waiting for sidecars"));
        r.event(&Event::TaskSidecars {
            task: id("c"),
            ready: true,
        });
        assert!(line(&r, "c").contains(" running "));
        // Cut to the width, never wrapped.
        assert_eq!(r.task_line(&id("a"), 12).chars().count(), 12);
    }

    #[test]
    fn a_task_keeps_its_colour() {
        assert_eq!(task_color("build"), task_color("build"));
        let colours: std::collections::BTreeSet<&str> =
            ["build", "test", "lint", "package", "deploy", "report"]
                .iter()
                .map(|t| task_color(t))
                .collect();
        assert!(colours.len() > 1);
    }
}
