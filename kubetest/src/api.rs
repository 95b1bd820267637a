//! The HTTP API: discovery, and create/get/list/watch/update/patch/delete on the core `v1`
//! resources and the custom resources, `pods/status`, `pods/log` and `pods/eviction`, answering as
//! `k8s.io/apiserver/pkg/endpoints/handlers` does.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Shared;
use crate::admission::{self, FieldValidation};
use crate::discovery;
use crate::patch;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Change, ChangeType, Kind, Propagation, meta_str};

pub type ResponseBody = BoxBody<Bytes, Infallible>;

/// The patch formats this server applies (server-side apply approximated, JSON bodies only).
const PATCH_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml";

/// The patch formats a custom resource takes: no strategic merge.
const CUSTOM_PATCH_TYPES: &str =
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

/// The API server's request size limit (`apiserver.DefaultMaxRequestSizeBytes`, 3 MB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// A streamed body fed by a channel: watches and followed logs.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, value: &Value) -> Response<ResponseBody> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<ResponseBody> {
    let mut r = json_response(e.code, &e.to_status());
    if e.code == 429 {
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("1"),
        );
    }
    r
}

fn with_warnings(mut r: Response<ResponseBody>, warnings: &[String]) -> Response<ResponseBody> {
    for w in warnings {
        let text = format!("299 - {}", crate::status::go_quote(w));
        if let Ok(v) = hyper::header::HeaderValue::from_str(&text) {
            r.headers_mut().append("Warning", v);
        }
    }
    r
}

/// Query parameters, percent-decoded.
fn query(req: &Request<Incoming>) -> BTreeMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truthy(q: &BTreeMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "true" || v == "1")
}

/// The request's target once the path is parsed.
enum Target {
    Version,
    Api,
    Apis,
    ApiV1,
    Namespace(String),
    Collection {
        kind: Kind,
        ns: Option<String>,
    },
    Object {
        kind: Kind,
        ns: String,
        name: String,
        sub: Option<String>,
    },
    /// `/apis/<group>`: an `APIGroup`.
    Group(String),
    /// `/apis/<group>/<version>`: its `APIResourceList`.
    GroupVersion(String, String),
    Health,
    OpenApiRoot,
    OpenApiV1,
    /// `/openapi/v3/apis/<group>/<version>`.
    OpenApiGroupVersion(String, String),
    /// `authorization.k8s.io/v1` `selfsubjectaccessreviews` (create only).
    AccessReview,
}

fn route(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        ["version"] => Target::Version,
        ["healthz" | "readyz" | "livez"] => Target::Health,
        ["openapi", "v3"] => Target::OpenApiRoot,
        ["openapi", "v3", "api", "v1"] => Target::OpenApiV1,
        ["api"] => Target::Api,
        ["apis"] => Target::Apis,
        ["api", "v1"] => Target::ApiV1,
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] => Target::AccessReview,
        ["api", "v1", "namespaces", ns] => Target::Namespace(ns.to_string()),
        ["api", "v1", plural] => Target::Collection {
            kind: Kind::from_plural(plural)?,
            ns: None,
        },
        ["api", "v1", "namespaces", ns, plural] => Target::Collection {
            kind: Kind::from_plural(plural)?,
            ns: Some(ns.to_string()),
        },
        ["api", "v1", "namespaces", ns, plural, name, rest @ ..] if rest.len() <= 1 => {
            Target::Object {
                kind: Kind::from_plural(plural)?,
                ns: ns.to_string(),
                name: name.to_string(),
                sub: rest.first().map(|s| s.to_string()),
            }
        }
        ["openapi", "v3", "apis", group, version] => {
            Target::OpenApiGroupVersion(group.to_string(), version.to_string())
        }
        ["apis", group] => Target::Group(group.to_string()),
        ["apis", group, version] => Target::GroupVersion(group.to_string(), version.to_string()),
        ["apis", group, version, plural] => Target::Collection {
            kind: Kind::custom(group, version, plural)?,
            ns: None,
        },
        ["apis", group, version, "namespaces", ns, plural] => Target::Collection {
            kind: Kind::custom(group, version, plural)?,
            ns: Some(ns.to_string()),
        },
        // Custom resources have no subresources here.
        ["apis", group, version, "namespaces", ns, plural, name] => Target::Object {
            kind: Kind::custom(group, version, plural)?,
            ns: ns.to_string(),
            name: name.to_string(),
            sub: None,
        },
        _ => return None,
    })
}

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    Ok(match dispatch(shared, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    })
}

