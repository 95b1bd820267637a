//! The one decoder from the syntax tree to the typed model.
//!
//! Struct types are declared with [`model!`](crate::model!), which lists every field with its
//! key, documentation and options ([`FieldMeta`]); [`StructReader`] then reports unknown
//! fields (with "did you mean"), fields given twice, fields behind a feature gate and missing
//! required fields, and [`Decode`] implementations report wrong types. A `null` value is the
//! same as an absent field, as in Kubernetes.
//!
//! KDL-specific reading (kebab-case keys, repeated child nodes as list items, a node's first
//! argument as its name) lives here too, so both syntaxes share every rule.

use crate::diag::{Diagnostic, codes};
use crate::source::{Span, Syntax};
use crate::suggest::did_you_mean;
use crate::syntax::kdl::{is_kebab_of, kebab_case};
use crate::syntax::{Map, Node, Scalar, ScalarKind, Value};

/// Maturity of a field, as Tekton's `enable-api-fields` flag gates it.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub enum ApiFields {
    Stable,
    #[default]
    Beta,
    Alpha,
}

impl ApiFields {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiFields::Stable => "stable",
            ApiFields::Beta => "beta",
            ApiFields::Alpha => "alpha",
        }
    }

    pub fn parse(s: &str) -> Option<ApiFields> {
        match s {
            "stable" => Some(ApiFields::Stable),
            "beta" => Some(ApiFields::Beta),
            "alpha" => Some(ApiFields::Alpha),
            _ => None,
        }
    }
}

/// The apiVersion a document was written in.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum ApiVersion {
    #[default]
    V1,
    V1beta1,
    V1alpha1,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "tekton.dev/v1",
            ApiVersion::V1beta1 => "tekton.dev/v1beta1",
            ApiVersion::V1alpha1 => "tekton.dev/v1alpha1",
        }
    }
}

/// What the decoder knows about one field of a struct.
#[derive(Debug, Clone, Copy)]
pub struct FieldMeta {
    /// The key in YAML (camelCase); KDL also accepts its kebab-case form.
    pub key: &'static str,
    /// The field's documentation (editor schemas show it).
    pub doc: &'static str,
    pub required: bool,
    /// The feature gate the field needs.
    pub gate: ApiFields,
    /// KDL: the name of one repeated child node that is an item of this list (`step`).
    pub kdl_item: Option<&'static str>,
    /// KDL: this field takes the node's first argument (`step "build"` sets `name`).
    pub positional: bool,
    /// Only accepted in `v1beta1` documents (moved or renamed in v1).
    pub v1beta1_only: bool,
    /// The field's key in `v1beta1`, when it differs.
    pub v1beta1_key: Option<&'static str>,
    /// The values the field allows, when Tekton fixes them (`onError`, a param's `type`):
    /// editor schemas and completion offer them.
    pub values: &'static [&'static str],
    /// The CRD schema leaves this subtree open (`x-kubernetes-preserve-unknown-fields` in
    /// Tekton's `config/300-crds/*.yaml`): only the webhook decodes it, with Go's
    /// `encoding/json`, which matches keys without regard to case (see [`Cx::schemaless`]).
    pub schemaless: bool,
}

impl FieldMeta {
    pub const DEFAULT: FieldMeta = FieldMeta {
        key: "",
        doc: "",
        required: false,
        gate: ApiFields::Stable,
        kdl_item: None,
        positional: false,
        v1beta1_only: false,
        v1beta1_key: None,
        values: &[],
        schemaless: false,
    };

    /// Is the field part of the schema of a document of this version?
    fn accepted_in(&self, version: ApiVersion) -> bool {
        !self.v1beta1_only || version == ApiVersion::V1beta1
    }
}

