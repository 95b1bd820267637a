//! PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (as
//! `k8s.io/apimachinery/pkg/util/strategicpatch` applies it to the core types: lists of
//! named things merge by `name`, and `$patch: delete` / `$patch: replace` directives) and
//! JSON patch (RFC 6902: add, remove, replace, test).

use serde_json::Value;

use crate::status::ApiError;

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The merge key of a list field of the core types (`patchMergeKey` in `types.go`), for the
/// lists pods, configmaps, secrets and PVCs have.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" => Some("containerPort"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Strategic merge: like a merge patch, but lists with a merge key merge element-wise.
pub fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = p.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (merge_key(k), v) {
            (Some(key), Value::Array(items)) => {
                let slot = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                if let Value::Array(existing) = slot {
                    for item in items {
                        let id = item.get(key).cloned();
                        let pos = id
                            .as_ref()
                            .and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
                        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                        match (pos, delete) {
                            (Some(i), true) => {
                                existing.remove(i);
                            }
                            (None, true) => {}
                            (Some(i), false) => strategic(&mut existing[i], item),
                            (None, false) => {
                                let mut fresh = Value::Null;
                                strategic(&mut fresh, item);
                                existing.push(fresh);
                            }
                        }
                    }
                }
            }
            _ => strategic(t.entry(k.clone()).or_insert(Value::Null), v),
        }
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Some(ops) = patch.as_array() else {
        return Err(ApiError::bad_request(
            "the server rejected our request due to an error in our request: a JSON patch is a list of operations",
        ));
    };
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        let bad = |what: &str| ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "the server rejected our request due to an error in our request: {what} {path:?}"
            ),
            details: None,
        };
        let (parent, last) = match path.rfind('/') {
            Some(i) => (&path[..i], unescape(&path[i + 1..])),
            None => return Err(bad("invalid path")),
        };
        match op.get("op").and_then(Value::as_str).unwrap_or("") {
            "test" => {
                if target.pointer(path) != Some(&value) {
                    return Err(bad("testing value failed at"));
                }
            }
            "remove" => {
                let Some(p) = target.pointer_mut(parent) else {
                    return Err(bad("missing path"));
                };
                let removed = match p {
                    Value::Object(m) => m.remove(&last).is_some(),
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => {
                            a.remove(i);
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !removed {
                    return Err(bad("unable to remove nonexistent key"));
                }
            }
            o @ ("add" | "replace") => {
                let Some(p) = target.pointer_mut(parent) else {
                    return Err(bad("missing path"));
                };
                match p {
                    Value::Object(m) => {
                        if o == "replace" && !m.contains_key(&last) {
                            return Err(bad(
                                "replace operation does not apply: doc is missing key",
                            ));
                        }
                        m.insert(last, value);
                    }
                    Value::Array(a) => {
                        let i = if last == "-" {
                            a.len()
                        } else {
                            last.parse().unwrap_or(usize::MAX)
                        };
                        match o {
                            "add" if i <= a.len() => a.insert(i, value),
                            "replace" if i < a.len() => a[i] = value,
                            _ => return Err(bad("index out of range at")),
                        }
                    }
                    _ => return Err(bad("cannot add to a scalar at")),
                }
            }
            other => return Err(bad(&format!("unsupported operation {other:?} at"))),
        }
    }
    Ok(())
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_and_strategic_on_annotations() {
        let mut pod = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}});
        merge(
            &mut pod,
            &json!({"metadata": {"annotations": {"a": null, "c": "3"}}}),
        );
        assert_eq!(pod["metadata"]["annotations"], json!({"b": "2", "c": "3"}));
        strategic(
            &mut pod,
            &json!({"metadata": {"annotations": {"tekton.dev/ready": "READY"}}}),
        );
        assert_eq!(pod["metadata"]["annotations"]["tekton.dev/ready"], "READY");
    }

    #[test]
    fn strategic_merges_named_lists() {
        let mut spec =
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        strategic(
            &mut spec,
            &json!({"containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}]}),
        );
        assert_eq!(spec, json!({"containers": [{"name": "b", "image": "z"}]}));
        let mut plain = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        merge(&mut plain, &json!({"containers": [{"name": "c"}]}));
        assert_eq!(plain, json!({"containers": [{"name": "c"}]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut v = json!({"metadata": {"labels": {"a": "1"}}});
        let ok = json_patch(
            &mut v,
            &json!([
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "remove", "path": "/metadata/labels/a"},
                {"op": "test", "path": "/metadata/labels/b~1c", "value": "2"}
            ]),
        );
        assert!(ok.is_ok());
        assert_eq!(v, json!({"metadata": {"labels": {"b/c": "2"}}}));
        assert!(json_patch(&mut v, &json!([{"op": "remove", "path": "/nope/x"}])).is_err());
    }
}