async fn dispatch(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, ApiError> {
    let q = query(&req);
    let as_table = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let Some(target) = route(req.uri().path()) else {
        return Err(ApiError::path_not_found());
    };
    let method = req.method().clone();
    let namespace = match &target {
        Target::Namespace(ns)
        | Target::Object { ns, .. }
        | Target::Collection { ns: Some(ns), .. } => Some(ns.as_str()),
        _ => None,
    };
    if let Some(ns) = namespace
        && !admission::is_dns1123_label(ns)
    {
        // Every valid namespace exists here; an invalid name cannot.
        return Err(ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("namespaces {} not found", crate::status::go_quote(ns)),
            details: Some(json!({"name": ns, "kind": "namespaces"})),
        });
    }
    match (target, &method) {
        (Target::Health, &Method::GET) => Ok(Response::new(full("ok"))),
        (Target::AccessReview, &Method::POST) => {
            let body = read_body(req).await?;
            let mut review: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| ApiError {
                    code: 400,
                    reason: "BadRequest",
                    message: format!("invalid SelfSubjectAccessReview: {e}"),
                    details: None,
                })?;
            let attrs = &review["spec"]["resourceAttributes"];
            let field = |k: &str| attrs[k].as_str().unwrap_or_default().to_string();
            let resource = match field("subresource").as_str() {
                "" => field("resource"),
                sub => format!("{}/{sub}", field("resource")),
            };
            let denied = shared.denied(&field("verb"), &resource);
            review["status"] = json!({"allowed": !denied, "denied": denied,
                "reason": if denied { "denied by the test server (Server::deny)" } else { "the test server has no RBAC" }});
            Ok(json_response(201, &review))
        }
        (Target::Version, &Method::GET) => Ok(json_response(200, &version())),
        (Target::Api, &Method::GET) => Ok(json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr().to_string()}]}),
        )),
        (Target::Apis, &Method::GET) => Ok(json_response(200, &discovery::group_list())),
        (Target::Group(group), &Method::GET) => discovery::group(&group)
            .map(|g| json_response(200, &g))
            .ok_or_else(ApiError::path_not_found),
        (Target::ApiV1, &Method::GET) => {
            Ok(json_response(200, &discovery::resource_list("", "v1")))
        }
        (Target::GroupVersion(group, version), &Method::GET) => discovery::served(&group, &version)
            .then(|| json_response(200, &discovery::resource_list(&group, &version)))
            .ok_or_else(ApiError::path_not_found),
        (Target::OpenApiRoot, &Method::GET) => Ok(json_response(200, &discovery::openapi_root())),
        (Target::OpenApiV1, &Method::GET) => Ok(json_response(200, &discovery::openapi("", "v1"))),
        (Target::OpenApiGroupVersion(group, version), &Method::GET) => {
            discovery::served(&group, &version)
                .then(|| json_response(200, &discovery::openapi(&group, &version)))
                .ok_or_else(ApiError::path_not_found)
        }
        (Target::Namespace(ns), &Method::GET) => Ok(json_response(
            200,
            &json!({"kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        )),
        (Target::Collection { kind, ns }, &Method::GET) => {
            if truthy(&q, "watch") {
                watch(&shared, kind, ns, &q, as_table)
            } else {
                list(&shared, kind, ns.as_deref(), &q, as_table)
            }
        }
        (Target::Collection { kind, ns: Some(ns) }, &Method::POST) => {
            let body = read_json(req).await?;
            create(&shared, kind, &ns, body, &q)
        }
        (Target::Collection { kind, ns: Some(ns) }, &Method::DELETE) => {
            let body = read_body(req).await?;
            delete_collection(&shared, kind, &ns, &body, &q)
        }
        (
            Target::Object {
                kind,
                ns,
                name,
                sub,
            },
            m,
        ) => {
            let sub = sub.as_deref();
            match (kind, sub, m) {
                (_, None | Some("status"), &Method::GET) => shared
                    .store
                    .get(kind, &ns, &name)
                    .map(|o| {
                        if as_table {
                            json_response(200, &table(kind, &[o], shared.store_rv()))
                        } else {
                            json_response(200, &o)
                        }
                    })
                    .ok_or_else(|| ApiError::not_found(kind, &name)),
                (_, None | Some("status"), &Method::PUT) => {
                    let body = read_json(req).await?;
                    replace(&shared, kind, &ns, &name, sub, body, &q)
                }
                (_, None | Some("status"), &Method::PATCH) => {
                    let ct = req
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let body = read_json(req).await?;
                    if ct == "application/apply-patch+yaml" {
                        return apply(&shared, kind, &ns, &name, sub, body, &q);
                    }
                    patch_object(&shared, kind, &ns, &name, sub, &ct, body, &q)
                }
                (_, None, &Method::DELETE) => {
                    let body = read_body(req).await?;
                    delete(&shared, kind, &ns, &name, &body, &q)
                }
                (Kind::Pod, Some("log"), &Method::GET) => logs(&shared, &ns, &name, &q).await,
                (Kind::Pod, Some("eviction"), &Method::POST) => {
                    shared
                        .store
                        .delete(Kind::Pod, &ns, &name, None, None, None)?;
                    Ok(json_response(
                        201,
                        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                    ))
                }
                (_, Some(_), _) if !matches!(sub, Some("status" | "log" | "eviction")) => {
                    Err(ApiError::path_not_found())
                }
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!("Request entity too large: limit is {MAX_BODY}"),
            details: None,
        }),
    }
}

async fn read_json(req: Request<Incoming>) -> Result<Value, ApiError> {
    let ct = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Server-side apply bodies are YAML; kube sends JSON, which is YAML too, and that is read.
    let apply = ct.starts_with("application/apply-patch+yaml");
    if (ct.contains("yaml") && !apply) || ct.contains("protobuf") {
        return Err(ApiError::unsupported_media_type(
            &ct,
            if ct.contains("patch") {
                PATCH_TYPES
            } else {
                "application/json"
            },
        ));
    }
    let body = read_body(req).await?;
    if apply && serde_json::from_slice::<Value>(&body).is_err() {
        return Err(ApiError::unsupported_media_type(
            "application/apply-patch+yaml (YAML that is not JSON)",
            PATCH_TYPES,
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-tkc-kubetest",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn field_validation(
    shared: &Shared,
    q: &BTreeMap<String, String>,
) -> Result<FieldValidation, ApiError> {
    match q.get("fieldValidation") {
        Some(v) if !v.is_empty() => FieldValidation::parse(v),
        _ => Ok(shared.field_validation),
    }
}

fn dry_run(q: &BTreeMap<String, String>) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

fn create(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    mut body: Value,
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    if let Some(code) = shared.take_injected_failure() {
        return Err(ApiError::injected(code));
    }
    let body_ns = body
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        // Server-set fields a client may not choose.
        for f in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
    }
    let admitted = admission::admit(kind, body, field_validation(shared, q)?)
        .map_err(|e| decoding(kind, e))?;
    let mut object = admitted.object;
    if kind == Kind::Pod {
        // Status is the kubelet's: a client's is dropped on create (`podStrategy.PrepareForCreate`).
        object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }
    if dry_run(q) {
        object["metadata"]["namespace"] = json!(ns);
        return Ok(with_warnings(
            json_response(201, &object),
            &admitted.warnings,
        ));
    }
    let stored = shared.store.create(kind, ns, object)?;
    Ok(with_warnings(
        json_response(201, &stored),
        &admitted.warnings,
    ))
}

/// A create or update decodes the body: its strict decoding errors say so
/// (`handlers.transformDecodeError`); a patch's do not.
fn decoding(kind: Kind, mut e: ApiError) -> ApiError {
    if e.code == 400 && e.message.starts_with("strict decoding error") {
        e.message = format!(
            "{k} in version \"v1\" cannot be handled as a {k}: {}",
            e.message,
            k = kind.kind()
        );
    }
    e
}

/// PUT: the new object replaces the stored one (its status only, on `/status`).
fn replace(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: Value,
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let body_name = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(name);
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let validation = field_validation(shared, q)?;
    let mut warnings = Vec::new();
    let stored = shared.store.update(kind, ns, name, |old| {
        let precondition = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !precondition.is_empty() && precondition != meta_str(old, "resourceVersion") {
            return Err(ApiError::conflict(kind, name));
        }
        let new = write_rules(kind, name, sub, old, body.clone(), validation)
            .map_err(|e| decoding(kind, e))?;
        warnings = new.1;
        Ok(new.0)
    })?;
    Ok(with_warnings(json_response(200, &stored), &warnings))
}

/// What an update may change: admission, then for pods the status subresource split and the
/// spec's immutability.
fn write_rules(
    kind: Kind,
    name: &str,
    sub: Option<&str>,
    old: &Value,
    mut new: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("name".into(), json!(name));
        if let Some(ns) = old.pointer("/metadata/namespace") {
            m.insert("namespace".into(), ns.clone());
        }
    }
    let admitted = admission::admit(kind, new, validation)?;
    let mut new = admitted.object;
    if kind == Kind::Pod {
        if sub == Some("status") {
            let status = new.get("status").cloned().unwrap_or(Value::Null);
            new = old.clone();
            new["status"] = status;
        } else {
            new["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            if let Some(node) = old.pointer("/spec/nodeName") {
                new["spec"]["nodeName"] = node.clone();
            }
            admission::validate_pod_update(old, &new)?;
        }
    }
    if matches!(kind, Kind::ConfigMap | Kind::Secret) {
        admission::validate_immutable_data(kind, old, &new)?;
    }
    Ok((new, admitted.warnings))
}

/// Server-side apply, approximated: the applied configuration creates the object, or is
/// merged into it as a strategic merge patch (a JSON merge patch for a custom resource). Field ownership is not tracked, so there are
/// no conflicts (as with `force=true`); `fieldManager` is required, as the API server
/// requires it.
fn apply(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: Value,
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    if q.get("fieldManager").is_none_or(|m| m.is_empty()) {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    if shared.store.get(kind, ns, name).is_none() && sub.is_none() {
        let mut body = body;
        body["metadata"]["name"] = json!(name);
        return create(shared, kind, ns, body, q);
    }
    patch_object(
        shared,
        kind,
        ns,
        name,
        sub,
        if matches!(kind, Kind::Custom(_)) {
            "application/merge-patch+json"
        } else {
            "application/strategic-merge-patch+json"
        },
        body,
        q,
    )
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    content_type: &str,
    body: Value,
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let validation = field_validation(shared, q)?;
    let mut warnings = Vec::new();
    let stored = shared.store.update(kind, ns, name, |old| {
        let mut new = old.clone();
        match content_type {
            "application/merge-patch+json" => patch::merge(&mut new, &body),
            // `patchResource`: custom resources have no patch strategies to merge by.
            "application/strategic-merge-patch+json" if matches!(kind, Kind::Custom(_)) => {
                return Err(ApiError::unsupported_media_type(
                    content_type,
                    CUSTOM_PATCH_TYPES,
                ));
            }
            "application/strategic-merge-patch+json" => patch::strategic(&mut new, &body),
            "application/json-patch+json" => patch::json_patch(&mut new, &body)?,
            other => return Err(ApiError::unsupported_media_type(other, PATCH_TYPES)),
        }
        let precondition = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !precondition.is_empty() && precondition != meta_str(old, "resourceVersion") {
            return Err(ApiError::conflict(kind, name));
        }
        let out = write_rules(kind, name, sub, old, new, validation)?;
        warnings = out.1;
        Ok(out.0)
    })?;
    Ok(with_warnings(json_response(200, &stored), &warnings))
}

/// `DeleteOptions`, from the body or the query: grace period and propagation.
fn delete_options(
    body: &[u8],
    q: &BTreeMap<String, String>,
) -> Result<(Value, Option<i64>, Option<Propagation>), ApiError> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    let grace = opts
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let policy = opts
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| q.get("propagationPolicy").cloned());
    let propagation = match policy.as_deref() {
        None | Some("") => {
            if opts.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                Some(Propagation::Orphan)
            } else {
                None
            }
        }
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "DeleteOptions.propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    Ok((opts, grace, propagation))
}

/// `deletecollection`: every object the selectors match, deleted as one by one; the answer
/// lists them (as they were when deleted), as the API server's does.
fn delete_collection(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    body: &[u8],
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let (_, grace, propagation) = delete_options(body, q)?;
    let filter = Filter::new(kind, Some(ns.to_string()), q)?;
    let (items, _) = shared.store.list(kind, Some(ns));
    let mut deleted = Vec::new();
    for item in items.iter().filter(|o| filter.matches(o)) {
        if let Ok((obj, _)) =
            shared
                .store
                .delete(kind, ns, meta_str(item, "name"), grace, propagation, None)
        {
            deleted.push(strip_type(obj));
        }
    }
    let rv = shared.store_rv();
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", kind.kind()), "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": deleted}),
    ))
}

