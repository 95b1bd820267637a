//! Names: the formats Kubernetes and Tekton require, and duplicates.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{Param, Resource, Str};
use std::collections::HashMap;

declare_code! {
    /// # A name in the wrong format
    ///
    /// Resource names (`metadata.name`) are DNS-1123 subdomains: lowercase letters, digits,
    /// `-` and `.`, starting and ending with a letter or digit, at most 63 characters here
    /// because Tekton derives pod and label values from them. Pipeline task and step names are
    /// DNS labels (no `.`). A name may start with a digit (`42crunch-scan` is fine).
    /// Param names match `^[_a-zA-Z][_a-zA-Z0-9.-]*$` (objects: no `.`); result names match
    /// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
    ///
    /// ## Example
    /// ```yaml
    /// tasks:
    ///   - name: Build_Image
    /// ```
    /// Use `build-image`.
    pub static INVALID_NAME = "tkc::names::invalid-name", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # Two things of the same kind share a name
    ///
    /// Steps, sidecars, pipeline tasks (over `tasks` and `finally` together), declared params,
    /// workspaces, volumes, and the params and workspace bindings given to one task must have
    /// distinct names. Tekton rejects the resource; for params given to a run the comparison
    /// ignores case.
    pub static DUPLICATE = "tkc::names::duplicate", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # A Task declares the same result twice
    ///
    /// Tekton accepts it (a known quirk) but only one value is ever reported; the other
    /// declaration is dead.
    pub static DUPLICATE_RESULT = "tkc::names::duplicate-result", Warning;
}

declare_code! {
    /// # A container sets the same environment variable twice
    ///
    /// Kubernetes keeps the last value, so the first is silently lost.
    pub static DUPLICATE_ENV = "tkc::names::duplicate-env", Warning;
}

/// This family's codes.
pub const CODES: &[&Code] = &[&INVALID_NAME, &DUPLICATE, &DUPLICATE_RESULT, &DUPLICATE_ENV];

/// DNS-1123 label: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// DNS-1123 subdomain: dot-separated labels, at most 253 characters (Tekton: 63).
pub fn is_dns_subdomain(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// String and array param names: `^[_a-zA-Z][_a-zA-Z0-9.-]*$`.
pub fn is_param_name(s: &str, object: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c == '-' || c.is_ascii_alphanumeric() || (!object && c == '.'))
}

/// Result names: `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
pub fn is_result_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A suggested DNS label for a bad name (`Build_Image` → `build-image`).
fn as_dns_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(63).collect()
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for (_, document) in world.checked() {
        if let Some(name) = &document.metadata.name
            && !matches!(
                document.resource,
                Resource::ConfigMap(_) | Resource::Secret(_)
            )
            && !is_dns_subdomain(name, 63)
        {
            cx.report(
                Diagnostic::new(
                    &INVALID_NAME,
                    format!(
                        "`{}` is not a valid {} name",
                        name.value,
                        document.kind.as_str()
                    ),
                )
                .with_label(name.span, "not a DNS-1123 subdomain")
                .with_help(format!(
                    "use lowercase letters, digits, `-` and `.`, at most 63 characters: `{}`",
                    as_dns_label(name)
                )),
            );
        }
        if let Resource::StepAction(spec) = &document.resource {
            for result in &spec.results {
                result_name(cx, &result.name, "step result");
            }
        }
        if let Resource::TaskRun(run) = &document.resource {
            duplicates(cx, run.params.iter().map(|p| &p.name), "param", true);
            duplicates(
                cx,
                run.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                true,
            );
        }
        if let Resource::PipelineRun(run) = &document.resource {
            duplicates(cx, run.params.iter().map(|p| &p.name), "param", true);
            duplicates(
                cx,
                run.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                false,
            );
        }
    }

    for task in task_specs(world) {
        let spec = task.spec;
        for step in &spec.steps {
            if let Some(name) = &step.name {
                dns_label(cx, name, "step");
            }
        }
        duplicates(
            cx,
            spec.steps.iter().filter_map(|s| s.name.as_ref()),
            "step",
            false,
        );
        duplicates(
            cx,
            spec.sidecars.iter().filter_map(|s| s.name.as_ref()),
            "sidecar",
            false,
        );
        duplicates(cx, spec.params.iter().map(|p| &p.name), "param", false);
        duplicates(
            cx,
            spec.workspaces.iter().map(|w| &w.name),
            "workspace",
            false,
        );
        duplicates(cx, spec.volumes.iter().map(|v| &v.name), "volume", false);
        for param in &spec.params {
            param_name(cx, &param.name, param.properties.is_some());
        }
        for result in &spec.results {
            result_name(cx, &result.name, "result");
        }
        for step in &spec.steps {
            for result in &step.results {
                result_name(cx, &result.name, "step result");
            }
        }
        for (again, first) in repeats(spec.results.iter().map(|r| &r.name), false) {
            cx.report(
                Diagnostic::new(
                    &DUPLICATE_RESULT,
                    format!("result `{}` is declared twice", again.value),
                )
                .with_label(again.span, "declared again here")
                .with_secondary(first.span, "first declared here"),
            );
        }
        let template_env = spec.step_template.iter().flat_map(|t| t.env.iter());
        duplicate_env(cx, template_env.map(|e| &e.name));
        for step in &spec.steps {
            duplicate_env(cx, step.env.iter().map(|e| &e.name));
        }
        for sidecar in &spec.sidecars {
            duplicate_env(cx, sidecar.env.iter().map(|e| &e.name));
        }
    }

    for pipeline in pipeline_specs(world) {
        let spec = pipeline.spec;
        duplicates(
            cx,
            pipeline_tasks(spec).map(|(_, t)| &t.name),
            "pipeline task",
            false,
        );
        duplicates(cx, spec.params.iter().map(|p| &p.name), "param", false);
        duplicates(
            cx,
            spec.workspaces.iter().map(|w| &w.name),
            "workspace",
            false,
        );
        for (_, task) in pipeline_tasks(spec) {
            dns_label(cx, &task.name, "pipeline task");
            duplicates(
                cx,
                task.params.iter().map(|p: &Param| &p.name),
                "param",
                false,
            );
            duplicates(
                cx,
                task.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                false,
            );
        }
    }
}

