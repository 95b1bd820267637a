//! `tkc::shellcheck::*`: shellcheck's findings inside step, sidecar and StepAction scripts,
//! at their line and column in the YAML or KDL source.
//!
//! The library stays pure: this module picks the scripts written for a POSIX shell, replaces
//! Tekton's `$(...)` references by placeholders of the same length, and maps what a
//! [`ScriptLinter`] answers back into the source. Running shellcheck (a process, a cache, a
//! timeout) is the caller's: `tkc check` hands [`crate::check_with`] a linter that does.

use crate::check::{Checker, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{EnvVar, Resource, Str};
use crate::resolve::World;
use crate::vars::{self, RefKind};
use std::collections::BTreeMap;

declare_code! {
    /// # shellcheck: an error in a script
    ///
    /// shellcheck (<https://www.shellcheck.net>) found what it rates an *error* in a step,
    /// sidecar or StepAction script: the message names its code (`SC1009`) and the wiki page
    /// that explains it. Scripts run by a POSIX shell are checked: those whose `#!` line names
    /// sh, bash, dash, ksh or busybox's ash (directly or through `/usr/bin/env`), and those
    /// without one, which Tekton runs with `/bin/sh`. Python, Node and other scripts are not.
    ///
    /// tkc runs shellcheck only where it is installed (`shellcheck` on `PATH`, or the program
    /// `TKC_SHELLCHECK` names; `TKC_SHELLCHECK=off` turns it off); `tkc explain` on this code
    /// says whether it is found. Results are cached by script in the user's cache directory.
    ///
    /// Tekton replaces `$(params.x)` and the other references before the shell reads the
    /// script, so shellcheck sees each one as a variable (`${_____}`) of the same length;
    /// what shellcheck says about the placeholder itself (unquoted, never assigned, inside
    /// single quotes) is not reported: `tkc::lint::script-injection` covers references in
    /// scripts. Nor is a variable "referenced but not assigned" (`SC2154`) that the
    /// container's `env` sets, or in a container with `envFrom`.
    ///
    /// Silence one finding with a directive in the script (`# shellcheck disable=SC2086` on
    /// the line before), a whole level in `tkc.toml` (`[severity]
    /// "tkc::shellcheck::style" = "off"`), or one line with `# tkc:ignore[tkc::shellcheck::error]`.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   if [ -f go.mod ] then    # SC1010: `then` needs a `;` before it
    ///     go build ./...
    ///   fi
    /// ```
    pub static ERROR = "tkc::shellcheck::error", Warning;
}

declare_code! {
    /// # shellcheck: a warning in a script
    ///
    /// shellcheck rates the finding a *warning*: a construct that is likely to misbehave,
    /// such as `cd` without `|| exit` (`SC2164`) or a variable used but never set. See
    /// `tkc explain tkc::shellcheck::error` for which scripts are checked and how to silence
    /// a finding.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   cd "$(workspaces.source.path)/app"   # SC2164: the next commands run elsewhere if cd fails
    ///   make
    /// ```
    pub static WARNING = "tkc::shellcheck::warning", Warning;
}

declare_code! {
    /// # shellcheck: an info finding in a script
    ///
    /// shellcheck rates the finding *info*, such as an unquoted variable that word splitting
    /// and globbing may break apart (`SC2086`). See `tkc explain tkc::shellcheck::error` for
    /// which scripts are checked and how to silence a finding.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   rm -rf $TARGET/build    # SC2086: write "$TARGET/build"
    /// ```
    pub static INFO = "tkc::shellcheck::info", Warning;
}

declare_code! {
    /// # shellcheck: a style finding in a script
    ///
    /// shellcheck rates the finding *style*, such as backticks instead of `$(...)`
    /// (`SC2006`); reported as advice, which `--deny-warnings` does not fail on. See `tkc
    /// explain tkc::shellcheck::error` for which scripts are checked and how to silence a
    /// finding.
    pub static STYLE = "tkc::shellcheck::style", Advice;
}

declare_code! {
    /// # shellcheck could not check a script
    ///
    /// shellcheck is installed but gave no usable answer for this script: it timed out (10
    /// seconds), crashed, or printed something other than its JSON report. The script is not
    /// checked; nothing else is affected. The message says what happened. After a timeout
    /// no further shellcheck is started in that run, so the other scripts get this note too.
    pub static NOT_RUN = "tkc::shellcheck::not-run", Advice;
}

/// This family's codes.
pub const CODES: &[&Code] = &[&ERROR, &WARNING, &INFO, &STYLE, &NOT_RUN];

/// The shell dialects shellcheck knows (`--shell`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    Sh,
    Bash,
    Dash,
    Ksh,
}

