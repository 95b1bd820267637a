//! The `$(...)` reference grammar (spec section 3).
//!
//! [`parse`] splits a string into literal text and [`Reference`]s, each with its byte range in
//! the string, so that a diagnostic can point at the reference inside a script line. Text
//! Tekton leaves alone (`$(date)`, `$(ls -la)`, `$(VAR)`) is a [`RefKind::Unknown`] reference
//! that substitution keeps verbatim, exactly as Tekton does. The checks, lowering and the
//! runtime all read references through this one grammar.

use std::fmt;

/// How a reference selects part of an array or object value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// The whole value.
    Whole,
    /// `[*]`: the whole array, written explicitly.
    Star,
    /// `[N]`.
    Index(usize),
    /// `.key` of an object.
    Key(String),
}

impl Selector {
    fn suffix(&self) -> String {
        match self {
            Selector::Whole => String::new(),
            Selector::Star => "[*]".to_string(),
            Selector::Index(i) => format!("[{i}]"),
            Selector::Key(k) => format!(".{k}"),
        }
    }
}

/// A `context.*` variable.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ContextVar {
    TaskRunName,
    TaskRunNamespace,
    TaskRunUid,
    TaskName,
    TaskRetryCount,
    PipelineRunName,
    PipelineRunNamespace,
    PipelineRunUid,
    PipelineName,
    PipelineTaskRetries,
}

impl ContextVar {
    pub const ALL: [ContextVar; 10] = [
        ContextVar::TaskRunName,
        ContextVar::TaskRunNamespace,
        ContextVar::TaskRunUid,
        ContextVar::TaskName,
        ContextVar::TaskRetryCount,
        ContextVar::PipelineRunName,
        ContextVar::PipelineRunNamespace,
        ContextVar::PipelineRunUid,
        ContextVar::PipelineName,
        ContextVar::PipelineTaskRetries,
    ];

    /// The variable as written after `context.`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContextVar::TaskRunName => "taskRun.name",
            ContextVar::TaskRunNamespace => "taskRun.namespace",
            ContextVar::TaskRunUid => "taskRun.uid",
            ContextVar::TaskName => "task.name",
            ContextVar::TaskRetryCount => "task.retry-count",
            ContextVar::PipelineRunName => "pipelineRun.name",
            ContextVar::PipelineRunNamespace => "pipelineRun.namespace",
            ContextVar::PipelineRunUid => "pipelineRun.uid",
            ContextVar::PipelineName => "pipeline.name",
            ContextVar::PipelineTaskRetries => "pipelineTask.retries",
        }
    }

    fn parse(s: &str) -> Option<ContextVar> {
        ContextVar::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Variables of a TaskRun (valid in a Task's steps).
    pub fn is_task_scope(self) -> bool {
        matches!(
            self,
            ContextVar::TaskRunName
                | ContextVar::TaskRunNamespace
                | ContextVar::TaskRunUid
                | ContextVar::TaskName
                | ContextVar::TaskRetryCount
        )
    }
}

/// `$(workspaces.W.<attr>)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkspaceAttr {
    Path,
    Bound,
    Claim,
    Volume,
}

impl WorkspaceAttr {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceAttr::Path => "path",
            WorkspaceAttr::Bound => "bound",
            WorkspaceAttr::Claim => "claim",
            WorkspaceAttr::Volume => "volume",
        }
    }
}

