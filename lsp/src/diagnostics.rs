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
        data: None,
    }
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
