//! The kwok-style rollout model for one Deployment, sans-IO: it is told the spec and the
//! time, creates and removes simulated pods the way the deployment controller would
//! (maxSurge / maxUnavailable, Recreate), and reports the status numbers and conditions.
//! It never reads a clock; `controller.rs` drives it in real time. Pods are kept as
//! cohorts (a count sharing one revision and ready time), so memory does not grow with
//! `replicas`, and every instant computation is checked: no spec can overflow it.

use std::time::{Duration, Instant};

use serde_json::Value;

/// Up to this many pods of one scale-up get their own start delay; a larger scale-up is
/// split into this many equal cohorts, each with one drawn delay (the ready times are
/// then the distribution's quantiles rather than one draw per pod).
const SAMPLED_PODS_PER_BATCH: u64 = 256;

/// Above this many cohorts the model merges them (available ones per revision, then
/// not-yet-available ones pairwise, keeping the later ready time).
const MAX_COHORTS: usize = 1024;

/// The largest `replicas` the model accepts: Kubernetes' int32 bound.
const MAX_REPLICAS: u64 = i32::MAX as u64;

/// What the rollout model needs from a Deployment's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub generation: i64,
    pub replicas: u64,
    pub template_hash: u64,
    /// An image containing `broken`: pods never become ready.
    pub broken: bool,
    pub max_surge: u64,
    pub max_unavailable: u64,
    pub recreate: bool,
    pub progress_deadline: Duration,
    pub min_ready: Duration,
    pub paused: bool,
}

/// `secs` seconds stretched by `time_scale`, saturating at `Duration::MAX` instead of
/// panicking (a deadline that large simply never expires).
fn scaled_seconds(secs: u64, time_scale: f64) -> Duration {
    Duration::try_from_secs_f64(secs as f64 * time_scale.max(0.0)).unwrap_or(Duration::MAX)
}

