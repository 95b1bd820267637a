//! Lints: legal Tekton that is likely a mistake or a risk. One file per rule; each has its own
//! code, so it can be silenced on its own.

pub mod cel_injection;
pub mod child_pipeline_ignored;
pub mod latest_image;
pub mod missing_shebang;
pub mod resource_version;
pub mod script_injection;
pub mod unused_param;
pub mod unwritten_result;

use super::Checker;
use crate::diag::Code;

/// This family's codes.
pub const CODES: &[&Code] = &[
    &script_injection::SCRIPT_INJECTION,
    &cel_injection::CEL_INJECTION,
    &unused_param::UNUSED_PARAM,
    &unwritten_result::UNWRITTEN_RESULT,
    &latest_image::LATEST_IMAGE,
    &missing_shebang::MISSING_SHEBANG,
    &resource_version::RESOURCE_VERSION,
    &child_pipeline_ignored::CHILD_PIPELINE_IGNORED,
];

pub fn run(cx: &mut Checker) {
    script_injection::run(cx);
    cel_injection::run(cx);
    unused_param::run(cx);
    unwritten_result::run(cx);
    latest_image::run(cx);
    missing_shebang::run(cx);
    resource_version::run(cx);
    child_pipeline_ignored::run(cx);
}
