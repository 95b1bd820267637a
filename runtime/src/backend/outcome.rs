//! How the end of an attempt becomes its [`AttemptOutcome`], for every backend.
//!
//! A backend only reports what its pod showed: each step container's exit code and
//! termination message, and the raw text of each declared result. The step statuses, the
//! first failure's reason and message, and the decoding of results by their declared type are
//! decided here, once, as Tekton's controller decides them from a pod's status
//! (`pkg/pod/status.go`: `MakeTaskRunStatus`, `setTaskRunStatusBasedOnStepStatus`,
//! `getFailureMessage`), so that the local and the Kubernetes backends cannot disagree.

use super::{AttemptOutcome, StepOutcome, Stop};
use crate::scheduler::STEP_FAILED;
use crate::values;
use tkc_compiler::plan::{ResultDecl, Step};

/// `type` of a task result entry in a termination message (Tekton's `TaskRunResultType`).
pub const TASK_RESULT: i64 = 1;
/// `type` of an entry the entrypoint writes about the step itself (`StartedAt`, `Reason`,
/// `ExitCode`: Tekton's `InternalTektonResultType`).
pub const INTERNAL: i64 = 3;
/// `type` of a step result entry (Tekton's `StepResultType`).
pub const STEP_RESULT: i64 = 4;

/// Kubernetes' cap on one container's termination message, which Tekton relies on.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// One `{key, value, type}` entry of a step's termination message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEntry {
    pub key: String,
    pub value: String,
    pub ty: i64,
}

/// Reads a termination message: Tekton's JSON array of entries. Anything else (a message
/// written by a program that is not the entrypoint, or none) has no entries.
pub fn parse_message(text: &str) -> Vec<MessageEntry> {
    let Ok(serde_json::Value::Array(entries)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            Some(MessageEntry {
                key: e.get("key")?.as_str()?.to_string(),
                value: e.get("value")?.as_str()?.to_string(),
                ty: e
                    .get("type")
                    .and_then(|t| t.as_i64())
                    .unwrap_or(TASK_RESULT),
            })
        })
        .collect()
}

/// How one step's container ended, as its backend saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepEnd {
    /// The container's exit code; `None` when it was killed by a signal or never ran.
    pub exit_code: Option<i32>,
    /// Its termination message.
    pub message: Vec<MessageEntry>,
}

impl StepEnd {
    fn internal(&self, key: &str) -> Option<&str> {
        self.message
            .iter()
            .rev()
            .find(|e| e.ty == INTERNAL && e.key == key)
            .map(|e| e.value.as_str())
    }
}

/// The outcome of an attempt whose steps ended as `ends` (one per step, in order; missing
/// ones never ran), after `stop` if the scheduler stopped it. Its results are those of the
/// steps' termination messages, as Tekton's controller reads them.
pub fn attempt_outcome(
    steps: &[Step],
    decls: &[ResultDecl],
    ends: &[StepEnd],
    stop: Option<Stop>,
) -> AttemptOutcome {
    let mut out = AttemptOutcome::default();
    let never_ran = StepEnd::default();
    for (i, step) in steps.iter().enumerate() {
        let end = ends.get(i).unwrap_or(&never_ran);
        let continued = end.internal("ExitCode").and_then(|c| c.parse::<i32>().ok());
        let (exit_code, status) = match (end.internal("Reason"), end.exit_code) {
            // The entrypoint of a skipped step exits 1 (`cmd/entrypoint`: the wait for the
            // previous step's `.err` post file returns an error), and the container's exit
            // code is what the TaskRun's step state records.
            (Some("Skipped"), _) => (Some(1), "Skipped"),
            (Some("Cancelled"), _) => (None, "Cancelled"),
            (Some("TimeoutExceeded"), c) => (c, "TimedOut"),
            (_, Some(0)) => match continued {
                Some(n) => (Some(n), "Continued"),
                None => (Some(0), "Succeeded"),
            },
            (_, Some(c)) => (Some(c), "Failed"),
            (_, None) if stop.is_some() => (None, "Cancelled"),
            (_, None) => (None, "Failed"),
        };
        if out.failure.is_none() {
            let container = &step.container;
            out.failure = match status {
                "Failed" => Some((
                    STEP_FAILED.to_string(),
                    match exit_code {
                        Some(c) => format!("\"{container}\" exited with code {c}"),
                        None => format!("\"{container}\" was killed"),
                    },
                )),
                "TimedOut" => Some((
                    STEP_FAILED.to_string(),
                    format!(
                        "\"{container}\" exited because the step exceeded the specified timeout limit"
                    ),
                )),
                _ => None,
            };
        }
        out.steps.push(StepOutcome {
            name: step.name.clone(),
            exit_code,
            status: status.to_string(),
        });
    }
    // A TaskRun that timed out or was cancelled has no results: Tekton stops its pod and
    // does not read them (taskrun.go, `failTaskRun`).
    let decls = if stop.is_some() { &[][..] } else { decls };
    for decl in decls {
        let raw = match &decl.from_step {
            Some(from) => steps
                .iter()
                .position(|s| s.name == from.step)
                .and_then(|index| written(ends, Some(index), STEP_RESULT, &from.result)),
            None => written(ends, None, TASK_RESULT, &decl.name),
        };
        let Some(raw) = raw else {
            continue;
        };
        match values::decode_result(decl, raw) {
            Ok(v) => {
                out.results.insert(decl.name.clone(), v);
            }
            Err(message) => fail(&mut out, "TaskRunValidationFailed", message),
        }
    }
    out
}

