//! The values of a run's params: given, else defaulted (Pipeline defaults may use other
//! params), type-checked.

use super::*;

/// A run document's params as values.
pub(super) fn given_values(given: &[model::Param]) -> Vec<(String, PVal)> {
    given
        .iter()
        .filter_map(|p| Some((p.name.value.clone(), PVal::from_model(p.value.as_ref()?))))
        .collect()
}

/// The values of declared params: given (run document, then request), else the default.
/// Undeclared given values are kept too (Tekton substitutes them where they are referenced).
/// Pipeline defaults may use other params (resolved recursively, at most 10 deep); Task
/// defaults one level.
pub(super) fn param_values(
    lw: &mut Lowering,
    decls: &[ParamSpec],
    given: Vec<(String, PVal)>,
    request: &[(String, plan::ParamValue)],
    at: Span,
    pipeline_defaults: bool,
) -> BTreeMap<String, PVal> {
    let mut values: BTreeMap<String, PVal> = given.into_iter().collect();
    for (name, value) in request {
        values.insert(name.clone(), PVal::from_plan(value));
        if !decls.iter().any(|d| &d.name.value == name) {
            // Tekton ignores an undeclared param of a run document, but a `--param` the run does
            // not declare is a typo on the command line: an error, as `tkn pipeline start`
            // refuses it ("param 'x' not present in spec").
            let d = Diagnostic::new(
                &codes::UNKNOWN_PARAM,
                format!("`--param {name}` is not declared"),
            )
            .with_severity(crate::diag::Severity::Error)
            .with_label(at, "declares no such param")
            .with_optional_help(
                crate::suggest::did_you_mean(name, decls.iter().map(|d| d.name.as_str()))
                    .map(|s| format!("did you mean `{s}`?")),
            );
            lw.report(d);
        }
    }
    // An object value takes the keys it leaves out from the default.
    for decl in decls {
        let Some(default) = &decl.default else {
            continue;
        };
        if let Some(value) = values.remove(&decl.name.value) {
            let merged = value.with_default_keys(&PVal::from_model(default));
            values.insert(decl.name.value.clone(), merged);
        }
    }
    // Type checks of the given values.
    for decl in decls {
        let (Some(value), Some(ty)) = (values.get(&decl.name.value), decl.param_type()) else {
            continue;
        };
        let expected = ValueType::from(ty);
        let holds_ref = matches!(value, PVal::Str(t) if t.text().contains("$("));
        if value.value_type() != expected && !holds_ref {
            let got = match value.value_type() {
                ValueType::String => "a string",
                ValueType::Array => "an array",
                ValueType::Object => "an object",
            };
            lw.report(
                Diagnostic::new(
                    &codes::PARAM_TYPE,
                    format!(
                        "param `{}` is {} but {got} is given",
                        decl.name.value,
                        ty.as_str()
                    ),
                )
                .with_label(decl.name.span, format!("declared {} here", ty.as_str()))
                .with_help(match ty {
                    model::ParamType::Array => "give a list (`--param name='[\"a\",\"b\"]'`)",
                    model::ParamType::Object => "give a map (`--param name='{\"k\":\"v\"}'`)",
                    model::ParamType::String => "give a string",
                }),
            );
        }
    }
    let defaults: BTreeMap<String, PVal> = decls
        .iter()
        .filter(|d| !values.contains_key(&d.name.value))
        .filter_map(|d| {
            d.default
                .as_ref()
                .map(|v| (d.name.value.clone(), PVal::from_model(v)))
        })
        .collect();
    for decl in decls {
        if !values.contains_key(&decl.name.value) && !defaults.contains_key(&decl.name.value) {
            lw.report(
                Diagnostic::new(
                    &codes::MISSING_PARAM,
                    format!("param `{}` has no value", decl.name.value),
                )
                .with_label(decl.name.span, "declared without a default")
                .with_secondary(at, "the run gives it none")
                .with_help(format!(
                    "give it a value in the run's params (or `--param {}=...`)",
                    decl.name.value
                )),
            );
        }
    }
    if pipeline_defaults {
        let mut resolved: BTreeMap<String, PVal> = BTreeMap::new();
        for name in defaults.keys() {
            resolve_default(
                lw,
                name,
                &defaults,
                &values,
                &mut resolved,
                &mut Vec::new(),
                decls,
            );
        }
        values.extend(resolved);
    } else {
        let mut all = values.clone();
        all.extend(defaults.clone());
        let pass = Params {
            values: &all,
            except: &[],
        };
        for (name, value) in defaults {
            values.insert(name, subst::apply_value(&value, &pass));
        }
    }
    values
}

/// A Pipeline param's default with the params it uses substituted (recursively).
pub(super) fn resolve_default(
    lw: &mut Lowering,
    name: &str,
    defaults: &BTreeMap<String, PVal>,
    given: &BTreeMap<String, PVal>,
    resolved: &mut BTreeMap<String, PVal>,
    stack: &mut Vec<String>,
    decls: &[ParamSpec],
) {
    if resolved.contains_key(name) {
        return;
    }
    let Some(value) = defaults.get(name) else {
        return;
    };
    if stack.iter().any(|s| s == name) || stack.len() > 10 {
        let span = decls
            .iter()
            .find(|d| d.name.value == name)
            .map(|d| d.name.span)
            .unwrap_or_default();
        lw.report(
            Diagnostic::new(
                &codes::PARAM_CYCLE,
                format!(
                    "param defaults refer to each other: {} → {name}",
                    stack.join(" → ")
                ),
            )
            .with_label(span, "its default leads back here"),
        );
        resolved.insert(name.to_string(), value.clone());
        return;
    }
    stack.push(name.to_string());
    for t in value.templates() {
        for r in crate::vars::parse(&t.text()) {
            if let RefKind::Param { name: used, .. } = &r.kind
                && defaults.contains_key(used)
                && !given.contains_key(used)
            {
                resolve_default(lw, used, defaults, given, resolved, stack, decls);
            }
        }
    }
    stack.pop();
    let mut all = given.clone();
    all.extend(resolved.iter().map(|(k, v)| (k.clone(), v.clone())));
    let pass = Params {
        values: &all,
        except: &[],
    };
    let value = subst::apply_value(value, &pass);
    resolved.insert(name.to_string(), value);
}
