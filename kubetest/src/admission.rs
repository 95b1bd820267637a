//! Admission: what the API server does to a written object before it stores it.
//!
//! The schema comes from the Kubernetes definitions themselves, through the `k8s_openapi`
//! types: the input is decoded into the type and encoded back, and the two JSON trees are
//! compared. A key in the input that the round trip lost is a field the type does not declare
//! (unknown: `strict decoding error: unknown field "spec.foo"` under `fieldValidation=Strict`,
//! a `Warning` header under `Warn`, as `apiserver/pkg/endpoints/handlers/create.go` does); a
//! key the round trip added is a field the type cannot do without (k8s_openapi's non-`Option`
//! fields are exactly the schema's `required` ones), missing from the input: `Required value`
//! (422). A value of the wrong type fails the decode: 400, as the API server's JSON decoder
//! fails. Then defaults (`pkg/apis/core/v1/defaults.go`) and the validation tkc depends on
//! (`pkg/apis/core/validation/validation.go`), with the same field paths and messages.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod, Secret};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::status::{ApiError, Cause};
use crate::store::Kind;

/// `metav1.FieldValidation*`: what to do with an unknown field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop it silently.
    Ignore,
    /// Drop it and say so in a `Warning` header (the real API server's default).
    Warn,
    /// Reject the request with 400 (kubectl's default; the test server's default too, so that
    /// a client's mistake shows).
    #[default]
    Strict,
}

impl FieldValidation {
    pub(crate) fn parse(s: &str) -> Result<FieldValidation, ApiError> {
        match s {
            "Ignore" => Ok(FieldValidation::Ignore),
            "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            _ => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {s:?}"
            ))),
        }
    }
}

/// An admitted object and the warnings to send with it.
pub struct Admitted {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// 1 MiB: `core.MaxSecretSize`, the limit on a ConfigMap's or Secret's data.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Decodes, checks, defaults and validates an object written to `kind`.
pub fn admit(kind: Kind, input: Value, validation: FieldValidation) -> Result<Admitted, ApiError> {
    let Value::Object(_) = &input else {
        return Err(ApiError::bad_request(format!(
            "Object '{}' is missing in 'null'",
            "Kind"
        )));
    };
    for (field, want) in [
        ("apiVersion", kind.api_version()),
        ("kind", kind.kind().into()),
    ] {
        if let Some(got) = input.get(field).and_then(Value::as_str)
            && got != want
        {
            return Err(ApiError::bad_request(format!(
                "the {field} of the provided object ({got}) does not match the expected one ({want})"
            )));
        }
    }
    let name = input
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (object, unknown, required) = match kind {
        Kind::Pod => round_trip::<Pod>(kind, &input)?,
        Kind::ConfigMap => round_trip::<ConfigMap>(kind, &input)?,
        Kind::Secret => round_trip::<Secret>(kind, &input)?,
        Kind::PersistentVolumeClaim => round_trip::<PersistentVolumeClaim>(kind, &input)?,
        Kind::Event => round_trip::<Event>(kind, &input)?,
        // No schema: kept as sent, as `x-kubernetes-preserve-unknown-fields` keeps it.
        Kind::Custom(_) => (input, Vec::new(), Vec::new()),
    };
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        match validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    listed.join(", ")
                )));
            }
            FieldValidation::Warn => warnings = listed,
            FieldValidation::Ignore => {}
        }
    }
    let mut object = object;
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.kind());
    if object.get("metadata").is_none_or(Value::is_null) {
        object["metadata"] = json!({});
    }
    let mut causes: Vec<Cause> = required
        .into_iter()
        .map(|f| Cause::required(f, ""))
        .collect();
    default(kind, &mut object)?;
    causes.extend(validate_meta(&object));
    causes.extend(match kind {
        Kind::Pod => validate_pod(&object),
        Kind::ConfigMap => validate_data(&object, &["data", "binaryData"]),
        Kind::Secret => validate_data(&object, &["data"]),
        Kind::PersistentVolumeClaim => validate_pvc(&object),
        Kind::Event | Kind::Custom(_) => Vec::new(),
    });
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, &name, causes));
    }
    Ok(Admitted { object, warnings })
}

