//! Any bytes, read as a KDL file, go through parsing, decoding, the checks and rendering
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tkc_compiler::source::{SourceMap, Syntax};

fuzz_target!(|data: &[u8]| {
    check(data, Syntax::Kdl);
});

fn check(data: &[u8], syntax: Syntax) {
    let mut sources = SourceMap::new();
    let text = String::from_utf8_lossy(data).into_owned();
    let file = sources.add_with_syntax("fuzz", text, syntax);
    let options = tkc_compiler::Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
    };
    let result = tkc_compiler::check(&sources, &[file], &[], &options);
    for document in &result.documents {
        tkc_compiler::model::encode::document_to_json(document);
    }
    let diagnostics: Vec<_> = result.diagnostics.iter().cloned().collect();
    tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
}
