//! One watch per run: `kube_runtime::watcher` on the run's pods (label `tkc.dev/run=<uid>`),
//! fanned out to the attempts that wait on them. Each pod has a `tokio::sync::watch` slot
//! holding the latest state seen, so an attempt that looks late still sees where its pod is,
//! and a watch that drops or expires (`410 Gone`) loses nothing an attempt waits for: the
//! watcher relists, every listed pod's slot gets its current state (a pod that terminated
//! during the gap completes its attempt), and a pod that the relist no longer shows is marked
//! deleted (as the informers of client-go do with `DeletedFinalStateUnknown`).

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// What is known of a pod.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub pod: Option<Arc<Pod>>,
    /// The pod is gone from the API.
    pub deleted: bool,
}

#[derive(Default)]
struct Slots {
    by_name: HashMap<String, watch::Sender<Seen>>,
    /// Names listed since the last `Init`.
    relisted: Option<BTreeSet<String>>,
    /// Watch events received (for the traffic count).
    events: u64,
}

/// The run's pods as the one watch sees them.
#[derive(Clone, Default)]
pub struct PodWatch {
    slots: Arc<Mutex<Slots>>,
}

fn lock(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PodWatch {
    /// Starts the run's watch; it ends when the returned handle is aborted.
    pub fn start(api: Api<Pod>, run_uid: &str) -> (PodWatch, tokio::task::JoinHandle<()>) {
        let this = PodWatch::default();
        let config = watcher::Config::default().labels(&format!("tkc.dev/run={run_uid}"));
        let slots = this.clone();
        let handle = tokio::spawn(async move {
            // The default backoff retries failed (re)lists and watches for ever, with jitter.
            let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff());
            while let Some(event) = stream.next().await {
                if let Ok(event) = event {
                    slots.apply(event);
                }
            }
        });
        (this, handle)
    }

    fn apply(&self, event: watcher::Event<Pod>) {
        let mut slots = lock(&self.slots);
        slots.events += 1;
        match event {
            watcher::Event::Init => slots.relisted = Some(BTreeSet::new()),
            watcher::Event::InitApply(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if let Some(seen) = slots.relisted.as_mut() {
                    seen.insert(name.clone());
                }
                publish(&mut slots, name, Some(pod), false);
            }
            watcher::Event::InitDone => {
                let listed = slots.relisted.take().unwrap_or_default();
                for (name, slot) in &slots.by_name {
                    let known = slot.borrow().pod.is_some();
                    if known && !listed.contains(name) {
                        slot.send_modify(|s| s.deleted = true);
                    }
                }
            }
            watcher::Event::Apply(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                publish(&mut slots, name, Some(pod), false);
            }
            watcher::Event::Delete(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                publish(&mut slots, name, Some(pod), true);
            }
        }
    }

    /// Follows one pod by name (the slot exists before the pod does).
    pub fn follow(&self, name: &str) -> watch::Receiver<Seen> {
        let mut slots = lock(&self.slots);
        slots
            .by_name
            .entry(name.to_string())
            .or_insert_with(|| watch::channel(Seen::default()).0)
            .subscribe()
    }

    /// Forgets a pod: it is about to be created again (a new attempt of the same name after
    /// `--attach`), so an old deletion must not count.
    pub fn reset(&self, name: &str) {
        let slots = lock(&self.slots);
        if let Some(slot) = slots.by_name.get(name) {
            slot.send_replace(Seen::default());
        }
    }

    /// Pods seen and not deleted.
    pub fn live(&self) -> usize {
        lock(&self.slots)
            .by_name
            .values()
            .filter(|s| {
                let s = s.borrow();
                s.pod.is_some() && !s.deleted
            })
            .count()
    }

    /// Watch events received so far.
    pub fn events(&self) -> u64 {
        lock(&self.slots).events
    }

    /// A receiver that changes whenever any pod does (for waiting until none is left).
    pub fn any_change(&self) -> Vec<watch::Receiver<Seen>> {
        lock(&self.slots)
            .by_name
            .values()
            .map(|s| s.subscribe())
            .collect()
    }
}

fn publish(slots: &mut Slots, name: String, pod: Option<Pod>, deleted: bool) {
    let slot = slots
        .by_name
        .entry(name)
        .or_insert_with(|| watch::channel(Seen::default()).0);
    slot.send_replace(Seen {
        pod: pod.map(Arc::new),
        deleted,
    });
}
