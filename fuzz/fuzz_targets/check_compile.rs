//! Any bytes (the first picks YAML or KDL) go through the checks and, when they have no
//! errors, lowering to a plan and its JSON, without panicking: what `tkc compile` does.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::check_compile(data);
});
