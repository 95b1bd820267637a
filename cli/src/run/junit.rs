//! `tkc run --report junit=FILE`: the run as a JUnit XML report for CI (the shape Jenkins,
//! GitLab and GitHub's test reporters read: `testsuites` > `testsuite` > `testcase`).
//!
//! One `testsuite` for the run; one `testcase` per step of each task run (its last attempt),
//! `classname` the task run (`task` or `task[i]`), `name` the step. A step that failed or
//! timed out has a `failure` with the step's last lines; a step that did not run is
//! `skipped`. A task run that failed without a failing step (it could not start), or that
//! was skipped, cancelled or has no steps, is one `testcase` named after the task.

use super::store::{TAIL_LINES, Tails, task_id};
use tkc_runtime::{RunSummary, TaskStatus};

/// Text as XML character data or an attribute value; characters XML 1.0 cannot hold become
/// `?`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

struct Case {
    class: String,
    name: String,
    time: Option<f64>,
    /// `failure` or `skipped`, with its message and body.
    outcome: Option<(&'static str, String, String)>,
}

fn cases(s: &RunSummary, tails: &Tails) -> Vec<Case> {
    let mut out = vec![];
    for t in &s.tasks {
        let id = task_id(t);
        let class = id.to_string();
        let failing = super::store::failing_step(t);
        let message = if t.message.is_empty() {
            t.reason.clone()
        } else {
            format!("{}: {}", t.reason, t.message)
        };
        let whole_task = t.steps.is_empty()
            || matches!(
                t.status,
                TaskStatus::Skipped | TaskStatus::Cancelled | TaskStatus::NotRun
            )
            || (matches!(t.status, TaskStatus::Failed | TaskStatus::TimedOut) && failing.is_none());
        if whole_task {
            let outcome = match t.status {
                TaskStatus::Succeeded | TaskStatus::FailureIgnored => None,
                TaskStatus::Skipped | TaskStatus::Cancelled | TaskStatus::NotRun => {
                    Some(("skipped", message, String::new()))
                }
                TaskStatus::Failed | TaskStatus::TimedOut => {
                    Some(("failure", message, String::new()))
                }
            };
            out.push(Case {
                class: class.clone(),
                name: t.name.clone(),
                time: (t.attempts > 0).then_some(t.duration.as_secs_f64()),
                outcome,
            });
            continue;
        }
        for step in &t.steps {
            let outcome = match step.status.as_str() {
                "Failed" | "TimedOut" if t.status != TaskStatus::FailureIgnored => {
                    let lines: Vec<&str> = tails.of(&id, &step.name).collect();
                    let body = if lines.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "last {} lines of {class}/{}:\n{}",
                            TAIL_LINES.min(lines.len()),
                            step.name,
                            lines.join("\n")
                        )
                    };
                    let exit = step
                        .exit_code
                        .map(|c| format!(" (exit code {c})"))
                        .unwrap_or_default();
                    Some(("failure", format!("{message}{exit}"), body))
                }
                "Skipped" | "Cancelled" => Some(("skipped", step.status.clone(), String::new())),
                _ => None,
            };
            out.push(Case {
                class: class.clone(),
                name: step.name.clone(),
                time: None,
                outcome,
            });
        }
    }
    out
}

/// The JUnit XML report of a run.
pub fn report(s: &RunSummary, tails: &Tails) -> String {
    let cases = cases(s, tails);
    let count = |kind: &str| {
        cases
            .iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == kind))
            .count()
    };
    let (failures, skipped) = (count("failure"), count("skipped"));
    let time = s.duration_ms as f64 / 1000.0;
    let name = escape(&s.name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let totals = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\"",
        cases.len()
    );
    out.push_str(&format!("<testsuites name=\"{name}\" {totals}>\n"));
    out.push_str(&format!(
        "  <testsuite name=\"{name}\" {totals}>\n    <properties>\n      <property name=\"kind\" value=\"{}\"/>\n      <property name=\"status\" value=\"{}\"/>\n      <property name=\"reason\" value=\"{}\"/>\n    </properties>\n",
        escape(&s.kind),
        escape(&s.status),
        escape(&s.reason)
    ));
    for c in &cases {
        let time = c
            .time
            .map(|t| format!(" time=\"{t:.3}\""))
            .unwrap_or_default();
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\"{time}",
            escape(&c.class),
            escape(&c.name)
        );
        match &c.outcome {
            None => out.push_str(&format!("{head}/>\n")),
            Some((kind, message, body)) => {
                out.push_str(&format!(
                    "{head}>\n      <{kind} message=\"{}\"",
                    escape(message)
                ));
                if body.is_empty() {
                    out.push_str("/>\n");
                } else {
                    // Line breaks stay line breaks in character data.
                    let body = escape(body).replace("&#10;", "\n");
                    out.push_str(&format!(">{body}</{kind}>\n"));
                }
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
