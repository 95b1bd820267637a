//! The codes of the front end (syntax and schema) and the registry of every code.
//!
//! Each check family declares its own codes beside its rules; [`all`] lists them all, so that
//! `tkc explain`, SARIF rule metadata and configuration see one registry.

use super::Code;
use crate::declare_code;

declare_code! {
    /// # YAML syntax error
    ///
    /// The file is not well-formed YAML, so none of its documents after the error can be read.
    ///
    /// ## Example
    /// ```yaml
    /// steps: [build, test
    /// ```
    /// The flow sequence is never closed. Fix the YAML; the report points at where the parser
    /// gave up, which is often just after the real mistake.
    pub static YAML = "tkc::syntax::yaml", Error;
}

declare_code! {
    /// # KDL syntax error
    ///
    /// The file is not well-formed KDL 2.0. The report lists every error the KDL parser
    /// recovered from.
    ///
    /// ## Example
    /// ```kdl
    /// task "build" {
    ///     step "compile" image="golang:1.22"
    /// ```
    /// The `{` is never closed.
    pub static KDL = "tkc::syntax::kdl", Error;
}

declare_code! {
    /// # A mapping has the same key twice
    ///
    /// Kubernetes rejects objects with duplicate fields (`kubectl apply` validates strictly);
    /// some YAML libraries silently keep the last value, which hides the mistake.
    ///
    /// ## Example
    /// ```yaml
    /// - name: build
    ///   image: golang:1.22
    ///   image: golang:1.23
    /// ```
    pub static DUPLICATE_KEY = "tkc::syntax::duplicate-key", Error;
}

declare_code! {
    /// # The file is not valid UTF-8
    ///
    /// Kubernetes manifests are UTF-8. The report points at the first invalid byte; the rest
    /// of the file is checked with the bad bytes replaced.
    pub static INVALID_UTF8 = "tkc::syntax::invalid-utf8", Error;
}

declare_code! {
    /// # The file is not a text file
    ///
    /// It holds NUL bytes, as binaries, images and archives do, and no YAML or KDL file does
    /// (a UTF-16 file does too: save it as UTF-8). Nothing of it is read, and nothing of it is
    /// shown. Leave it out of the paths checked, or `exclude` it in `tkc.toml`.
    pub static NOT_TEXT = "tkc::syntax::not-text", Error;
}

declare_code! {
    /// # The input exceeds a safety limit
    ///
    /// Nesting deeper than 256 levels, YAML aliases that expand to more than 16 MiB beyond
    /// four times the file's size (counted in bytes of strings and nodes, so both "billion
    /// laughs" and one large scalar aliased many times are caught), KDL block comments nested
    /// or split into more pieces, and `/-` slashdash chains longer, than the KDL parser can
    /// take without recursing too deep, and Tekton resources nested more than 32 deep
    /// (pipelines in pipelines) are refused instead of exhausting memory or the stack.
    pub static LIMIT = "tkc::syntax::limit", Error;
}

declare_code! {
    /// # A field Tekton does not know
    ///
    /// Tekton's admission webhook rejects unknown fields, but many tools (and `tkn`) accept
    /// them silently, so a typo such as `scirpt:` or `runafter:` is lost. The report suggests
    /// the closest known field.
    ///
    /// ## Example
    /// ```yaml
    /// steps:
    ///   - name: build
    ///     image: alpine
    ///     scirpt: make
    /// ```
    /// Use `script`.
    pub static UNKNOWN_FIELD = "tkc::schema::unknown-field", Error, reason = "TaskValidationFailed";
}

