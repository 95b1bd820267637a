//! Lints: legal Tekton that is likely a mistake or a maintenance risk. One file per rule.

pub mod latest_image;
pub mod missing_shebang;
pub mod resource_version;

use super::Checker;
use crate::diag::Code;

/// This family's codes.
pub const CODES: &[&Code] = &[
    &latest_image::LATEST_IMAGE,
    &missing_shebang::MISSING_SHEBANG,
    &resource_version::RESOURCE_VERSION,
];

pub fn run(cx: &mut Checker) {
    latest_image::run(cx);
    missing_shebang::run(cx);
    resource_version::run(cx);
}
