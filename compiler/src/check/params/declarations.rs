//! What a param declaration may say: its type, a default of that type, an object's
//! `properties`, an `enum`, and defaults that reference other params.

use crate::check::scope::{ParamScope, pipeline_scope};
use crate::check::{Checker, param_value_texts, pipeline_specs, refs, task_specs};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{ParamSpec, ParamType, ParamValue, Resource};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::RefKind;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{HashMap, HashSet};

declare_code! {
    /// # A param's `type` is not string, array or object
    ///
    /// Tekton knows three param types. Anything else is rejected when the Task or Pipeline is
    /// applied (`invalid value: <type>`). Without `type`, the type is `object` if `properties`
    /// is given, else the type of the default, else `string`.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: flags
    ///     type: list
    /// ```
    /// Write `type: array`.
    pub static INVALID_TYPE = "tkc::params::invalid-type", Error;
}

declare_code! {
    /// # A param's default has another type than the param
    ///
    /// The default must have the declared type: a list for `array`, a mapping for `object`, a
    /// string (or a number or boolean, which Tekton turns into its text: `default: false` is
    /// the string `"false"`) for `string`. Tekton rejects the resource:
    /// `"array" type does not match default value's type: "string"`.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: flags
    ///     type: array
    ///     default: "--verbose"
    /// ```
    /// Write `default: ["--verbose"]`.
    pub static DEFAULT_TYPE_MISMATCH = "tkc::params::default-type-mismatch", Error;
}

declare_code! {
    /// # An object param without `properties`
    ///
    /// A Task's object param must declare its keys under `properties`; Tekton rejects the
    /// Task (`missing field(s): <name>.properties`). The keys are what `$(params.<name>.<key>)`
    /// may use and what a run must give.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: repo
    ///     type: object
    ///     properties:
    ///       url: {}
    ///       revision: {}
    /// ```
    pub static MISSING_PROPERTIES = "tkc::params::missing-properties", Error;
}

declare_code! {
    /// # An object property with a type other than string
    ///
    /// The keys of object params and results hold strings; `type` under a property may only
    /// be `string` (or left out). Tekton rejects the resource (`The value type specified for
    /// these keys [...] is invalid`).
    pub static INVALID_PROPERTY_TYPE = "tkc::params::invalid-property-type", Error;
}

declare_code! {
    /// # A param's `enum` is not usable
    ///
    /// `enum` (alpha, `enable-param-enum`) lists the values a string param may take. Tekton
    /// rejects an enum on an array or object param, an enum that lists a value twice, and a
    /// non-empty default that is not one of the values.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: mode
    ///     enum: [fast, safe]
    ///     default: quick
    /// ```
    pub static INVALID_ENUM = "tkc::params::invalid-enum", Error;
}

declare_code! {
    /// # A Pipeline param's default refers to params that cannot be resolved
    ///
    /// A Pipeline param's default may use other params (`default: "$(params.registry)/app"`).
    /// When the run starts Tekton resolves these references (`ApplyParameters`,
    /// `pkg/reconciler/pipelinerun/resources/apply.go`; stage: reconcile): first the string
    /// params, following chains of string defaults up to 10 levels deep; then array and
    /// object defaults, once, with the resolved strings. In a string default, a reference to
    /// a param the Pipeline does not declare, a cycle, a deeper chain, or a reference to an
    /// array or object param that takes its default (`$(params.tags[0])`,
    /// `$(params.config.host)`: not resolved yet) fails the run (`parameter resolution
    /// failed: param "<p>" references undefined param "<q>"`). In an array or object default
    /// an unknown reference is not an error: it stays as text (a **warning**).
    pub static DEFAULT_REFERENCE = "tkc::params::default-reference", Error, reason = "PipelineValidationFailed";
}

const TYPES: [&str; 3] = ["string", "array", "object"];

