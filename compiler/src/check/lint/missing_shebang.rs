//! `tkc::lint::missing-shebang`: scripts without a `#!` line (advice).

use crate::check::{Checker, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Resource, Str};

declare_code! {
    /// # A script without a `#!` line uses bash syntax
    ///
    /// Tekton runs a script that does not start with `#!` as `#!/bin/sh` with `set -e`
    /// prepended. In Debian and Ubuntu images, and the many images built on them (`golang`,
    /// `python`, `node`, `rust`, `maven`, ...), `/bin/sh` is dash, which rejects bash syntax:
    /// `[[ ... ]]` is "not found", `set -o pipefail` is an "illegal option", `source` and
    /// `function` are unknown. The step then fails at run time. tkc reports this only for
    /// images it knows to be Debian-based (busybox's sh on Alpine, and bash as `sh` on Red Hat
    /// images, accept most of it); a POSIX script without a shebang is fine.
    ///
    /// ## Example
    /// ```yaml
    /// script: |
    ///   set -o pipefail       # dash: "set: Illegal option -o pipefail"
    ///   make | tee build.log
    /// ```
    /// Start it with `#!/usr/bin/env bash` (in an image that has bash), or write POSIX sh.
    pub static MISSING_SHEBANG = "tkc::lint::missing-shebang", Warning;
}

/// Bash syntax that POSIX sh (dash, busybox) rejects, with how to say it in sh.
const BASHISMS: &[(&str, &str)] = &[
    ("[[", "`[[ ... ]]` is bash; sh has `[ ... ]`"),
    (
        "set -o pipefail",
        "`set -o pipefail` is not POSIX (dash rejects it)",
    ),
    ("<<<", "here-strings (`<<<`) are bash"),
    ("source ", "`source` is bash; sh has `.`"),
    (
        "function ",
        "the `function` keyword is bash; sh has `name() { ... }`",
    ),
    ("shopt ", "`shopt` is bash"),
    ("declare ", "`declare` is bash"),
    ("pushd ", "`pushd` is bash"),
    ("popd", "`popd` is bash"),
    ("&>", "`&>` is bash; sh has `>file 2>&1`"),
    ("$'", "`$'...'` quoting is bash"),
    (
        "((",
        "`(( ... ))` arithmetic is bash; sh has `$(( ... ))` or `[ ... ]`",
    ),
];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        let spec = task.spec;
        let template_image = spec.step_template.as_ref().and_then(|t| t.image.as_ref());
        for step in &spec.steps {
            check(
                cx,
                step.script.as_ref(),
                step.image.as_ref().or(template_image),
            );
        }
        for sidecar in &spec.sidecars {
            check(cx, sidecar.script.as_ref(), sidecar.image.as_ref());
        }
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            check(cx, spec.script.as_ref(), Some(&spec.image));
        }
    }
}

/// Official images whose `/bin/sh` is dash: Debian, Ubuntu and those built on them (their
/// default tags; `-alpine` variants are excluded by the caller).
const DEBIAN_BASED: &[&str] = &[
    "debian",
    "ubuntu",
    "golang",
    "python",
    "node",
    "ruby",
    "rust",
    "openjdk",
    "maven",
    "gradle",
    "eclipse-temurin",
    "buildpack-deps",
    "php",
    "perl",
    "gcc",
    "haskell",
    "julia",
    "elixir",
    "erlang",
    "clojure",
    "swift",
    "r-base",
    "mono",
    "dart",
];

/// Is `/bin/sh` in this image known to be dash?
fn is_debian_based(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (repository, tag) = match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (without_digest, ""),
    };
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let official = !repository.contains('/')
        || repository.starts_with("docker.io/library/")
        || repository.starts_with("library/")
        || repository.starts_with("mirror.gcr.io/library/")
        || repository.starts_with("mirror.gcr.io/");
    official
        && DEBIAN_BASED.contains(&name)
        && !["alpine", "busybox", "windows", "nanoserver"]
            .iter()
            .any(|v| tag.contains(v))
}

fn check(cx: &mut Checker, script: Option<&Str>, image: Option<&Str>) {
    let (Some(script), Some(image)) = (script, image) else {
        return;
    };
    if !is_debian_based(image) {
        return;
    }
    let text = script.as_str();
    let body = text.trim_start();
    // A shebang names the interpreter; a script that is a param may bring its own.
    if body.is_empty() || body.starts_with("#!") || body.starts_with("$(") {
        return;
    }
    let Some((at, len, why)) = first_bashism(text) else {
        return;
    };
    let span = crate::syntax::value_subspan(cx.world.sources, script.span, text, (at, at + len));
    cx.report(
        Diagnostic::new(
            &MISSING_SHEBANG,
            format!(
                "script without `#!` runs with dash (`/bin/sh` in `{}`) but uses bash syntax",
                image.value
            ),
        )
        .with_label(span, why)
        .with_secondary(image.span, "/bin/sh is dash in this image")
        .with_help("start the script with `#!/usr/bin/env bash` (if the image has bash), or write POSIX sh"),
    );
}

/// The first bash-only construct outside comments: its byte offset, length and explanation.
fn first_bashism(text: &str) -> Option<(usize, usize, &'static str)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split(" #").next().unwrap_or(line);
        if !code.trim_start().starts_with('#') {
            let found = BASHISMS
                .iter()
                .filter_map(|(pattern, why)| {
                    let at = code.find(pattern)?;
                    // `$((` is POSIX arithmetic expansion, not bash's `((`.
                    if *pattern == "((" && code[..at].ends_with('$') {
                        return None;
                    }
                    Some((at, pattern.trim_end().len(), *why))
                })
                .min_by_key(|(at, _, _)| *at);
            if let Some((at, len, why)) = found {
                return Some((offset + at, len, why));
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{first_bashism, is_debian_based};

    #[test]
    fn knows_which_images_run_dash() {
        assert!(is_debian_based("golang:1.22"));
        assert!(is_debian_based("docker.io/library/python:3.12-slim"));
        assert!(is_debian_based("ubuntu"));
        assert!(!is_debian_based("golang:1.22-alpine"));
        assert!(!is_debian_based("alpine:3.20"));
        assert!(!is_debian_based("registry.example.com/team/golang:1.22"));
        assert!(!is_debian_based("gcr.io/tekton-releases/git-init"));
    }

    #[test]
    fn finds_bash_only_syntax() {
        assert!(first_bashism("if [[ -f x ]]; then echo; fi").is_some());
        assert!(first_bashism("set -o pipefail\nmake").is_some());
        assert!(first_bashism("echo $((1 + 2))\n[ -f x ] && echo y").is_none());
        assert!(first_bashism("# [[ in a comment\necho hi").is_none());
        assert!(first_bashism("echo hi # [[ trailing comment").is_none());
        assert_eq!(first_bashism("echo\nsource env.sh").map(|f| f.0), Some(5));
    }
}