/// Decoding state: the diagnostics so far and the settings that change what is accepted.
pub struct Cx<'a> {
    pub diagnostics: Vec<Diagnostic>,
    pub api_fields: ApiFields,
    pub version: ApiVersion,
    /// The text of the file being decoded (for short "head of node" labels).
    pub text: &'a str,
    /// The key span of the field being decoded, if it is a field (not a list item).
    parent_key: Option<Span>,
    /// The field being decoded (for messages: "`retries` expects an integer").
    field: Option<&'static str>,
    /// How many model structs are being decoded, one inside the other.
    depth: usize,
    /// Required fields that an unknown key of the same struct (by its head) looks like a
    /// misspelling of: reported once, as the unknown field, and not again as missing.
    misspelt: Vec<(Span, &'static str)>,
    /// The structs being decoded, outermost first: what they are, their fields, the key
    /// they are under (if any) and their depth, so that a key that belongs to an enclosing
    /// struct (`runAfter` indented under `taskRef`) can say so.
    enclosing: Vec<Enclosing>,
    /// Inside a subtree the CRD schema leaves open ([`FieldMeta::schemaless`]). There the API
    /// server keeps any key and the webhook's `encoding/json` (with `DisallowUnknownFields`)
    /// matches keys case-insensitively: a key in another case is accepted. Elsewhere the API
    /// server's strict field validation matches case-sensitively and rejects it.
    pub schemaless: bool,
}

/// A struct being decoded (see [`Cx::enclosing`]).
struct Enclosing {
    what: &'static str,
    fields: &'static [FieldMeta],
    key: Option<Span>,
    depth: usize,
}

/// Model structs nested deeper than this are refused. Only pipelines in pipelines nest
/// without bound (two levels each); the decoder, the checks and the encoder recurse once per
/// level with large frames, and this keeps them within a 2 MiB thread stack in a debug build.
pub const MAX_STRUCT_DEPTH: usize = 32;

impl<'a> Cx<'a> {
    pub fn new(text: &'a str, api_fields: ApiFields) -> Cx<'a> {
        Cx {
            diagnostics: Vec::new(),
            api_fields,
            version: ApiVersion::V1,
            text,
            parent_key: None,
            field: None,
            depth: 0,
            misspelt: Vec::new(),
            enclosing: Vec::new(),
            schemaless: false,
        }
    }

    /// Is field `key` of the struct at `head` given under a misspelt key (`imagee:`)? Its
    /// unknown-field report says so; a missing-field report would be the same mistake twice.
    pub fn is_misspelt(&self, head: Span, key: &str) -> bool {
        self.misspelt.iter().any(|(h, k)| *h == head && *k == key)
    }

    /// The next struct decoded is the value of the field under this key (its "missing
    /// field" reports point at the key).
    pub fn set_parent_key(&mut self, key: Span) {
        self.parent_key = Some(key);
    }

    /// Starts decoding a struct (see [`MAX_STRUCT_DEPTH`]); false, and reported, if it is
    /// one level too many. Each `true` is followed by [`Cx::leave`].
    pub fn enter(&mut self, node: &Node) -> bool {
        if self.depth >= MAX_STRUCT_DEPTH {
            let head = self.head(node);
            self.push(
                Diagnostic::new(
                    &codes::LIMIT,
                    format!("Tekton resources nested deeper than {MAX_STRUCT_DEPTH} levels"),
                )
                .with_label(head, "too deep")
                .with_help("pipelines in pipelines this deep are refused; flatten them"),
            );
            return false;
        }
        self.depth += 1;
        true
    }

    /// Ends what [`Cx::enter`] started.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        let depth = self.depth;
        self.enclosing.retain(|e| e.depth <= depth);
    }