/// How deep Tekton follows references between param defaults.
const MAX_DEFAULT_DEPTH: usize = 10;

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        for param in &task.spec.params {
            check_declaration(cx, param, true);
        }
    }
    for pipeline in pipeline_specs(world) {
        for param in &pipeline.spec.params {
            check_declaration(cx, param, false);
        }
        default_references(cx, &pipeline.spec.params, &pipeline_scope(&pipeline));
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            for param in &spec.params {
                check_declaration(cx, param, true);
            }
        }
    }
}

fn check_declaration(cx: &mut Checker, param: &ParamSpec, task_side: bool) {
    let name = &param.name.value;
    if let Some(ty) = &param.r#type
        && !ty.is_empty()
        && ParamType::parse(ty).is_none()
    {
        let help = match did_you_mean(ty, TYPES) {
            Some(t) => format!("did you mean `{t}`?"),
            None if matches!(ty.as_str(), "list" | "[]string") => "write `type: array`".into(),
            None if matches!(ty.as_str(), "map" | "dict") => "write `type: object`".into(),
            None => "a param is a `string`, an `array` or an `object`".into(),
        };
        cx.report(
            Diagnostic::new(
                &INVALID_TYPE,
                format!("param `{name}` has an unknown type `{}`", ty.value),
            )
            .with_label(ty.span, "not string, array or object")
            .with_help(help),
        );
        return;
    }
    let Some(ty) = param.param_type() else {
        return;
    };
    if let Some(default) = &param.default {
        let default_ty = ParamType::of_value(default);
        if default_ty != ty {
            let mut d = Diagnostic::new(
                &DEFAULT_TYPE_MISMATCH,
                format!(
                    "param `{name}` is {} {}, but its default is {} {}",
                    article(ty),
                    ty.as_str(),
                    article(default_ty),
                    default_ty.as_str()
                ),
            )
            .with_label(default.span, format!("{} default", default_ty.as_str()));
            d = match (&param.r#type, &param.properties) {
                (Some(t), _) if !t.is_empty() => {
                    d.with_secondary(t.span, format!("declared {} here", ty.as_str()))
                }
                (_, Some(p)) => d.with_secondary(
                    p.0.first().map_or(param.name.span, |(k, _)| k.span),
                    "`properties` make it an object",
                ),
                _ => d,
            };
            cx.report(d.with_help(default_help(ty, &default.value)));
        }
    }
    if let Some(properties) = &param.properties {
        for (key, spec) in &properties.0 {
            if let Some(t) = &spec.r#type
                && t.value != "string"
            {
                cx.report(
                    Diagnostic::new(
                        &INVALID_PROPERTY_TYPE,
                        format!(
                            "key `{}` of param `{name}` has type `{}`",
                            key.value, t.value
                        ),
                    )
                    .with_label(t.span, "object keys hold strings")
                    .with_help("write `type: string`, or leave `type` out"),
                );
            }
        }
    } else if task_side && ty == ParamType::Object {
        let at = param.r#type.as_ref().map_or(param.name.span, |t| t.span);
        let keys_hint = match param.default.as_deref() {
            Some(ParamValue::Object(entries)) if !entries.is_empty() => entries
                .iter()
                .map(|(k, _)| format!("\n    {}: {{type: string}}", k.value))
                .collect::<String>(),
            _ => "\n    <key>: {type: string}".to_string(),
        };
        cx.report(
            Diagnostic::new(
                &MISSING_PROPERTIES,
                format!("object param `{name}` does not declare its keys"),
            )
            .with_label(at, "an object needs `properties`")
            .with_help(format!("declare the keys:\n  properties:{keys_hint}")),
        );
    }
    check_enum(cx, param, ty);
}

