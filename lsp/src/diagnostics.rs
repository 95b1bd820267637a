//! A compiler diagnostic as an LSP diagnostic: the same code, message and primary range as
//! `tkc check --format json`; the help appended to the message; secondary labels and related
//! findings as related information; the code linked to its documentation.

use crate::convert;
use crate::workspace::Loaded;
use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Range, Uri,
};
use std::str::FromStr;
use tkc_compiler::diag::{Diagnostic, Severity};
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
        data: fix(loaded, diagnostic),
    }
}

/// The edit a "did you mean `x`?" help asks for, as a diagnostic's `data` (the client hands it
/// back in `textDocument/codeAction`): the name in the finding's span closest to `x` replaced
/// by `x`.
fn fix(loaded: &Loaded, diagnostic: &Diagnostic) -> Option<serde_json::Value> {
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
    let file = loaded.sources.get(span.file).text();
    let start = span.start as usize + from;
    let end = span.start as usize + to;
    let old = &text[from..to];
    serde_json::to_value(Fix {
        title: format!("Replace `{old}` with `{wanted}`"),
        range: convert::range(file, start, end),
        new_text: wanted.to_string(),
    })
    .ok()
}

/// A quick fix carried in a diagnostic's `data`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    pub title: String,
    pub range: Range,
    pub new_text: String,
}

fn range(loaded: &Loaded, span: Span) -> Range {
    let text = loaded.sources.get(span.file).text();
    convert::range(text, span.start as usize, span.end as usize)
}

fn location(loaded: &Loaded, span: Span) -> Option<Location> {
    Some(Location {
        uri: convert::path_to_uri(loaded.path(span.file)?)?,
        range: range(loaded, span),
    })
}