/// Decode into `T` and encode back: the typed object, the unknown fields of the input and the
/// required fields it lacks (as field paths).
fn round_trip<T: DeserializeOwned + Serialize>(
    kind: Kind,
    input: &Value,
) -> Result<(Value, Vec<String>, Vec<String>), ApiError> {
    let typed: T = serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!(
            "{k} in version \"v1\" cannot be handled as a {k}: {path}: {}",
            e.inner(),
            k = kind.kind()
        ))
    })?;
    let output = serde_json::to_value(&typed)
        .map_err(|e| ApiError::internal(format!("cannot encode {}: {e}", kind.kind())))?;
    let mut unknown = Vec::new();
    let mut required = Vec::new();
    compare(input, &output, "", &mut unknown, &mut required);
    required.retain(|f| f != "apiVersion" && f != "kind");
    Ok((output, unknown, required))
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn compare(
    input: &Value,
    output: &Value,
    path: &str,
    unknown: &mut Vec<String>,
    required: &mut Vec<String>,
) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                match o.get(k) {
                    Some(ov) => compare(v, ov, &child(path, k), unknown, required),
                    None if v.is_null() => {}
                    None => unknown.push(child(path, k)),
                }
            }
            for k in o.keys() {
                if !i.contains_key(k) {
                    required.push(child(path, k));
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                compare(iv, ov, &format!("{path}[{n}]"), unknown, required);
            }
        }
        _ => {}
    }
}

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let slot = map.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// `SetDefaults_Probe` (a field unset or 0 gets its default) and `SetDefaults_HTTPGetAction`.
fn default_probe(probe: &mut Value) {
    for (k, v) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if probe.get(k).is_none_or(|x| x.is_null() || x == 0) {
            probe[k] = json!(v);
        }
    }
    if let Some(http) = probe.get_mut("httpGet").filter(|h| h.is_object()) {
        set_default(http, "path", json!("/"));
        set_default(http, "scheme", json!("HTTP"));
    }
}

/// `SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Secret`,
/// `SetDefaults_PersistentVolumeClaim`, and the Secret's `stringData` merged into `data`.
fn default(kind: Kind, obj: &mut Value) -> Result<(), ApiError> {
    match kind {
        Kind::Pod => {
            if obj.get("spec").is_none_or(Value::is_null) {
                return Ok(());
            }
            let spec = &mut obj["spec"];
            for (k, v) in [
                ("restartPolicy", json!("Always")),
                ("terminationGracePeriodSeconds", json!(30)),
                ("dnsPolicy", json!("ClusterFirst")),
                ("schedulerName", json!("default-scheduler")),
                ("securityContext", json!({})),
                ("serviceAccountName", json!("default")),
                ("enableServiceLinks", json!(true)),
                ("priority", json!(0)),
            ] {
                set_default(spec, k, v);
            }
            for list in ["initContainers", "containers"] {
                if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                    for c in cs {
                        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                        let tail = image.rsplit('/').next().unwrap_or("");
                        let pull = if image.contains('@')
                            || (tail.contains(':') && !tail.ends_with(":latest"))
                        {
                            "IfNotPresent"
                        } else {
                            "Always"
                        };
                        for (k, v) in [
                            ("terminationMessagePath", json!("/dev/termination-log")),
                            ("terminationMessagePolicy", json!("File")),
                            ("imagePullPolicy", json!(pull)),
                            ("resources", json!({})),
                        ] {
                            set_default(c, k, v);
                        }
                        for kind in ["readinessProbe", "livenessProbe", "startupProbe"] {
                            if let Some(probe) = c.get_mut(kind).filter(|p| p.is_object()) {
                                default_probe(probe);
                            }
                        }
                    }
                }
            }
            if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
                for v in vols {
                    for source in ["configMap", "secret", "downwardAPI", "projected"] {
                        if let Some(s) = v.get_mut(source).filter(|s| s.is_object()) {
                            set_default(s, "defaultMode", json!(0o644));
                        }
                    }
                }
            }
            set_default(obj, "status", json!({}));
            set_default(&mut obj["status"], "phase", json!("Pending"));
            set_default(&mut obj["status"], "qosClass", json!("BestEffort"));
        }
        Kind::Secret => {
            set_default(obj, "type", json!("Opaque"));
            if obj.get("stringData").is_some() {
                let typed: Secret = serde_json::from_value(obj.clone())
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                let mut data = typed.data.unwrap_or_default();
                for (k, v) in typed.string_data.unwrap_or_default() {
                    data.insert(k, ByteString(v.into_bytes()));
                }
                obj["data"] =
                    serde_json::to_value(&data).map_err(|e| ApiError::internal(e.to_string()))?;
                if let Some(m) = obj.as_object_mut() {
                    m.remove("stringData");
                }
            }
        }
        Kind::PersistentVolumeClaim => {
            if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
            set_default(obj, "status", json!({}));
            set_default(&mut obj["status"], "phase", json!("Pending"));
        }
        Kind::ConfigMap | Kind::Event | Kind::Custom(_) => {}
    }
    Ok(())
}

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// `validation.IsDNS1123Label`.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `validation.IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn name_causes(field: &str, name: &str, subdomain: bool) -> Vec<Cause> {
    let (ok, msg, max) = if subdomain {
        (is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG, 253)
    } else {
        (is_dns1123_label(name), DNS1123_LABEL_MSG, 63)
    };
    if ok {
        return Vec::new();
    }
    let mut out = Vec::new();
    if name.len() > max {
        out.push(Cause::invalid(
            field,
            name,
            &format!("must be no more than {max} characters"),
        ));
    }
    out.push(Cause::invalid(field, name, msg));
    out
}