fn check_enum(cx: &mut Checker, param: &ParamSpec, ty: ParamType) {
    let Some(first) = param.r#enum.first() else {
        return;
    };
    let name = &param.name.value;
    let span = param
        .r#enum
        .iter()
        .fold(first.span, |acc, v| acc.to(v.span));
    if ty != ParamType::String {
        cx.report(
            Diagnostic::new(
                &INVALID_ENUM,
                format!("{} param `{name}` has an enum", ty.as_str()),
            )
            .with_label(span, "enum is only for string params")
            .with_help("remove `enum`, or make the param a string"),
        );
        return;
    }
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for value in &param.r#enum {
        if let Some(first) = seen.get(value.as_str()) {
            cx.report(
                Diagnostic::new(
                    &INVALID_ENUM,
                    format!("enum of param `{name}` lists `{}` twice", value.value),
                )
                .with_label(value.span, "listed again")
                .with_secondary(*first, "first listed here")
                .with_help("remove one of them"),
            );
        } else {
            seen.insert(value, value.span);
        }
    }
    if let Some(default) = &param.default
        && let ParamValue::String(s) = &default.value
        && !s.is_empty()
        && !seen.contains_key(s.as_str())
    {
        let values: Vec<&str> = param.r#enum.iter().map(|v| v.as_str()).collect();
        let help = match did_you_mean(s, values.iter().copied()) {
            Some(v) => format!("did you mean `{v}`?"),
            None => format!("use one of: {}", values.join(", ")),
        };
        cx.report(
            Diagnostic::new(
                &INVALID_ENUM,
                format!("the default of param `{name}` is not in its enum"),
            )
            .with_label(default.span, format!("`{s}` is not listed"))
            .with_secondary(span, "the allowed values")
            .with_help(help),
        );
    }
}

fn article(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Array | ParamType::Object => "an",
        ParamType::String => "a",
    }
}

fn default_help(ty: ParamType, default: &ParamValue) -> String {
    match (ty, default) {
        (ParamType::Array, ParamValue::String(s)) if s.is_empty() => {
            "write an empty list: `default: []`".into()
        }
        (ParamType::Array, ParamValue::String(s)) => {
            format!(
                "write a list: `default: [{}]`",
                serde_json::Value::from(s.as_str())
            )
        }
        (ParamType::String, ParamValue::Array(items)) if items.len() == 1 => format!(
            "write the string itself: `default: {}`",
            serde_json::Value::from(items[0].as_str())
        ),
        (ParamType::String, _) => {
            "declare `type: array` or `type: object`, or give a string".into()
        }
        (ParamType::Object, _) => "write a mapping of keys to strings".into(),
        (ParamType::Array, _) => "write a list of strings".into(),
    }
}

/// One reference from a param's default to another param.
struct DefaultRef {
    from: usize,
    to: usize,
    span: Span,
}

