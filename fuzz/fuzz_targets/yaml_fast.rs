//! The fast YAML path against the reference: wherever `yaml_fast::parse` answers, its
//! documents and diagnostics are exactly granit's (`yaml::parse_granit`); any difference is a
//! crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tkc_compiler::source::SourceMap;
use tkc_compiler::syntax::{yaml, yaml_fast};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = SourceMap::new();
    let file = sources.add("fuzz.yaml", text);
    let Some(fast) = yaml_fast::parse(file, text) else {
        return;
    };
    let reference = yaml::parse_granit(file, text);
    assert_eq!(fast.documents, reference.documents, "{text:?}");
    assert_eq!(
        format!("{:?}", fast.diagnostics),
        format!("{:?}", reference.diagnostics),
        "{text:?}"
    );
});
