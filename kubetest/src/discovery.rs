//! Discovery and OpenAPI: what clients read to learn which resources the server has
//! (`/api/v1`, `/apis`, `/apis/<group>[/<version>]`, as `k8s.io/apiserver/pkg/endpoints/discovery`
//! answers), and the little OpenAPI v3 kubectl reads before it writes.

use serde_json::{Value, json};

use crate::store::{CUSTOM_RESOURCES, Kind};

/// The kinds served at a group version: the core kinds at `("", "v1")`.
fn kinds(group: &str, version: &str) -> Vec<Kind> {
    if group.is_empty() {
        return if version == "v1" {
            Kind::ALL.to_vec()
        } else {
            Vec::new()
        };
    }
    CUSTOM_RESOURCES
        .iter()
        .filter(|c| c.group == group && c.version == version)
        .map(Kind::Custom)
        .collect()
}

/// Whether anything is served at `/apis/<group>/<version>`.
pub fn served(group: &str, version: &str) -> bool {
    !group.is_empty() && !kinds(group, version).is_empty()
}

/// The groups of the custom resources, each with its versions in the order
/// [`CUSTOM_RESOURCES`] first names them (the first is the preferred one).
fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for c in &CUSTOM_RESOURCES {
        match groups.iter_mut().find(|(g, _)| *g == c.group) {
            Some((_, versions)) if !versions.contains(&c.version) => versions.push(c.version),
            Some(_) => {}
            None => groups.push((c.group, vec![c.version])),
        }
    }
    groups
}

fn api_group(name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name,
        "versions": versions, "preferredVersion": versions.first()})
}

/// `/apis`: the `APIGroupList`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .iter()
        .map(|(name, versions)| api_group(name, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: its `APIGroup`, if served.
pub fn group(name: &str) -> Option<Value> {
    groups()
        .iter()
        .find(|(g, _)| *g == name)
        .map(|(g, versions)| api_group(g, versions))
}

/// `/api/v1` or `/apis/<group>/<version>`: the `APIResourceList`.
pub fn resource_list(group: &str, version: &str) -> Value {
    let verbs = json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ]);
    let mut resources = Vec::new();
    for k in kinds(group, version) {
        resources.push(json!({
            "name": k.plural(), "singularName": k.kind().to_lowercase(), "namespaced": true,
            "kind": k.kind(), "verbs": verbs, "shortNames": k.short_names()
        }));
    }
    let group_version = match group {
        "" => version.to_string(),
        group => format!("{group}/{version}"),
    };
    if group.is_empty() {
        resources.push(json!({"name": "pods/status", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get", "patch", "update"]}));
        resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
        resources.push(json!({"name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// `/openapi/v3`: one document per group version.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=tkc-kubetest"}),
    );
    for (group, versions) in groups() {
        for version in versions {
            paths.insert(
                format!("apis/{group}/{version}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{group}/{version}?hash=tkc-kubetest")}),
            );
        }
    }
    json!({ "paths": paths })
}

/// Just enough OpenAPI v3 for kubectl to see that writes take `fieldValidation`
/// (`resource.QueryParamVerifierV3` looks for it on each kind's PATCH operation), so that
/// `kubectl create`/`apply` validate on the server instead of wanting schemas. No schemas.
pub fn openapi(group: &str, version: &str) -> Value {
    let prefix = match group {
        "" => format!("/api/{version}"),
        group => format!("/apis/{group}/{version}"),
    };
    let mut paths = serde_json::Map::new();
    for k in kinds(group, version) {
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": k.kind()},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
            "responses": {"200": {"description": "OK"}}
        });
        paths.insert(
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural()),
            json!({"patch": op, "put": op}),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes (tkc-kubetest)", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": {}}})
}
