//! Kubernetes objects as multi-document YAML, through tkc's own emitter
//! (`tkc_compiler::emit::yaml`): keys sorted, except `apiVersion`, `kind` and `metadata` first
//! in an object and `name` first in every mapping, as people read manifests.

use serde::Serialize;
use serde_json::Value;
use tkc_compiler::emit::yaml::{Data, to_yaml};

/// One document: comment lines above it, then the object.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub comments: Vec<String>,
    pub object: Value,
}

impl Document {
    /// A typed object (Pod, ConfigMap, ...) as a document.
    pub fn of<T: Serialize>(object: &T) -> Document {
        Document {
            comments: Vec::new(),
            object: serde_json::to_value(object).unwrap_or(Value::Null),
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Document {
        self.comments.push(comment.into());
        self
    }
}

/// Keys in reading order.
fn ordered(value: &Value, top: bool) -> Data {
    match value {
        Value::Object(map) => {
            let first: &[&str] = if top {
                &["apiVersion", "kind", "metadata"]
            } else {
                &["name"]
            };
            let mut entries: Vec<(String, Data)> = first
                .iter()
                .filter_map(|k| map.get(*k).map(|v| (k.to_string(), ordered(v, false))))
                .collect();
            entries.extend(
                map.iter()
                    .filter(|(k, _)| !first.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), ordered(v, false))),
            );
            Data::Map(entries)
        }
        Value::Array(items) => Data::Seq(items.iter().map(|v| ordered(v, false)).collect()),
        scalar => Data::Scalar(scalar.clone()),
    }
}

/// The documents separated by `---`, each preceded by its comments (`# ...`); a document
/// whose object is null adds only its comments.
pub fn stream(documents: &[Document]) -> String {
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        // A document without an object only adds comments to the end of the previous one
        // (an empty document would be an object to some readers).
        if i > 0 && !doc.object.is_null() {
            out.push_str("---\n");
        }
        for comment in &doc.comments {
            for line in comment.lines() {
                out.push('#');
                if !line.is_empty() {
                    out.push(' ');
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        if !doc.object.is_null() {
            out.push_str(&to_yaml(&ordered(&doc.object, true)));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifests_read_top_down() {
        let docs = [
            Document {
                comments: vec!["first\nsecond".into()],
                object: json!({"spec": {"containers": [{"image": "x", "name": "a"}]},
                               "metadata": {"name": "p"}, "kind": "Pod", "apiVersion": "v1"}),
            },
            Document {
                comments: vec![],
                object: json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"on": "1"}}),
            },
        ];
        insta::assert_snapshot!(stream(&docs), @r###"
        # first
        # second
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          containers:
            - name: a
              image: x
        ---
        apiVersion: v1
        kind: ConfigMap
        data:
          "on": "1"
        "###);
    }
}
