//! Lints: warnings about what Tekton accepts but is most likely a mistake or a risk. Each has
//! its own code, so it can be silenced on its own.

pub mod script_injection;
pub mod unused_param;
pub mod unwritten_result;

use super::Checker;
use crate::diag::Code;

/// This family's codes (of the lints in this module).
pub const CODES: &[&Code] = &[
    &script_injection::SCRIPT_INJECTION,
    &unused_param::UNUSED_PARAM,
    &unwritten_result::UNWRITTEN_RESULT,
];

pub fn run(cx: &mut Checker) {
    script_injection::run(cx);
    unused_param::run(cx);
    unwritten_result::run(cx);
}
