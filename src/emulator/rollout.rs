//! The kwok-style rollout model for one Deployment, sans-IO: it is told the spec and the
//! time, creates and removes simulated pods the way the deployment controller would
//! (maxSurge / maxUnavailable, Recreate), and reports the status numbers and conditions.
//! It never reads a clock; `controller.rs` drives it in real time.

use std::time::{Duration, Instant};

use serde_json::Value;

/// What the rollout model needs from a Deployment's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub generation: i64,
    pub replicas: u32,
    pub template_hash: u64,
    /// An image containing `broken`: pods never become ready.
    pub broken: bool,
    pub max_surge: u32,
    pub max_unavailable: u32,
    pub recreate: bool,
    pub progress_deadline: Duration,
    pub min_ready: Duration,
    pub paused: bool,
}

impl RolloutSpec {
    /// Reads a Deployment object, applying API defaults; `time_scale` stretches the
    /// deadline and minReadySeconds like every other delay in live modes.
    pub fn from_deployment(object: &Value, time_scale: f64) -> RolloutSpec {
        let spec = object.get("spec").unwrap_or(&Value::Null);
        let replicas = spec.get("replicas").and_then(Value::as_u64).unwrap_or(1) as u32;
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
        let scale = |secs: u64| Duration::from_secs_f64(secs as f64 * time_scale.max(0.0));
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
            progress_deadline: scale(seconds("progressDeadlineSeconds", 600)),
            min_ready: scale(seconds("minReadySeconds", 0)),
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
/// defaults to 25% when unset.
fn resolve_int_or_percent(value: Option<&Value>, total: u32, round_up: bool) -> u32 {
    let percent = |p: f64| {
        let exact = p * f64::from(total) / 100.0;
        (if round_up {
            exact.ceil()
        } else {
            exact.floor()
        }) as u32
    };
    match value {
        None | Some(Value::Null) => percent(25.0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u32,
        Some(Value::String(s)) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(percent).unwrap_or(0),
            None => s.trim().parse().unwrap_or(0),
        },
        Some(_) => 0,
    }
}

/// FNV-1a over the template's canonical JSON: equal templates, equal revisions.
pub fn template_hash(template: &Value) -> u64 {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
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

#[derive(Debug, Clone)]
struct Pod {
    revision: u64,
    /// `None`: never ready (broken image).
    ready_at: Option<Instant>,
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
    pub replicas: u32,
    pub updated_replicas: u32,
    pub ready_replicas: u32,
    pub available_replicas: u32,
    pub unavailable_replicas: u32,
    pub available: ConditionView,
    pub progressing: ConditionView,
    /// The rollout of `observed_generation` is complete (kubectl `rollout status` succeeds).
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct Rollout {
    spec: RolloutSpec,
    pods: Vec<Pod>,
    /// When the rollout last made progress (the Progressing condition's lastUpdateTime).
    last_progress: Instant,
    timed_out: bool,
    counts: (u32, u32, u32, u32),
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

    /// A new spec; a changed template or replica count restarts the progress clock.
    pub fn set_spec(&mut self, now: Instant, spec: RolloutSpec) {
        if spec.template_hash != self.spec.template_hash || spec.replicas != self.spec.replicas {
            self.last_progress = now;
            self.timed_out = false;
        }
        self.spec = spec;
    }

    fn is_available(&self, pod: &Pod, now: Instant) -> bool {
        pod.ready_at.is_some_and(|r| r + self.spec.min_ready <= now)
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
            && now >= self.last_progress + self.spec.progress_deadline
        {
            self.timed_out = true;
            changed = true;
        }
        changed
    }

    fn counts_at(&self, now: Instant) -> (u32, u32, u32, u32) {
        let updated = self
            .pods
            .iter()
            .filter(|p| p.revision == self.spec.template_hash)
            .count() as u32;
        let ready = self
            .pods
            .iter()
            .filter(|p| p.ready_at.is_some_and(|r| r <= now))
            .count() as u32;
        let available = self
            .pods
            .iter()
            .filter(|p| self.is_available(p, now))
            .count() as u32;
        (updated, ready, available, self.pods.len() as u32)
    }

    fn add_pods(&mut self, count: u32, now: Instant, start_delay: &mut dyn FnMut() -> Duration) {
        for _ in 0..count {
            let ready_at = if self.spec.broken {
                None
            } else {
                Some(now + start_delay())
            };
            self.pods.push(Pod {
                revision: self.spec.template_hash,
                ready_at,
            });
        }
    }

    /// Removes up to `count` pods matching `which`, unavailable ones first.
    fn remove_pods(&mut self, count: u32, now: Instant, which: impl Fn(&Pod) -> bool) -> u32 {
        let mut removed = 0;
        for unavailable_pass in [true, false] {
            let mut i = self.pods.len();
            while i > 0 && removed < count {
                i -= 1;
                let pod = &self.pods[i];
                if which(pod) && self.is_available(pod, now) != unavailable_pass {
                    self.pods.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }

    fn reconcile_once(&mut self, now: Instant, start_delay: &mut dyn FnMut() -> Duration) -> bool {
        let current = self.spec.template_hash;
        let desired = self.spec.replicas;
        let new_count = self.pods.iter().filter(|p| p.revision == current).count() as u32;
        let old_count = self.pods.len() as u32 - new_count;
        let is_new = move |p: &Pod| p.revision == current;
        let is_old = move |p: &Pod| p.revision != current;

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
        let total = self.pods.len() as u32;
        let max_total = desired + self.spec.max_surge;
        if new_count < desired && total < max_total {
            self.add_pods(
                (desired - new_count).min(max_total - total),
                now,
                start_delay,
            );
            changed = true;
        }

        let total = self.pods.len() as i64;
        let min_available = i64::from(desired.saturating_sub(self.spec.max_unavailable));
        let new_unavailable = self
            .pods
            .iter()
            .filter(|p| is_new(p) && !self.is_available(p, now))
            .count() as i64;
        let max_scaled_down = total - min_available - new_unavailable;
        if max_scaled_down > 0 {
            let unhealthy_old: Vec<usize> = (0..self.pods.len())
                .filter(|&i| is_old(&self.pods[i]) && !self.is_available(&self.pods[i], now))
                .take(max_scaled_down as usize)
                .collect();
            for i in unhealthy_old.into_iter().rev() {
                self.pods.remove(i);
                changed = true;
            }
            let available = self
                .pods
                .iter()
                .filter(|p| self.is_available(p, now))
                .count() as i64;
            if available > min_available
                && self.remove_pods((available - min_available) as u32, now, is_old) > 0
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
            .filter_map(|p| p.ready_at)
            .flat_map(|r| [r, r + self.spec.min_ready])
            .filter(|t| *t > now);
        let deadline = (!self.is_complete(now) && !self.timed_out && !self.spec.paused)
            .then(|| self.last_progress + self.spec.progress_deadline);
        pod_events.chain(deadline).min()
    }

    /// The status a Deployment named `name` shows at `now`.
    pub fn view(&self, name: &str, now: Instant) -> StatusView {
        let (updated, ready, available, total) = self.counts_at(now);
        let desired = self.spec.replicas;
        let complete = self.is_complete(now);
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

    fn deployment(image: &str, replicas: u32, deadline: u64) -> Value {
        json!({"metadata": {"generation": 1}, "spec": {
            "replicas": replicas, "progressDeadlineSeconds": deadline,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    /// Drives the model like the controller does, returning the peak pod count seen.
    fn run_until_stable(rollout: &mut Rollout, start: Instant, delay: Duration) -> (Instant, u32) {
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