/// What a reference refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// `params.p`, `params["p"]`, `params['p']`, `inputs.params.p`, with `[N]`, `[*]` or `.key`.
    Param {
        name: String,
        selector: Selector,
        bracket: bool,
    },
    /// `tasks.T.results.R` (or `finally.T.results.R` in pipeline results).
    TaskResult {
        task: String,
        result: String,
        selector: Selector,
        finally: bool,
        bracket: bool,
    },
    /// `tasks.T.status` (finally only).
    TaskStatus {
        task: String,
    },
    /// `tasks.T.reason` (finally only).
    TaskReason {
        task: String,
    },
    /// `tasks.status` (finally only).
    TasksStatus,
    /// `tasks.T.matrix.length` or `tasks.T.matrix.R.length`.
    MatrixLength {
        task: String,
        result: Option<String>,
    },
    /// `steps.S.results.R` (replaced by the entrypoint when the step starts).
    StepResult {
        step: String,
        result: String,
        selector: Selector,
    },
    /// `step.results.R.path`.
    StepResultPath {
        result: String,
    },
    /// `results.R.path`.
    ResultPath {
        result: String,
    },
    /// `steps.step-S.exitCode.path` (the `step-` prefix is part of the reference).
    StepExitCodePath {
        step: String,
    },
    Context(ContextVar),
    Workspace {
        name: String,
        attr: WorkspaceAttr,
    },
    /// `credentials.path`.
    CredentialsPath,
    /// Artifact paths and references (alpha): `step.artifacts.path`, `artifacts.path`,
    /// `tasks.T.inputs.N`, `tasks.T.outputs.N`, `steps.S.inputs.N`, `steps.S.outputs.N`.
    Artifact,
    /// A known prefix used wrongly (`params.a.b.c`, `tasks.t.results`, `context.task.uid`):
    /// Tekton leaves it in place, which is nearly always a mistake.
    Malformed {
        prefix: &'static str,
        reason: String,
    },
    /// Anything else (`$(date)`, `$(VAR)`): Tekton leaves it alone.
    Unknown,
}

/// One `$(...)` in a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Byte range of `$(...)` in the string.
    pub start: usize,
    pub end: usize,
    /// The text between `$(` and `)`.
    pub expr: String,
    pub kind: RefKind,
}

impl Reference {
    /// Is the reference the whole string (`"$(params.x)"`, no other text)?
    pub fn is_whole(&self, text: &str) -> bool {
        self.start == 0 && self.end == text.len()
    }

    /// The first dotted segment (`params`, `tasks`, `context`, ...).
    pub fn prefix(&self) -> &str {
        self.expr.split(['.', '[']).next().unwrap_or_default()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$({})", self.expr)
    }
}

/// All `$(...)` references of a string, in order. A `$(` nested inside another (`$(echo
/// $(params.x))`) starts a new reference, so shell command substitutions around references
/// are seen through.
pub fn parse(text: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    // The next `$(` at or after `from`: a memchr for `$`, then one byte (a `&str` pattern
    // sets up a two-way searcher on every call).
    let next_open = |mut from: usize| -> Option<usize> {
        while let Some(found) = text.get(from..)?.find('$') {
            let at = from + found;
            if bytes.get(at + 1) == Some(&b'(') {
                return Some(at);
            }
            from = at + 1;
        }
        None
    };
    let mut i = 0;
    while let Some(start) = next_open(i) {
        let mut j = start + 2;
        let mut restart = None;
        let mut close = None;
        while j < bytes.len() {
            match bytes[j] {
                b')' => {
                    close = Some(j);
                    break;
                }
                b'$' if bytes.get(j + 1) == Some(&b'(') => {
                    restart = Some(j);
                    break;
                }
                _ => j += 1,
            }
        }
        if let Some(r) = restart {
            i = r;
            continue;
        }
        let Some(close) = close else {
            break;
        };
        let expr = &text[start + 2..close];
        out.push(Reference {
            start,
            end: close + 1,
            expr: expr.to_string(),
            kind: classify(expr),
        });
        i = close + 1;
    }
    out
}

/// Does the string hold any reference Tekton substitutes (anything but `Unknown`)?
pub fn has_references(text: &str) -> bool {
    parse(text).iter().any(|r| r.kind != RefKind::Unknown)
}

