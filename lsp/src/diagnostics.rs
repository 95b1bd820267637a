//! A compiler diagnostic as an LSP diagnostic: the same code, message and primary range as
//! `tkc check --format json`; the help appended to the message; secondary labels and related
//! findings as related information; the code linked to its documentation.

use crate::workspace::Loaded;
use crate::{actions, convert};
use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, TextEdit, Uri,
};
use std::str::FromStr;
use tkc_compiler::diag::{self, Diagnostic, Severity};
use tkc_compiler::source::Span;

/// Where every code is documented (`tkc explain <code>` prints the same text).
const CHECKS_DOC: &str = "https://github.com/tkc-dev/tkc/blob/main/docs/checks.md";

pub fn to_lsp(loaded: &Loaded, diagnostic: &Diagnostic) -> lsp_types::Diagnostic {
    let range = diagnostic
        .primary_span()
        .map(|s| range(loaded, s))
        .unwrap_or_default();
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|l| !l.primary)
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: location(loaded, l.span)?,
                message: if l.message.is_empty() {
                    diagnostic.message.clone()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    related.extend(diagnostic.related.iter().filter_map(|r| {
        Some(DiagnosticRelatedInformation {
            location: location(loaded, r.primary_span()?)?,
            message: r.message.clone(),
        })
    }));
    lsp_types::Diagnostic {
        range,
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Advice => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(diagnostic.code.name.to_string())),
        code_description: Uri::from_str(CHECKS_DOC)
            .ok()
            .map(|href| CodeDescription { href }),
        source: Some("tkc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: carried_fix(loaded, diagnostic).or_else(|| did_you_mean(loaded, diagnostic)),
    }
}

/// The fix a finding carries (`Diagnostic::fix`), with its places as LSP positions: the
/// edits are made when the client asks for them, against the document as it is then.
fn carried_fix(loaded: &Loaded, diagnostic: &Diagnostic) -> Option<serde_json::Value> {
    let fix = match diagnostic.fix.as_ref()? {
        diag::Fix::AddParams { task, params } => {
            let names: Vec<String> = params.iter().map(|p| format!("`{}`", p.name)).collect();
            Fix::AddParams {
                title: format!("Add param{} {}", plural(names.len()), names.join(", ")),
                task: range(loaded, *task).start,
                params: params
                    .iter()
                    .map(|p| NewParam {
                        name: p.name.clone(),
                        yaml_value: p.yaml_value.clone(),
                        kdl_value: p.kdl_value.clone(),
                    })
                    .collect(),
            }
        }
        diag::Fix::ScriptToEnv { uses } => {
            // Each variable once, in the order the script first uses it.
            let mut seen = std::collections::BTreeSet::new();
            let vars: Vec<&str> = uses
                .iter()
                .map(|u| u.var.as_str())
                .filter(|v| seen.insert(*v))
                .collect();
            Fix::ScriptToEnv {
                title: format!(
                    "Pass {} through `env` ({})",
                    if uses.len() == 1 {
                        "the value"
                    } else {
                        "the values"
                    },
                    vars.iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                uses: uses
                    .iter()
                    .map(|u| EnvUse {
                        range: range(loaded, u.span),
                        var: u.var.clone(),
                        reference: u.reference.clone(),
                    })
                    .collect(),
            }
        }
    };
    serde_json::to_value(fix).ok()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The edit a "did you mean `x`?" help asks for, as a diagnostic's `data` (the client hands it
/// back in `textDocument/codeAction`): the name in the finding's span closest to `x` replaced
/// by `x`.
fn did_you_mean(loaded: &Loaded, diagnostic: &Diagnostic) -> Option<serde_json::Value> {
    let help = diagnostic.help.as_deref()?;
    let rest = &help[help.find("did you mean `")? + "did you mean `".len()..];
    let wanted = &rest[..rest.find('`')?];
    let span = diagnostic.primary_span()?;
    let text = loaded.sources.text(span);
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (is_name(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                tokens.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    // The misspelt name is the last one close to the suggestion (`$(tasks.build.results.x)`).
    let candidates = [wanted];
    let (from, to) = tokens.into_iter().rev().find_map(|(s, e)| {
        // A dotted token is matched by its last segments too (`results.digset`).
        let token = &text[s..e];
        token
            .char_indices()
            .filter(|&(i, c)| i == 0 || c == '.')
            .map(|(i, c)| if c == '.' { i + 1 } else { i })
            .find(|&i| tkc_compiler::suggest::did_you_mean(&token[i..], candidates) == Some(wanted))
            .map(|i| (s + i, e))
    })?;
    let file = loaded.sources.get(span.file);
    let start = span.start as usize + from;
    let end = span.start as usize + to;
    let old = &text[from..to];
    serde_json::to_value(Fix::Replace {
        title: format!("Replace `{old}` with `{wanted}`"),
        range: convert::range_in(file, start, end),
        new_text: wanted.to_string(),
    })
    .ok()
}

/// A quick fix carried in a diagnostic's `data` (the client hands it back in
/// `textDocument/codeAction`).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "fix", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Fix {
    /// Replace a range (a misspelt name).
    Replace {
        title: String,
        range: Range,
        new_text: String,
    },
    /// Bind params on the pipeline task whose name starts at `task`.
    AddParams {
        title: String,
        task: Position,
        params: Vec<NewParam>,
    },
    /// Move references pasted into a script into the step's `env`.
    ScriptToEnv { title: String, uses: Vec<EnvUse> },
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewParam {
    name: String,
    yaml_value: String,
    kdl_value: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvUse {
    range: Range,
    var: String,
    reference: String,
}

/// A fix's title and its edits of the document `name` whose text is `text` now (`None`: it no
/// longer applies).
pub fn edits(fix: Fix, name: &str, text: &str) -> Option<(String, Vec<TextEdit>)> {
    let (title, edits) = match fix {
        Fix::Replace {
            title,
            range,
            new_text,
        } => return Some((title, vec![TextEdit::new(range, new_text)])),
        Fix::AddParams {
            title,
            task,
            params,
        } => {
            let params: Vec<actions::NewParam> = params
                .iter()
                .map(|p| actions::NewParam {
                    name: &p.name,
                    yaml_value: &p.yaml_value,
                    kdl_value: &p.kdl_value,
                })
                .collect();
            let target = convert::offset(text, task);
            (title, actions::add_params(name, text, target, &params)?)
        }
        Fix::ScriptToEnv { title, uses } => {
            let uses: Vec<actions::EnvUse> = uses
                .iter()
                .map(|u| actions::EnvUse {
                    start: convert::offset(text, u.range.start),
                    end: convert::offset(text, u.range.end),
                    var: &u.var,
                    reference: &u.reference,
                })
                .collect();
            (title, actions::script_to_env(name, text, &uses)?)
        }
    };
    let edits = edits
        .into_iter()
        .map(|e| TextEdit::new(convert::range(text, e.start, e.end), e.text))
        .collect();
    Some((title, edits))
}

fn range(loaded: &Loaded, span: Span) -> Range {
    convert::range_in(
        loaded.sources.get(span.file),
        span.start as usize,
        span.end as usize,
    )
}

fn location(loaded: &Loaded, span: Span) -> Option<Location> {
    Some(Location {
        uri: convert::path_to_uri(loaded.path(span.file)?)?,
        range: range(loaded, span),
    })
}
