//! What a Deployment's rollout makes visible besides its status: ReplicaSets (one per
//! pod-template hash, with the revision annotations the deployment controller keeps), Pods
//! (kwok-style: fake nodes, phases driven by the rollout model's ready times) and Events.
//! `controller.rs` calls `Workloads::sync` after each step of the `rollout` model; the
//! model's cohorts are the truth, this module only names and renders them.
//!
//! Modelled on kubernetes/kubernetes pkg/controller/deployment (sync.go `getNewReplicaSet`,
//! `scaleReplicaSet`, `cleanupDeployment`; util/deployment_util.go `SetNewReplicaSetAnnotations`,
//! `MaxRevision`) and pkg/controller/replicaset (pod creation/deletion events).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::resource::Resource;
use super::rollout::{Rollout, hash_suffix};
use super::store::{Store, now_rfc3339, owner_uid};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";

/// Deployment annotations not copied to its ReplicaSets (deployment_util.go
/// `annotationsToSkip`).
const SKIPPED_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Pods are spread over this many fake node names (`pushpull-node-N`), as kwok's nodes.
pub const FAKE_NODES: u64 = 1000;

/// Per-pod events (`Created pod: …`) beyond this many in one step of one ReplicaSet are
/// left out; the scale events still say how many pods changed.
const POD_EVENTS_PER_STEP: usize = 10;

/// Pod name suffixes: 5 characters of the API server's safe alphabet, 27^5 of them.
const SUFFIX_SPACE: u64 = 14_348_907;
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// One simulated pod: its name and when it becomes ready (never: `None`).
struct PodRecord {
    name: Box<str>,
    ready_at: Option<Instant>,
    shown_ready: bool,
}

struct SetRecord {
    hash: u64,
    name: String,
    revision: u64,
    history: Vec<u64>,
    template: Value,
    generation: i64,
    replicas: u64,
    pods: Vec<PodRecord>,
    /// The model's cohorts of this revision at the last pod reconcile.
    seen: Vec<(Option<Instant>, u64)>,
    /// Pod names handed out so far (the next suffix).
    named: u64,
    written: Option<Value>,
    uid: String,
    /// The model's pods of this revision: all, ready, available (at the last sync).
    counts: (u64, u64, u64),
    /// The Deployment's annotations as of when this was its current ReplicaSet (only the
    /// new ReplicaSet gets them, `copyDeploymentAnnotationsToReplicaSet`).
    copied: Map<String, Value>,
    /// Bumped whenever `copied` changes (the fingerprint's view of it).
    copies: u64,
    fingerprint: Option<Fingerprint>,
}

/// What a ReplicaSet's rendering depends on: everything but its copied annotations
/// (`body`: counts, revision, history length, generation, the Deployment's replicas and
/// maxSurge, its minReadySeconds), and those as `SetRecord::copies`.
#[derive(Clone, PartialEq)]
struct Fingerprint {
    body: Body,
    copies: u64,
}

type Body = ((u64, u64, u64), u64, usize, i64, (u64, u64), Option<Value>);