fn delete(
    shared: &Shared,
    kind: Kind,
    ns: &str,
    name: &str,
    body: &[u8],
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let (opts, grace, propagation) = delete_options(body, q)?;
    let uid = opts.pointer("/preconditions/uid").and_then(Value::as_str);
    if dry_run(q) {
        return shared
            .store
            .get(kind, ns, name)
            .map(|o| json_response(200, &o))
            .ok_or_else(|| ApiError::not_found(kind, name));
    }
    let (obj, gone) = shared
        .store
        .delete(kind, ns, name, grace, propagation, uid)?;
    if !gone {
        return Ok(json_response(202, &obj));
    }
    // Pods and custom resources answer with the deleted object (`ReturnDeletedObject`).
    if matches!(kind, Kind::Pod | Kind::Custom(_)) {
        return Ok(json_response(200, &obj));
    }
    let mut details = crate::status::details(kind, name);
    details["uid"] = json!(meta_str(&obj, "uid"));
    Ok(json_response(
        200,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}),
    ))
}

fn strip_type(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

struct Filter {
    kind: Kind,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// `kubectl get -w`: each event's object is a one-row Table.
    as_table: bool,
}

impl Filter {
    fn new(
        kind: Kind,
        ns: Option<String>,
        q: &BTreeMap<String, String>,
    ) -> Result<Filter, ApiError> {
        Ok(Filter {
            kind,
            ns,
            labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?,
            fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str), kind)?,
            as_table: false,
        })
    }

    fn event(&self, kind: &str, obj: &Value) -> Bytes {
        if self.as_table {
            let rv = meta_str(obj, "resourceVersion").parse().unwrap_or(0);
            event_line(kind, &table(self.kind, std::slice::from_ref(obj), rv))
        } else {
            event_line(kind, obj)
        }
    }

    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(&labels_of(obj)) && self.fields.matches(self.kind, obj)
    }
}