/// `ValidateObjectMeta` with `NameIsDNSSubdomain` (pods, configmaps, secrets, PVCs, events),
/// and `ValidateLabels` / `ValidateAnnotations`.
fn validate_meta(obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let generate = obj
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        if generate.is_empty() {
            causes.push(Cause::required(
                "metadata.name",
                "name or generateName is required",
            ));
        } else {
            // `ValidateNameFunc(..., prefix=true)`: a trailing '-' is allowed.
            let probe = format!("{}a", generate.trim_end_matches('-'));
            if !is_dns1123_subdomain(&probe) {
                causes.push(Cause::invalid(
                    "metadata.generateName",
                    generate,
                    DNS1123_SUBDOMAIN_MSG,
                ));
            }
        }
    } else {
        causes.extend(name_causes("metadata.name", name, true));
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or("");
            if !is_qualified_name(k) {
                causes.push(Cause::invalid(
                    "metadata.labels",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                ));
            }
            let ok = v.len() <= 63
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !v.starts_with(['-', '_', '.'])
                && !v.ends_with(['-', '_', '.']);
            if !ok {
                causes.push(Cause::invalid(
                    "metadata.labels",
                    v,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ));
            }
        }
    }
    if let Some(ann) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        let size: usize = ann
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if size > 256 * 1024 {
            causes.push(Cause::too_long("metadata.annotations", 256 * 1024));
        }
        for k in ann.keys() {
            if !is_qualified_name(k) {
                causes.push(Cause::invalid(
                    "metadata.annotations",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                ));
            }
        }
    }
    causes
}

/// `validation.IsQualifiedName`: an optional DNS subdomain prefix and a name part.
fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns1123_subdomain)
        && !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        && name
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric)
}

/// `validation.IsConfigMapKey`.
fn is_config_map_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && k != "."
        && k != ".."
        && !k.starts_with("..")
}

