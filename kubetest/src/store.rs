//! The object store: objects by (resource, namespace, name), one resourceVersion counter for
//! all of them (as etcd's revision is), a window of recent changes for watches to resume from,
//! graceful deletion, finalizers and the garbage collector that follows ownerReferences.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::status::ApiError;
use crate::time;

/// The resources the test server serves, all namespaced: the core `v1` ones tkc uses, and
/// the custom resources of [`CUSTOM_RESOURCES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    ConfigMap,
    Secret,
    PersistentVolumeClaim,
    Event,
    Custom(&'static CustomResource),
}

/// A custom resource, served as the API server serves one a `CustomResourceDefinition`
/// declares with a single version and no schema: objects of any shape, kept as sent.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomResource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
}

/// The custom resources served: Tekton's definitions, at the version tkc reads each at
/// (`config/300-crds/300-{task,pipeline,stepaction}.yaml`, storage versions).
pub const CUSTOM_RESOURCES: [CustomResource; 3] = [
    CustomResource {
        group: "tekton.dev",
        version: "v1",
        kind: "Task",
        plural: "tasks",
        short_names: &[],
    },
    CustomResource {
        group: "tekton.dev",
        version: "v1",
        kind: "Pipeline",
        plural: "pipelines",
        short_names: &[],
    },
    CustomResource {
        group: "tekton.dev",
        version: "v1beta1",
        kind: "StepAction",
        plural: "stepactions",
        short_names: &[],
    },
];

impl Kind {
    /// The core `v1` kinds.
    pub const ALL: [Kind; 5] = [
        Kind::Pod,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::PersistentVolumeClaim,
        Kind::Event,
    ];

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::PersistentVolumeClaim => "persistentvolumeclaims",
            Kind::Event => "events",
            Kind::Custom(c) => c.plural,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::Event => "Event",
            Kind::Custom(c) => c.kind,
        }
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["po"],
            Kind::ConfigMap => &["cm"],
            Kind::Secret => &[],
            Kind::PersistentVolumeClaim => &["pvc"],
            Kind::Event => &["ev"],
            Kind::Custom(c) => c.short_names,
        }
    }

    /// The API group: empty for the core kinds.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Custom(c) => c.group,
            _ => "",
        }
    }

    /// The `apiVersion` of its objects: `v1`, or `group/version`.
    pub fn api_version(self) -> String {
        match self {
            Kind::Custom(c) => format!("{}/{}", c.group, c.version),
            _ => "v1".into(),
        }
    }

    /// The resource as errors name it (`schema.GroupResource.String()`): `pods`,
    /// `tasks.tekton.dev`.
    pub fn qualified_plural(self) -> String {
        match self {
            Kind::Custom(c) => format!("{}.{}", c.plural, c.group),
            _ => self.plural().into(),
        }
    }

    /// A core kind by its plural (`/api/v1/<plural>`).
    pub fn from_plural(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == s)
    }

    /// A custom resource by its path (`/apis/<group>/<version>/<plural>`).
    pub fn custom(group: &str, version: &str, plural: &str) -> Option<Kind> {
        CUSTOM_RESOURCES
            .iter()
            .find(|c| c.group == group && c.version == version && c.plural == plural)
            .map(Kind::Custom)
    }
}

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One change to one object, as watches see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: Kind,
    pub namespace: String,
    pub change: ChangeType,
    /// The object after the change (for DELETED: as last stored, with this change's rv).
    pub object: Value,
    /// The object before the change, to tell a watch with a selector that it left or entered.
    pub old: Option<Value>,
}

/// How a delete treats dependants (`metav1.DeletionPropagation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

type Key = (Kind, String, String);

/// A subscription to every change after the moment it was taken.
pub type Changes = broadcast::Receiver<Arc<Change>>;

struct Inner {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// Watches may resume from any resourceVersion >= floor.
    floor: u64,
    capacity: usize,
    uids: u64,
}