impl Dialect {
    /// The name shellcheck's `--shell` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sh => "sh",
            Dialect::Bash => "bash",
            Dialect::Dash => "dash",
            Dialect::Ksh => "ksh",
        }
    }

    /// The dialect a script runs in, as Tekton starts it (`placeScriptInContainer` in
    /// `pkg/pod/script.go`): a script whose trimmed text starts with `#!` runs with that
    /// interpreter, any other with `#!/bin/sh`. None for interpreters that are no POSIX shell
    /// (python, node, `#!win pwsh`, zsh, fish), and for a script that starts with a reference
    /// (a script passed as a param brings its own `#!`).
    pub fn of_script(script: &str) -> Option<Dialect> {
        let trimmed = script.trim_start();
        if trimmed.starts_with("$(") {
            return None;
        }
        let Some(shebang) = trimmed.strip_prefix("#!") else {
            return Some(Dialect::Sh);
        };
        let line = shebang.lines().next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let mut program = words.next()?;
        let basename = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        if basename(program) == "env" {
            // `/usr/bin/env bash`, `/usr/bin/env -S bash -e`: the first word that is no flag.
            program = words.find(|w| !w.starts_with('-'))?;
        } else if basename(program) == "busybox" {
            // `#!/bin/busybox sh`
            program = words.next()?;
        }
        match basename(program).as_str() {
            "sh" | "ash" => Some(Dialect::Sh),
            "bash" => Some(Dialect::Bash),
            "dash" => Some(Dialect::Dash),
            "ksh" | "ksh93" | "mksh" | "pdksh" => Some(Dialect::Ksh),
            _ => None,
        }
    }
}

/// A script as shellcheck is given it: Tekton's references replaced by placeholders of the
/// same length in bytes (so offsets map back one to one), after [`PREAMBLE`] if Tekton
/// prepends it, in the dialect it runs in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PreparedScript {
    pub dialect: Dialect,
    pub text: String,
}

/// shellcheck's rating of a finding.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShellLevel {
    Error,
    Warning,
    Info,
    Style,
}

impl ShellLevel {
    fn code(self) -> &'static Code {
        match self {
            ShellLevel::Error => &ERROR,
            ShellLevel::Warning => &WARNING,
            ShellLevel::Info => &INFO,
            ShellLevel::Style => &STYLE,
        }
    }
}

/// One finding as shellcheck's `json1` format gives it: lines from 1, columns from 1 in
/// characters (a tab is one), the end exclusive, in the prepared text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellFinding {
    pub code: u32,
    pub level: ShellLevel,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// What linting one script gave: its findings, or why there are none to trust (the note of
/// `tkc::shellcheck::not-run`).
pub type LintOutcome = Result<Vec<ShellFinding>, String>;

/// Something that runs shellcheck, or answers as it would. `tkc check` passes one that starts
/// the program (in parallel, with a timeout, through a cache); tests pass fakes.
pub trait ScriptLinter: Sync {
    /// One outcome per script, in the order given.
    fn lint(&self, scripts: &[PreparedScript]) -> Vec<LintOutcome>;
}

/// Reads shellcheck's `--format=json1` output. An error says what was wrong with it.
pub fn parse_json1(output: &str) -> LintOutcome {
    let value: serde_json::Value = serde_json::from_str(output)
        .map_err(|e| format!("shellcheck printed something that is not its JSON report ({e})"))?;
    let comments = value
        .get("comments")
        .and_then(|c| c.as_array())
        .ok_or("shellcheck's JSON report has no `comments` list")?;
    comments.iter().map(parse_comment).collect()
}

fn parse_comment(comment: &serde_json::Value) -> Result<ShellFinding, String> {
    let number = |key: &str| {
        comment
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("a finding of shellcheck has no `{key}`"))
    };
    let level = match comment.get("level").and_then(|l| l.as_str()) {
        Some("error") => ShellLevel::Error,
        Some("warning") => ShellLevel::Warning,
        Some("info") => ShellLevel::Info,
        Some("style") => ShellLevel::Style,
        other => return Err(format!("a finding of shellcheck has the level {other:?}")),
    };
    Ok(ShellFinding {
        code: u32::try_from(number("code")?).map_err(|e| e.to_string())?,
        level,
        message: comment
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
        line: number("line")?,
        column: number("column")?,
        end_line: number("endLine")?,
        end_column: number("endColumn")?,
    })
}