/// Reads a name in brackets at the start of `s`: `["x"]` or `['x']`; returns the name and
/// the rest.
fn bracket_name(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('[')?;
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    let name = &rest[..end];
    let rest = rest[end + 1..].strip_prefix(']')?;
    Some((name, rest))
}

/// Reads a selector (`[N]`, `[*]`, `.key`, or nothing) that must make up all of `s`.
fn selector(s: &str) -> Option<Selector> {
    if s.is_empty() {
        return Some(Selector::Whole);
    }
    if s == "[*]" {
        return Some(Selector::Star);
    }
    if let Some(index) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return index.parse().ok().map(Selector::Index);
    }
    let key = s.strip_prefix('.')?;
    (!key.is_empty() && !key.contains(['.', '[', ']'])).then(|| Selector::Key(key.to_string()))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

fn malformed(prefix: &'static str, reason: impl Into<String>) -> RefKind {
    RefKind::Malformed {
        prefix,
        reason: reason.into(),
    }
}

/// Classifies the text inside `$(...)`.
pub fn classify(expr: &str) -> RefKind {
    if expr.is_empty() || expr.contains(char::is_whitespace) {
        return RefKind::Unknown;
    }
    if let Some(rest) = expr.strip_prefix("inputs.params") {
        return param(rest).unwrap_or_else(|| malformed("params", "not a param reference"));
    }
    let (head, rest) = match expr.find(['.', '[']) {
        Some(i) => (&expr[..i], &expr[i..]),
        None => (expr, ""),
    };
    match head {
        "params" => param(rest).unwrap_or_else(|| {
            malformed(
                "params",
                "write `params.<name>`, `params[\"<name>\"]`, with an optional `[N]`, `[*]` or `.<key>`",
            )
        }),
        "tasks" | "finally" => tasks(head == "finally", rest),
        "steps" => steps(rest),
        "step" => match rest {
            ".artifacts.path" => RefKind::Artifact,
            _ => result_path(rest, true),
        },
        "results" => result_path(rest, false),
        "context" => match rest.strip_prefix('.').and_then(ContextVar::parse) {
            Some(var) => RefKind::Context(var),
            None => malformed("context", "unknown context variable"),
        },
        "workspaces" => workspace(rest),
        "credentials" if rest == ".path" => RefKind::CredentialsPath,
        "credentials" => malformed("credentials", "the only credentials variable is `credentials.path`"),
        "artifacts" if rest == ".path" => RefKind::Artifact,
        _ => RefKind::Unknown,
    }
}

/// `params` references: `.name`, `.name[N]`, `.name[*]`, `.obj.key`, `["name"]`, `['name']`.
fn param(rest: &str) -> Option<RefKind> {
    if let Some((name, after)) = bracket_name(rest) {
        return Some(RefKind::Param {
            name: name.to_string(),
            selector: selector(after)?,
            bracket: true,
        });
    }
    let body = rest.strip_prefix('.')?;
    let name_end = body
        .find(|c: char| !(is_name_char(c)))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() {
        return None;
    }
    let after = &body[name_end..];
    // A second `.` part is an object key; a third is not allowed.
    if let Some(key) = after.strip_prefix('.')
        && key.contains('.')
    {
        return Some(malformed(
            "params",
            "only two dot-separated parts may follow `params` (`params.<object>.<key>`); use `params[\"a.b\"]` for a name with dots",
        ));
    }
    Some(RefKind::Param {
        name: name.to_string(),
        selector: selector(after)?,
        bracket: false,
    })
}