declare_code! {
    /// # A field name in the wrong case
    ///
    /// `runafter:` for `runAfter:`. Whether Tekton accepts it depends on where it is:
    ///
    /// - **An error** where Tekton's CRD schema types the object (`config/300-crds/*.yaml`:
    ///   a Task's steps, a Pipeline's tasks, a run's spec). kubectl's default strict field
    ///   validation (the API server's `fieldValidation=Strict` decoding against the
    ///   structural schema) matches keys case-sensitively, so the API server rejects the key as an
    ///   unknown field when the request is decoded (stage: decoding).
    /// - **A warning** inside the subtrees the schema leaves open
    ///   (`x-kubernetes-preserve-unknown-fields`): a `taskSpec` or `pipelineSpec` embedded in
    ///   a Pipeline, PipelineRun or TaskRun, and a Task's `volumes`. Only the webhook decodes
    ///   those, with Go's `encoding/json`, which matches keys without regard to case: Tekton
    ///   accepts the key, but other tools (editor schemas, `kubectl explain`, linters, tkc's
    ///   KDL conversion) do not. An unknown key is an error there too
    ///   (`DisallowUnknownFields`: `tkc::schema::unknown-field`).
    ///
    /// Write the field as Tekton documents it.
    pub static FIELD_CASE = "tkc::schema::field-case", Error;
}

declare_code! {
    /// # A field has the wrong type
    ///
    /// For example a string where a list belongs (`args: --verbose` instead of
    /// `args: [--verbose]`), or an unquoted `true` where Kubernetes expects a string
    /// (`value: true` in an env var: write `value: "true"`).
    ///
    /// The Kubernetes objects inside Tekton resources (`securityContext`, `computeResources`,
    /// probes, ports, `envFrom`, `valueFrom`, volume sources, `volumeClaimTemplate`, the
    /// `podTemplate`) are decoded with their Kubernetes types (`k8s-openapi`), as the API
    /// server or Tekton's webhook decodes them: `runAsUser: "1000"` (an integer field) and
    /// `imagePullSecrets: [name]` (a list of `{name: ...}` objects) are refused. In KDL,
    /// `capabilities.add` and `capabilities.drop` are lists, and `drop "ALL"` is one string
    /// (write `(array)drop "ALL"`).
    ///
    /// Stage: decoding (the API server where Tekton's CRD schema types the field; the
    /// webhook's decoding in the parts the schema leaves open).
    pub static WRONG_TYPE = "tkc::schema::wrong-type", Error, reason = "TaskValidationFailed";
}

declare_code! {
    /// # A required field is missing
    ///
    /// For example a Task without `steps`, a step without `image` (and without `ref`), or a
    /// param without `name`.
    pub static MISSING_FIELD = "tkc::schema::missing-field", Error, reason = "TaskValidationFailed";
}

declare_code! {
    /// # A field is given twice
    ///
    /// In KDL a field that holds one value (such as `image`) may appear once per node; list
    /// fields (such as `step` or `param`) repeat.
    pub static DUPLICATE_FIELD = "tkc::schema::duplicate-field", Error;
}

declare_code! {
    /// # Unexpected positional argument (KDL)
    ///
    /// A KDL node's first argument names list items (`step "build"`, `param "url"`) or the
    /// resource (`task "build"`); other nodes take properties and children only.
    pub static UNEXPECTED_ARGUMENT = "tkc::schema::unexpected-argument", Error;
}

declare_code! {
    /// # Unknown apiVersion in the tekton.dev group
    ///
    /// Tekton serves `tekton.dev/v1` (Task, Pipeline, TaskRun, PipelineRun), `tekton.dev/v1beta1`
    /// (the same, deprecated, plus StepAction) and `tekton.dev/v1alpha1` (StepAction).
    pub static UNKNOWN_API_VERSION = "tkc::schema::unknown-api-version", Error;
}

declare_code! {
    /// # Unknown kind in the tekton.dev group
    ///
    /// The kinds tkc checks are Task, Pipeline, TaskRun, PipelineRun and StepAction. Other
    /// Tekton kinds (CustomRun, Triggers, Resolution) are skipped without a report.
    pub static UNKNOWN_KIND = "tkc::schema::unknown-kind", Error;
}