/// What shellcheck says about a placeholder as a variable, which is not true of the value
/// Tekton pastes there: unquoted (`SC2086`, `SC2248`, `SC2206`), in single quotes
/// (`SC2016`), never assigned or misspelt (`SC2154`, `SC2153`), `$` in arithmetic (`SC2004`).
/// Reported only where the finding's range leaves every placeholder alone.
const ABOUT_PLACEHOLDERS: &[u32] = &[2004, 2016, 2086, 2153, 2154, 2206, 2248];

/// What Tekton runs a script without `#!` after: `defaultScriptPreamble` (`#!/bin/sh\nset
/// -e\n`, `placeScriptInContainer` in `pkg/pod/script.go`). The `#!` line only chooses the
/// dialect, which shellcheck is told; `set -e` is given to shellcheck too, since it changes
/// the findings (shellcheck 0.9 drops `SC2164`, `cd` without `|| exit`, under it).
pub const PREAMBLE: &str = "set -e\n";

/// A script of the checked files: where it is, its text, and what shellcheck is given.
struct Site<'w> {
    script: &'w Str,
    /// What shellcheck is given: the script (references replaced), after [`PREAMBLE`] when
    /// Tekton prepends it.
    prepared: PreparedScript,
    /// The bytes of `prepared` before the script's own: [`PREAMBLE`]'s, or none.
    preamble: usize,
    /// Byte ranges of the placeholders in the text.
    placeholders: Vec<(usize, usize)>,
    /// The environment the container gives the script.
    env: Env<'w>,
}

/// The variables a container's `env` (and the step template's) sets; with `envFrom`, any
/// variable may be set.
#[derive(Clone, Default)]
struct Env<'w> {
    names: Vec<&'w str>,
    from_sources: bool,
}

