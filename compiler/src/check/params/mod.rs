//! Params: a type system over string, array and object params.
//!
//! - [`declarations`]: what a `params` entry may say (type, default, properties, enum, defaults
//!   that reference other params);
//! - [`uses`]: every `$(params...)` reference against the params visible where it is written
//!   (propagation into inline specs included), with its selector (`[N]`, `[*]`, `.key`) and
//!   where a whole array or object may stand;
//! - [`bindings`]: the values a pipeline task, PipelineRun or TaskRun gives against the params
//!   its Task or Pipeline declares (missing, unknown, type, object keys, enum, indexes).

pub mod bindings;
pub mod declarations;
pub mod uses;

use super::Checker;
use crate::diag::Code;

/// This family's codes.
pub const CODES: &[&Code] = &[
    &declarations::INVALID_TYPE,
    &declarations::DEFAULT_TYPE_MISMATCH,
    &declarations::MISSING_PROPERTIES,
    &declarations::INVALID_PROPERTY_TYPE,
    &declarations::INVALID_ENUM,
    &declarations::DEFAULT_REFERENCE,
    &uses::UNDECLARED,
    &uses::UNKNOWN_KEY,
    &uses::WRONG_SELECTOR,
    &uses::LITERAL_REFERENCE,
    &uses::NOT_ISOLATED,
    &uses::WHOLE_VALUE,
    &bindings::MISSING,
    &bindings::UNKNOWN,
    &bindings::TYPE_MISMATCH,
    &bindings::MISSING_KEYS,
    &bindings::NOT_IN_ENUM,
    &bindings::INDEX_OUT_OF_RANGE,
    &bindings::TASKRUN_INVALID,
    &bindings::RESULT_IN_RUN_PARAM,
];

pub fn run(cx: &mut Checker) {
    declarations::run(cx);
    uses::run(cx);
    bindings::run(cx);
}