/// A Deployment's annotations less `annotationsToSkip`.
fn copied_annotations(object: &Value) -> Map<String, Value> {
    object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !SKIPPED_ANNOTATIONS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What one reconcile of a ReplicaSet's pods decided, written after the ReplicaSet.
#[derive(Default)]
struct PodChanges {
    created: Vec<String>,
    deleted: Vec<String>,
    retimed: Vec<usize>,
}

/// How many Pod objects exist, against `EmulatorConfig::max_pods`.
pub(crate) struct PodBudget {
    pub(crate) limit: usize,
    live: usize,
}

impl PodBudget {
    pub(crate) fn new(limit: usize) -> PodBudget {
        PodBudget { limit, live: 0 }
    }
}

/// The bounded event log all Deployments share (oldest deleted first).
pub(crate) struct Events {
    kept: VecDeque<(String, String)>,
    limit: usize,
    serial: u64,
}

impl Events {
    pub(crate) fn new(limit: usize) -> Events {
        Events {
            kept: VecDeque::new(),
            limit,
            serial: 0,
        }
    }

    /// Records one occurrence as a core `v1` Event and its `events.k8s.io/v1` twin.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        store: &Store,
        regarding: &Value,
        kind: &str,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let meta = |k: &str| {
            regarding
                .pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (namespace, name) = (meta("namespace"), meta("name"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.serial += 1;
        let event_name = format!("{name}.{:x}", nanos.wrapping_add(self.serial));
        let reference = json!({
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "uid": meta("uid"),
            "apiVersion": regarding.get("apiVersion").cloned().unwrap_or(Value::Null),
            "resourceVersion": meta("resourceVersion"),
        });
        let now = now_rfc3339();
        let micro = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
        let event_type = if warning { "Warning" } else { "Normal" };
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "involvedObject": reference,
            "reason": reason, "message": message,
            "source": {"component": component},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "type": event_type, "eventTime": null,
            "reportingComponent": component, "reportingInstance": "",
        });
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": event_name, "namespace": namespace},
            "eventTime": micro,
            "reportingController": component, "reportingInstance": "",
            "action": reason, "reason": reason, "regarding": reference, "note": message,
            "type": event_type,
            "deprecatedSource": {"component": component},
            "deprecatedFirstTimestamp": now, "deprecatedLastTimestamp": now, "deprecatedCount": 1,
        });
        store.put_owned(Resource::Event, &namespace, &event_name, core);
        store.put_owned(Resource::EventV1, &namespace, &event_name, v1);
        self.kept.push_back((namespace, event_name));
        while self.kept.len() > self.limit {
            if let Some((ns, n)) = self.kept.pop_front() {
                store.remove_owned(Resource::Event, &ns, &n);
                store.remove_owned(Resource::EventV1, &ns, &n);
            }
        }
    }
}

/// The ReplicaSets and Pods of one Deployment.
pub(crate) struct Workloads {
    namespace: String,
    name: String,
    uid: String,
    sets: Vec<SetRecord>,
    loaded: bool,
}

/// The 5-character suffix of the `n`-th pod of a ReplicaSet: a bijection on 27^5 (the
/// multiplier is prime to 3), so names do not repeat before 14 million pods.
fn pod_suffix(seed: u64, n: u64) -> String {
    // The seed is the template hash, whose low digits also name the ReplicaSet: mix it.
    let seed = seed.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    let mut x = (n.wrapping_mul(7_919).wrapping_add(seed % SUFFIX_SPACE)) % SUFFIX_SPACE;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % 27) as usize] as char;
            x /= 27;
            c
        })
        .collect()
}

fn order_key(ready_at: Option<Instant>) -> (bool, Option<Instant>) {
    (ready_at.is_none(), ready_at)
}

fn annotation(object: &Value, key: &str) -> Option<String> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .map(String::from)
}

impl Workloads {
    pub(crate) fn new(namespace: &str, name: &str) -> Workloads {
        Workloads {
            namespace: namespace.into(),
            name: name.into(),
            uid: String::new(),
            sets: Vec::new(),
            loaded: false,
        }
    }