fn list(
    shared: &Shared,
    kind: Kind,
    ns: Option<&str>,
    q: &BTreeMap<String, String>,
    as_table: bool,
) -> Result<Response<ResponseBody>, ApiError> {
    let filter = Filter::new(kind, ns.map(String::from), q)?;
    let (items, rv) = shared.store.list(kind, ns);
    let rv_param = q.get("resourceVersion").map_or("", String::as_str);
    if q.get("resourceVersionMatch").map(String::as_str) == Some("Exact")
        && rv_param.parse::<u64>().is_ok_and(|r| r != rv)
    {
        return Err(ApiError::expired(format!(
            "too old resource version: {rv_param} ({rv})"
        )));
    }
    let after = q.get("continue").cloned().unwrap_or_default();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let matching: Vec<Value> = items
        .into_iter()
        .filter(|o| filter.matches(o))
        .filter(|o| {
            after.is_empty()
                || format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name")) > after
        })
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching.into_iter().take(limit).map(strip_type).collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if total > page.len()
        && let Some(last) = page.last()
    {
        metadata["continue"] = json!(format!(
            "{}/{}",
            meta_str(last, "namespace"),
            meta_str(last, "name")
        ));
        metadata["remainingItemCount"] = json!(total - page.len());
    }
    if as_table {
        let mut t = table(kind, &page, rv);
        t["metadata"] = metadata;
        return Ok(json_response(200, &t));
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", kind.kind()), "apiVersion": kind.api_version(), "metadata": metadata, "items": page}),
    ))
}

