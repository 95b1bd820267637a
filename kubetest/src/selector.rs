//! Label selectors (`k8s.io/apimachinery/pkg/labels.Parse`: `a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`) and the field selectors tkc's clients use
//! (`fields.ParseSelector`, with `metadata.name` and `metadata.namespace` for every resource
//! and `status.phase`, `spec.nodeName` for pods, as `pod.GetAttrs` offers them).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::ApiError;
use crate::store::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: invalid label selector {s:?}"
                ))
            })?);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_requirement(p: &str) -> Option<Requirement> {
    if let Some(k) = p.strip_prefix('!') {
        let k = k.trim();
        return valid_key(k).then(|| Requirement::DoesNotExist(k.into()));
    }
    for (op, neg) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = p.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            if !valid_key(k) || !valid_value(v) {
                return None;
            }
            return Some(if neg {
                Requirement::NotEquals(k.into(), v.into())
            } else {
                Requirement::Equals(k.into(), v.into())
            });
        }
    }
    if let Some(open) = p.find('(') {
        let head = p[..open].trim();
        let body = p[open + 1..].trim().strip_suffix(')')?;
        let values: Vec<String> = body.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(|v| !valid_value(v)) {
            return None;
        }
        let (k, op) = head.rsplit_once(char::is_whitespace)?;
        let k = k.trim();
        if !valid_key(k) {
            return None;
        }
        return match op {
            "in" => Some(Requirement::In(k.into(), values)),
            "notin" => Some(Requirement::NotIn(k.into(), values)),
            _ => None,
        };
    }
    valid_key(p).then(|| Requirement::Exists(p.into()))
}

/// A field selector: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(s: &str, kind: Kind) -> Result<FieldSelector, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: {part:?}: no operator"
                )));
            };
            let field = field.trim();
            if field_value(kind, field, &Value::Null).is_none() {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    pub fn matches(&self, kind: Kind, obj: &Value) -> bool {
        self.0.iter().all(|(f, equal, v)| {
            let actual = field_value(kind, f, obj).unwrap_or_default();
            (actual == *v) == *equal
        })
    }
}

/// The value of a selectable field, `None` when the field cannot be selected on.
fn field_value(kind: Kind, field: &str, obj: &Value) -> Option<String> {
    let pointer = match (kind, field) {
        (_, "metadata.name") => "/metadata/name",
        (_, "metadata.namespace") => "/metadata/namespace",
        (Kind::Pod, "status.phase") => "/status/phase",
        (Kind::Pod, "spec.nodeName") => "/spec/nodeName",
        (Kind::Pod, "spec.restartPolicy") => "/spec/restartPolicy",
        (Kind::Secret, "type") => "/type",
        (Kind::Event, "involvedObject.name") => "/involvedObject/name",
        (Kind::Event, "involvedObject.uid") => "/involvedObject/uid",
        (Kind::Event, "involvedObject.kind") => "/involvedObject/kind",
        (Kind::Event, "reason") => "/reason",
        _ => return None,
    };
    Some(
        obj.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_and_set_based() {
        let l = labels(&[("app", "tkc"), ("tier", "a")]);
        for (sel, want) in [
            ("", true),
            ("app=tkc", true),
            ("app==tkc,tier!=b", true),
            ("app!=tkc", false),
            ("tier in (a, b)", true),
            ("tier notin (a)", false),
            ("missing notin (a)", true),
            ("app", true),
            ("!app", false),
            ("!missing,app in (tkc)", true),
        ] {
            let s = LabelSelector::parse(sel);
            assert!(s.as_ref().is_ok_and(|s| s.matches(&l) == want), "{sel}");
        }
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
    }

    #[test]
    fn field_selector_names_and_rejects_unknown_fields() {
        let pod = serde_json::json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        let s = FieldSelector::parse("metadata.name=p,status.phase!=Failed", Kind::Pod);
        assert!(s.is_ok_and(|s| s.matches(Kind::Pod, &pod)));
        assert!(FieldSelector::parse("spec.foo=x", Kind::Pod).is_err());
    }
}