/// Pipeline param defaults that use other params: undeclared names, cycles, chains deeper
/// than Tekton follows.
fn default_references(cx: &mut Checker, params: &[ParamSpec], scope: &ParamScope) {
    let index: HashMap<&str, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    let is_string = |p: &ParamSpec| matches!(p.param_type(), None | Some(ParamType::String));
    for (i, param) in params.iter().enumerate() {
        let Some(default) = &param.default else {
            continue;
        };
        // Only string defaults are resolved recursively; array and object defaults are
        // substituted once, with the resolved strings.
        let string_default = is_string(param);
        for text in param_value_texts(default) {
            for (r, span) in &refs(cx.world, text) {
                let RefKind::Param { name, .. } = &r.kind else {
                    continue;
                };
                match index.get(name.as_str()) {
                    Some(&to) if string_default && is_string(&params[to]) => {
                        edges.push(DefaultRef { from: i, to, span })
                    }
                    Some(&to) if string_default && params[to].default.is_some() => {
                        let target = &params[to];
                        cx.report(
                            Diagnostic::new(
                                &DEFAULT_REFERENCE,
                                format!(
                                    "the default of string param `{}` references `{r}`, which is not resolved yet: string defaults are resolved before array and object defaults",
                                    param.name.value
                                ),
                            )
                            .with_label(span, format!("undefined while `{}` takes its default", target.name.value))
                            .with_secondary(target.name.span, "an array or object param")
                            .with_help("copy the value into this default, or make every PipelineRun give the array or object param"),
                        );
                    }
                    Some(_) => {}
                    None if scope.get(name).is_some() => {}
                    None if !string_default => {
                        cx.report(
                            Diagnostic::new(
                                &DEFAULT_REFERENCE,
                                format!(
                                    "the default of param `{}` uses `{r}`, which is not a param of this Pipeline",
                                    param.name.value
                                ),
                            )
                            .with_label(span, "stays as text: array and object defaults are substituted, not checked")
                            .with_optional_help(did_you_mean(name, scope.names()).map(|s| format!("did you mean `{s}`?")))
                            .with_severity(crate::diag::Severity::Warning),
                        );
                    }
                    None => {
                        let help = did_you_mean(name, scope.names())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                format!("declare `{name}` in the Pipeline's params")
                            });
                        cx.report(
                            Diagnostic::new(
                                &DEFAULT_REFERENCE,
                                format!(
                                    "the default of param `{}` references undefined param `{name}`",
                                    param.name.value
                                ),
                            )
                            .with_label(span, "not a param of this Pipeline")
                            .with_help(help),
                        );
                    }
                }
            }
        }
    }
    if edges.is_empty() {
        return;
    }
    let mut graph: DiGraph<usize, usize> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..params.len()).map(|i| graph.add_node(i)).collect();
    for (e, edge) in edges.iter().enumerate() {
        graph.add_edge(nodes[edge.from], nodes[edge.to], e);
    }
    let mut in_cycle = HashSet::new();
    let mut components = tarjan_scc(&graph);
    for c in &mut components {
        c.sort();
    }
    components.sort();
    for component in components {
        let members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
        let self_loop = edges
            .iter()
            .any(|e| e.from == members[0] && e.to == members[0]);
        if members.len() == 1 && !self_loop {
            continue;
        }
        in_cycle.extend(members.iter().copied());
        let member_set: HashSet<usize> = members.iter().copied().collect();
        let first = members[0];
        let mut d = Diagnostic::new(
            &DEFAULT_REFERENCE,
            format!(
                "circular dependency detected in param `{}`: its default refers back to itself",
                params[first].name.value
            ),
        );
        for (labelled, edge) in edges
            .iter()
            .filter(|e| member_set.contains(&e.from) && member_set.contains(&e.to))
            .enumerate()
        {
            let label = format!(
                "`{}` uses `{}`",
                params[edge.from].name.value, params[edge.to].name.value
            );
            d = if labelled == 0 {
                d.with_label(edge.span, label)
            } else {
                d.with_secondary(edge.span, label)
            };
        }
        cx.report(d.with_help("give one of these params a default that does not use the others"));
    }
    // Longest chain of references from each param outside cycles.
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); params.len()];
    for edge in &edges {
        outgoing[edge.from].push(edge.to);
    }
    let mut depth: Vec<Option<usize>> = vec![None; params.len()];
    for start in 0..params.len() {
        if in_cycle.contains(&start) || depth[start].is_some() {
            continue;
        }
        // Iterative post-order DFS over an acyclic part of the graph.
        let mut stack = vec![(start, false)];
        while let Some((node, done)) = stack.pop() {
            if depth[node].is_some() {
                continue;
            }
            if done {
                let d = outgoing[node]
                    .iter()
                    .filter(|t| !in_cycle.contains(*t))
                    .map(|t| depth[*t].unwrap_or(0) + 1)
                    .max()
                    .unwrap_or(0);
                depth[node] = Some(d);
            } else {
                stack.push((node, true));
                for &t in &outgoing[node] {
                    if !in_cycle.contains(&t) && depth[t].is_none() {
                        stack.push((t, false));
                    }
                }
            }
        }
    }
    for (i, param) in params.iter().enumerate() {
        let Some(d) = depth[i] else { continue };
        let is_root = !edges.iter().any(|e| e.to == i);
        if d > MAX_DEFAULT_DEPTH && is_root {
            let span = param.default.as_ref().map_or(param.name.span, |v| v.span);
            cx.report(
                Diagnostic::new(
                    &DEFAULT_REFERENCE,
                    format!(
                        "resolving the default of param `{}` takes {d} levels of references",
                        param.name.value
                    ),
                )
                .with_label(span, format!("Tekton follows at most {MAX_DEFAULT_DEPTH}"))
                .with_help("use the value itself in some of these defaults"),
            );
        }
    }
}