/// `kubectl get` without `-o` asks for a `meta.k8s.io/v1` Table: the columns the API
/// server's printers (`pkg/printers/internalversion`) show, in short.
fn table(kind: Kind, items: &[Value], rv: u64) -> Value {
    let columns: &[&str] = match kind {
        Kind::Pod => &["Name", "Ready", "Status", "Restarts", "Age"],
        Kind::ConfigMap => &["Name", "Data", "Age"],
        Kind::Secret => &["Name", "Type", "Data", "Age"],
        Kind::PersistentVolumeClaim => &["Name", "Status", "Age"],
        Kind::Event => &["Name", "Reason", "Age"],
        Kind::Custom(_) => &["Name", "Age"],
    };
    let defs: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({"name": c, "type": "string", "format": if *c == "Name" { "name" } else { "" }, "description": "", "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let count = |f: &str| o.get(f).and_then(Value::as_object).map_or(0, |m| m.len());
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| match *c {
                    "Name" => json!(meta_str(o, "name")),
                    "Ready" => {
                        let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array);
                        let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
                        let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
                        json!(format!("{ready}/{total}"))
                    }
                    "Status" if kind == Kind::Pod => json!(pod_status(o)),
                    "Status" => json!(o.pointer("/status/phase").and_then(Value::as_str).unwrap_or("")),
                    "Restarts" => json!(0),
                    "Data" => json!(count("data") + count("binaryData")),
                    "Type" => json!(o.get("type").and_then(Value::as_str).unwrap_or("")),
                    "Reason" => json!(o.get("reason").and_then(Value::as_str).unwrap_or("")),
                    _ => json!(age(meta_str(o, "creationTimestamp"))),
                })
                .collect();
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata")}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "columnDefinitions": defs, "rows": rows})
}