declare_code! {
    /// # A field that needs a feature gate
    ///
    /// Tekton gates fields by maturity with the `enable-api-fields` feature flag (`stable`,
    /// `beta` (the default), `alpha`). A field of a higher maturity than the cluster enables
    /// is rejected. Pass `--enable-api-fields alpha` (or set `enable-api-fields` in
    /// `tkc.toml`) if your cluster enables it.
    pub static FEATURE_GATED = "tkc::schema::feature-gated", Error;
}

declare_code! {
    /// # Not a Kubernetes quantity
    ///
    /// Compute resources (`computeResources.requests`/`limits` of steps, the step template and
    /// sidecars, a run's `computeResources`), `emptyDir.sizeLimit` and the storage of a
    /// `volumeClaimTemplate` are Kubernetes quantities: a number with an optional suffix,
    /// `500m`, `2`, `128Mi`, `1Gi`, `1e3` (`resource.ParseQuantity` in
    /// `k8s.io/apimachinery/pkg/api/resource`). Which fields are quantities comes from their
    /// Kubernetes types (`k8s_openapi`'s `Quantity`), not from a list.
    ///
    /// Stage: decoding. Where Tekton's CRD schema types the field, the API server's pattern
    /// rejects the value; inside the parts it leaves open (a Task's `volumes`, embedded specs)
    /// the webhook fails to decode it. A `$(params...)` reference is rejected as well: the
    /// field is decoded before any substitution.
    ///
    /// ## Example
    /// ```yaml
    /// computeResources:
    ///   requests:
    ///     memory: 1GB     # write 1G or 1Gi
    /// ```
    pub static INVALID_QUANTITY = "tkc::schema::invalid-quantity", Error;
}

declare_code! {
    /// # Invalid duration
    ///
    /// Timeouts are Go durations: a sequence of numbers with units `h`, `m`, `s`, `ms`, `us`,
    /// `ns`, such as `90s`, `1h30m` or `0` (no timeout). Kubernetes rejects anything else.
    pub static INVALID_DURATION = "tkc::schema::invalid-duration", Error;
}

declare_code! {
    /// # A v1beta1 field that is dropped in v1
    ///
    /// Converting a `tekton.dev/v1beta1` resource to v1 drops fields that v1 no longer has
    /// (PipelineResources, deprecated container fields of steps such as `ports` or probes).
    /// Tekton accepts them but they have no effect.
    pub static DROPPED_FIELD = "tkc::schema::dropped-field", Warning;
}

declare_code! {
    /// # A v1beta1 field that Tekton rejects
    ///
    /// **Stage:** admission (the validating webhook). PipelineResources were removed:
    /// `resources` on a v1beta1 Task, pipeline task, TaskRun or PipelineRun, and a non-empty
    /// `resources` list on a Pipeline, are rejected (`must not set the field(s): resources`,
    /// `apis.ErrDisallowedFields` in `pkg/apis/pipeline/v1beta1/*_validation.go`). An empty
    /// `resources: []` on a Pipeline is accepted (and dropped).
    ///
    /// ## Example
    /// ```yaml
    /// apiVersion: tekton.dev/v1beta1
    /// kind: Task
    /// spec:
    ///   resources:
    ///     inputs:
    ///       - name: source
    ///         type: git
    /// ```
    /// Clone the source into a workspace (the `git-clone` Task) and pass what else the
    /// resource gave as params.
    pub static DISALLOWED_FIELD = "tkc::schema::disallowed-field", Error;
}

