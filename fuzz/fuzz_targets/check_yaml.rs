//! Any bytes, read as a YAML file, go through parsing, decoding, the checks and rendering
//! without panicking.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::check(data, tkc_compiler::source::Syntax::Yaml);
});
