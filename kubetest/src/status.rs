//! Kubernetes `Status` errors, spelled as the API server spells them
//! (`k8s.io/apimachinery/pkg/api/errors`: `NewNotFound`, `NewAlreadyExists`, `NewConflict`,
//! `NewInvalid`, `NewBadRequest`, `NewResourceExpired`, `NewTooManyRequests`, `NewInternalError`).

use serde_json::{Value, json};

use crate::store::Kind;

/// One `field.Error` of an `Invalid` status: `spec.containers[0].name: Required value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueDuplicate`, `FieldValueNotFound`,
    /// `FieldValueTooLong`, `FieldValueForbidden`, `FieldValueNotSupported`.
    pub reason: &'static str,
    /// The field path, as `field.Path.String()` prints it.
    pub field: String,
    /// The message after the field: `Required value`, `Invalid value: "x": ...`.
    pub message: String,
}

impl Cause {
    pub fn required(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: with_detail("Required value".into(), detail),
        }
    }

    pub fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: with_detail(format!("Invalid value: {}", go_quote(value)), detail),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &str) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {}", go_quote(value)),
        }
    }

    pub fn not_found(field: impl Into<String>, value: &str) -> Cause {
        Cause {
            reason: "FieldValueNotFound",
            field: field.into(),
            message: format!("Not found: {}", go_quote(value)),
        }
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> Cause {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: must have at most {max} bytes"),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: with_detail("Forbidden".into(), detail),
        }
    }

    /// `field.Error.Error()`: `field: message`.
    fn line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

fn with_detail(head: String, detail: &str) -> String {
    if detail.is_empty() {
        head
    } else {
        format!("{head}: {detail}")
    }
}

/// Go's `%q` for the strings the API server quotes in messages.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An API error: the HTTP status and the `Status` object sent with it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// A `Status`'s `details` for one object: the group is left out when empty (`omitempty`).
pub fn details(kind: Kind, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind.plural()});
    if !kind.group().is_empty() {
        details["group"] = json!(kind.group());
    }
    details
}

impl ApiError {
    pub fn not_found(kind: Kind, name: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} {} not found", kind.qualified_plural(), go_quote(name)),
            details: Some(details(kind, name)),
        }
    }

    pub fn path_not_found() -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }
    }

    pub fn already_exists(kind: Kind, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!(
                "{} {} already exists",
                kind.qualified_plural(),
                go_quote(name)
            ),
            details: Some(details(kind, name)),
        }
    }

    pub fn conflict(kind: Kind, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} {}: the object has been modified; please apply your changes to the latest version and try again",
                kind.qualified_plural(),
                go_quote(name)
            ),
            details: Some(details(kind, name)),
        }
    }

    /// 422 `Invalid` with its field causes (`errors.NewInvalid`).
    pub fn invalid(kind: Kind, name: &str, causes: Vec<Cause>) -> ApiError {
        let lines: Vec<String> = causes.iter().map(Cause::line).collect();
        let summary = if lines.len() == 1 {
            lines[0].clone()
        } else {
            format!("[{}]", lines.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        // `schema.GroupKind.String()`: `Pod`, `Task.tekton.dev`.
        let qualified_kind = match kind.group() {
            "" => kind.kind().to_string(),
            group => format!("{}.{group}", kind.kind()),
        };
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{qualified_kind} {} is invalid: {summary}", go_quote(name)),
            details: Some(
                json!({"name": name, "group": kind.group(), "kind": kind.kind(), "causes": causes}),
            ),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 410 `Expired`: a watch or list from a resourceVersion older than the history kept.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: None,
        }
    }

    /// 415: a body in a format this server does not read (it speaks JSON only: no protobuf,
    /// which `kubectl create configmap` and other generators send, and no YAML).
    pub fn unsupported_media_type(content_type: &str, accepted: &str) -> ApiError {
        ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: {accepted} (tkc-kubetest reads JSON only; got {content_type:?})"
            ),
            details: None,
        }
    }

    /// An injected failure: 429 `TooManyRequests` or 500 `InternalError`.
    pub fn injected(code: u16) -> ApiError {
        if code == 429 {
            ApiError {
                code,
                reason: "TooManyRequests",
                message: "Too many requests, please try again later.".into(),
                details: Some(json!({"retryAfterSeconds": 1})),
            }
        } else {
            ApiError {
                code,
                reason: "InternalError",
                message: "Internal error occurred: injected by tkc-kubetest".into(),
                details: None,
            }
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {}", message.into()),
            details: None,
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_causes_like_the_api_server() {
        let e = ApiError::invalid(
            Kind::Pod,
            "p",
            vec![
                Cause::required("spec.containers[0].name", ""),
                Cause::duplicate("spec.containers[1].name", "a"),
            ],
        );
        assert_eq!(
            e.message,
            "Pod \"p\" is invalid: [spec.containers[0].name: Required value, spec.containers[1].name: Duplicate value: \"a\"]"
        );
        assert_eq!(
            e.to_status()["details"]["causes"][0]["reason"],
            "FieldValueRequired"
        );
    }
}