impl RolloutSpec {
    /// Reads a Deployment object, applying API defaults; `time_scale` stretches the
    /// deadline and minReadySeconds like every other delay in live modes. Values the API
    /// validation refuses are clamped here too, so no object can make the model overflow.
    pub fn from_deployment(object: &Value, time_scale: f64) -> RolloutSpec {
        let spec = object.get("spec").unwrap_or(&Value::Null);
        let replicas = spec
            .get("replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .min(MAX_REPLICAS);
        let template = spec.get("template").unwrap_or(&Value::Null);
        let strategy = spec.get("strategy").unwrap_or(&Value::Null);
        let recreate = strategy.get("type").and_then(Value::as_str) == Some("Recreate");
        let rolling = strategy.get("rollingUpdate").unwrap_or(&Value::Null);
        let surge = resolve_int_or_percent(rolling.get("maxSurge"), replicas, true);
        let mut unavailable =
            resolve_int_or_percent(rolling.get("maxUnavailable"), replicas, false);
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        let seconds =
            |key: &str, default: u64| spec.get(key).and_then(Value::as_u64).unwrap_or(default);
        RolloutSpec {
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            replicas,
            template_hash: template_hash(template),
            broken: images(template).iter().any(|i| i.contains("broken")),
            max_surge: surge,
            max_unavailable: unavailable,
            recreate,
            progress_deadline: scaled_seconds(seconds("progressDeadlineSeconds", 600), time_scale),
            min_ready: scaled_seconds(seconds("minReadySeconds", 0), time_scale),
            paused: spec.get("paused").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// Container images of a pod template, in order.
pub fn images(template: &Value) -> Vec<String> {
    template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `25%` of `total`, rounded up for surge and down for unavailability (as upstream does);
/// defaults to 25% when unset. Saturates instead of overflowing (`f64 as u64` does).
fn resolve_int_or_percent(value: Option<&Value>, total: u64, round_up: bool) -> u64 {
    let percent = |p: f64| {
        let exact = p * total as f64 / 100.0;
        (if round_up {
            exact.ceil()
        } else {
            exact.floor()
        }) as u64
    };
    match value {
        None | Some(Value::Null) => percent(25.0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(percent).unwrap_or(0),
            None => s.trim().parse().unwrap_or(0),
        },
        Some(_) => 0,
    }
}

/// FNV-1a over everything written to it.
struct Fnv(u64);

impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for byte in buf {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the canonical template keeps anything of `value`. The canonical form leaves
/// out what does not change a template's meaning: nulls, empty objects and lists (a typed
/// client's round trip adds `creationTimestamp: null`, drops `{}`), and the
/// `pod-template-hash` label (`kubectl rollout undo` copies a ReplicaSet's template back).
fn kept(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.as_str() != "pod-template-hash" && kept(v)),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// Writes the canonical form's JSON text (keys in order, as `serde_json` prints a map)
/// straight into the hash, without building the canonical value. A list item that is
/// not kept is written as `null`, so positions still count.
fn write_canonical(value: &Value, out: &mut Fnv) {
    use std::io::Write;
    // Writing to `Fnv` cannot fail.
    match value {
        Value::Object(map) => {
            let _ = out.write(b"{");
            let mut first = true;
            for (key, v) in map {
                if key.as_str() == "pod-template-hash" || !kept(v) {
                    continue;
                }
                if !first {
                    let _ = out.write(b",");
                }
                first = false;
                let _ = serde_json::to_writer(&mut *out, key);
                let _ = out.write(b":");
                write_canonical(v, out);
            }
            let _ = out.write(b"}");
        }
        Value::Array(items) => {
            let _ = out.write(b"[");
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    let _ = out.write(b",");
                }
                if kept(item) {
                    write_canonical(item, out);
                } else {
                    let _ = out.write(b"null");
                }
            }
            let _ = out.write(b"]");
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// FNV-1a over the template's canonical JSON: equal templates, equal revisions. Runs on
/// every Deployment write, so the text is hashed as it is written, never held.
pub fn template_hash(template: &Value) -> u64 {
    let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
    if kept(template) {
        write_canonical(template, &mut hash);
    }
    hash.0
}

/// The `pod-template-hash` suffix of a ReplicaSet name (10 characters of the safe alphabet).
pub fn hash_suffix(hash: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = hash;
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// `count` simulated pods of one revision that become ready at the same instant.
#[derive(Debug, Clone)]
struct Cohort {
    revision: u64,
    /// `None`: never ready (broken image, or a start delay beyond any representable instant).
    ready_at: Option<Instant>,
    count: u64,
}

/// A condition as the status should show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionView {
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The status numbers and conditions at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    pub observed_generation: i64,
    pub replicas: u64,
    pub updated_replicas: u64,
    pub ready_replicas: u64,
    pub available_replicas: u64,
    pub unavailable_replicas: u64,
    pub available: ConditionView,
    pub progressing: ConditionView,
    /// The rollout of `observed_generation` is complete (kubectl `rollout status` succeeds).
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct Rollout {
    spec: RolloutSpec,
    pods: Vec<Cohort>,
    /// When the rollout last made progress (the Progressing condition's lastUpdateTime).
    last_progress: Instant,
    timed_out: bool,
    counts: (u64, u64, u64, u64),
}

impl Rollout {
    pub fn new(now: Instant, spec: RolloutSpec) -> Rollout {
        Rollout {
            spec,
            pods: Vec::new(),
            last_progress: now,
            timed_out: false,
            counts: (0, 0, 0, 0),
        }
    }

    pub fn spec(&self) -> &RolloutSpec {
        &self.spec
    }

    /// Every simulated pod group: (revision, ready instant or never, count).
    pub fn cohorts(&self) -> impl Iterator<Item = (u64, Option<Instant>, u64)> + '_ {
        self.pods.iter().map(|c| (c.revision, c.ready_at, c.count))
    }

    /// Whether a pod that became ready at `ready_at` counts as available at `now`.
    pub fn available_at(&self, ready_at: Option<Instant>, now: Instant) -> bool {
        ready_at
            .and_then(|r| r.checked_add(self.spec.min_ready))
            .is_some_and(|t| t <= now)
    }

    /// How many cohorts the model holds (bounded by `MAX_COHORTS` plus one per revision).
    #[cfg(test)]
    fn cohort_count(&self) -> usize {
        self.pods.len()
    }

    /// A new spec; a changed template or replica count restarts the progress clock.
    pub fn set_spec(&mut self, now: Instant, spec: RolloutSpec) {
        if spec.template_hash != self.spec.template_hash || spec.replicas != self.spec.replicas {
            self.last_progress = now;
            self.timed_out = false;
        }
        self.spec = spec;
    }

    fn ready_by(cohort: &Cohort, now: Instant) -> bool {
        cohort.ready_at.is_some_and(|r| r <= now)
    }

    fn is_available(&self, cohort: &Cohort, now: Instant) -> bool {
        cohort
            .ready_at
            .and_then(|r| r.checked_add(self.spec.min_ready))
            .is_some_and(|t| t <= now)
    }

    /// When the progress deadline expires, if it is representable at all.
    fn deadline(&self) -> Option<Instant> {
        self.last_progress.checked_add(self.spec.progress_deadline)
    }

    /// Runs the controller to a fixed point at `now`. `start_delay` samples how long a new
    /// pod takes to become ready. Returns whether anything changed.
    pub fn advance(&mut self, now: Instant, start_delay: &mut dyn FnMut() -> Duration) -> bool {
        let mut changed = false;
        if !self.spec.paused {
            for _ in 0..64 {
                if !self.reconcile_once(now, start_delay) {
                    break;
                }
                changed = true;
            }
        }
        let view = self.counts_at(now);
        if view != self.counts {
            let (updated, ready, available, total) = view;
            let (p_updated, p_ready, p_available, p_total) = self.counts;
            let old_before = p_total - p_updated.min(p_total);
            let old_now = total - updated.min(total);
            if updated > p_updated
                || ready > p_ready
                || available > p_available
                || old_now < old_before
            {
                self.last_progress = now;
                self.timed_out = false;
            }
            self.counts = view;
            changed = true;
        }
        if !self.is_complete(now)
            && !self.timed_out
            && self.deadline().is_some_and(|deadline| now >= deadline)
        {
            self.timed_out = true;
            changed = true;
        }
        changed
    }

    /// (updated, ready, available, total) at `now`.
    fn counts_at(&self, now: Instant) -> (u64, u64, u64, u64) {
        let mut counts = (0u64, 0u64, 0u64, 0u64);
        for c in &self.pods {
            if c.revision == self.spec.template_hash {
                counts.0 += c.count;
            }
            if Self::ready_by(c, now) {
                counts.1 += c.count;
            }
            if self.is_available(c, now) {
                counts.2 += c.count;
            }
            counts.3 += c.count;
        }
        counts
    }

    fn count_where(&self, which: impl Fn(&Cohort) -> bool) -> u64 {
        self.pods.iter().filter(|c| which(c)).map(|c| c.count).sum()
    }

    fn add_pods(&mut self, count: u64, now: Instant, start_delay: &mut dyn FnMut() -> Duration) {
        if count == 0 {
            return;
        }
        let batches = count.min(SAMPLED_PODS_PER_BATCH);
        let (base, extra) = (count / batches, count % batches);
        for i in 0..batches {
            let ready_at = if self.spec.broken {
                None
            } else {
                now.checked_add(start_delay())
            };
            self.pods.push(Cohort {
                revision: self.spec.template_hash,
                ready_at,
                count: base + u64::from(i < extra),
            });
        }
        if self.pods.len() > MAX_COHORTS {
            self.compact(now);
        }
    }

    /// Merges cohorts so that at most about `MAX_COHORTS` remain: per revision, the ones
    /// already available (indistinguishable from each other) and the never-ready ones
    /// become one cohort each; then not-yet-available ones are merged pairwise in ready
    /// order, the pair becoming ready at the later of the two instants.
    fn compact(&mut self, now: Instant) {
        let mut revisions: Vec<u64> = Vec::new();
        for c in &self.pods {
            if !revisions.contains(&c.revision) {
                revisions.push(c.revision);
            }
        }
        let mut groups: Vec<(Vec<Cohort>, Vec<Cohort>)> = Vec::new();
        for revision in &revisions {
            let mut settled: Vec<Cohort> = Vec::new();
            let mut pending: Vec<Cohort> = Vec::new();
            for c in self.pods.iter().filter(|c| c.revision == *revision) {
                let slot = if c.ready_at.is_none() || self.is_available(c, now) {
                    settled
                        .iter_mut()
                        .find(|s| s.ready_at.is_none() == c.ready_at.is_none())
                } else {
                    None
                };
                match slot {
                    Some(s) => {
                        s.count += c.count;
                        s.ready_at = s.ready_at.max(c.ready_at);
                    }
                    None if c.ready_at.is_none() || self.is_available(c, now) => {
                        settled.push(c.clone())
                    }
                    None => pending.push(c.clone()),
                }
            }
            pending.sort_by_key(|c| c.ready_at);
            groups.push((settled, pending));
        }
        let total = |groups: &[(Vec<Cohort>, Vec<Cohort>)]| {
            groups.iter().map(|(s, p)| s.len() + p.len()).sum::<usize>()
        };
        while total(&groups) > MAX_COHORTS && groups.iter().any(|(_, p)| p.len() > 1) {
            for (_, pending) in groups.iter_mut() {
                let merged: Vec<Cohort> = pending
                    .chunks(2)
                    .map(|pair| Cohort {
                        revision: pair[0].revision,
                        ready_at: pair.iter().filter_map(|c| c.ready_at).max(),
                        count: pair.iter().map(|c| c.count).sum(),
                    })
                    .collect();
                *pending = merged;
            }
        }
        self.pods = groups
            .into_iter()
            .flat_map(|(settled, pending)| settled.into_iter().chain(pending))
            .collect();
    }

    /// Removes up to `count` pods matching `which`, unavailable ones first, newest first.
    fn remove_pods(&mut self, count: u64, now: Instant, which: impl Fn(&Cohort) -> bool) -> u64 {
        let mut removed = 0;
        for unavailable_pass in [true, false] {
            for i in (0..self.pods.len()).rev() {
                if removed >= count {
                    break;
                }
                let available = self.is_available(&self.pods[i], now);
                let cohort = &mut self.pods[i];
                if which(cohort) && available != unavailable_pass {
                    let take = cohort.count.min(count - removed);
                    cohort.count -= take;
                    removed += take;
                }
            }
        }
        self.pods.retain(|c| c.count > 0);
        removed
    }

    fn reconcile_once(&mut self, now: Instant, start_delay: &mut dyn FnMut() -> Duration) -> bool {
        let current = self.spec.template_hash;
        let desired = self.spec.replicas;
        let is_new = move |c: &Cohort| c.revision == current;
        let is_old = move |c: &Cohort| c.revision != current;
        let new_count = self.count_where(is_new);
        let old_count = self.count_where(is_old);

        if self.spec.recreate && old_count > 0 {
            self.pods.retain(is_new);
            return true;
        }
        if new_count > desired {
            return self.remove_pods(new_count - desired, now, is_new) > 0;
        }
        if old_count == 0 || self.spec.recreate {
            if new_count < desired {
                self.add_pods(desired - new_count, now, start_delay);
                return true;
            }
            return false;
        }

        let mut changed = false;
        let total = new_count + old_count;
        let max_total = desired.saturating_add(self.spec.max_surge);
        if new_count < desired && total < max_total {
            self.add_pods(
                (desired - new_count).min(max_total - total),
                now,
                start_delay,
            );
            changed = true;
        }

        let total = self.count_where(|_| true);
        let min_available = desired.saturating_sub(self.spec.max_unavailable);
        let new_unavailable = self.count_where(|c| is_new(c) && !self.is_available(c, now));
        let max_scaled_down = total.saturating_sub(min_available.saturating_add(new_unavailable));
        if max_scaled_down > 0 {
            // Unhealthy old pods go first, oldest first, up to the scale-down budget.
            let mut budget = max_scaled_down;
            for i in 0..self.pods.len() {
                if budget == 0 {
                    break;
                }
                let unhealthy_old = is_old(&self.pods[i]) && !self.is_available(&self.pods[i], now);
                if unhealthy_old {
                    let take = self.pods[i].count.min(budget);
                    self.pods[i].count -= take;
                    budget -= take;
                    changed = true;
                }
            }
            self.pods.retain(|c| c.count > 0);
            let available = self.count_where(|c| self.is_available(c, now));
            if available > min_available
                && self.remove_pods(available - min_available, now, is_old) > 0
            {
                changed = true;
            }
        }
        changed
    }

    fn is_complete(&self, now: Instant) -> bool {
        let (updated, _, available, total) = self.counts_at(now);
        let r = self.spec.replicas;
        updated == r && available == r && total == r
    }

    /// The earliest future instant at which the status can change by itself.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let pod_events = self
            .pods
            .iter()
            .filter_map(|c| c.ready_at)
            .flat_map(|r| [Some(r), r.checked_add(self.spec.min_ready)])
            .flatten()
            .filter(|t| *t > now);
        let deadline = (!self.is_complete(now) && !self.timed_out && !self.spec.paused)
            .then(|| self.deadline())
            .flatten();
        pod_events.chain(deadline).min()
    }

    /// The status a Deployment named `name` shows at `now`.
    pub fn view(&self, name: &str, now: Instant) -> StatusView {
        let (updated, ready, available, total) = self.counts_at(now);
        let desired = self.spec.replicas;
        let r = desired;
        let complete = updated == r && available == r && total == r;
        let rs_name = format!("{name}-{}", hash_suffix(self.spec.template_hash));
        let min_available = desired.saturating_sub(self.spec.max_unavailable);
        let available_cond = if available >= min_available {
            ConditionView {
                status: true,
                reason: "MinimumReplicasAvailable",
                message: "Deployment has minimum availability.".into(),
            }
        } else {
            ConditionView {
                status: false,
                reason: "MinimumReplicasUnavailable",
                message: "Deployment does not have minimum availability.".into(),
            }
        };
        let progressing = if complete {
            ConditionView {
                status: true,
                reason: "NewReplicaSetAvailable",
                message: format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            }
        } else if self.timed_out {
            ConditionView {
                status: false,
                reason: "ProgressDeadlineExceeded",
                message: format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            }
        } else {
            ConditionView {
                status: true,
                reason: "ReplicaSetUpdated",
                message: format!("ReplicaSet \"{rs_name}\" is progressing."),
            }
        };
        StatusView {
            observed_generation: self.spec.generation,
            replicas: total,
            updated_replicas: updated,
            ready_replicas: ready,
            available_replicas: available,
            unavailable_replicas: desired.saturating_sub(available),
            available: available_cond,
            progressing,
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The canonical template as a value (what `template_hash` streams).
    fn canonical(value: &Value) -> Option<Value> {
        match value {
            Value::Null => None,
            Value::Object(map) => {
                let kept: serde_json::Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "pod-template-hash")
                    .filter_map(|(k, v)| canonical(v).map(|v| (k.clone(), v)))
                    .collect();
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Value::Array(items) if items.is_empty() => None,
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .map(|v| canonical(v).unwrap_or(Value::Null))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }

    #[test]
    fn streamed_template_hash_is_fnv_of_the_canonical_json_text() {
        let templates = [
            json!(null),
            json!({}),
            json!({"metadata": {"creationTimestamp": null, "labels": {"pod-template-hash": "x"}}}),
            json!({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"},
                                "annotations": {"q": "\"quoted\" \u{e9}\u{1}\n"}},
                   "spec": {"containers": [{"name": "app", "image": "nginx:1", "ports": [],
                                            "env": [{"name": "A", "value": null}, {}, [], 1.5, -3]}],
                            "volumes": [], "terminationGracePeriodSeconds": 30, "x": {"y": {}}}}),
        ];
        for template in templates {
            let text = canonical(&template)
                .map(|t| serde_json::to_string(&t).expect("serializes"))
                .unwrap_or_default();
            let mut expected: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in text.bytes() {
                expected ^= u64::from(byte);
                expected = expected.wrapping_mul(0x0000_0100_0000_01b3);
            }
            assert_eq!(template_hash(&template), expected, "{template}");
        }
        let with_hash = json!({"metadata": {"labels": {"app": "a", "pod-template-hash": "z"}}});
        let without = json!({"metadata": {"labels": {"app": "a"}, "annotations": {}}});
        assert_eq!(template_hash(&with_hash), template_hash(&without));
    }

    fn deployment(image: &str, replicas: u64, deadline: u64) -> Value {
        json!({"metadata": {"generation": 1}, "spec": {
            "replicas": replicas, "progressDeadlineSeconds": deadline,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    /// Drives the model like the controller does, returning the peak pod count seen.
    fn run_until_stable(rollout: &mut Rollout, start: Instant, delay: Duration) -> (Instant, u64) {
        let mut now = start;
        let mut peak = 0;
        let mut sampler = || delay;
        for _ in 0..1000 {
            rollout.advance(now, &mut sampler);
            peak = peak.max(rollout.view("d", now).replicas);
            match rollout.next_wake(now) {
                Some(t) => now = t,
                None => break,
            }
        }
        (now, peak)
    }

    #[test]
    fn percentages_round_like_upstream() {
        assert_eq!(resolve_int_or_percent(Some(&json!("25%")), 3, true), 1);
        assert_eq!(resolve_int_or_percent(Some(&json!("25%")), 3, false), 0);
        assert_eq!(resolve_int_or_percent(None, 10, false), 2);
        assert_eq!(resolve_int_or_percent(Some(&json!(2)), 10, false), 2);
    }

    #[test]
    fn initial_rollout_completes_after_start_delay() {
        let start = Instant::now();
        let mut rollout = Rollout::new(
            start,
            RolloutSpec::from_deployment(&deployment("nginx", 3, 600), 1.0),
        );
        let (end, _) = run_until_stable(&mut rollout, start, Duration::from_millis(100));
        let view = rollout.view("d", end);
        assert!(view.complete);
        assert_eq!(
            (
                view.replicas,
                view.updated_replicas,
                view.available_replicas
            ),
            (3, 3, 3)
        );
        assert_eq!(view.progressing.reason, "NewReplicaSetAvailable");
        assert_eq!(end - start, Duration::from_millis(100));
    }

    #[test]
    fn rolling_update_respects_max_surge_and_unavailable() {
        let start = Instant::now();
        let spec = RolloutSpec::from_deployment(&deployment("nginx:1", 4, 600), 1.0);
        let mut rollout = Rollout::new(start, spec);
        let (t, _) = run_until_stable(&mut rollout, start, Duration::from_millis(100));
        let mut next = deployment("nginx:2", 4, 600);
        next["metadata"]["generation"] = json!(2);
        rollout.set_spec(t, RolloutSpec::from_deployment(&next, 1.0));
        // 25% of 4: surge 1, unavailable 1 => at most 5 pods, at least 3 available.
        let mut now = t;
        let mut sampler = || Duration::from_millis(100);
        for _ in 0..100 {
            rollout.advance(now, &mut sampler);
            let v = rollout.view("d", now);
            assert!(v.replicas <= 5, "surge exceeded: {v:?}");
            assert!(v.available_replicas >= 3, "too many unavailable: {v:?}");
            match rollout.next_wake(now) {
                Some(w) => now = w,
                None => break,
            }
        }
        let v = rollout.view("d", now);
        assert!(v.complete, "{v:?}");
        assert_eq!(v.observed_generation, 2);
    }

    #[test]
    fn broken_image_times_out_with_progress_deadline_exceeded() {
        let start = Instant::now();
        let mut rollout = Rollout::new(
            start,
            RolloutSpec::from_deployment(&deployment("nginx:1", 3, 5), 1.0),
        );
        let (t, _) = run_until_stable(&mut rollout, start, Duration::from_millis(10));
        rollout.set_spec(
            t,
            RolloutSpec::from_deployment(&deployment("nginx:broken", 3, 5), 1.0),
        );
        let (end, peak) = run_until_stable(&mut rollout, t, Duration::from_millis(10));
        let v = rollout.view("d", end);
        assert!(!v.complete);
        assert_eq!(v.progressing.reason, "ProgressDeadlineExceeded");
        assert!(!v.progressing.status);
        assert_eq!(end - t, Duration::from_secs(5));
        assert_eq!(peak, 4, "one surge pod, no old pod removed");
        assert_eq!(v.available_replicas, 3, "old pods keep serving");
        assert!(v.available.status);
    }

    #[test]
    fn recreate_removes_old_pods_first() {
        let start = Instant::now();
        let mut d = deployment("a:1", 2, 600);
        d["spec"]["strategy"] = json!({"type": "Recreate"});
        let mut rollout = Rollout::new(start, RolloutSpec::from_deployment(&d, 1.0));
        let (t, _) = run_until_stable(&mut rollout, start, Duration::from_millis(10));
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:2");
        rollout.set_spec(t, RolloutSpec::from_deployment(&d, 1.0));
        let (_, peak) = run_until_stable(&mut rollout, t, Duration::from_millis(10));
        assert_eq!(peak, 2);
    }

    #[test]
    fn a_hundred_million_replicas_are_simulated_by_count_in_bounded_memory() {
        let start = Instant::now();
        let mut rollout = Rollout::new(
            start,
            RolloutSpec::from_deployment(&deployment("a:1", 100_000_000, 600), 1.0),
        );
        let (t, _) = run_until_stable(&mut rollout, start, Duration::from_millis(10));
        let v = rollout.view("d", t);
        assert!(v.complete, "{v:?}");
        assert_eq!(v.available_replicas, 100_000_000);
        assert!(
            rollout.cohort_count() <= MAX_COHORTS,
            "{}",
            rollout.cohort_count()
        );
        let mut next = deployment("a:2", 100_000_000, 600);
        next["metadata"]["generation"] = json!(2);
        rollout.set_spec(t, RolloutSpec::from_deployment(&next, 1.0));
        let mut now = t;
        let mut sampler = || Duration::from_millis(10);
        for _ in 0..1000 {
            rollout.advance(now, &mut sampler);
            let v = rollout.view("d", now);
            assert!(v.replicas <= 125_000_000, "surge exceeded: {v:?}");
            assert!(v.available_replicas >= 75_000_000, "{v:?}");
            assert!(
                rollout.cohort_count() <= MAX_COHORTS + 2,
                "{}",
                rollout.cohort_count()
            );
            match rollout.next_wake(now) {
                Some(w) => now = w,
                None => break,
            }
        }
        let v = rollout.view("d", now);
        assert!(v.complete, "{v:?}");
        assert_eq!(v.updated_replicas, 100_000_000);
    }

    #[test]
    fn cohorts_stay_bounded_when_pods_start_at_many_different_times() {
        let start = Instant::now();
        let mut rollout = Rollout::new(
            start,
            RolloutSpec::from_deployment(&deployment("a:1", 1_000_000, 600), 1.0),
        );
        let mut i = 0u64;
        let mut sampler = || {
            i += 1;
            Duration::from_millis(i % 5000)
        };
        let mut now = start;
        for step in 0..200 {
            rollout.advance(now, &mut sampler);
            assert!(
                rollout.cohort_count() <= MAX_COHORTS,
                "step {step}: {}",
                rollout.cohort_count()
            );
            match rollout.next_wake(now) {
                Some(w) => now = w,
                None => break,
            }
        }
        assert!(rollout.view("d", now).replicas == 1_000_000);
    }

    #[test]
    fn overflowing_deadlines_and_delays_never_panic() {
        let start = Instant::now();
        let mut d = deployment("a:1", 3, 9_300_000_000_000_000_000);
        d["spec"]["minReadySeconds"] = json!(u64::MAX);
        for scale in [1.0, 2.0, 1e300, f64::INFINITY] {
            let mut rollout = Rollout::new(start, RolloutSpec::from_deployment(&d, scale));
            let mut huge = || Duration::MAX;
            rollout.advance(start, &mut huge);
            assert!(!rollout.view("d", start).complete);
            assert_eq!(rollout.next_wake(start), None, "no representable wake-up");
            let later = start + Duration::from_secs(3600);
            rollout.advance(later, &mut huge);
            let v = rollout.view("d", later);
            assert_eq!(
                v.progressing.reason, "ReplicaSetUpdated",
                "deadline never expires"
            );
        }
    }

    #[test]
    fn scale_to_zero_is_complete() {
        let start = Instant::now();
        let mut rollout = Rollout::new(
            start,
            RolloutSpec::from_deployment(&deployment("a", 0, 600), 1.0),
        );
        rollout.advance(start, &mut || Duration::ZERO);
        assert!(rollout.view("d", start).complete);
    }
}