/// `tasks.T.results.R...`, `tasks.T.status`, `tasks.T.reason`, `tasks.status`,
/// `tasks.T.matrix.length`, `tasks.T.matrix.R.length`, artifacts.
fn tasks(finally: bool, rest: &str) -> RefKind {
    let prefix = if finally { "finally" } else { "tasks" };
    let Some(body) = rest.strip_prefix('.') else {
        return malformed(prefix, "write `tasks.<task>.results.<result>`");
    };
    if body == "status" && !finally {
        return RefKind::TasksStatus;
    }
    let task_end = body.find('.').unwrap_or(body.len());
    let task = &body[..task_end];
    let after = &body[task_end..];
    if task.is_empty() || !task.chars().all(is_name_char) {
        return malformed(prefix, "a task name is a DNS label");
    }
    if !finally {
        match after {
            ".status" => {
                return RefKind::TaskStatus {
                    task: task.to_string(),
                };
            }
            ".reason" => {
                return RefKind::TaskReason {
                    task: task.to_string(),
                };
            }
            ".matrix.length" => {
                return RefKind::MatrixLength {
                    task: task.to_string(),
                    result: None,
                };
            }
            _ => {}
        }
        if let Some(r) = after
            .strip_prefix(".matrix.")
            .and_then(|r| r.strip_suffix(".length"))
        {
            return RefKind::MatrixLength {
                task: task.to_string(),
                result: Some(r.to_string()),
            };
        }
        if after.starts_with(".outputs.") || after.starts_with(".inputs.") {
            return RefKind::Artifact;
        }
    }
    let Some(results) = after.strip_prefix(".results") else {
        return malformed(prefix, format!("write `{prefix}.{task}.results.<result>`"));
    };
    let (result, selector_text, bracket) = if let Some((name, after)) = bracket_name(results) {
        (name, after, true)
    } else if let Some(body) = results.strip_prefix('.') {
        let end = body.find(['.', '[']).unwrap_or(body.len());
        (&body[..end], &body[end..], false)
    } else {
        return malformed(prefix, format!("write `{prefix}.{task}.results.<result>`"));
    };
    if result.is_empty() {
        return malformed(prefix, "the result name is missing");
    }
    match selector(selector_text) {
        Some(selector) => RefKind::TaskResult {
            task: task.to_string(),
            result: result.to_string(),
            selector,
            finally,
            bracket,
        },
        None => malformed(
            prefix,
            "after the result name only `[N]`, `[*]` or `.<key>` may follow",
        ),
    }
}

/// `steps.S.results.R...` and `steps.step-S.exitCode.path`.
fn steps(rest: &str) -> RefKind {
    let Some(body) = rest.strip_prefix('.') else {
        return malformed("steps", "write `steps.<step>.results.<result>`");
    };
    if let Some(step) = body.strip_suffix(".exitCode.path") {
        return match step.strip_prefix("step-") {
            Some(name) if !name.is_empty() => RefKind::StepExitCodePath {
                step: name.to_string(),
            },
            _ => malformed(
                "steps",
                "the exit code reference carries the `step-` prefix: `steps.step-<step>.exitCode.path`",
            ),
        };
    }
    let step_end = body.find('.').unwrap_or(body.len());
    let step = &body[..step_end];
    let after = &body[step_end..];
    if after.starts_with(".outputs.") || after.starts_with(".inputs.") {
        return RefKind::Artifact;
    }
    let Some(results) = after.strip_prefix(".results.") else {
        return malformed("steps", "write `steps.<step>.results.<result>`");
    };
    let end = results.find(['.', '[']).unwrap_or(results.len());
    let (result, sel) = (&results[..end], &results[end..]);
    match selector(sel) {
        Some(selector) if !step.is_empty() && !result.is_empty() => RefKind::StepResult {
            step: step.to_string(),
            result: result.to_string(),
            selector,
        },
        _ => malformed("steps", "write `steps.<step>.results.<result>`"),
    }
}