    /// ReplicaSets already in the store for this Deployment (after a controller restart):
    /// their revisions and templates carry on; their pods are re-created by the new model.
    fn load(&mut self, store: &Store) {
        self.loaded = true;
        let (sets, _) = store.list(
            Resource::ReplicaSet,
            Some(&self.namespace),
            &Default::default(),
            &Default::default(),
        );
        for rs in sets.iter().filter(|rs| owner_uid(rs) == Some(&self.uid)) {
            let template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
            let revision = annotation(rs, REVISION)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            let history = annotation(rs, REVISION_HISTORY)
                .map(|h| h.split(',').filter_map(|r| r.parse().ok()).collect())
                .unwrap_or_default();
            self.sets.push(SetRecord {
                hash: super::rollout::template_hash(&template),
                name: rs
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                revision,
                history,
                template,
                generation: rs
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
                replicas: 0,
                pods: Vec::new(),
                seen: Vec::new(),
                named: 0,
                written: None,
                uid: String::new(),
                counts: (0, 0, 0),
                copied: copied_annotations(rs),
                copies: 0,
                fingerprint: None,
            });
        }
        let (pods, _) = store.list(
            Resource::Pod,
            Some(&self.namespace),
            &Default::default(),
            &Default::default(),
        );
        for set in &self.sets {
            for pod in pods.iter().filter(|p| {
                p.pointer("/metadata/ownerReferences/0/name")
                    .and_then(Value::as_str)
                    == Some(set.name.as_str())
            }) {
                if let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
                    store.remove_owned(Resource::Pod, &self.namespace, name);
                }
            }
        }
    }

    /// Brings the ReplicaSets, Pods and the Deployment's revision annotation in line with
    /// the model at `now`, recording scale and pod events. `resync`: a client changed or
    /// deleted one of them; what is missing is written again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sync(
        &mut self,
        store: &Store,
        events: &mut Events,
        budget: &mut PodBudget,
        deployment: &Value,
        rollout: &Rollout,
        now: Instant,
        resync: bool,
    ) {
        self.uid = deployment
            .get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !self.loaded {
            self.load(store);
        }
        let spec = rollout.spec();
        let current = spec.template_hash;
        let max_revision = self.sets.iter().map(|s| s.revision).max().unwrap_or(0);
        match self.sets.iter_mut().find(|s| s.hash == current) {
            None => {
                let suffix = hash_suffix(current);
                let mut template = deployment
                    .pointer("/spec/template")
                    .cloned()
                    .unwrap_or(Value::Null);
                if let Some(meta) = template.as_object_mut().map(|t| {
                    t.entry("metadata")
                        .or_insert_with(|| Value::Object(Map::new()))
                }) {
                    if let Some(labels) = meta.as_object_mut().map(|m| {
                        m.entry("labels")
                            .or_insert_with(|| Value::Object(Map::new()))
                    }) {
                        labels[HASH_LABEL] = json!(suffix);
                    }
                }
                self.sets.push(SetRecord {
                    hash: current,
                    name: format!("{}-{suffix}", self.name),
                    revision: max_revision + 1,
                    history: Vec::new(),
                    template,
                    generation: 1,
                    replicas: 0,
                    pods: Vec::new(),
                    seen: Vec::new(),
                    named: 0,
                    written: None,
                    uid: String::new(),
                    counts: (0, 0, 0),
                    copied: Map::new(),
                    copies: 0,
                    fingerprint: None,
                });
            }
            Some(set) if set.revision < max_revision => {
                // Rolling back to this template: it takes the next revision and remembers
                // the old one (SetNewReplicaSetAnnotations).
                set.history.push(set.revision);
                set.revision = max_revision + 1;
            }
            Some(_) => {}
        }
        if let Some(set) = self.sets.iter_mut().find(|s| s.hash == current) {
            let copied = copied_annotations(deployment);
            if copied != set.copied {
                set.copied = copied;
                set.copies += 1;
            }
        }
        // A new ReplicaSet is created at the size the controller can give it before any
        // old one scales down (sync.go `getNewReplicaSet` with `NewRSNewReplicas`): up to
        // replicas + maxSurge pods in total, so 0 when maxSurge is 0.
        if let Some(i) = self
            .sets
            .iter()
            .position(|s| s.hash == current && s.uid.is_empty() && s.written.is_none())
        {
            let others: u64 = self
                .sets
                .iter()
                .filter(|s| s.hash != current)
                .map(|s| s.replicas)
                .sum();
            let initial = spec.replicas.min(
                spec.replicas
                    .saturating_add(spec.max_surge)
                    .saturating_sub(others),
            );
            self.sets[i].replicas = initial;
            self.sets[i].counts = (initial, 0, 0);
            if initial > 0 {
                events.record(
                    store,
                    deployment,
                    "Deployment",
                    false,
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled up replica set {} to {initial} from 0",
                        self.sets[i].name
                    ),
                    "deployment-controller",
                );
            }
            let object = self.render_set(i, deployment, rollout);
            if let Some(written) = store.put_owned(
                Resource::ReplicaSet,
                &self.namespace,
                &self.sets[i].name,
                object.clone(),
            ) {
                self.sets[i].uid = written
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            self.sets[i].written = Some(object);
        }
        let revision = self
            .sets
            .iter()
            .find(|s| s.hash == current)
            .map_or(1, |s| s.revision)
            .to_string();
        // Most syncs find the annotation in place: look before copying the object.
        let shown = deployment
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(REVISION))
            .and_then(Value::as_str);
        if shown != Some(revision.as_str()) {
            store.update_owned(Resource::Deployment, &self.namespace, &self.name, |d| {
                if d.pointer("/metadata/deletionTimestamp").is_none() {
                    let meta = d
                        .as_object_mut()
                        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
                    if let Some(annotations) = meta.and_then(|m| {
                        m.as_object_mut()
                            .map(|m| m.entry("annotations").or_insert_with(|| json!({})))
                    }) {
                        annotations[REVISION] = json!(revision);
                    }
                }
            });
        }

        let mut cohorts: HashMap<u64, Vec<(Option<Instant>, u64)>> = HashMap::new();
        for (hash, ready_at, count) in rollout.cohorts() {
            cohorts.entry(hash).or_default().push((ready_at, count));
        }
        let mut changes = Vec::with_capacity(self.sets.len());
        let mut gone = Vec::new();
        for i in 0..self.sets.len() {
            let wanted = cohorts.remove(&self.sets[i].hash).unwrap_or_default();
            let mut counts = (0, 0, 0);
            for (ready_at, n) in &wanted {
                counts.0 += n;
                if ready_at.is_some_and(|r| r <= now) {
                    counts.1 += n;
                }
                if rollout.available_at(*ready_at, now) {
                    counts.2 += n;
                }
            }
            self.sets[i].counts = counts;
            changes.push(self.reconcile_pods(i, wanted, budget));
            let set = &mut self.sets[i];
            let count = counts.0;
            if count != set.replicas {
                let verb = if count > set.replicas { "up" } else { "down" };
                events.record(
                    store,
                    deployment,
                    "Deployment",
                    false,
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled {verb} replica set {} to {count} from {}",
                        set.name, set.replicas
                    ),
                    "deployment-controller",
                );
                set.replicas = count;
                set.generation += 1;
            }
        }
        let mut doomed = Vec::new();
        if rollout.view(&self.name, now).complete {
            doomed = self.clean_up(store, deployment);
        }
        for (i, change) in changes.into_iter().enumerate() {
            if doomed.contains(&i) {
                continue;
            }
            // Rendering is skipped while nothing it reads changed.
            let fingerprint = Fingerprint {
                body: (
                    self.sets[i].counts,
                    self.sets[i].revision,
                    self.sets[i].history.len(),
                    self.sets[i].generation,
                    (rollout.spec().replicas, rollout.spec().max_surge),
                    deployment
                        .get("spec")
                        .and_then(|m| m.get("minReadySeconds"))
                        .cloned(),
                ),
                copies: self.sets[i].copies,
            };
            let last = self.sets[i].fingerprint.as_ref();
            let same_body = last.is_some_and(|f| f.body == fingerprint.body);
            let same_copies = last.is_some_and(|f| f.copies == fingerprint.copies);
            let settled = !resync && !self.sets[i].uid.is_empty();
            let patchable = settled && same_body && self.sets[i].written.is_some();
            if patchable && !same_copies {
                // Only the copied annotations moved (an annotation of the Deployment
                // changed): put them into the last write rather than render it all again.
                let annotations = self.annotations(i, rollout);
                let set = &mut self.sets[i];
                if let Some(meta) = set
                    .written
                    .as_mut()
                    .and_then(|w| w.get_mut("metadata"))
                    .and_then(Value::as_object_mut)
                {
                    meta.insert("annotations".into(), Value::Object(annotations));
                }
                if let Some(written) = &set.written {
                    store.put_owned(
                        Resource::ReplicaSet,
                        &self.namespace,
                        &set.name,
                        written.clone(),
                    );
                }
                set.fingerprint = Some(fingerprint.clone());
            }
            if patchable || (settled && same_body && same_copies) {
                let mut change = change;
                gone.push((i, std::mem::take(&mut change.deleted)));
                self.write_pods(store, events, i, change, now, resync);
                continue;
            }
            self.sets[i].fingerprint = Some(fingerprint);
            let object = self.render_set(i, deployment, rollout);
            let set = &mut self.sets[i];
            let missing = resync
                && store
                    .get(Resource::ReplicaSet, &self.namespace, &set.name)
                    .is_err();
            if set.written.as_ref() != Some(&object) || missing || set.uid.is_empty() {
                if let Some(written) = store.put_owned(
                    Resource::ReplicaSet,
                    &self.namespace,
                    &set.name,
                    object.clone(),
                ) {
                    set.uid = written
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                } else if let Ok(existing) =
                    store.get(Resource::ReplicaSet, &self.namespace, &set.name)
                {
                    set.uid = existing
                        .pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                }
                set.written = Some(object);
            }
            let mut change = change;
            gone.push((i, std::mem::take(&mut change.deleted)));
            self.write_pods(store, events, i, change, now, resync);
        }
        // Pods go after every new pod's readiness is written: a watcher never sees an old
        // pod deleted before the new one it waited for is Ready (as on a real cluster,
        // where the kubelet reports readiness before the controller scales down).
        for (i, deleted) in gone {
            self.delete_pods(store, events, i, &deleted);
        }
        let mut index = 0;
        self.sets.retain(|_| {
            let keep = !doomed.contains(&index);
            index += 1;
            keep
        });
    }

    /// Old ReplicaSets without pods beyond `revisionHistoryLimit` go, oldest revision first
    /// (sync.go `cleanupDeployment`, run once the rollout is complete).
    fn clean_up(&mut self, store: &Store, deployment: &Value) -> Vec<usize> {
        let limit = deployment
            .pointer("/spec/revisionHistoryLimit")
            .and_then(Value::as_u64)
            .unwrap_or(10) as usize;
        let current = self.sets.iter().map(|s| s.revision).max().unwrap_or(0);
        let mut old: Vec<(u64, usize)> = self
            .sets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.revision != current)
            .map(|(i, s)| (s.revision, i))
            .collect();
        if old.len() <= limit {
            return Vec::new();
        }
        old.sort();
        let excess = old.len() - limit;
        let doomed: Vec<usize> = old
            .into_iter()
            .filter(|(_, i)| self.sets[*i].counts.0 == 0)
            .take(excess)
            .map(|(_, i)| i)
            .collect();
        for &i in &doomed {
            store.remove_owned(Resource::ReplicaSet, &self.namespace, &self.sets[i].name);
        }
        doomed
    }

    /// Matches the pods of set `i` to the model's cohorts of its revision: pods whose ready
    /// time is still wanted stay, others are re-timed, deleted, or created.
    fn reconcile_pods(
        &mut self,
        i: usize,
        mut wanted: Vec<(Option<Instant>, u64)>,
        budget: &mut PodBudget,
    ) -> PodChanges {
        wanted.sort_by_key(|(r, _)| order_key(*r));
        let set = &mut self.sets[i];
        let mut changes = PodChanges::default();
        if wanted == set.seen {
            return changes;
        }
        // This set may keep its pods plus whatever the emulator-wide budget has left.
        let allowed = set.pods.len() + budget.limit.saturating_sub(budget.live);
        let mut slots: Vec<Option<Instant>> = Vec::new();
        for (ready_at, count) in &wanted {
            let room = allowed - slots.len();
            if room == 0 {
                break;
            }
            slots.extend(std::iter::repeat_n(
                *ready_at,
                (*count).min(room as u64) as usize,
            ));
        }
        let before = set.pods.len();
        set.pods.sort_by_key(|p| order_key(p.ready_at));
        // Exact matches stay as they are.
        let (mut a, mut b) = (0, 0);
        let mut keep = vec![false; set.pods.len()];
        let mut used = vec![false; slots.len()];
        while a < set.pods.len() && b < slots.len() {
            let (pa, sb) = (order_key(set.pods[a].ready_at), order_key(slots[b]));
            if pa == sb {
                keep[a] = true;
                used[b] = true;
                a += 1;
                b += 1;
            } else if pa < sb {
                a += 1;
            } else {
                b += 1;
            }
        }
        let mut free = slots
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(s, _)| *s);
        let mut survivors = Vec::with_capacity(slots.len());
        for (mut pod, kept) in std::mem::take(&mut set.pods).into_iter().zip(keep) {
            if kept {
                survivors.push(pod);
                continue;
            }
            match free.next() {
                Some(ready_at) => {
                    pod.ready_at = ready_at;
                    pod.shown_ready = false;
                    changes.retimed.push(survivors.len());
                    survivors.push(pod);
                }
                None => changes.deleted.push(pod.name.into()),
            }
        }
        for ready_at in free {
            let name = format!("{}-{}", set.name, pod_suffix(set.hash, set.named));
            set.named += 1;
            changes.created.push(name.clone());
            changes.retimed.push(survivors.len());
            survivors.push(PodRecord {
                name: name.into(),
                ready_at,
                shown_ready: false,
            });
        }
        let truncated = (slots.len() as u64) < wanted.iter().map(|(_, n)| n).sum::<u64>();
        set.pods = survivors;
        // Cut short by the pod budget: look again next time (budget may have been freed).
        set.seen = if truncated { Vec::new() } else { wanted };
        budget.live = (budget.live + set.pods.len()).saturating_sub(before);
        changes
    }

    /// Writes set `i`'s pods that changed (created, re-timed, became ready, or deleted by a
    /// client when `resync`), deletes the ones gone, and records the pod events.
    fn write_pods(
        &mut self,
        store: &Store,
        events: &mut Events,
        i: usize,
        changes: PodChanges,
        now: Instant,
        resync: bool,
    ) {
        let namespace = self.namespace.clone();
        let set = &mut self.sets[i];
        // Read only when a pod is rendered (most syncs render none).
        let broken = std::cell::OnceCell::new();
        let broken = || {
            *broken.get_or_init(|| {
                super::rollout::images(&set.template)
                    .iter()
                    .any(|i| i.contains("broken"))
            })
        };
        let retimed: std::collections::HashSet<usize> = changes.retimed.into_iter().collect();
        for (index, pod) in set.pods.iter_mut().enumerate() {
            let ready = pod.ready_at.is_some_and(|r| r <= now);
            let missing = resync && store.get(Resource::Pod, &namespace, &pod.name).is_err();
            if ready != pod.shown_ready || retimed.contains(&index) || missing {
                pod.shown_ready = ready;
                let object = render_pod(
                    &namespace,
                    &set.name,
                    &set.uid,
                    &set.template,
                    &pod.name,
                    ready,
                    broken(),
                );
                store.put_owned(Resource::Pod, &namespace, &pod.name, object);
            }
        }
        if changes.created.is_empty() {
            return;
        }
        let Ok(rs_object) = store.get(Resource::ReplicaSet, &namespace, &set.name) else {
            return;
        };
        for name in changes.created.iter().take(POD_EVENTS_PER_STEP) {
            events.record(
                store,
                &rs_object,
                "ReplicaSet",
                false,
                "SuccessfulCreate",
                &format!("Created pod: {name}"),
                "replicaset-controller",
            );
        }
    }

    /// Deletes set `i`'s pods that the model scaled away, with their events.
    fn delete_pods(&mut self, store: &Store, events: &mut Events, i: usize, deleted: &[String]) {
        if deleted.is_empty() {
            return;
        }
        let set = &self.sets[i];
        for name in deleted {
            store.remove_owned(Resource::Pod, &self.namespace, name);
        }
        let Ok(rs_object) = store.get(Resource::ReplicaSet, &self.namespace, &set.name) else {
            return;
        };
        for name in deleted.iter().take(POD_EVENTS_PER_STEP) {
            events.record(
                store,
                &rs_object,
                "ReplicaSet",
                false,
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
                "replicaset-controller",
            );
        }
    }

    /// Set `i`'s annotations: the copied ones plus the deployment controller's own.
    fn annotations(&self, i: usize, rollout: &Rollout) -> Map<String, Value> {
        let set = &self.sets[i];
        let spec = rollout.spec();
        let mut annotations = set.copied.clone();
        annotations.insert(REVISION.into(), json!(set.revision.to_string()));
        if !set.history.is_empty() {
            let text: Vec<String> = set.history.iter().map(u64::to_string).collect();
            annotations.insert(REVISION_HISTORY.into(), json!(text.join(",")));
        }
        annotations.insert(DESIRED_REPLICAS.into(), json!(spec.replicas.to_string()));
        annotations.insert(
            MAX_REPLICAS.into(),
            json!((spec.replicas.saturating_add(spec.max_surge)).to_string()),
        );
        annotations
    }

    /// Set `i` as the ReplicaSet object the controller writes. Parts taken from other
    /// values are moved in after `json!`, which would copy them by serializing.
    fn render_set(&self, i: usize, deployment: &Value, rollout: &Rollout) -> Value {
        let set = &self.sets[i];
        let annotations = self.annotations(i, rollout);
        let labels = set
            .template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut selector = deployment
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let suffix = labels.get(HASH_LABEL).cloned().unwrap_or(Value::Null);
        if let Some(sel) = selector.as_object_mut() {
            let match_labels = sel.entry("matchLabels").or_insert_with(|| json!({}));
            match_labels[HASH_LABEL] = suffix;
        }
        let (replicas, ready, available) = set.counts;
        let mut status = Map::new();
        status.insert("replicas".into(), json!(replicas));
        if replicas > 0 {
            status.insert("fullyLabeledReplicas".into(), json!(replicas));
        }
        if ready > 0 {
            status.insert("readyReplicas".into(), json!(ready));
        }
        if available > 0 {
            status.insert("availableReplicas".into(), json!(available));
        }
        status.insert("observedGeneration".into(), json!(set.generation));
        let min_ready = deployment
            .pointer("/spec/minReadySeconds")
            .cloned()
            .unwrap_or(json!(0));
        let mut object = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": set.name,
                "namespace": self.namespace,
                "generation": set.generation,
                "labels": null,
                "annotations": null,
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": self.name,
                    "uid": self.uid, "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": null,
                "selector": null,
                "template": null,
            },
            "status": null,
        });
        object["metadata"]["labels"] = labels;
        object["metadata"]["annotations"] = Value::Object(annotations);
        object["spec"]["minReadySeconds"] = min_ready;
        object["spec"]["selector"] = selector;
        object["spec"]["template"] = set.template.clone();
        object["status"] = Value::Object(status);
        object
    }

    /// Takes the Deployment's uid (to find its ReplicaSets when nothing was tracked yet).
    pub(crate) fn adopt(&mut self, deployment: &Value) {
        if let Some(uid) = deployment.pointer("/metadata/uid").and_then(Value::as_str) {
            self.uid = uid.to_string();
        }
    }

    /// Deletes every Pod and ReplicaSet of this Deployment (garbage collection).
    pub(crate) fn collect(&mut self, store: &Store, budget: &mut PodBudget) {
        if !self.loaded {
            self.load(store);
        }
        for set in self.sets.drain(..) {
            budget.live = budget.live.saturating_sub(set.pods.len());
            for pod in &set.pods {
                store.remove_owned(Resource::Pod, &self.namespace, &pod.name);
            }
            store.remove_owned(Resource::ReplicaSet, &self.namespace, &set.name);
        }
    }
}