    /// Where an unknown `key` of the innermost struct belongs, if it is a field of a struct
    /// around it: the help for an indentation mistake.
    fn belongs_outside(&self, key: &str, kdl: bool) -> Option<String> {
        let (inner, outer) = self.enclosing.split_last()?;
        let field_of = |e: &&Enclosing| {
            e.fields.iter().any(|f| {
                f.accepted_in(self.version) && (f.key == key || (kdl && is_kebab_of(key, f.key)))
            })
        };
        let owner = outer.iter().rev().find(field_of)?;
        let under = inner
            .key
            .and_then(|k| self.text.get(k.start as usize..k.end as usize))
            .map(|k| k.trim_matches(['"', '\''].as_slice()));
        let place = match (under, kdl) {
            (Some(under), false) => format!(": indent it to line up with `{under}:`, not under it"),
            (Some(under), true) => format!(": move it out of the `{under}` block"),
            (None, _) => String::new(),
        };
        Some(format!(
            "`{key}` is a field of the {}, not of the {}{place}",
            owner.what, inner.what
        ))
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reports a value of the wrong type.
    pub fn wrong_type(&mut self, node: &Node, expected: &str) {
        let d = self.wrong_type_diagnostic(node, expected);
        self.push(d);
    }

    /// The report of a value of the wrong type, with the usual help (callers may replace it).
    pub fn wrong_type_diagnostic(&self, node: &Node, expected: &str) -> Diagnostic {
        let message = match self.field {
            Some(field) => {
                let field = match node.origin {
                    Syntax::Kdl => kebab_case(field),
                    Syntax::Yaml => field.to_string(),
                };
                format!("`{field}` expects {expected}, found {}", node.describe())
            }
            None => format!("expected {expected}, found {}", node.describe()),
        };
        let mut d = Diagnostic::new(&codes::WRONG_TYPE, message)
            .with_label(self.head(node), format!("this is {}", node.describe()));
        if expected.contains("string")
            && let Value::Scalar(s) = &node.value
        {
            d = d.with_help(format!("quote it to make it a string: \"{}\"", s.text));
        } else if expected.starts_with("a list")
            && matches!(node.value, Value::Scalar(_))
            && node.origin == Syntax::Yaml
        {
            let text = node.as_str().unwrap_or_default();
            d = d.with_help(format!(
                "write a list: [{}]",
                crate::emit::yaml::flow_item(text)
            ));
        }
        d
    }

    /// A short span for a node: its first line.
    pub fn head(&self, node: &Node) -> Span {
        let start = node.span.start as usize;
        let end = node.span.end as usize;
        let first_line_end = self
            .text
            .get(start..end)
            .and_then(|s| s.find('\n'))
            .map_or(end, |n| start + n);
        Span::new(node.span.file, start, first_line_end)
    }
}

/// A type the decoder can read from a (non-null) node.
pub trait Decode: Sized {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self>;
}

/// How a field's type reads a value that may be absent.
pub trait FieldValue: Sized {
    fn from_field(found: Option<Node>, cx: &mut Cx) -> Self;
}

impl<T: Decode> FieldValue for Option<T> {
    fn from_field(found: Option<Node>, cx: &mut Cx) -> Self {
        T::decode(found?, cx)
    }
}

impl<T: Decode> FieldValue for Vec<T> {
    fn from_field(found: Option<Node>, cx: &mut Cx) -> Self {
        let Some(node) = found else {
            return Vec::new();
        };
        decode_list(node, cx)
    }
}

/// A required field: absent is reported by the reader and gives the default value.
impl<T: Decode + Default> FieldValue for Required<T> {
    fn from_field(found: Option<Node>, cx: &mut Cx) -> Self {
        Required(found.and_then(|n| T::decode(n, cx)).unwrap_or_default())
    }
}

/// Marks a field type as present-or-default (see [`FieldValue`]); the model stores `T`.
pub struct Required<T>(pub T);

/// Decodes a list, accepting KDL's forms of it (one argument, no arguments).
pub fn decode_list<T: Decode>(node: Node, cx: &mut Cx) -> Vec<T> {
    match node.value {
        Value::Seq(items) => {
            let saved = cx.parent_key.take();
            // Sized up front: collecting from a `filter_map` grows by doubling, which left a
            // 20,000-task pipeline with room for 32,768.
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                cx.parent_key = None;
                if item.value != Value::Null {
                    out.extend(T::decode(item, cx));
                }
            }
            cx.parent_key = saved;
            out
        }
        Value::Scalar(Scalar {
            kdl_argument: true, ..
        }) => T::decode(node, cx).into_iter().collect(),
        Value::Map(ref m)
            if node.origin == Syntax::Kdl && m.entries.is_empty() && m.args.is_empty() =>
        {
            Vec::new()
        }
        // A KDL node with properties or children given where a list is expected: one item.
        Value::Map(_) if node.origin == Syntax::Kdl => T::decode(node, cx).into_iter().collect(),
        // A scalar where a list belongs (`values: "true"`): reported, and read as the
        // one-item list the help suggests, so that the checks do not report the same mistake
        // again as an empty list. The item's own type problems are the same mistake too.
        Value::Scalar(_) => {
            cx.wrong_type(&node, "a list");
            let reported = cx.diagnostics.len();
            let item = T::decode(node, cx);
            cx.diagnostics.truncate(reported);
            item.into_iter().collect()
        }
        _ => {
            cx.wrong_type(&node, "a list");
            Vec::new()
        }
    }
}