declare_code! {
    /// # An invalid tkc.toml
    ///
    /// The configuration file is not valid TOML, or a setting has the wrong type or value:
    /// `search-paths`, `include` and `exclude` are lists of strings (globs for the last two,
    /// matched against paths relative to the directory of tkc.toml), `enable-api-fields` is
    /// `stable`, `beta` or `alpha`, and `[severity]` maps codes (`tkc::lint::latest-image`, or
    /// just `latest-image`) to `off`, `advice`, `warning` or `error`. tkc stops with exit code 2.
    ///
    /// ## Example
    /// ```toml
    /// search-paths = ["tasks/"]
    /// exclude = ["charts/**"]
    ///
    /// [severity]
    /// latest-image = "off"
    /// ```
    pub static CONFIG_INVALID = "tkc::config::invalid", Error;
}

declare_code! {
    /// # An unknown key in tkc.toml
    ///
    /// tkc.toml knows `search-paths`, `include`, `exclude`, `enable-api-fields` and the
    /// `[severity]` table. An unknown key is an error rather than silently ignored, so that a
    /// typo does not quietly turn a setting off. tkc stops with exit code 2.
    pub static CONFIG_UNKNOWN_KEY = "tkc::config::unknown-key", Error;
}

declare_code! {
    /// # A Helm template, skipped
    ///
    /// A file of a Helm chart's `templates/` holds Go template actions (`{{ .Values.x }}`,
    /// `{{- if ... }}`) where YAML expects structure, so it is YAML only once Helm has rendered
    /// it. Instead of the YAML errors the template would produce, tkc notes that it skipped the
    /// file. To check the Tekton resources a chart makes, check what Helm renders:
    ///
    /// ```sh
    /// helm template my-chart | tkc check --stdin-filename my-chart.yaml -
    /// ```
    ///
    /// A file whose actions are all inside quoted strings (`name: "{{ .Values.name }}"`) is
    /// valid YAML and is checked as it is.
    pub static HELM_TEMPLATE = "tkc::syntax::helm-template", Advice;
}

declare_code! {
    /// # No Tekton resource under a directory that was given
    ///
    /// `tkc check DIR` found no file under `DIR` that holds a Tekton resource (files of other
    /// kinds, Helm templates and files `tkc.toml` excludes are skipped). Most often the path is
    /// mistyped, or the resources moved: without this warning a CI job checking it would pass
    /// while checking nothing. With `--deny-warnings` it fails. A file named on the command
    /// line is not reported, as pre-commit passes every staged YAML file.
    pub static NO_TEKTON_INPUT = "tkc::inputs::no-tekton", Warning;
}

declare_code! {
    /// # A `tkc:ignore` comment names a code that does not exist
    ///
    /// `# tkc:ignore[code, ...]` (`// tkc:ignore[...]` in KDL) silences the named codes on
    /// its line, and on the next when the comment stands alone on its line. A code that no
    /// finding can have, most often a misspelt one, silences nothing, so the finding it was
    /// written for is still reported while the comment looks as if it handled it. Codes are written in full (`tkc::lint::latest-image`),
    /// without `tkc::` (`lint::latest-image`) or by their last part (`latest-image`);
    /// `tkc explain --list` lists them.
    ///
    /// ## Example
    /// ```yaml
    /// image: alpine:latest # tkc:ignore[latest-imgae]
    /// ```
    /// Write `latest-image`.
    pub static UNKNOWN_IGNORE_CODE = "tkc::suppress::unknown-code", Warning;
}

/// Every code tkc can report, in a stable order.
pub fn all() -> Vec<&'static Code> {
    let mut all: Vec<&'static Code> = vec![
        &YAML,
        &KDL,
        &crate::syntax::kdl_escapes::KDL_ESCAPE,
        &DUPLICATE_KEY,
        &HELM_TEMPLATE,
        &INVALID_UTF8,
        &NOT_TEXT,
        &LIMIT,
        &UNKNOWN_FIELD,
        &FIELD_CASE,
        &WRONG_TYPE,
        &MISSING_FIELD,
        &DUPLICATE_FIELD,
        &UNEXPECTED_ARGUMENT,
        &UNKNOWN_API_VERSION,
        &UNKNOWN_KIND,
        &FEATURE_GATED,
        &INVALID_DURATION,
        &INVALID_QUANTITY,
        &DROPPED_FIELD,
        &DISALLOWED_FIELD,
        &CONFIG_INVALID,
        &CONFIG_UNKNOWN_KEY,
        &UNKNOWN_IGNORE_CODE,
        &NO_TEKTON_INPUT,
    ];
    all.extend(crate::check::codes());
    all.extend(crate::lower::codes());
    all
}