impl<'w> Env<'w> {
    fn of(env: &'w [EnvVar], env_from: bool) -> Env<'w> {
        Env {
            names: env.iter().map(|e| e.name.as_str()).collect(),
            from_sources: env_from,
        }
    }

    /// Does the container set `name`, as far as tkc can tell?
    fn sets(&self, name: &str) -> bool {
        self.from_sources || self.names.contains(&name)
    }

    fn with(mut self, other: Env<'w>) -> Env<'w> {
        self.names.extend(other.names);
        self.from_sources |= other.from_sources;
        self
    }
}

/// Replaces each reference Tekton substitutes (not `$(date)`, nor a malformed one, which
/// Tekton leaves for the shell) by `${___}` of the same length in bytes, and puts
/// [`PREAMBLE`] before a script without `#!` (Tekton trims it before looking). The
/// placeholders' byte ranges are in `text`.
fn prepare(text: &str, dialect: Dialect) -> (PreparedScript, Vec<(usize, usize)>) {
    let preamble = if text.trim().starts_with("#!") {
        ""
    } else {
        PREAMBLE
    };
    let mut out = String::with_capacity(preamble.len() + text.len());
    out.push_str(preamble);
    let mut placeholders = Vec::new();
    let mut at = 0;
    for reference in vars::parse(text) {
        let (start, end) = (reference.start, reference.end);
        let substituted = !matches!(reference.kind, RefKind::Unknown | RefKind::Malformed { .. });
        if !substituted || end - start < 4 || text[start..end].contains('\n') {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str("${");
        out.extend(std::iter::repeat_n('_', end - start - 3));
        out.push('}');
        placeholders.push((start, end));
        at = end;
    }
    out.push_str(&text[at..]);
    (PreparedScript { dialect, text: out }, placeholders)
}

/// The scripts of the checked files written for a POSIX shell: steps and sidecars of every
/// Task spec (Tasks, and the specs embedded in runs and Pipelines) and StepActions.
fn sites<'w>(world: &'w World) -> Vec<Site<'w>> {
    let mut scripts: Vec<(&Str, Env)> = Vec::new();
    for task in task_specs(world) {
        let template = task
            .spec
            .step_template
            .as_ref()
            .map_or_else(Env::default, |t| Env::of(&t.env, !t.env_from.is_empty()));
        for step in &task.spec.steps {
            if let Some(script) = &step.script {
                let env = Env::of(&step.env, !step.env_from.is_empty());
                scripts.push((script, env.with(template.clone())));
            }
        }
        for sidecar in &task.spec.sidecars {
            if let Some(script) = &sidecar.script {
                scripts.push((script, Env::of(&sidecar.env, !sidecar.env_from.is_empty())));
            }
        }
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource
            && let Some(script) = &spec.script
        {
            scripts.push((script, Env::of(&spec.env, false)));
        }
    }
    scripts
        .into_iter()
        // Fetched documents are checked for errors only (shellcheck finds none): their
        // scripts would cost processes, and a slow one the time-out of the user's own.
        .filter(|(s, _)| world.is_checked_file(s.span.file) && !world.is_fetched_file(s.span.file))
        .filter_map(|(script, env)| {
            let dialect = Dialect::of_script(script.as_str())?;
            let (prepared, placeholders) = prepare(script.as_str(), dialect);
            // Placeholders keep the length: what is longer is the preamble.
            let preamble = prepared.text.len() - script.as_str().len();
            Some(Site {
                script,
                prepared,
                preamble,
                placeholders,
                env,
            })
        })
        .collect()
}

/// Are all the codes of findings configured `off`? Then shellcheck need not run.
fn all_off(options: &crate::Options) -> bool {
    [&ERROR, &WARNING, &INFO, &STYLE]
        .iter()
        .all(|code| options.levels.get(code.name) == Some(&crate::diag::Level::Off))
}

/// shellcheck's findings on every script of the checked files, through `linter`. Each
/// distinct script is linted once, however often it appears.
pub fn run(world: &World, options: &crate::Options, linter: &dyn ScriptLinter) -> Diagnostics {
    let mut out = Diagnostics::new();
    if all_off(options) {
        return out;
    }
    let sites = sites(world);
    let mut distinct: BTreeMap<&PreparedScript, usize> = BTreeMap::new();
    for site in &sites {
        let next = distinct.len();
        distinct.entry(&site.prepared).or_insert(next);
    }
    let mut scripts: Vec<PreparedScript> = vec![
        PreparedScript {
            dialect: Dialect::Sh,
            text: String::new()
        };
        distinct.len()
    ];
    for (script, &index) in &distinct {
        scripts[index] = (*script).clone();
    }
    let outcomes = linter.lint(&scripts);
    let mut checker = Checker::new(world, options);
    for site in &sites {
        let outcome = distinct
            .get(&site.prepared)
            .and_then(|&index| outcomes.get(index));
        match outcome {
            Some(Ok(findings)) => report_findings(&mut checker, site, findings),
            Some(Err(why)) => checker.report(
                Diagnostic::new(
                    &NOT_RUN,
                    format!("shellcheck did not check this script: {why}"),
                )
                .with_label(site.script.span, "not checked"),
            ),
            None => {}
        }
    }
    out.extend(checker.finish());
    out
}

/// Maps each finding into the source and reports it, but for what concerns a placeholder.
/// Findings on the preamble's lines (none are expected) are not the user's and are dropped.
fn report_findings(cx: &mut Checker, site: &Site, findings: &[ShellFinding]) {
    let (preamble, text) = site.prepared.text.split_at(site.preamble);
    let shift = preamble.matches('\n').count();
    let lines = line_starts(text);
    let mut kept = Vec::new();
    for finding in findings {
        let (Some(line), Some(end_line)) = (
            finding.line.checked_sub(shift).filter(|&l| l > 0),
            finding.end_line.checked_sub(shift),
        ) else {
            continue;
        };
        let start = offset(text, &lines, line, finding.column);
        let end = offset(text, &lines, end_line, finding.end_column).max(start);
        // A point (`SC1010` before a keyword) is shown on the character it is at.
        let end = if end == start {
            text[start..]
                .chars()
                .next()
                .map_or(end, |c| end + c.len_utf8())
        } else {
            end
        };
        let touches_placeholder = site.placeholders.iter().any(|&(s, e)| start < e && s < end);
        if touches_placeholder && ABOUT_PLACEHOLDERS.contains(&finding.code) {
            continue;
        }
        // `SC2154`: "x is referenced but not assigned", where the container's env sets x.
        if finding.code == 2154
            && finding
                .message
                .split_once(' ')
                .is_some_and(|(name, _)| site.env.sets(name))
        {
            continue;
        }
        kept.push((finding, start, end));
    }
    let ranges: Vec<(usize, usize)> = kept.iter().map(|&(_, s, e)| (s, e)).collect();
    let value = site.script.as_str();
    let spans = crate::syntax::value_subspans(cx.world.sources, site.script.span, value, &ranges);
    for ((finding, _, _), span) in kept.into_iter().zip(spans) {
        let code = finding.level.code();
        cx.report(
            Diagnostic::new(code, format!("SC{}: {}", finding.code, finding.message))
                .with_label(span, format!("SC{}", finding.code))
                .with_help(format!(
                    "https://www.shellcheck.net/wiki/SC{} (silence it with `# shellcheck \
                     disable=SC{}` on the line above)",
                    finding.code, finding.code
                )),
        );
    }
}

/// The byte offset where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect()
}