/// Reads the fields of one struct from a mapping node.
pub struct StructReader {
    /// Per field: the value and the key it was found under.
    slots: Vec<Option<(Node, Option<Span>)>>,
    span: Span,
    head: Span,
}

impl StructReader {
    /// Checks the node is a mapping and sorts its entries into the struct's fields; unknown
    /// and duplicate fields are reported here.
    pub fn new(
        node: Node,
        what: &'static str,
        fields: &'static [FieldMeta],
        dropped_v1beta1: &'static [&'static str],
        cx: &mut Cx,
    ) -> Option<StructReader> {
        let parent_key = cx.parent_key.take();
        let head = parent_key.unwrap_or_else(|| cx.head(&node));
        let span = node.span;
        let origin = node.origin;
        let map = match node.value {
            Value::Map(map) => map,
            // KDL: `task-ref "build"` is a struct given only its positional argument.
            Value::Scalar(Scalar {
                kdl_argument: true, ..
            }) => Map {
                entries: Vec::new(),
                args: vec![node],
            },
            _ => {
                cx.wrong_type(&node, &format!("a mapping ({what})"));
                return None;
            }
        };
        let kdl = origin == Syntax::Kdl;
        cx.enclosing.push(Enclosing {
            what,
            fields,
            key: parent_key,
            depth: cx.depth,
        });
        let mut slots: Vec<Option<(Node, Option<Span>)>> = vec![None; fields.len()];
        // Repeated KDL children of a list field, gathered before they become one list node.
        let mut items: Vec<Vec<Node>> = vec![Vec::new(); fields.len()];

        let positional = fields.iter().position(|f| f.positional);
        for (i, arg) in map.args.into_iter().enumerate() {
            match positional {
                Some(p) if i == 0 => slots[p] = Some((arg, None)),
                _ => {
                    let help = match positional.and_then(|p| fields.get(p)) {
                        Some(f) => format!(
                            "{what} takes one argument, its `{}`; give other fields as properties or children",
                            kebab_case(f.key)
                        ),
                        None => format!("{what} takes properties and children only"),
                    };
                    cx.push(
                        Diagnostic::new(
                            &codes::UNEXPECTED_ARGUMENT,
                            format!("unexpected argument in {what}"),
                        )
                        .with_label(arg.span, "not expected here")
                        .with_help(help),
                    )
                }
            }
        }

        for entry in map.entries {
            let found = fields.iter().enumerate().find_map(|(i, f)| {
                if !f.accepted_in(cx.version) {
                    return None;
                }
                // KDL: a list field's item node repeats, even where it is spelt like the
                // field (`env`, `when`).
                if kdl && f.kdl_item == Some(entry.key.as_str()) {
                    return Some((i, true));
                }
                let matches_key = entry.key == f.key
                    || (cx.version == ApiVersion::V1beta1 && f.v1beta1_key == Some(&entry.key));
                if matches_key {
                    return Some((i, false));
                }
                if kdl
                    && (is_kebab_of(&entry.key, f.key)
                        || (cx.version == ApiVersion::V1beta1
                            && f.v1beta1_key.is_some_and(|k| is_kebab_of(&entry.key, k))))
                {
                    return Some((i, false));
                }
                None
            });
            // Go's JSON decoding (and so Tekton) matches field names case-insensitively:
            // accept such a key, with a warning.
            let found = found.or_else(|| {
                let (i, f) = fields.iter().enumerate().find(|(_, f)| {
                    f.accepted_in(cx.version)
                        && (f.key.eq_ignore_ascii_case(&entry.key)
                            || (kdl && kebab_case(f.key).eq_ignore_ascii_case(&entry.key)))
                })?;
                let spelling = if kdl {
                    kebab_case(f.key)
                } else {
                    f.key.to_string()
                };
                let report = Diagnostic::new(
                    &codes::FIELD_CASE,
                    format!("field `{spelling}` is spelled `{}`", entry.key),
                );
                // Read either way, so that the checks do not also report it missing.
                cx.push(if cx.schemaless {
                    report
                        .with_severity(crate::diag::Severity::Warning)
                        .with_label(entry.key_span, "different case")
                        .with_help(format!(
                            "write `{spelling}`: in this part, which the CRD schema leaves open, Tekton's decoder accepts any case, but other tools and schemas do not"
                        ))
                } else {
                    report
                        .with_label(entry.key_span, "not this field: keys are case-sensitive here")
                        .with_help(format!(
                            "write `{spelling}`: the API server's strict field validation rejects `{}` as an unknown field",
                            entry.key
                        ))
                });
                Some((i, false))
            });
            let Some((i, is_item)) = found else {
                if cx.version == ApiVersion::V1beta1
                    && dropped_v1beta1.contains(&entry.key.as_str())
                {
                    if let Some(report) = disallowed_resources(&entry, what) {
                        cx.push(report);
                        continue;
                    }
                    cx.push(
                        Diagnostic::new(
                            &codes::DROPPED_FIELD,
                            format!(
                                "`{}` is dropped when this v1beta1 {what} is converted to v1",
                                entry.key
                            ),
                        )
                        .with_label(entry.key_span, "has no effect")
                        .with_help("remove it, or port the resource to tekton.dev/v1"),
                    );
                    continue;
                }
                let (mut report, meant) =
                    unknown_field(&entry.key, entry.key_span, what, fields, kdl, cx.version);
                if let Some(meant) = meant {
                    cx.misspelt.push((head, meant));
                } else if let Some(help) = cx.belongs_outside(&entry.key, kdl) {
                    report = report.with_help(help);
                }
                cx.push(report);
                continue;
            };
            let meta = &fields[i];
            if meta.gate > cx.api_fields {
                cx.push(
                    Diagnostic::new(
                        &codes::FEATURE_GATED,
                        format!(
                            "`{}` is {} {} field; it needs `enable-api-fields: {}`",
                            entry.key,
                            if meta.gate == ApiFields::Alpha { "an" } else { "a" },
                            meta.gate.as_str(),
                            meta.gate.as_str()
                        ),
                    )
                    .with_label(entry.key_span, format!("{} feature", meta.gate.as_str()))
                    .with_help(format!(
                        "pass `--enable-api-fields {}` if your cluster enables it (the current setting is `{}`)",
                        meta.gate.as_str(),
                        cx.api_fields.as_str()
                    )),
                );
            }
            if entry.value.value == Value::Null {
                continue;
            }
            if is_item {
                // An item node in list form (`env { - ... }`) holds several items.
                match entry.value.value {
                    Value::Seq(list) => items[i].extend(list),
                    _ => items[i].push(entry.value),
                }
                continue;
            }
            if let Some(first) = &slots[i] {
                let spelling = if kdl {
                    kebab_case(meta.key)
                } else {
                    meta.key.to_string()
                };
                cx.push(
                    Diagnostic::new(
                        &codes::DUPLICATE_FIELD,
                        format!("`{spelling}` is given twice in {what}"),
                    )
                    .with_label(entry.key_span, "given again here")
                    .with_secondary(
                        first.1.unwrap_or_else(|| cx.head(&first.0)),
                        "first given here",
                    ),
                );
                continue;
            }
            // The key goes along so that a nested struct's "missing field" can point at it.
            slots[i] = Some((entry.value, Some(entry.key_span)));
        }

        for (i, list) in items.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let span = list.iter().map(|n| n.span).reduce(Span::to).unwrap_or(span);
            let mut all = match slots[i].take() {
                Some((
                    Node {
                        value: Value::Seq(existing),
                        ..
                    },
                    _,
                )) => existing,
                Some((other, _)) => vec![other],
                None => Vec::new(),
            };
            all.extend(list);
            slots[i] = Some((Node::new(Value::Seq(all), span, Syntax::Kdl), None));
        }
        Some(StructReader { slots, span, head })
    }

    /// The span of the whole struct.
    pub fn span(&self) -> Span {
        self.span
    }

    /// A short span to point at the struct: the key it is under, or its first line.
    pub fn head(&self) -> Span {
        self.head
    }

    /// Takes field `index`, decoding it as `T` (reporting it if it is required and absent).
    pub fn take<T: FieldValue>(
        &mut self,
        index: usize,
        fields: &[FieldMeta],
        what: &str,
        cx: &mut Cx,
    ) -> T {
        let found = self.slots.get_mut(index).and_then(Option::take);
        let found = found.map(|(node, key)| {
            cx.parent_key = key;
            node
        });
        if found.is_none()
            && let Some(meta) = fields.get(index)
            && meta.required
            && !cx.is_misspelt(self.head, meta.key)
        {
            cx.push(
                Diagnostic::new(
                    &codes::MISSING_FIELD,
                    format!("missing field `{}` in {what}", meta.key),
                )
                .with_label(self.head, format!("this {what} has no `{}`", meta.key)),
            );
        }
        let outer = cx.field.replace(fields.get(index).map_or("", |m| m.key));
        let was_schemaless = cx.schemaless;
        cx.schemaless |= fields.get(index).is_some_and(|m| m.schemaless);
        let value = T::from_field(found, cx);
        cx.schemaless = was_schemaless;
        cx.field = outer;
        cx.parent_key = None;
        value
    }
}