/// `results.R.path` / `step.results.R.path` (and `results["R"].path`).
fn result_path(rest: &str, step: bool) -> RefKind {
    let prefix = if step { "step" } else { "results" };
    let rest = if step {
        match rest.strip_prefix(".results") {
            Some(r) => r,
            None => return malformed(prefix, "write `step.results.<result>.path`"),
        }
    } else {
        rest
    };
    let name = if let Some((name, after)) = bracket_name(rest) {
        (after == ".path").then_some(name)
    } else {
        rest.strip_prefix('.')
            .and_then(|r| r.strip_suffix(".path"))
            .filter(|n| !n.contains('.'))
    };
    match name {
        Some(n) if !n.is_empty() => {
            if step {
                RefKind::StepResultPath {
                    result: n.to_string(),
                }
            } else {
                RefKind::ResultPath {
                    result: n.to_string(),
                }
            }
        }
        _ => malformed(
            prefix,
            if step {
                "write `step.results.<result>.path`"
            } else {
                "write `results.<result>.path`"
            },
        ),
    }
}

fn workspace(rest: &str) -> RefKind {
    let Some(body) = rest.strip_prefix('.') else {
        return malformed("workspaces", "write `workspaces.<workspace>.path`");
    };
    let Some((name, attr)) = body.rsplit_once('.') else {
        return malformed("workspaces", "write `workspaces.<workspace>.path`");
    };
    let attr = match attr {
        "path" => WorkspaceAttr::Path,
        "bound" => WorkspaceAttr::Bound,
        "claim" => WorkspaceAttr::Claim,
        "volume" => WorkspaceAttr::Volume,
        _ => {
            return malformed(
                "workspaces",
                "a workspace has `path`, `bound`, `claim` and `volume`",
            );
        }
    };
    if name.is_empty() || name.contains('.') {
        return malformed("workspaces", "write `workspaces.<workspace>.path`");
    }
    RefKind::Workspace {
        name: name.to_string(),
        attr,
    }
}

/// Rebuilds the canonical text of a param reference (used in messages).
pub fn param_ref_text(name: &str, selector: &Selector) -> String {
    format!("$(params.{name}{})", selector.suffix())
}