/// A kwok-style Pod: scheduled at once on a fake node; Running and Ready once its start
/// delay has passed; a broken image waits in `ErrImagePull` forever.
fn render_pod(
    namespace: &str,
    rs_name: &str,
    rs_uid: &str,
    template: &Value,
    name: &str,
    ready: bool,
    broken: bool,
) -> Value {
    let node = {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h % FAKE_NODES
    };
    let labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let containers: Vec<Value> = template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut slim = Map::new();
                    for key in ["name", "image", "ports"] {
                        if let Some(v) = c.get(key) {
                            slim.insert(key.into(), v.clone());
                        }
                    }
                    Value::Object(slim)
                })
                .collect()
        })
        .unwrap_or_default();
    let state = |c: &Value| {
        let state = if ready {
            json!({"running": {}})
        } else if broken {
            json!({"waiting": {"reason": "ErrImagePull",
                "message": format!("failed to pull image {:?}: not found", c.get("image").and_then(Value::as_str).unwrap_or(""))}})
        } else {
            json!({"waiting": {"reason": "ContainerCreating"}})
        };
        json!({"name": c.get("name"), "image": c.get("image"), "ready": ready,
               "restartCount": 0, "started": ready, "state": state})
    };
    let statuses: Vec<Value> = containers.iter().map(state).collect();
    let truth = if ready { "True" } else { "False" };
    let mut status = json!({
        "phase": if ready { "Running" } else { "Pending" },
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": truth},
            {"type": "Ready", "status": truth},
        ],
        "containerStatuses": statuses,
        "hostIP": format!("10.{}.{}.1", node / 256, node % 256),
    });
    if ready {
        status["podIP"] = json!(format!("10.244.{}.{}", node % 250, 2 + (name.len() % 250)));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": format!("{rs_name}-"),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                "uid": rs_uid, "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": {"nodeName": format!("pushpull-node-{node}"), "containers": containers},
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_suffixes_do_not_repeat_within_a_replica_set() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..200_000 {
            assert!(seen.insert(pod_suffix(42, n)), "repeat at {n}");
        }
    }
}
