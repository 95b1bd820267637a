//! Checks over the resolved world: one module per family.

use crate::diag::Code;

/// Every code the checks can report.
pub fn codes() -> Vec<&'static Code> {
    Vec::new()
}