/// Replaces references in `text`: `lookup` returns the replacement of a reference, or `None`
/// to keep it verbatim (as Tekton keeps references it does not know). One left-to-right pass;
/// inserted text is not rescanned.
pub fn substitute(text: &str, mut lookup: impl FnMut(&Reference) -> Option<String>) -> String {
    let refs = parse(text);
    if refs.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in &refs {
        if let Some(value) = lookup(r) {
            out.push_str(&text[at..r.start]);
            out.push_str(&value);
            at = r.end;
        }
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> RefKind {
        let refs = parse(s);
        assert_eq!(refs.len(), 1, "{s}: {refs:?}");
        refs[0].kind.clone()
    }

    fn p(name: &str, selector: Selector, bracket: bool) -> RefKind {
        RefKind::Param {
            name: name.into(),
            selector,
            bracket,
        }
    }

    #[test]
    fn params() {
        assert_eq!(kind("$(params.url)"), p("url", Selector::Whole, false));
        assert_eq!(
            kind("x $(params[\"a.b\"]) y"),
            p("a.b", Selector::Whole, true)
        );
        assert_eq!(kind("$(params['x'])"), p("x", Selector::Whole, true));
        assert_eq!(kind("$(params.arr[*])"), p("arr", Selector::Star, false));
        assert_eq!(
            kind("$(params.arr[2])"),
            p("arr", Selector::Index(2), false)
        );
        assert_eq!(
            kind("$(params.obj.key)"),
            p("obj", Selector::Key("key".into()), false)
        );
        assert_eq!(kind("$(inputs.params.x)"), p("x", Selector::Whole, false));
        assert!(matches!(kind("$(params.a.b.c)"), RefKind::Malformed { .. }));
    }

    #[test]
    fn results_and_status() {
        assert_eq!(
            kind("$(tasks.build.results.digest)"),
            RefKind::TaskResult {
                task: "build".into(),
                result: "digest".into(),
                selector: Selector::Whole,
                finally: false,
                bracket: false
            }
        );
        assert!(matches!(
            kind("$(tasks.b.results.arr[1])"),
            RefKind::TaskResult {
                selector: Selector::Index(1),
                ..
            }
        ));
        assert!(matches!(
            kind("$(tasks.b.results.obj.url)"),
            RefKind::TaskResult {
                selector: Selector::Key(_),
                ..
            }
        ));
        assert!(matches!(
            kind("$(tasks.b.results[\"r.x\"])"),
            RefKind::TaskResult { bracket: true, .. }
        ));
        assert!(matches!(
            kind("$(finally.f.results.r)"),
            RefKind::TaskResult { finally: true, .. }
        ));
        assert_eq!(kind("$(tasks.status)"), RefKind::TasksStatus);
        assert_eq!(
            kind("$(tasks.a.status)"),
            RefKind::TaskStatus { task: "a".into() }
        );
        assert_eq!(
            kind("$(tasks.a.reason)"),
            RefKind::TaskReason { task: "a".into() }
        );
        assert_eq!(
            kind("$(tasks.a.matrix.r.length)"),
            RefKind::MatrixLength {
                task: "a".into(),
                result: Some("r".into())
            }
        );
        assert!(matches!(
            kind("$(tasks.a.results)"),
            RefKind::Malformed { .. }
        ));
    }

    #[test]
    fn task_side_variables() {
        assert_eq!(
            kind("$(results.digest.path)"),
            RefKind::ResultPath {
                result: "digest".into()
            }
        );
        assert_eq!(
            kind("$(results[\"d\"].path)"),
            RefKind::ResultPath { result: "d".into() }
        );
        assert_eq!(
            kind("$(step.results.r.path)"),
            RefKind::StepResultPath { result: "r".into() }
        );
        assert_eq!(
            kind("$(steps.step-build.exitCode.path)"),
            RefKind::StepExitCodePath {
                step: "build".into()
            }
        );
        assert!(matches!(
            kind("$(steps.build.exitCode.path)"),
            RefKind::Malformed { .. }
        ));
        assert!(matches!(
            kind("$(steps.s.results.r[*])"),
            RefKind::StepResult {
                selector: Selector::Star,
                ..
            }
        ));
        assert_eq!(
            kind("$(context.task.retry-count)"),
            RefKind::Context(ContextVar::TaskRetryCount)
        );
        assert!(matches!(
            kind("$(context.task.uid)"),
            RefKind::Malformed { .. }
        ));
        assert_eq!(
            kind("$(workspaces.src.path)"),
            RefKind::Workspace {
                name: "src".into(),
                attr: WorkspaceAttr::Path
            }
        );
        assert_eq!(kind("$(credentials.path)"), RefKind::CredentialsPath);
    }

    #[test]
    fn text_tekton_leaves_alone() {
        assert_eq!(kind("$(date)"), RefKind::Unknown);
        assert_eq!(kind("$(ls -la)"), RefKind::Unknown);
        assert_eq!(kind("$(HOME)"), RefKind::Unknown);
        assert!(parse("no refs, $ ( and ) here").is_empty());
        assert!(parse("unclosed $(params.x").is_empty());
    }

    #[test]
    fn nested_command_substitution_is_seen_through() {
        let refs = parse("echo $(basename $(params.path))");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].expr, "params.path");
        let text = "echo $(basename $(params.path))";
        assert_eq!(&text[refs[0].start..refs[0].end], "$(params.path)");
    }

    #[test]
    fn substitution_keeps_unknown_references() {
        let out = substitute("$(params.a)-$(date)-$(params.b)", |r| match &r.kind {
            RefKind::Param { name, .. } if name == "a" => Some("A".into()),
            _ => None,
        });
        assert_eq!(out, "A-$(date)-$(params.b)");
    }

    #[test]
    fn references_in_non_ascii_text() {
        let text = "ünïcödé $(params.x) ✓";
        let refs = parse(text);
        assert_eq!(&text[refs[0].start..refs[0].end], "$(params.x)");
    }
}