fn unknown_field(
    key: &str,
    span: Span,
    what: &str,
    fields: &[FieldMeta],
    kdl: bool,
    version: ApiVersion,
) -> (Diagnostic, Option<&'static str>) {
    let spell = |f: &FieldMeta| -> String {
        if kdl {
            f.kdl_item.map_or_else(|| kebab_case(f.key), str::to_string)
        } else {
            f.key.to_string()
        }
    };
    let known: Vec<String> = fields
        .iter()
        .filter(|f| f.accepted_in(version))
        .map(spell)
        .collect();
    let best = did_you_mean(key, known.iter().map(String::as_str));
    let meant = best.and_then(|best| {
        fields
            .iter()
            .filter(|f| f.accepted_in(version))
            .find(|f| spell(f) == best)
            .map(|f| f.key)
    });
    let help = match best {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!("{what} fields are {}", list.join(", "))
        }
    };
    let report = Diagnostic::new(
        &codes::UNKNOWN_FIELD,
        format!("unknown field `{key}` in {what}"),
    )
    .with_label(span, "unknown field")
    .with_help(help);
    (report, meant)
}

// ---- leaf types ----

/// A value and where it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<T: Decode> Decode for Spanned<T> {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let span = node.span;
        T::decode(node, cx).map(|value| Spanned { value, span })
    }
}

