//! `tkc::lint::missing-shebang`: scripts without a `#!` line (advice).

use crate::check::{Checker, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Resource, Str};

declare_code! {
    /// # A script without a `#!` line
    ///
    /// Tekton runs a script that does not start with `#!` as `#!/bin/sh` with `set -e`
    /// prepended. That is legal and often what you want, so this is only advice, and only for
    /// scripts of more than one line: naming the interpreter makes the script's dialect
    /// explicit (bash-isms fail under a POSIX `sh`), and lets shellcheck and editors read it.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   set -o pipefail       # not POSIX: fails in dash
    ///   make | tee build.log
    /// ```
    /// Start it with `#!/usr/bin/env bash`.
    pub static MISSING_SHEBANG = "tkc::lint::missing-shebang", Advice;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        let spec = task.spec;
        for step in &spec.steps {
            check(cx, step.script.as_ref());
        }
        for sidecar in &spec.sidecars {
            check(cx, sidecar.script.as_ref());
        }
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            check(cx, spec.script.as_ref());
        }
    }
}

fn check(cx: &mut Checker, script: Option<&Str>) {
    let Some(script) = script else {
        return;
    };
    let text = script.as_str();
    let body = text.trim_start();
    // An empty script, a shebang, or a script that is a param (its value may have one).
    if body.is_empty() || body.starts_with("#!") || body.starts_with("$(") {
        return;
    }
    // A one-line command is idiomatic without one.
    if body.lines().filter(|l| !l.trim().is_empty()).count() < 2 {
        return;
    }
    let start = text.len() - body.len();
    let end = body.find('\n').map_or(text.len(), |n| start + n);
    let span = crate::syntax::value_subspan(cx.world.sources, script.span, text, (start, end));
    cx.report(
        Diagnostic::new(&MISSING_SHEBANG, "script has no `#!` line; Tekton runs it with `sh -e`")
            .with_label(span, "first line of the script")
            .with_help("start the script with `#!/bin/sh` (or `#!/usr/bin/env bash`, ...) to name its interpreter"),
    );
}