fn dns_label(cx: &mut Checker, name: &Str, what: &str) {
    // An empty name is a missing one, reported by the schema.
    if !name.is_empty() && !is_dns_label(name) {
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid {what} name", name.value),
            )
            .with_label(name.span, "not a DNS label")
            .with_help(format!(
                "use lowercase letters, digits and `-`, at most 63 characters: `{}`",
                as_dns_label(name)
            )),
        );
    }
}

fn param_name(cx: &mut Checker, name: &Str, object: bool) {
    if !name.is_empty() && !is_param_name(name, object) {
        let allowed = if object {
            "letters, digits, `_` and `-` (no `.` in object params)"
        } else {
            "letters, digits, `_`, `-` and `.`"
        };
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid param name", name.value),
            )
            .with_label(name.span, "invalid param name")
            .with_help(format!("start with a letter or `_`, then use {allowed}")),
        );
    }
}

fn result_name(cx: &mut Checker, name: &Str, what: &str) {
    // An empty name is a missing one, reported by the schema.
    if !name.is_empty() && !is_result_name(name) {
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid {what} name", name.value),
            )
            .with_label(name.span, "invalid result name")
            .with_help(
                "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ),
        );
    }
}

/// Each name that repeats an earlier one (case-insensitively if `fold_case`), with the first;
/// empty names (reported by the schema) are skipped.
fn repeats<'a>(names: impl Iterator<Item = &'a Str>, fold_case: bool) -> Vec<(&'a Str, &'a Str)> {
    let mut seen: HashMap<String, &Str> = HashMap::new();
    let mut out = Vec::new();
    for name in names.filter(|n| !n.is_empty()) {
        let key = if fold_case {
            name.value.to_lowercase()
        } else {
            name.value.clone()
        };
        match seen.get(&key) {
            Some(first) => out.push((name, *first)),
            None => {
                seen.insert(key, name);
            }
        }
    }
    out
}

fn duplicates<'a>(
    cx: &mut Checker,
    names: impl Iterator<Item = &'a Str>,
    what: &str,
    fold_case: bool,
) {
    for (again, first) in repeats(names, fold_case) {
        cx.report(
            Diagnostic::new(
                &DUPLICATE,
                format!("{what} `{}` is given twice", again.value),
            )
            .with_label(again.span, "given again here")
            .with_secondary(first.span, "first given here"),
        );
    }
}

fn duplicate_env<'a>(cx: &mut Checker, names: impl Iterator<Item = &'a Str>) {
    for (again, first) in repeats(names, false) {
        cx.report(
            Diagnostic::new(
                &DUPLICATE_ENV,
                format!("env var `{}` is set twice", again.value),
            )
            .with_label(again.span, "set again here")
            .with_secondary(first.span, "first set here")
            .with_help("Kubernetes keeps the last value; remove one"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_formats() {
        assert!(is_dns_label("42crunch-scan"));
        assert!(!is_dns_label("Build"));
        assert!(!is_dns_label("a.b"));
        assert!(!is_dns_label("-a"));
        assert!(is_dns_subdomain("a.b-c", 63));
        assert!(is_param_name("a.b", false));
        assert!(!is_param_name("a.b", true));
        assert!(!is_param_name("1a", false));
        assert!(is_result_name("digest"));
        assert!(!is_result_name("-x"));
        assert_eq!(as_dns_label("Build_Image"), "build-image");
    }
}