/// The store, shared by the API handlers and the kubelet.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
}

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";

fn meta<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get("metadata").and_then(|m| m.get(field))
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    meta(obj, field).and_then(Value::as_str).unwrap_or_default()
}

fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj, "finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn set_finalizers(obj: &mut Value, f: &[String]) {
    if f.is_empty() {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("finalizers");
        }
    } else {
        obj["metadata"]["finalizers"] = json!(f);
    }
}

fn owner_uids(obj: &Value) -> Vec<String> {
    meta(obj, "ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn deleting(obj: &Value) -> bool {
    meta(obj, "deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// A pod that its kubelet has still to stop before it goes.
fn awaiting_kubelet(kind: Kind, obj: &Value) -> bool {
    kind == Kind::Pod
        && meta(obj, "deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .is_some_and(|g| g > 0)
}

fn terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// The letters `names.SimpleNameGenerator` picks from (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Store {
    pub fn new(capacity: usize) -> Store {
        let (tx, _) = broadcast::channel(8192);
        Store {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                rv: 1,
                history: VecDeque::new(),
                floor: 1,
                capacity: capacity.max(1),
                uids: 0,
            }),
            tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held leaves consistent data behind (every mutation is
        // completed before it is published), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(kind, ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a kind (in one namespace or all), in key order, and the list's rv.
    pub fn list(&self, kind: Kind, ns: Option<&str>) -> (Vec<Value>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|((k, n, _), _)| *k == kind && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    /// The changes after `rv` still in the window and a receiver for those after them, or
    /// `410 Expired` when `rv` is older than the window (`watchCache.GetAllEventsSince`).
    pub fn watch_from(&self, rv: u64) -> Result<(Vec<Arc<Change>>, Changes), ApiError> {
        let inner = self.lock();
        if rv < inner.floor {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                inner.floor
            )));
        }
        let replay = inner
            .history
            .iter()
            .filter(|c| c.rv > rv)
            .cloned()
            .collect();
        Ok((replay, self.tx.subscribe()))
    }

    /// Current objects (for a watch that starts "now") and a receiver for what follows.
    pub fn snapshot_and_subscribe(
        &self,
        kind: Kind,
        ns: Option<&str>,
    ) -> (Vec<Value>, u64, broadcast::Receiver<Arc<Change>>) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|((k, n, _), _)| *k == kind && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv, self.tx.subscribe())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Forgets the change history, as a restarted API server's empty watch cache does:
    /// watches from an older resourceVersion get `410 Gone`.
    pub fn forget_history(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.floor = inner.rv;
    }

    /// Stores a new object (already admitted): name from `generateName`, uid, timestamps, rv.
    pub fn create(&self, kind: Kind, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            loop {
                inner.uids += 1;
                let mut n = inner.uids.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
                let mut suffix = String::new();
                for _ in 0..5 {
                    suffix.push(char::from(ALPHANUMS[(n % ALPHANUMS.len() as u64) as usize]));
                    n /= ALPHANUMS.len() as u64;
                }
                name = format!("{prefix}{suffix}");
                if !inner
                    .objects
                    .contains_key(&(kind, ns.to_string(), name.clone()))
                {
                    break;
                }
            }
        }
        let key = (kind, ns.to_string(), name.clone());
        if inner.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind, &name));
        }
        inner.uids += 1;
        let uid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            inner.uids
        );
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        m["namespace"] = json!(ns);
        m["uid"] = json!(uid);
        m["creationTimestamp"] = json!(time::now_seconds());
        if let Some(m) = m.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        if kind == Kind::PersistentVolumeClaim {
            let mut f = finalizers(&obj);
            if !f.iter().any(|x| x == PVC_PROTECTION) {
                f.push(PVC_PROTECTION.into());
            }
            set_finalizers(&mut obj, &f);
        }
        let obj = self.commit(&mut inner, key, ChangeType::Added, obj, None);
        self.collect_garbage(&mut inner);
        Ok(obj)
    }

    /// Read-modify-write of one object: `f` gets the stored object and returns its new
    /// value, or an error. Nothing is written (and no rv spent) when the value is unchanged.
    pub fn update(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = (kind, ns.to_string(), name.to_string());
        let Some(old) = inner.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(kind, name));
        };
        let mut new = f(&old)?;
        // Identity and bookkeeping are the server's, whatever the client sent.
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "name",
        ] {
            match meta(&old, field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove(field);
                    }
                }
            }
        }
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if new == old {
            return Ok(old);
        }
        let obj = self.commit(&mut inner, key, ChangeType::Modified, new, Some(old));
        self.collect_garbage(&mut inner);
        // A write that removed the last finalizer of a deleted object deleted it.
        Ok(obj)
    }

    /// Deletes an object, or starts to (finalizers, a pod's grace period). Returns the object
    /// and whether it is gone.
    pub fn delete(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        grace: Option<i64>,
        propagation: Option<Propagation>,
        precondition_uid: Option<&str>,
    ) -> Result<(Value, bool), ApiError> {
        let mut inner = self.lock();
        let key = (kind, ns.to_string(), name.to_string());
        let Some(obj) = inner.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(kind, name));
        };
        if let Some(uid) = precondition_uid
            && uid != meta_str(&obj, "uid")
        {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&obj, "uid")
                ),
                details: Some(crate::status::details(kind, name)),
            });
        }
        let result = self.delete_locked(&mut inner, key.clone(), grace, propagation);
        self.collect_garbage(&mut inner);
        let gone = !inner.objects.contains_key(&key);
        Ok((result, gone))
    }

    fn delete_locked(
        &self,
        inner: &mut Inner,
        key: Key,
        grace: Option<i64>,
        propagation: Option<Propagation>,
    ) -> Value {
        let Some(old) = inner.objects.get(&key).cloned() else {
            return Value::Null;
        };
        let kind = key.0;
        let mut new = old.clone();
        let mut f = finalizers(&old);
        match propagation {
            Some(Propagation::Foreground) if !f.iter().any(|x| x == FOREGROUND) => {
                f.push(FOREGROUND.into())
            }
            Some(Propagation::Orphan) if !f.iter().any(|x| x == ORPHAN) => f.push(ORPHAN.into()),
            _ => {}
        }
        set_finalizers(&mut new, &f);
        // `pod.podStrategy.CheckGracefulDelete`: an unscheduled or finished pod goes at once.
        let grace = if kind == Kind::Pod {
            let scheduled = new
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !scheduled || terminal(&new) {
                0
            } else {
                grace
                    .or_else(|| {
                        new.pointer("/spec/terminationGracePeriodSeconds")
                            .and_then(Value::as_i64)
                    })
                    .unwrap_or(30)
                    .max(0)
            }
        } else {
            0
        };
        let already = deleting(&old);
        if already {
            // A second delete may only shorten the grace period.
            let current = meta(&old, "deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if grace < current {
                new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
        } else {
            new["metadata"]["deletionTimestamp"] = json!(time::seconds_from_now(grace));
            new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        }
        if finalizers(&new).is_empty() && !awaiting_kubelet(kind, &new) {
            return self.remove_locked(inner, &key);
        }
        if new != old {
            return self.commit(inner, key, ChangeType::Modified, new, Some(old));
        }
        old
    }

    /// The kubelet has stopped a deleted pod: it goes once its finalizers are done.
    pub fn confirm_pod_deleted(&self, ns: &str, name: &str, uid: &str) {
        let mut inner = self.lock();
        let key = (Kind::Pod, ns.to_string(), name.to_string());
        let Some(old) = inner.objects.get(&key).cloned() else {
            return;
        };
        if meta_str(&old, "uid") != uid || !deleting(&old) {
            return;
        }
        if finalizers(&old).is_empty() {
            self.remove_locked(&mut inner, &key);
        } else {
            let mut new = old.clone();
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            self.commit(&mut inner, key, ChangeType::Modified, new, Some(old));
        }
        self.collect_garbage(&mut inner);
    }

    fn remove_locked(&self, inner: &mut Inner, key: &Key) -> Value {
        let Some(old) = inner.objects.remove(key) else {
            return Value::Null;
        };
        inner.rv += 1;
        let mut last = old.clone();
        last["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        self.publish(
            inner,
            Change {
                rv: inner.rv,
                kind: key.0,
                namespace: key.1.clone(),
                change: ChangeType::Deleted,
                object: last.clone(),
                old: Some(old),
            },
        );
        last
    }

    fn commit(
        &self,
        inner: &mut Inner,
        key: Key,
        change: ChangeType,
        mut obj: Value,
        old: Option<Value>,
    ) -> Value {
        inner.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        inner.objects.insert(key.clone(), obj.clone());
        self.publish(
            inner,
            Change {
                rv: inner.rv,
                kind: key.0,
                namespace: key.1,
                change,
                object: obj.clone(),
                old,
            },
        );
        obj
    }

    fn publish(&self, inner: &mut Inner, change: Change) {
        let change = Arc::new(change);
        inner.history.push_back(change.clone());
        while inner.history.len() > inner.capacity {
            if let Some(c) = inner.history.pop_front() {
                inner.floor = c.rv;
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(change);
    }

    /// The garbage collector and the finalizer controllers, run after every write until
    /// nothing changes: dependants of a vanished owner are deleted (background), of a
    /// foreground-deleted owner deleted first, of an orphaning owner released; a PVC no
    /// running pod uses loses its protection finalizer.
    fn collect_garbage(&self, inner: &mut Inner) {
        for _ in 0..1000 {
            let uids: BTreeMap<String, Key> = inner
                .objects
                .iter()
                .map(|(k, v)| (meta_str(v, "uid").to_string(), k.clone()))
                .collect();
            let mut action = None;
            for (key, obj) in &inner.objects {
                let owners = owner_uids(obj);
                if owners.is_empty() {
                    continue;
                }
                let live: Vec<&Value> = owners
                    .iter()
                    .filter_map(|u| uids.get(u).and_then(|k| inner.objects.get(k)))
                    .collect();
                let orphaning = live
                    .iter()
                    .filter(|o| deleting(o) && finalizers(o).iter().any(|f| f == ORPHAN))
                    .map(|o| meta_str(o, "uid").to_string())
                    .collect::<BTreeSet<_>>();
                if !orphaning.is_empty() {
                    action = Some(Gc::Release(key.clone(), orphaning));
                    break;
                }
                let foreground = live
                    .iter()
                    .any(|o| deleting(o) && finalizers(o).iter().any(|f| f == FOREGROUND));
                if (live.is_empty() || foreground) && !deleting(obj) {
                    action = Some(Gc::Delete(key.clone()));
                    break;
                }
            }
            if action.is_none() {
                for (key, obj) in &inner.objects {
                    if !deleting(obj) {
                        continue;
                    }
                    let uid = meta_str(obj, "uid");
                    let f = finalizers(obj);
                    let referenced = || {
                        inner
                            .objects
                            .values()
                            .any(|o| owner_uids(o).iter().any(|u| u == uid))
                    };
                    let done = |name: &str| match name {
                        FOREGROUND | ORPHAN => !referenced(),
                        PVC_PROTECTION => !pvc_in_use(&inner.objects, &key.1, &key.2),
                        _ => false,
                    };
                    if let Some(done) = f.iter().find(|n| done(n)) {
                        action = Some(Gc::Finalize(key.clone(), done.clone()));
                        break;
                    }
                    if f.is_empty() && !awaiting_kubelet(key.0, obj) {
                        action = Some(Gc::Remove(key.clone()));
                        break;
                    }
                }
            }
            match action {
                None => return,
                Some(Gc::Delete(key)) => {
                    self.delete_locked(inner, key, None, Some(Propagation::Background));
                }
                Some(Gc::Remove(key)) => {
                    self.remove_locked(inner, &key);
                }
                Some(Gc::Finalize(key, name)) => {
                    if let Some(old) = inner.objects.get(&key).cloned() {
                        let mut new = old.clone();
                        let f: Vec<String> = finalizers(&old)
                            .into_iter()
                            .filter(|f| *f != name)
                            .collect();
                        set_finalizers(&mut new, &f);
                        self.commit(inner, key, ChangeType::Modified, new, Some(old));
                    }
                }
                Some(Gc::Release(key, owners)) => {
                    if let Some(old) = inner.objects.get(&key).cloned() {
                        let mut new = old.clone();
                        if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                            refs.retain(|r| {
                                !owners.contains(r.get("uid").and_then(Value::as_str).unwrap_or(""))
                            });
                            if refs.is_empty()
                                && let Some(m) = new["metadata"].as_object_mut()
                            {
                                m.remove("ownerReferences");
                            }
                        }
                        self.commit(inner, key, ChangeType::Modified, new, Some(old));
                    }
                }
            }
        }
    }
}

enum Gc {
    Delete(Key),
    Remove(Key),
    Finalize(Key, String),
    Release(Key, BTreeSet<String>),
}

/// `pvcprotection`: a claim is in use while a pod that is not finished mounts it.
fn pvc_in_use(objects: &BTreeMap<Key, Value>, ns: &str, claim: &str) -> bool {
    objects.iter().any(|((k, n, _), pod)| {
        *k == Kind::Pod
            && n == ns
            && !terminal(pod)
            && pod
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .is_some_and(|vols| {
                    vols.iter().any(|v| {
                        v.pointer("/persistentVolumeClaim/claimName")
                            .and_then(Value::as_str)
                            == Some(claim)
                    })
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, owner: Option<&str>) -> Value {
        let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        if let Some(uid) = owner {
            v["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": uid}]);
        }
        v
    }

    #[test]
    fn background_and_orphan_propagation() {
        let store = Store::new(100);
        let owner = store.create(Kind::ConfigMap, "ns", cm("o", None));
        let uid = owner
            .map(|o| meta_str(&o, "uid").to_string())
            .unwrap_or_default();
        assert!(
            store
                .create(Kind::ConfigMap, "ns", cm("d", Some(&uid)))
                .is_ok()
        );
        let gone = store.delete(Kind::ConfigMap, "ns", "o", None, None, None);
        assert!(gone.is_ok_and(|(_, gone)| gone));
        assert!(store.get(Kind::ConfigMap, "ns", "d").is_none());

        let owner = store.create(Kind::ConfigMap, "ns", cm("o", None));
        let uid = owner
            .map(|o| meta_str(&o, "uid").to_string())
            .unwrap_or_default();
        assert!(
            store
                .create(Kind::ConfigMap, "ns", cm("d", Some(&uid)))
                .is_ok()
        );
        let r = store.delete(
            Kind::ConfigMap,
            "ns",
            "o",
            None,
            Some(Propagation::Orphan),
            None,
        );
        assert!(r.is_ok());
        assert!(store.get(Kind::ConfigMap, "ns", "o").is_none());
        let d = store.get(Kind::ConfigMap, "ns", "d");
        assert!(d.is_some_and(|d| d["metadata"].get("ownerReferences").is_none()));
    }

    #[test]
    fn watch_window_expires() {
        let store = Store::new(2);
        for n in ["a", "b", "c", "d"] {
            assert!(store.create(Kind::ConfigMap, "ns", cm(n, None)).is_ok());
        }
        assert!(store.watch_from(1).is_err());
        assert!(store.watch_from(store.resource_version() - 1).is_ok());
        store.forget_history();
        assert!(store.watch_from(store.resource_version() - 1).is_err());
        assert!(store.watch_from(store.resource_version()).is_ok());
    }
}