impl Decode for String {
    /// A number or boolean is reported and then read as its text, so that one mistake does
    /// not also show up as a missing field.
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        if !matches!(
            node.value,
            Value::Scalar(Scalar {
                kind: ScalarKind::Str,
                ..
            })
        ) {
            cx.wrong_type(&node, "a string");
        }
        match node.value {
            Value::Scalar(Scalar { text, .. }) => Some(text),
            _ => None,
        }
    }
}

impl Decode for bool {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        match node.value {
            Value::Scalar(Scalar {
                kind: ScalarKind::Bool(b),
                ..
            }) => Some(b),
            _ => {
                cx.wrong_type(&node, "a boolean (true or false)");
                None
            }
        }
    }
}

impl Decode for i64 {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        if let Value::Scalar(Scalar {
            text,
            kind: ScalarKind::Int,
            ..
        }) = &node.value
            && let Some(n) = parse_int(text)
        {
            return Some(n);
        }
        cx.wrong_type(&node, "an integer");
        None
    }
}

/// Parses a YAML 1.1 integer (`1_000`, `0x1f`, `0b101`, `017` octal).
pub fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    let n = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -n } else { n })
}

/// Any value, kept as a syntax tree (Kubernetes types tkc passes through: securityContext,
/// resources, probes, affinity, ...).
impl Decode for Node {
    fn decode(node: Node, _cx: &mut Cx) -> Option<Self> {
        Some(node)
    }
}

