//! How `tkc run` shows a run: a live view of task states on a terminal (plain lines
//! otherwise), step logs prefixed `[task/step]`, and the final summary (human or JSON).

use super::Output;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};
use tkc_runtime::events::{Event, Stream, TaskId};
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
    }
}

fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[derive(Clone)]
enum State {
    Pending,
    Running(Instant),
    Done(TaskStatus, Duration),
    Skipped(String),
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

    fn draw(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A\x1b[J", self.drawn);
        }
        let mut n = 0;
        let mut ids: Vec<&TaskId> = self.states.keys().collect();
        ids.sort_by_key(|id| (self.order.iter().position(|o| *o == id.name), id.index));
        for id in ids {
            let (mark, text) = match &self.states[id] {
                State::Pending => (paint(self.color, "2", "·"), "waiting".to_string()),
                State::Running(t) => (
                    paint(self.color, "33", "⏳"),
                    format!("running {}", secs(t.elapsed())),
                ),
                State::Done(TaskStatus::Succeeded, d) => (
                    paint(self.color, "32", "✓"),
                    format!("succeeded {}", secs(*d)),
                ),
                State::Done(s, d) => (
                    paint(self.color, "31", "✗"),
                    format!("{} {}", status_words(*s), secs(*d)),
                ),
                State::Skipped(r) => (paint(self.color, "2", "⊘"), format!("skipped: {r}")),
            };
            let _ = writeln!(out, "  {mark} {:<24} {text}", id.to_string());
            n += 1;
        }
        let _ = out.flush();
        self.drawn = n;
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
                self.states.insert(
                    TaskId {
                        name: task.clone(),
                        index: None,
                    },
                    State::Skipped(reason.clone()),
                );
                if self.live {
                    self.draw();
                } else {
                    self.line(&format!("task {task} skipped: {reason}"), true);
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
                    if *status != TaskStatus::Succeeded && !message.is_empty() {
                        let text = paint(
                            self.color,
                            "31",
                            &format!("task {task} {}: {message}", status_words(*status)),
                        );
                        self.line(&text, true);
                    } else {
                        self.draw();
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
                let prefix = paint(
                    self.color,
                    if *stream == Stream::Stderr {
                        "35"
                    } else {
                        "36"
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

    /// Leaves the final state of the live view on screen.
    pub fn finish(&mut self) {
        if self.live {
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
    if !s.tasks.is_empty() {
        let width = s
            .tasks
            .iter()
            .map(|t| task_label(t).len())
            .max()
            .unwrap_or(4)
            .max(4);
        out.push_str(&format!(
            "   {:<width$}  {:<15} {:>8}  {}\n",
            "TASK", "STATUS", "TIME", "REASON"
        ));
        for t in &s.tasks {
            let time = if t.attempts == 0 {
                "-".to_string()
            } else {
                secs(t.duration)
            };
            let retries = if t.attempts > 1 {
                format!(" ({} attempts)", t.attempts)
            } else {
                String::new()
            };
            let reason = if t.status == TaskStatus::Succeeded {
                String::new()
            } else {
                t.reason.clone()
            };
            let st = format!("{:<15}", t.status.as_str());
            let st = match t.status {
                TaskStatus::Succeeded => paint(color, "32", &st),
                TaskStatus::Skipped => paint(color, "2", &st),
                _ => paint(color, "31", &st),
            };
            out.push_str(&format!(
                "   {:<width$}  {st} {time:>8}  {reason}{retries}\n",
                task_label(t)
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
