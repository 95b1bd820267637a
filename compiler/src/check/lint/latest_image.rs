//! `tkc::lint::latest-image`: images without a tag, or tagged `latest`.

use crate::check::{Checker, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{Resource, Str};

declare_code! {
    /// # An image without a tag, or tagged `latest`
    ///
    /// `alpine` and `alpine:latest` name whatever was pushed last: the same Task runs
    /// different code from one day to the next, and a run cannot be reproduced. Pin a version
    /// tag (`alpine:3.20`), or better a digest (`alpine@sha256:...`). Images given by a param
    /// (`$(params.image)`) are not checked here.
    ///
    /// ## Example
    /// ```yaml
    /// steps:
    ///   - name: build
    ///     image: golang        # or golang:latest
    /// ```
    /// Use `golang:1.22` (or `golang:1.22@sha256:...`).
    pub static LATEST_IMAGE = "tkc::lint::latest-image", Warning;
}

/// Why an image reference floats, if it does.
#[derive(Debug, PartialEq, Eq)]
pub enum Floating {
    /// No tag and no digest.
    Untagged,
    /// `:latest`.
    Latest,
}

/// Reads `[registry[:port]/]path[:tag][@digest]`. A digest pins the image whatever the tag;
/// a `:` before the last `/` is a registry port, not a tag.
pub fn floating(image: &str) -> Option<Floating> {
    let image = image.trim();
    if image.is_empty() || image.contains("$(") || image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some(Floating::Untagged),
        Some((_, "latest")) => Some(Floating::Latest),
        Some((_, "")) => Some(Floating::Untagged),
        Some(_) => None,
    }
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        let spec = task.spec;
        for step in &spec.steps {
            check(cx, step.image.as_ref());
        }
        if let Some(template) = &spec.step_template {
            check(cx, template.image.as_ref());
        }
        for sidecar in &spec.sidecars {
            check(cx, sidecar.image.as_ref());
        }
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            check(cx, Some(&spec.image));
        }
    }
}

fn check(cx: &mut Checker, image: Option<&Str>) {
    let Some(image) = image else {
        return;
    };
    let (message, label, suggestion) = match floating(image) {
        None => return,
        Some(Floating::Untagged) => (
            format!("image `{}` has no tag", image.value),
            "no tag: whatever `latest` is when the pod starts",
            format!("{}:<version>", image.value.trim()),
        ),
        Some(Floating::Latest) => (
            format!("image `{}` is tagged `latest`", image.value),
            "`latest` changes under you",
            format!(
                "{}:<version>",
                image.value.trim().trim_end_matches(":latest")
            ),
        ),
    };
    cx.report(
        Diagnostic::new(&LATEST_IMAGE, message)
            .with_label(image.span, label)
            .with_help(format!(
                "pin a version (`{suggestion}`) or a digest (`@sha256:...`) so that runs are reproducible"
            )),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(floating("alpine"), Some(Floating::Untagged));
        assert_eq!(floating("alpine:latest"), Some(Floating::Latest));
        assert_eq!(floating("alpine:3.20"), None);
        assert_eq!(floating("alpine@sha256:abc"), None);
        assert_eq!(floating("alpine:latest@sha256:abc"), None);
        assert_eq!(floating("registry:5000/team/app"), Some(Floating::Untagged));
        assert_eq!(floating("registry:5000/team/app:1.0"), None);
        assert_eq!(
            floating("registry:5000/team/app:latest"),
            Some(Floating::Latest)
        );
        assert_eq!(floating("$(params.image)"), None);
        assert_eq!(floating("gcr.io/$(params.project)/app"), None);
        assert_eq!(floating("ghcr.io/org/app:v1"), None);
    }
}