/// The STATUS column of `kubectl get pods` (`printPod`, in short).
fn pod_status(pod: &Value) -> String {
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return "Terminating".into();
    }
    if let Some(r) = pod.pointer("/status/reason").and_then(Value::as_str) {
        return r.into();
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let states = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c.get("state")).collect::<Vec<_>>())
        .unwrap_or_default();
    for s in &states {
        if let Some(r) = s.pointer("/waiting/reason").and_then(Value::as_str)
            && r != "ContainerCreating"
            && r != "PodInitializing"
        {
            return r.into();
        }
    }
    for s in &states {
        if let Some(r) = s.pointer("/terminated/reason").and_then(Value::as_str) {
            return r.into();
        }
    }
    phase.into()
}

/// `duration.HumanDuration`, coarsely.
fn age(created: &str) -> String {
    let Ok(t) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": kind.kind(), "apiVersion": kind.api_version(), "metadata": meta}),
    )
}

/// A watch: the initial state or the changes since `resourceVersion`, then live changes,
/// bookmarks when asked for, until the timeout, the client leaves, or a fault drops it.
fn watch(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: Option<String>,
    q: &BTreeMap<String, String>,
    as_table: bool,
) -> Result<Response<ResponseBody>, ApiError> {
    let mut filter = Filter::new(kind, ns.clone(), q)?;
    filter.as_table = as_table;
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let initial_events = q.get("sendInitialEvents").map(String::as_str) == Some("true");
    let bookmarks = truthy(q, "allowWatchBookmarks");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut first: Vec<Bytes> = Vec::new();
    let (receiver, mut last_rv) = if initial_events || rv_param.is_empty() || rv_param == "0" {
        let (items, rv, receiver) = shared.store.snapshot_and_subscribe(kind, ns.as_deref());
        for item in items.iter().filter(|o| filter.matches(o)) {
            first.push(filter.event("ADDED", item));
        }
        if initial_events {
            first.push(bookmark(kind, rv, true));
        }
        (Some(receiver), rv)
    } else {
        let rv = rv_param.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("invalid resource version: {rv_param:?}"))
        })?;
        match shared.store.watch_from(rv) {
            Ok((replay, receiver)) => {
                let mut last = rv;
                for change in replay {
                    last = change.rv;
                    if let Some(line) = render(&filter, &change) {
                        first.push(line);
                    }
                }
                (Some(receiver), last)
            }
            Err(e) => {
                first.push(event_line("ERROR", &e.to_status()));
                (None, rv)
            }
        }
    };
    let interval = shared.bookmark_interval;
    let mut watch_epoch = shared.watch_epoch.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    tokio::spawn(async move {
        for line in first {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let Some(mut receiver) = receiver else {
            return;
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            let line = tokio::select! {
                c = receiver.recv() => match c {
                    Ok(change) => {
                        if change.rv <= last_rv {
                            continue;
                        }
                        last_rv = change.rv;
                        render(&filter, &change)
                    }
                    // A watcher that fell behind is closed; its client resumes from the last rv.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => Some(bookmark(filter.kind, last_rv, false)),
                _ = sleep_until(deadline) => return,
                _ = watch_epoch.changed() => return,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            };
            if let Some(line) = line
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The watch event a change is for this watch: objects entering a selector are ADDED,
/// leaving it DELETED (`cacheWatcher.convertToWatchEvent`).
fn render(filter: &Filter, change: &Change) -> Option<Bytes> {
    if change.kind != filter.kind || filter.ns.as_ref().is_some_and(|n| *n != change.namespace) {
        return None;
    }
    let now = filter.matches(&change.object);
    let before = change.old.as_ref().is_some_and(|o| filter.matches(o));
    let kind = match (change.change, before, now) {
        (ChangeType::Added, _, true) => "ADDED",
        (ChangeType::Deleted, true, _) => "DELETED",
        (ChangeType::Modified, true, true) => "MODIFIED",
        (ChangeType::Modified, false, true) => "ADDED",
        (ChangeType::Modified, true, false) => "DELETED",
        _ => return None,
    };
    Some(filter.event(kind, &change.object))
}

/// `pods/log`: the container's log as the kubelet wrote it, `follow`ed until the container
/// ends, with `timestamps`, `tailLines` and `limitBytes`.
async fn logs(
    shared: &Arc<Shared>,
    ns: &str,
    name: &str,
    q: &BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let pod = shared
        .store
        .get(Kind::Pod, ns, name)
        .ok_or_else(|| ApiError::not_found(Kind::Pod, name))?;
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (containers, inits) = (names("containers"), names("initContainers"));
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !inits.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return Err(ApiError::bad_request(msg));
        }
    };
    if !containers.contains(&container) && !inits.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let uid = meta_str(&pod, "uid").to_string();
    let path = shared.log_path(ns, name, &uid, &container);
    if !path.exists() {
        let reason = container_state(&pod, &container)
            .and_then(|s| {
                s.pointer("/waiting/reason")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_else(|| "ContainerCreating".into());
        return Err(ApiError::bad_request(format!(
            "container {container:?} in pod {name:?} is waiting to start: {reason}"
        )));
    }
    let timestamps = truthy(q, "timestamps");
    let follow = truthy(q, "follow");
    let tail: Option<usize> = q.get("tailLines").and_then(|t| t.parse().ok());
    let limit: Option<usize> = q.get("limitBytes").and_then(|t| t.parse().ok());
    if truthy(q, "previous") {
        // Containers are never restarted here: there is no previous one.
        return Err(ApiError::bad_request(format!(
            "previous terminated container {container:?} in pod {name:?} not found"
        )));
    }
    // `sinceTime` / `sinceSeconds`: lines logged at or after the instant.
    let since: Option<jiff::Timestamp> = match (q.get("sinceTime"), q.get("sinceSeconds")) {
        (Some(t), _) => Some(t.parse().map_err(|_| {
            ApiError::bad_request(format!("sinceTime: invalid RFC 3339 time {t:?}"))
        })?),
        (None, Some(secs)) => {
            let secs: i64 = secs.parse().map_err(|_| {
                ApiError::bad_request(format!("sinceSeconds: not a number: {secs:?}"))
            })?;
            jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::from_secs(secs.max(0)))
                .ok()
        }
        (None, None) => None,
    };
    // Streamed a chunk at a time, never the whole file: from where `tailLines` starts, to
    // the end as it is now (or, `follow`ed, until the container has ended), `limitBytes` at
    // most.
    let end = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
    let start = match tail {
        Some(n) => crate::logs::tail_start(&path, end, n).await,
        None => 0,
    };
    let text_plain = |mut r: Response<ResponseBody>| {
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain"),
        );
        r
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let shared = shared.clone();
    let (ns, name) = (ns.to_string(), name.to_string());
    tokio::spawn(async move {
        let mut renderer = crate::logs::Renderer::new(timestamps, since);
        let mut offset = start;
        let mut left = limit.unwrap_or(usize::MAX);
        let mut shutdown = shared.shutdown.subscribe();
        let mut epoch = shared.conn_epoch.subscribe();
        loop {
            if !follow && offset >= end {
                return;
            }
            // A container that has ended has written all: its last record is taken whole.
            let ended = match shared.store.get(Kind::Pod, &ns, &name) {
                Some(p) if meta_str(&p, "uid") == uid => {
                    container_state(&p, &container).is_some_and(|s| s.get("terminated").is_some())
                }
                _ => true,
            };
            let mut chunk = crate::logs::read_records(&path, offset, ended).await;
            if !follow {
                chunk.truncate(usize::try_from(end - offset).unwrap_or(usize::MAX));
            }
            if !chunk.is_empty() {
                offset += chunk.len() as u64;
                let mut out = Vec::new();
                renderer.render(&chunk, &mut out);
                out.truncate(left);
                left -= out.len();
                if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                    return;
                }
                if left == 0 {
                    return;
                }
                continue;
            }
            if !follow || ended {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = shutdown.changed() => return,
                _ = epoch.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(text_plain(Response::new(ChannelBody(rx).boxed())))
}

fn container_state<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|l| {
            pod.pointer(&format!("/status/{l}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
        .and_then(|s| s.get("state"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("app%3Dx%2Cb+in+%28c%29"), "app=x,b in (c)");
        assert_eq!(decode("50%"), "50%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route("/api/v1/namespaces/default/pods/p/log"),
            Some(Target::Object {
                kind: Kind::Pod,
                sub: Some(_),
                ..
            })
        ));
        assert!(matches!(
            route("/api/v1/configmaps"),
            Some(Target::Collection { ns: None, .. })
        ));
        assert!(route("/api/v1/namespaces/default/deployments").is_none());
    }
}