/// `ValidateConfigMap` / `ValidateSecret`: keys, a key in both bags, and the 1 MiB total
/// (`core.MaxSecretSize`; values counted as stored, binary data decoded).
fn validate_data(obj: &Value, bags: &[&str]) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut total = 0usize;
    let mut seen = BTreeSet::new();
    for bag in bags {
        let Some(map) = obj.get(*bag).and_then(Value::as_object) else {
            continue;
        };
        let binary = *bag == "binaryData" || bags.len() == 1;
        for (k, v) in map {
            let field = format!("{bag}[{k}]");
            if !is_config_map_key(k) {
                causes.push(Cause::invalid(
                    &field,
                    k,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                ));
            }
            if !seen.insert(k.clone()) {
                causes.push(Cause::invalid(
                    &field,
                    k,
                    "duplicate of key present in data",
                ));
            }
            let s = v.as_str().unwrap_or("");
            total += if binary { s.len() / 4 * 3 } else { s.len() };
        }
    }
    if total > MAX_DATA_SIZE {
        causes.push(Cause::too_long("[]", MAX_DATA_SIZE));
    }
    causes
}

/// `ValidatePersistentVolumeClaimSpec`: access modes and a storage request.
fn validate_pvc(obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let modes = obj.pointer("/spec/accessModes").and_then(Value::as_array);
    if modes.is_none_or(Vec::is_empty) {
        causes.push(Cause::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    if obj.pointer("/spec/resources/requests/storage").is_none() {
        causes.push(Cause::required("spec.resources[storage]", ""));
    }
    causes
}

/// `ValidatePodCreate` as far as tkc's pods go: containers (`validateContainers`,
/// `validateInitContainers`: DNS-1123 label names, unique across both lists, an image, env
/// names, mounts that name a volume, unique mount paths, relative `subPath`s) and volumes
/// (`ValidateVolumes`: DNS-1123 label names, unique, one source, item paths), restart policy
/// and `activeDeadlineSeconds`.
fn validate_pod(pod: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = pod.get("spec").filter(|s| s.is_object()) else {
        return vec![Cause::required("spec.containers", "")];
    };
    let mut volumes = BTreeSet::new();
    for (n, v) in array(spec, "volumes").iter().enumerate() {
        let field = format!("spec.volumes[{n}]");
        let name = str_at(v, "name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{field}.name"), ""));
        } else {
            causes.extend(name_causes(&format!("{field}.name"), name, false));
            if !volumes.insert(name.to_string()) {
                causes.push(Cause::duplicate(format!("{field}.name"), name));
            }
        }
        let sources = v
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").count())
            .unwrap_or(0);
        if sources == 0 {
            causes.push(Cause::required(field.clone(), "must specify a volume type"));
        } else if sources > 1 {
            causes.push(Cause::forbidden(
                field.clone(),
                "may not specify more than 1 volume type",
            ));
        }
        for source in ["configMap", "secret", "downwardAPI"] {
            for (i, item) in array(v.get(source).unwrap_or(&Value::Null), "items")
                .iter()
                .enumerate()
            {
                let path = str_at(item, "path");
                let pfield = format!("{field}.{source}.items[{i}].path");
                causes.extend(validate_local_path(&pfield, path));
                if let Some(mode) = item.get("mode").and_then(Value::as_i64)
                    && !(0..=0o777).contains(&mode)
                {
                    causes.push(Cause::invalid(
                        format!("{field}.{source}.items[{i}].mode"),
                        &mode.to_string(),
                        "must be a number between 0 and 0777 (octal), both inclusive",
                    ));
                }
            }
        }
    }
    let mut names = BTreeMap::new();
    let containers = array(spec, "containers");
    if containers.is_empty() {
        causes.push(Cause::required("spec.containers", ""));
    }
    for list in ["initContainers", "containers"] {
        for (n, c) in array(spec, list).iter().enumerate() {
            let field = format!("spec.{list}[{n}]");
            let name = str_at(c, "name");
            if !name.is_empty() {
                causes.extend(name_causes(&format!("{field}.name"), name, false));
                if names.insert(name.to_string(), ()).is_some() {
                    causes.push(Cause::duplicate(format!("{field}.name"), name));
                }
            }
            if str_at(c, "image").is_empty() {
                causes.push(Cause::required(format!("{field}.image"), ""));
            }
            for (i, e) in array(c, "env").iter().enumerate() {
                let n = str_at(e, "name");
                let ok = !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
                    && !n.as_bytes()[0].is_ascii_digit();
                if !ok && !n.is_empty() {
                    causes.push(Cause::invalid(
                        format!("{field}.env[{i}].name"),
                        n,
                        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
                    ));
                }
            }
            let mut paths = BTreeSet::new();
            for (i, m) in array(c, "volumeMounts").iter().enumerate() {
                let mfield = format!("{field}.volumeMounts[{i}]");
                let vname = str_at(m, "name");
                if !vname.is_empty() && !volumes.contains(vname) {
                    causes.push(Cause::not_found(format!("{mfield}.name"), vname));
                }
                let path = str_at(m, "mountPath");
                if !path.is_empty() && !paths.insert(path.to_string()) {
                    causes.push(Cause::invalid(
                        format!("{mfield}.mountPath"),
                        path,
                        "must be unique",
                    ));
                }
                let sub = str_at(m, "subPath");
                if !sub.is_empty() {
                    causes.extend(validate_local_path(&format!("{mfield}.subPath"), sub));
                }
            }
        }
    }
    if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str)
        && !["Always", "OnFailure", "Never"].contains(&policy)
    {
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: "spec.restartPolicy".into(),
            message: format!(
                "Unsupported value: {}: supported values: \"Always\", \"OnFailure\", \"Never\"",
                crate::status::go_quote(policy)
            ),
        });
    }
    if let Some(d) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && d < 1
    {
        causes.push(Cause::invalid(
            "spec.activeDeadlineSeconds",
            &d.to_string(),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    causes
}

/// `validateLocalNonReservedPath`: relative, without `..` elements.
fn validate_local_path(field: &str, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    if path.starts_with('/') {
        causes.push(Cause::invalid(field, path, "must be a relative path"));
    }
    if path.split('/').any(|p| p == "..") {
        causes.push(Cause::invalid(field, path, "must not contain '..'"));
    }
    if path.starts_with("..") && !causes.iter().any(|c| c.message.contains("'..'")) {
        causes.push(Cause::invalid(field, path, "must not start with '..'"));
    }
    causes
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The fields of a pod spec an update may change (`ValidatePodUpdate`): images, the active
/// deadline, tolerations (added) and the grace period. Anything else is `Forbidden`.
pub fn validate_pod_update(old: &Value, new: &Value) -> Result<(), ApiError> {
    let strip = |pod: &Value| {
        let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
        for list in ["initContainers", "containers"] {
            if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in cs {
                    if let Some(m) = c.as_object_mut() {
                        m.remove("image");
                    }
                }
            }
        }
        if let Some(m) = spec.as_object_mut() {
            for k in [
                "activeDeadlineSeconds",
                "tolerations",
                "terminationGracePeriodSeconds",
                "nodeName",
            ] {
                m.remove(k);
            }
        }
        spec
    };
    if strip(old) != strip(new) {
        let name = old
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(ApiError::invalid(
            Kind::Pod,
            name,
            vec![Cause::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            )],
        ));
    }
    Ok(())
}

/// `ValidateConfigMapUpdate` / `ValidateSecretUpdate`: once `immutable` is true, the data
/// and the flag itself stay as they are.
pub fn validate_immutable_data(kind: Kind, old: &Value, new: &Value) -> Result<(), ApiError> {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let name = old
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = Vec::new();
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        causes.push(Cause::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    let bags: &[&str] = if kind == Kind::Secret {
        &["data"]
    } else {
        &["data", "binaryData"]
    };
    for bag in bags {
        if old.get(*bag) != new.get(*bag) {
            causes.push(Cause::forbidden(
                *bag,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, name, causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn unknown_fields_come_from_the_round_trip() {
        let p = pod(json!({"containers": [{"name": "a", "image": "x", "bogus": 1}], "foo": 2}));
        let e = admit(Kind::Pod, p.clone(), FieldValidation::Strict).err();
        assert_eq!(
            e.map(|e| (e.code, e.message)),
            Some((
                400,
                "strict decoding error: unknown field \"spec.containers[0].bogus\", unknown field \"spec.foo\"".into()
            ))
        );
        let ok = admit(Kind::Pod, p, FieldValidation::Warn);
        assert!(ok.is_ok_and(|a| a.warnings.len() == 2 && a.object["spec"].get("foo").is_none()));
    }

    #[test]
    fn required_fields_come_from_the_types() {
        let p = pod(json!({"containers": [{"image": "x"}]}));
        let e = admit(Kind::Pod, p, FieldValidation::Strict).err();
        assert_eq!(
            e.map(|e| (e.code, e.message)),
            Some((
                422,
                "Pod \"p\" is invalid: spec.containers[0].name: Required value".into()
            ))
        );
    }

    #[test]
    fn wrong_types_fail_the_decode() {
        let p = pod(
            json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": "80"}]}]}),
        );
        let e = admit(Kind::Pod, p, FieldValidation::Strict).err();
        assert!(e.is_some_and(|e| {
            e.code == 400
                && e.message
                    .contains("spec.containers[0].ports[0].containerPort")
        }));
    }

    #[test]
    fn names_and_configmap_size() {
        let p = json!({"metadata": {"name": "Bad_Name"}, "data": {"k": "v"}});
        let e = admit(Kind::ConfigMap, p, FieldValidation::Strict).err();
        assert!(e.is_some_and(|e| {
            e.code == 422
                && e.message
                    .contains("metadata.name: Invalid value: \"Bad_Name\"")
        }));
        let big = "x".repeat(MAX_DATA_SIZE + 1);
        let p = json!({"metadata": {"name": "big"}, "data": {"k": big}});
        let e = admit(Kind::ConfigMap, p, FieldValidation::Strict).err();
        assert_eq!(
            e.map(|e| e.message),
            Some(
                "ConfigMap \"big\" is invalid: []: Too long: must have at most 1048576 bytes"
                    .into()
            )
        );
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let relabelled = json!({"metadata": {"name": "c", "labels": {"x": "y"}}, "immutable": true, "data": {"a": "1"}});
        assert!(validate_immutable_data(Kind::ConfigMap, &old, &relabelled).is_ok());
        let changed = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
        let e = validate_immutable_data(Kind::ConfigMap, &old, &changed).err();
        assert_eq!(
            e.map(|e| (e.code, e.message)),
            Some((422, "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set".into()))
        );
    }

    #[test]
    fn mounts_must_name_volumes_and_names_are_unique() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "image": "x", "volumeMounts": [{"name": "nope", "mountPath": "/m"}]},
                {"name": "a", "image": "x"}
            ]
        }));
        let e = admit(Kind::Pod, p, FieldValidation::Strict).err();
        assert!(e.is_some_and(|e| {
            e.message
                .contains("spec.containers[0].volumeMounts[0].name: Not found: \"nope\"")
                && e.message
                    .contains("spec.containers[1].name: Duplicate value: \"a\"")
        }));
    }

    #[test]
    fn odd_but_valid_objects_pass() {
        // Nulls, empty maps, generateName, init containers named like volumes: all fine.
        let p = json!({
            "metadata": {"generateName": "run-", "labels": null, "annotations": {"tekton.dev/ready": ""}},
            "spec": {
                "volumes": [{"name": "a", "emptyDir": {}}],
                "initContainers": [{"name": "a", "image": "x"}],
                "containers": [{"name": "b", "image": "x", "volumeMounts": [{"name": "a", "mountPath": "/a", "subPath": "x/y"}]}]
            }
        });
        let a = admit(Kind::Pod, p, FieldValidation::Strict);
        assert!(
            a.is_ok_and(|a| a.object["spec"]["restartPolicy"] == "Always"
                && a.object["spec"]["containers"][0]["terminationMessagePath"]
                    == "/dev/termination-log")
        );
    }

    #[test]
    fn probes_get_kubernetes_defaults() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x",
            "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5}}]}});
        let a = admit(Kind::Pod, p, FieldValidation::Strict);
        let probe = a.map(|a| a.object["spec"]["containers"][0]["readinessProbe"].clone());
        assert_eq!(
            probe.ok(),
            Some(
                json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 5})
            )
        );
    }
}