/// The byte offset of shellcheck's `line`:`column` (from 1, columns in characters) in
/// `text`, clamped to the line (a column past its end is its end; a line past the text, the
/// text's end).
fn offset(text: &str, lines: &[usize], line: usize, column: usize) -> usize {
    let Some(&start) = line.checked_sub(1).and_then(|l| lines.get(l)) else {
        return text.len();
    };
    let rest = &text[start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let in_line = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(at, _)| at);
    start + in_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_shebang_or_defaults_to_sh() {
        let cases = [
            ("echo hi", Some(Dialect::Sh)),
            ("\n  #!/bin/bash\necho", Some(Dialect::Bash)),
            ("#!/usr/bin/env bash\necho", Some(Dialect::Bash)),
            ("#!/usr/bin/env -S bash -e\necho", Some(Dialect::Bash)),
            ("#!/bin/sh -e\necho", Some(Dialect::Sh)),
            ("#!/busybox/sh\necho", Some(Dialect::Sh)),
            ("#!/bin/busybox sh\necho", Some(Dialect::Sh)),
            ("#!/bin/ash\necho", Some(Dialect::Sh)),
            ("#!/bin/dash\necho", Some(Dialect::Dash)),
            ("#!/bin/mksh\necho", Some(Dialect::Ksh)),
            ("#!/usr/bin/env python3\nprint(1)", None),
            ("#!/usr/bin/env node\n", None),
            ("#!win pwsh.exe\n", None),
            ("#!/bin/zsh\n", None),
            ("#!\n", None),
            ("$(params.script)", None),
        ];
        for (script, dialect) in cases {
            assert_eq!(Dialect::of_script(script), dialect, "{script:?}");
        }
    }

    #[test]
    fn placeholders_keep_the_length_and_leave_shell_substitutions() {
        let text = "echo \"$(params.a)\" $(date) $(params.b[*]) '$(context.taskRun.name)'";
        let (prepared, placeholders) = prepare(text, Dialect::Sh);
        assert_eq!(prepared.text.len(), PREAMBLE.len() + text.len());
        assert_eq!(
            prepared.text,
            "set -e\necho \"${________}\" $(date) ${___________} '${____________________}'"
        );
        assert_eq!(placeholders.len(), 3);
        for (s, e) in placeholders {
            assert!(text[s..e].starts_with("$("));
        }
    }

    #[test]
    fn reads_json1_and_refuses_odd_output() {
        let out = r#"{"comments":[{"file":"-","line":2,"endLine":2,"column":3,"endColumn":5,
            "level":"info","code":2086,"message":"Double quote","fix":null}]}"#;
        let findings = parse_json1(out).unwrap_or_default();
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].code, findings[0].line), (2086, 2));
        assert!(parse_json1("Segmentation fault").is_err());
        assert!(parse_json1("{}").is_err());
        assert!(parse_json1(r#"{"comments":[{"level":"fatal"}]}"#).is_err());
    }

    /// Answers for every script with the findings `at` gives it: (code, line, column, end
    /// column), as shellcheck counts them in the prepared text.
    struct Fixed(fn(&str) -> Vec<Answer>);

    /// A finding of [`Fixed`]: code, line, column, end column.
    type Answer = (u32, usize, usize, usize);

    impl ScriptLinter for Fixed {
        fn lint(&self, scripts: &[PreparedScript]) -> Vec<LintOutcome> {
            scripts
                .iter()
                .map(|script| {
                    Ok((self.0)(&script.text)
                        .into_iter()
                        .map(|(code, line, column, end_column)| ShellFinding {
                            code,
                            level: ShellLevel::Info,
                            message: String::new(),
                            line,
                            column,
                            end_line: line,
                            end_column,
                        })
                        .collect())
                })
                .collect()
        }
    }

    /// The source text of each shellcheck finding `tkc check` reports on `text`.
    fn reported(name: &str, text: &str, linter: &Fixed) -> Vec<String> {
        let mut sources = crate::source::SourceMap::new();
        let file = sources.add(name, text);
        let options = crate::Options::default();
        let result = crate::check_with(&sources, &[file], &[], &options, Some(linter));
        result
            .diagnostics
            .iter()
            .filter(|d| d.code == &INFO)
            .filter_map(|d| d.primary_span())
            .map(|span| sources.text(span).to_string())
            .collect()
    }

    /// The line (from 1) of the prepared text that contains `what`.
    fn line_of(text: &str, what: &str) -> usize {
        text.lines().position(|l| l.contains(what)).unwrap_or(0) + 1
    }

    /// Every script's line with `cd`, from its fourth character to its eighth.
    fn second_line(text: &str) -> Vec<Answer> {
        vec![(2164, line_of(text, "cd "), 4, 8)]
    }

    #[test]
    fn a_script_without_shebang_is_checked_after_tektons_set_e() {
        let (prepared, placeholders) = prepare("cd $(params.p)\n", Dialect::Sh);
        assert_eq!(prepared.text, "set -e\ncd ${________}\n");
        assert_eq!(placeholders, [(3, 14)]);
        let (prepared, _) = prepare("\n  #!/bin/sh\ncd /\n", Dialect::Sh);
        assert_eq!(prepared.text, "\n  #!/bin/sh\ncd /\n");
        // A finding on the preamble's line is not the user's; the script's lines map back.
        let yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  \
                    steps:\n    - image: a:1\n      script: |\n        cd /tmp && x\n";
        let both = |text: &str| vec![(2164, 1, 1, 4), (2164, line_of(text, "cd "), 4, 8)];
        assert_eq!(reported("t.yaml", yaml, &Fixed(both)), ["/tmp"]);
    }

    #[test]
    fn findings_map_into_block_folded_and_kdl_scripts() {
        let yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  \
                    steps:\n    - image: a:1\n      script: |\n        echo a\n        \
                    cd /tmp && x\n    - image: a:1\n      script: >\n        echo a\n\n        \
                    cd /var && x\n";
        assert_eq!(
            reported("t.yaml", yaml, &Fixed(second_line)),
            ["/tmp", "/var"]
        );
        let kdl = "task \"t\" {\n    step \"s\" image=\"a:1\" {\n        script #\"\"\"\n            \
                   echo a\n            cd /usr && x\n            \"\"\"#\n    }\n}\n";
        assert_eq!(reported("t.kdl", kdl, &Fixed(second_line)), ["/usr"]);
    }

    #[test]
    fn what_concerns_a_placeholder_is_not_reported() {
        let yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  \
                    params:\n    - name: p\n  steps:\n    - image: a:1\n      script: |\n        \
                    echo $(params.p) $X\n";
        // SC2086 on the placeholder (columns 6 to 17) and on `$X` (18 to 20).
        let unquoted = |text: &str| {
            let line = line_of(text, "echo");
            vec![(2086, line, 6, 17), (2086, line, 18, 20)]
        };
        assert_eq!(reported("t.yaml", yaml, &Fixed(unquoted)), ["$X"]);
        let python = yaml.replace("echo $(params.p) $X", "#!/usr/bin/env python3\n        x");
        assert!(reported("t.yaml", &python, &Fixed(second_line)).is_empty());
    }

    #[test]
    fn offsets_count_characters_and_clamp() {
        let text = "é\techo $a\nnext";
        let lines = line_starts(text);
        assert_eq!(offset(text, &lines, 1, 8), text.find('$').unwrap_or(0));
        assert_eq!(offset(text, &lines, 1, 99), text.find('\n').unwrap_or(0));
        assert_eq!(offset(text, &lines, 2, 1), text.find("next").unwrap_or(0));
        assert_eq!(offset(text, &lines, 7, 1), text.len());
    }
}