/// A Kubernetes object kept as written, that must at least be a mapping.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(pub Option<Node>);

impl AsRef<Object> for Object {
    fn as_ref(&self) -> &Object {
        self
    }
}

impl Decode for Object {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        if node.as_map().is_some() {
            capability_lists(&node, cx);
            Some(Object(Some(node)))
        } else {
            cx.wrong_type(&node, "a mapping");
            None
        }
    }
}

/// `capabilities.add` and `capabilities.drop` of a (container) securityContext are lists in
/// Kubernetes (`Capabilities.Add []Capability`): a single string is refused by the API
/// server's decoding, and in KDL `drop "ALL"` is such a string. The one Kubernetes field
/// inside the objects tkc passes through that is reported, because KDL makes the mistake easy.
fn capability_lists(object: &Node, cx: &mut Cx) {
    let Some(capabilities) = object.get("capabilities").and_then(Node::as_map) else {
        return;
    };
    for entry in &capabilities.entries {
        if !matches!(entry.key.as_str(), "add" | "drop") {
            continue;
        }
        let Value::Scalar(scalar) = &entry.value.value else {
            continue;
        };
        let (key, text) = (&entry.key, &scalar.text);
        let help = match entry.value.origin {
            Syntax::Kdl => format!("write a list of one item: `(array){key} \"{text}\"`"),
            Syntax::Yaml => format!("write a list: `{key}: [{text}]`"),
        };
        cx.push(
            Diagnostic::new(
                &codes::WRONG_TYPE,
                format!(
                    "`capabilities.{key}` expects a list, found {}",
                    entry.value.describe()
                ),
            )
            .with_label(entry.value.span, "one string, not a list")
            .with_help(help),
        );
    }
}

/// A map of strings (`labels`, `annotations`, `nodeSelector`, ConfigMap `data`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringMap(pub Vec<(Spanned<String>, Spanned<String>)>);

impl StringMap {
    pub fn get(&self, key: &str) -> Option<&Spanned<String>> {
        self.0.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }
}

impl Decode for StringMap {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let Value::Map(map) = node.value else {
            cx.wrong_type(&node, "a mapping of strings");
            return None;
        };
        let mut out = Vec::with_capacity(map.entries.len());
        for entry in map.entries {
            if entry.value.value == Value::Null {
                continue;
            }
            let span = entry.value.span;
            if let Some(value) = String::decode(entry.value, cx) {
                out.push((
                    Spanned::new(entry.key, entry.key_span),
                    Spanned::new(value, span),
                ));
            }
        }
        Some(StringMap(out))
    }
}

