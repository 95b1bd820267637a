//! Workspace bindings of a run and the workspaces a Task sees.

use super::*;

/// A run's workspace binding as the plan's [`Binding`], string params substituted.
pub(super) fn binding(chain: &Chain, b: &model::WorkspaceBinding) -> Binding {
    let text = |s: &model::Str| chain.str(s).text();
    let json = |o: &model::Object| o.0.as_ref().map(crate::syntax::node_to_json);
    if let Some(pvc) = &b.persistent_volume_claim {
        Binding::PersistentVolumeClaim {
            claim_name: text(&pvc.claim_name),
            read_only: pvc.read_only.as_ref().is_some_and(|r| r.value),
        }
    } else if b.volume_claim_template.is_some() {
        Binding::VolumeClaimTemplate {}
    } else if let Some(cm) = &b.config_map {
        Binding::ConfigMap {
            name: text(&cm.name),
            items: cm.items.as_ref().map(crate::syntax::node_to_json),
        }
    } else if let Some(secret) = &b.secret {
        Binding::Secret {
            secret_name: text(&secret.secret_name),
            items: secret.items.as_ref().map(crate::syntax::node_to_json),
        }
    } else if let Some(p) = &b.projected {
        Binding::Other {
            source: serde_json::json!({ "projected": json(p).map(|j| chain.json(&j)) }),
        }
    } else if let Some(c) = &b.csi {
        Binding::Other {
            source: serde_json::json!({ "csi": json(c).map(|j| chain.json(&j)) }),
        }
    } else {
        Binding::EmptyDir {}
    }
}

/// The `volumeClaimTemplate`s of a run's bindings, by binding name, string params
/// substituted; bindings the request replaces are left out.
pub(super) fn claim_templates(
    chain: &Chain,
    bindings: &[model::WorkspaceBinding],
    replaced: &[(String, Binding)],
) -> BTreeMap<String, serde_json::Value> {
    bindings
        .iter()
        .filter(|b| !replaced.iter().any(|(n, _)| *n == b.name.value))
        .filter_map(|b| {
            let template = b.volume_claim_template.as_ref()?.0.as_ref()?;
            let json = chain.json(&crate::syntax::node_to_json(template));
            Some((b.name.value.clone(), json))
        })
        .collect()
}

pub(super) fn claim_of(binding: &Binding) -> String {
    match binding {
        Binding::PersistentVolumeClaim { claim_name, .. } => claim_name.clone(),
        _ => String::new(),
    }
}

pub(super) fn volume_name(workspace: &str) -> String {
    pod::container_name("ws-", workspace)
}

/// `subPath`s joined with `/`.
pub(super) fn join_sub_paths(outer: Option<Tpl>, inner: Option<Tpl>) -> Option<Tpl> {
    match (outer, inner) {
        (Some(mut o), Some(i)) => {
            o.push_str("/");
            o.append(i);
            Some(o)
        }
        (o, i) => o.or(i),
    }
}

/// `$(workspaces.W...)` names a Task spec uses but does not declare (inline specs get them
/// from their run: propagated workspaces).
pub(super) fn used_workspaces(spec: &TaskSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in task_strings(spec) {
        for r in crate::vars::parse(s.text.text) {
            if let RefKind::Workspace { name, .. } = r.kind
                && !spec.workspaces.iter().any(|w| w.name.value == name)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
    }
    out
}

/// The declared (and, for inline specs, used) workspaces of a Task.
pub(super) fn task_workspace_decls(
    spec: &TaskSpec,
    inline: bool,
) -> Vec<(String, Option<&model::WorkspaceDeclaration>)> {
    let mut out: Vec<(String, Option<&model::WorkspaceDeclaration>)> = spec
        .workspaces
        .iter()
        .map(|w| (w.name.value.clone(), Some(w)))
        .collect();
    if inline {
        out.extend(used_workspaces(spec).into_iter().map(|n| (n, None)));
    }
    out
}

pub(super) fn workspace_info(
    chain: &Chain,
    name: String,
    decl: Option<&model::WorkspaceDeclaration>,
    source: Option<WorkspaceSource>,
    claim: String,
    sub_path: Option<Tpl>,
) -> WorkspaceInfo {
    WorkspaceInfo {
        plan: TaskWorkspace {
            mount_path: decl
                .and_then(|d| d.mount_path.as_ref())
                .map_or_else(|| format!("/workspace/{name}"), |p| chain.str(p).text()),
            read_only: decl
                .and_then(|d| d.read_only.as_ref())
                .is_some_and(|r| r.value),
            source,
            sub_path: sub_path.map(|t| t.to_template()),
            only_in: Vec::new(),
            volume: volume_name(&name),
            name,
        },
        claim,
    }
}