/// Looks a code up by its full name, without its `tkc::` prefix (`schema::unknown-field`),
/// or by its last part (`unknown-field`).
pub fn find(name: &str) -> Option<&'static Code> {
    let all = all();
    let name = name.trim();
    let full = if name.starts_with("tkc::") {
        name.to_string()
    } else {
        format!("tkc::{name}")
    };
    all.iter()
        .find(|c| c.name == full)
        .or_else(|| {
            let mut short = all
                .iter()
                .filter(|c| c.name.rsplit("::").next() == Some(name));
            let first = short.next();
            // An ambiguous short name finds nothing rather than a surprise.
            if short.next().is_some() { None } else { first }
        })
        .copied()
}

/// Does `given` name `code`: in full, without its `tkc::` prefix, or by its last part? (An
/// ambiguous last part names every code that ends with it.)
pub fn names(code: &Code, given: &str) -> bool {
    code.name == given
        || code.name.strip_prefix("tkc::") == Some(given)
        || code.name.rsplit("::").next() == Some(given)
}

/// [`closest`], written in the form `given` was: in full, without `tkc::`, or by its last
/// part (`lint::latest-imgae` → `lint::latest-image`).
pub fn closest_as_written(given: &str) -> Option<&'static str> {
    let code = closest(given)?;
    let given = given.trim();
    Some(if given.starts_with("tkc::") {
        code.name
    } else if given.contains("::") {
        code.name.trim_start_matches("tkc::")
    } else {
        code.name.rsplit("::").next().unwrap_or(code.name)
    })
}

/// The code a misspelt name most likely means (`unknwon-field` → `tkc::schema::unknown-field`),
/// matching the name as it was given: in full, without `tkc::`, or by its last part.
pub fn closest(name: &str) -> Option<&'static Code> {
    let all = all();
    let name = name.trim();
    let forms = |code: &'static Code| {
        let short = code.name.trim_start_matches("tkc::");
        let last = code.name.rsplit("::").next().unwrap_or(short);
        [code.name, short, last]
    };
    let form = if name.starts_with("tkc::") {
        0
    } else if name.contains("::") {
        1
    } else {
        2
    };
    let candidates: Vec<&'static str> = all.iter().map(|c| forms(c)[form]).collect();
    let best = crate::suggest::did_you_mean(name, candidates.iter().copied())?;
    all.into_iter().find(|c| forms(c)[form] == best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn finding_and_suggesting_codes() {
        let name = |c: Option<&'static Code>| c.map(|c| c.name);
        let full = Some("tkc::schema::unknown-field");
        assert_eq!(name(find("tkc::schema::unknown-field")), full);
        assert_eq!(name(find("schema::unknown-field")), full);
        assert_eq!(name(find("unknown-field")), full);
        assert_eq!(name(find("unknwon-field")), None);
        assert_eq!(name(closest("unknwon-field")), full);
        assert_eq!(name(closest("schema::unknown-feild")), full);
        assert_eq!(name(closest("tkc::schema::unkown-field")), full);
        assert_eq!(name(closest("zzzzzzzz")), None);
    }

    #[test]
    fn codes_are_unique_and_documented() {
        let mut seen = BTreeSet::new();
        for code in all() {
            assert!(seen.insert(code.name), "duplicate code {}", code.name);
            assert!(code.name.starts_with("tkc::"), "{}", code.name);
            assert!(!code.summary().is_empty(), "{} has no doc", code.name);
        }
    }
}