/// Applies the sidecars' ends to an outcome: a sidecar container that exited non-zero on its
/// own (not stopped at the end of the steps) fails the TaskRun with `SidecarFailed`, which
/// Tekton ranks before a step's failure (`pkg/pod/status.go`, `getFailureInfo`: "a crashed
/// sidecar is likely the root cause"). `sidecars` holds each sidecar's container name and
/// its exit code, `None` while it ran or once stopped. Every backend calls this after
/// [`attempt_outcome`].
pub fn apply_sidecars(out: &mut AttemptOutcome, sidecars: &[(String, Option<i32>)]) {
    let failed = sidecars
        .iter()
        .find_map(|(name, code)| code.filter(|c| *c != 0).map(|c| (name, c)));
    let Some((name, code)) = failed else {
        return;
    };
    let replaces = match &out.failure {
        None => true,
        Some((reason, _)) => reason == STEP_FAILED,
    };
    if replaces {
        out.failure = Some((
            SIDECAR_FAILED.to_string(),
            format!("\"{name}\" exited with code {code}"),
        ));
    }
}

/// The TaskRun reason of a sidecar that failed (`v1.TaskRunReasonSidecarFailed`).
pub const SIDECAR_FAILED: &str = "SidecarFailed";

fn fail(out: &mut AttemptOutcome, reason: &str, message: String) {
    if out.failure.is_none() {
        out.failure = Some((reason.to_string(), message));
    }
}

/// A result's text in the steps' termination messages: a task result from any step's message
/// (a later step's entry wins), a step result from step `step`'s own message. (The entrypoint
/// wrote them within Kubernetes' 4 KiB message limit; an oversized result is not there.)
fn written<'a>(ends: &'a [StepEnd], step: Option<usize>, ty: i64, key: &str) -> Option<&'a str> {
    let messages: &[StepEnd] = match step {
        Some(i) => ends.get(i..=i)?,
        None => ends,
    };
    messages
        .iter()
        .rev()
        .flat_map(|e| e.message.iter().rev())
        .find(|e| e.ty == ty && e.key == key)
        .map(|e| e.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_leniently() {
        let m = parse_message(
            r#"[{"key":"digest","value":"sha","type":1},{"key":"StartedAt","value":"t","type":3},{"bad":1}]"#,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].key, "digest");
        assert!(parse_message("not json").is_empty());
        assert!(parse_message("").is_empty());
    }

    #[test]
    fn a_later_step_s_task_result_wins() {
        let entry = |v: &str| MessageEntry {
            key: "r".into(),
            value: v.into(),
            ty: TASK_RESULT,
        };
        let ends = [
            StepEnd {
                exit_code: Some(0),
                message: vec![entry("first")],
            },
            StepEnd {
                exit_code: Some(0),
                message: vec![entry("second")],
            },
        ];
        assert_eq!(written(&ends, None, TASK_RESULT, "r"), Some("second"));
        assert_eq!(written(&ends, None, TASK_RESULT, "other"), None);
        assert_eq!(written(&ends, Some(0), STEP_RESULT, "r"), None);
        assert_eq!(written(&ends, Some(0), TASK_RESULT, "r"), Some("first"));
        assert_eq!(written(&ends, Some(5), TASK_RESULT, "r"), None);
    }
}
