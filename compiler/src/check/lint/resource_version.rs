//! `tkc::lint::resource-version`: server-set metadata pasted from `kubectl get -o yaml`.

use crate::check::Checker;
use crate::declare_code;
use crate::diag::Diagnostic;

declare_code! {
    /// # `metadata.resourceVersion` in a source file
    ///
    /// The API server sets `resourceVersion` (with `uid`, `creationTimestamp`, `generation`,
    /// `managedFields`): YAML that has it was copied from `kubectl get -o yaml`. Applying it
    /// fails with a conflict as soon as the object changes in the cluster ("the object has been
    /// modified"). Remove the server-set fields.
    pub static RESOURCE_VERSION = "tkc::lint::resource-version", Warning;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for (_, document) in world.checked() {
        let meta = &document.metadata;
        let Some(version) = &meta.resource_version else {
            continue;
        };
        let mut d = Diagnostic::new(
            &RESOURCE_VERSION,
            format!(
                "{} `{}` has `metadata.resourceVersion`: it was copied from a cluster",
                document.kind.as_str(),
                document.name()
            ),
        )
        .with_label(version.span, "set by the API server");
        for (node, what) in [
            (&meta.uid, "uid"),
            (&meta.creation_timestamp, "creationTimestamp"),
            (&meta.generation, "generation"),
            (&meta.managed_fields, "managedFields"),
        ] {
            if let Some(node) = node {
                let first_line_end = cx
                    .world
                    .sources
                    .text(node.span)
                    .find('\n')
                    .map_or(node.span.end as usize, |n| node.span.start as usize + n);
                let span = crate::source::Span::new(
                    node.span.file,
                    node.span.start as usize,
                    first_line_end,
                );
                d = d.with_secondary(span, format!("`{what}` too"));
            }
        }
        cx.report(d.with_help(
            "remove `resourceVersion` and the other server-set fields; applying a stale resourceVersion fails with a conflict",
        ));
    }
}