/// Declares a model struct: its fields, their keys, docs and options; its decoder, its
/// canonical-JSON encoder ([`Encode`](crate::model::encode::Encode)) and its description
/// ([`Described`](crate::model::shape::Described), for the KDL emitter and the schemas).
///
/// ```ignore
/// model! {
///     /// A step.
///     #[what = "step"]
///     pub struct Step {
///         /// The step's name.
///         pub name: Option<Spanned<String>> = "name" { positional: true },
///     }
/// }
/// ```
/// Options are [`FieldMeta`] fields. A field typed `T` with `required: true` decodes through
/// [`Required<T>`]; other types decode through their [`FieldValue`] impl.
#[macro_export]
macro_rules! model {
    (
        $(#[doc = $sdoc:literal])*
        #[what = $what:literal]
        $(#[dropped_v1beta1 = [$($dropped:literal),* $(,)?]])?
        $(#[validate = $validate:path])?
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $ty:ty = $key:literal $({ $($opts:tt)* })?
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
            /// Where the value is in the source.
            pub span: $crate::source::Span,
            /// A short span to point at: the key the value is under, or its first line.
            pub head: $crate::source::Span,
        }

        impl $name {
            /// How messages name this type.
            pub const WHAT: &'static str = $what;
            /// Every field, in declaration order.
            pub const FIELDS: &'static [$crate::model::decode::FieldMeta] = &[
                $( $crate::model::decode::FieldMeta {
                    key: $key,
                    doc: concat!($($fdoc, "\n",)* ""),
                    $($($opts)* ,)?
                    ..$crate::model::decode::FieldMeta::DEFAULT
                }, )*
            ];
            const DROPPED_V1BETA1: &'static [&'static str] = &[$($($dropped),*)?];
        }

        impl $crate::model::decode::Decode for $name {
            fn decode(
                node: $crate::syntax::Node,
                cx: &mut $crate::model::decode::Cx,
            ) -> Option<Self> {
                #[allow(non_camel_case_types, dead_code)]
                enum Index { $($field),* }
                if !cx.enter(&node) {
                    return None;
                }
                let value = (|| {
                    let mut reader = $crate::model::decode::StructReader::new(
                        node, $what, Self::FIELDS, Self::DROPPED_V1BETA1, cx,
                    )?;
                    let value = $name {
                        $( $field: $crate::model!(@take reader, cx, Index::$field as usize, [$($($opts)*)?] $ty), )*
                        span: reader.span(),
                        head: reader.head(),
                    };
                    $( $validate(&value, reader.head(), cx); )?
                    Some(value)
                })();
                cx.leave();
                value
            }
        }

        impl $crate::model::shape::Described for $name {
            fn shape() -> $crate::model::shape::Shape {
                static SHAPE: $crate::model::shape::StructShape = $crate::model::shape::StructShape {
                    name: stringify!($name),
                    what: $what,
                    doc: concat!($($sdoc, "\n",)* ""),
                    fields: $name::FIELDS,
                    shapes: &[$( <$ty as $crate::model::shape::Described>::shape ),*],
                };
                $crate::model::shape::Shape::Struct(&SHAPE)
            }
        }

        impl $crate::model::encode::Encode for $name {
            fn encode(&self) -> Option<serde_json::Value> {
                let mut map = serde_json::Map::new();
                $(
                    if let Some(v) = $crate::model::encode::Encode::encode(&self.$field) {
                        map.insert($key.to_string(), v);
                    }
                )*
                Some(serde_json::Value::Object(map))
            }
        }
    };
    (@take $reader:ident, $cx:ident, $index:expr, [required: true $($rest:tt)*] $ty:ty) => {
        $reader.take::<$crate::model::decode::Required<$ty>>($index, Self::FIELDS, Self::WHAT, $cx).0
    };
    (@take $reader:ident, $cx:ident, $index:expr, [$($rest:tt)*] $ty:ty) => {
        $reader.take::<$ty>($index, Self::FIELDS, Self::WHAT, $cx)
    };
}

/// v1beta1 PipelineResources: the webhook rejects `resources` on a Task, pipeline task,
/// TaskRun and PipelineRun when set, and on a Pipeline when not empty
/// (`apis.ErrDisallowedFields("resources")` in `TaskSpec.Validate`, `PipelineTask.Validate`,
/// `PipelineSpec.Validate`, `TaskRunSpec.Validate`, `PipelineRunSpec.Validate` of
/// `pkg/apis/pipeline/v1beta1/*_validation.go`).
fn disallowed_resources(entry: &crate::syntax::Entry, what: &str) -> Option<Diagnostic> {
    use crate::syntax::Value;
    if entry.key != "resources" {
        return None;
    }
    let set = match &entry.value.value {
        Value::Null => false,
        Value::Seq(items) if what == "pipeline spec" => !items.is_empty(),
        _ => true,
    };
    set.then(|| {
        Diagnostic::new(
            &codes::DISALLOWED_FIELD,
            "must not set the field(s): resources",
        )
        .with_label(entry.key_span, "PipelineResources were removed from Tekton")
        .with_help("pass what the resource gave as params and workspaces (a `git-clone` Task into a workspace, an image name as a param)")
    })
}
