//! What the fuzz targets share: one input through every stage of `tkc check` (and of
//! `tkc compile`), with the options that enable the most (alpha fields). Each target uses one
//! of the functions.
#![allow(dead_code)]

use tkc_compiler::source::{FileId, SourceMap, Syntax};

fn options() -> tkc_compiler::Options {
    tkc_compiler::Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Default::default()
    }
}

fn load(data: &[u8], syntax: Syntax) -> (SourceMap, FileId) {
    let mut sources = SourceMap::new();
    let text = String::from_utf8_lossy(data).into_owned();
    let file = sources.add_with_syntax("fuzz", text, syntax);
    (sources, file)
}

/// Parsing, decoding, the checks, encoding the documents and rendering the findings.
pub fn check(data: &[u8], syntax: Syntax) {
    let (sources, file) = load(data, syntax);
    let result = tkc_compiler::check(&sources, &[file], &[], &options());
    for document in &result.documents {
        tkc_compiler::model::encode::document_to_json(document);
    }
    let diagnostics: Vec<_> = result.diagnostics.iter().cloned().collect();
    tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
}

/// The checks and then lowering to a plan, as `tkc compile` and `tkc run` do: the first byte
/// picks the syntax (even: YAML, odd: KDL), the rest is the file.
pub fn check_compile(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let syntax = if first % 2 == 0 {
        Syntax::Yaml
    } else {
        Syntax::Kdl
    };
    let (sources, file) = load(rest, syntax);
    let request = tkc_compiler::lower::RunRequest::default();
    let compiled = tkc_compiler::compile(&sources, &[file], &[], &request, &options());
    if let Some(plan) = &compiled.plan {
        plan.to_json();
    }
    let diagnostics: Vec<_> = compiled.diagnostics.iter().cloned().collect();
    tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
}
