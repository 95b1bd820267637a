//! The ConfigMaps and Secrets a plan uses: ConfigMaps copied from the inputs, Secrets only
//! named (their values never go into a plan, which `tkc compile` writes out and reviews
//! show; [`secret_values`] gives them to the run).

use super::*;

/// Copies the data of the ConfigMaps the plan uses (workspace bindings, volumes, env) from the
/// inputs into the plan, and names the Secrets it uses that are among the inputs.
pub(super) fn collect_config(world: &World, plan: &mut Plan) {
    let mut config_maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let from_binding = |b: &Binding, cms: &mut BTreeSet<String>, ss: &mut BTreeSet<String>| match b
    {
        Binding::ConfigMap { name, .. } => {
            cms.insert(name.clone());
        }
        Binding::Secret { secret_name, .. } => {
            ss.insert(secret_name.clone());
        }
        Binding::Other { source } => names_in_json(source, cms, ss),
        _ => {}
    };
    for w in &plan.workspaces {
        from_binding(&w.binding, &mut config_maps, &mut secrets);
    }
    for task in plan.every_task() {
        for w in &task.pod.workspaces {
            if let Some(WorkspaceSource::Binding(b)) = &w.source {
                from_binding(b, &mut config_maps, &mut secrets);
            }
        }
        for v in &task.pod.volumes {
            names_in_json(&v.source, &mut config_maps, &mut secrets);
        }
        for step in &task.pod.steps {
            for e in &step.env {
                if let Some(v) = &e.value_from {
                    names_in_json(v, &mut config_maps, &mut secrets);
                }
            }
            for e in &step.env_from {
                names_in_json(e, &mut config_maps, &mut secrets);
            }
        }
        for sidecar in &task.pod.sidecars {
            for e in &sidecar.env {
                if let Some(v) = &e.value_from {
                    names_in_json(v, &mut config_maps, &mut secrets);
                }
            }
        }
    }
    for (_, doc) in world.iter() {
        let Some(name) = doc.metadata.name.as_ref() else {
            continue;
        };
        match &doc.resource {
            Resource::ConfigMap(data) if config_maps.contains(&name.value) => {
                let mut map: BTreeMap<String, String> = data
                    .data
                    .0
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.clone()))
                    .collect();
                for (k, v) in &data.binary_data.0 {
                    map.insert(k.value.clone(), decode_base64(&v.value));
                }
                plan.config_maps.entry(name.value.clone()).or_insert(map);
            }
            Resource::Secret(_) if secrets.contains(&name.value) => {
                plan.secrets.insert(name.value.clone());
            }
            _ => {}
        }
    }
}

/// The data of the Secrets `names` (a plan's `secrets`) among the inputs, `data` decoded from
/// base64 and `stringData` over it, as the API server merges them. What a run needs beside
/// its plan, handed over in memory only.
pub fn secret_values(
    world: &World,
    names: &BTreeSet<String>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (_, doc) in world.iter() {
        let (Some(name), Resource::Secret(data)) = (doc.metadata.name.as_ref(), &doc.resource)
        else {
            continue;
        };
        if !names.contains(&name.value) || out.contains_key(&name.value) {
            continue;
        }
        let mut map: BTreeMap<String, String> = data
            .data
            .0
            .iter()
            .map(|(k, v)| (k.value.clone(), decode_base64(&v.value)))
            .collect();
        for (k, v) in &data.string_data.0 {
            map.insert(k.value.clone(), v.value.clone());
        }
        out.insert(name.value.clone(), map);
    }
    out
}

/// ConfigMap and Secret names in a Kubernetes object: `configMap.name`,
/// `configMapKeyRef.name`, `configMapRef.name`, `secret.secretName`, `secret.name`
/// (projected), `secretKeyRef.name`, `secretRef.name`.
pub(super) fn names_in_json(
    value: &serde_json::Value,
    cms: &mut BTreeSet<String>,
    ss: &mut BTreeSet<String>,
) {
    use serde_json::Value as J;
    match value {
        J::Object(map) => {
            for (key, inner) in map {
                let name = |k: &str| inner.get(k).and_then(J::as_str).map(str::to_string);
                match key.as_str() {
                    "configMap" | "configMapKeyRef" | "configMapRef" => cms.extend(name("name")),
                    "secret" => ss.extend(name("secretName").or_else(|| name("name"))),
                    "secretKeyRef" | "secretRef" => ss.extend(name("name")),
                    _ => {}
                }
                names_in_json(inner, cms, ss);
            }
        }
        J::Array(items) => items.iter().for_each(|i| names_in_json(i, cms, ss)),
        _ => {}
    }
}

/// Standard base64 (padding optional, white space ignored); undecodable text is kept.
pub(super) fn decode_base64(text: &str) -> String {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return text.to_string(),
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVsbG8="), "hello");
        assert_eq!(decode_base64("aGVsbG8"), "hello");
        assert_eq!(decode_base64("not base64!"), "not base64!");
    }
}
