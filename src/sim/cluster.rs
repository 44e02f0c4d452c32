//! Simulated Deployments and their rollouts. A rollout's duration is computed when it
//! starts by stepping the Deployment controller's rolling update (maxSurge,
//! maxUnavailable, a pod start delay drawn per pod) to its end, so a whole rollout costs
//! one event in the queue however many pods it has.

use crate::scenario::{Dist, Nanos};
use rand::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The live state of one Deployment.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    pub exists: bool,
    /// The manifest last applied by a delivery model.
    pub spec: u32,
    /// The live pod template's image (a drift may set one git never had).
    pub image: u32,
    /// Someone edited an environment variable in the pod template.
    pub env_drift: bool,
    pub replicas: u32,
    /// Bumped by every change; a rollout result for an older generation is stale.
    pub generation: u32,
    /// A rollout towards the current template is under way.
    pub rolling: bool,
    /// The current template is fully rolled out (kubectl rollout status would succeed).
    pub rolled: bool,
    /// The rollout exceeded its progress deadline.
    pub failed: bool,
    /// A hand edit replaced a fully rolled-out template: when, and the image it replaced
    /// (a revert to it finds some of its pods still running).
    pub replaced: Option<(Nanos, u32)>,
}

impl Deployment {
    pub fn healthy(spec: u32, image: u32, replicas: u32) -> Deployment {
        Deployment {
            exists: true,
            spec,
            image,
            env_drift: false,
            replicas,
            generation: 0,
            rolling: false,
            rolled: true,
            failed: false,
            replaced: None,
        }
    }
}

/// Time for a rolling update of `replicas` pods to a new template, from `old_ready` ready
/// pods of other templates and `new_ready` ready pods of the new one (a rollback to a
/// template whose pods are still up starts from them), honouring `surge` extra pods and
/// `unavailable` missing pods.
pub fn rolling_update_time<R: Rng + ?Sized>(
    replicas: u32,
    surge: u32,
    unavailable: u32,
    old_ready: u32,
    new_ready: u32,
    pod_start: &Dist,
    rng: &mut R,
) -> Nanos {
    step_rolling_update(
        replicas,
        surge,
        unavailable,
        old_ready,
        new_ready,
        pod_start,
        rng,
        None,
    )
    .0
}

/// Ready pods of the old template left `elapsed` into a rolling update from a fully
/// ready Deployment (what a rollback finds still running).
pub fn old_pods_left_after<R: Rng + ?Sized>(
    replicas: u32,
    surge: u32,
    unavailable: u32,
    elapsed: Nanos,
    pod_start: &Dist,
    rng: &mut R,
) -> u32 {
    step_rolling_update(
        replicas,
        surge,
        unavailable,
        replicas,
        0,
        pod_start,
        rng,
        Some(elapsed),
    )
    .1
}

/// Steps the Deployment controller's rolling update; returns (time to completion or to
/// `stop`, old pods still ready then).
#[allow(clippy::too_many_arguments)]
fn step_rolling_update<R: Rng + ?Sized>(
    replicas: u32,
    surge: u32,
    unavailable: u32,
    old_ready: u32,
    new_ready: u32,
    pod_start: &Dist,
    rng: &mut R,
    stop: Option<Nanos>,
) -> (Nanos, u32) {
    let min_available = replicas.saturating_sub(unavailable);
    let max_total = replicas.saturating_add(surge);
    let mut ready = new_ready.min(replicas);
    let mut old = old_ready.min(replicas - ready);
    // When each starting pod becomes ready, earliest first. Pods are interchangeable,
    // so which of several equal times is taken first does not matter.
    let mut starting: BinaryHeap<Reverse<Nanos>> = BinaryHeap::new();
    let mut now: Nanos = 0;
    loop {
        // Scale the old ReplicaSets down as far as availability allows.
        let up = old as u64 + ready as u64;
        let kill = up.saturating_sub(min_available as u64).min(old as u64) as u32;
        old -= kill;
        // Scale the new one up as far as the surge allows. `starting` never holds more
        // than the `replicas - ready` pods still missing, so these fit in a u32.
        let n_starting = starting.len() as u32;
        let total = old as u64 + ready as u64 + n_starting as u64;
        let room = (max_total as u64).saturating_sub(total) as u32;
        let want = replicas - ready - n_starting;
        for _ in 0..room.min(want) {
            starting.push(Reverse(now.saturating_add(pod_start.sample(rng))));
        }
        if ready == replicas && old == 0 {
            return (now, old);
        }
        // Advance to the next pod becoming ready.
        let Some(&Reverse(t)) = starting.peek() else {
            // Nothing is starting and nothing can start: only possible with surge and
            // unavailable both zero, which validation refuses. Treat as instantaneous.
            return (now, old);
        };
        if stop.is_some_and(|s| t > s) {
            return (now, old);
        }
        starting.pop();
        now = t;
        ready += 1;
    }
}

/// Time for `n` new pods started at once (a scale-up) to all be ready.
pub fn scale_up_time<R: Rng + ?Sized>(n: u32, pod_start: &Dist, rng: &mut R) -> Nanos {
    (0..n).map(|_| pod_start.sample(rng)).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fixed_pod_start_gives_the_textbook_number_of_waves() {
        let mut r = ChaCha8Rng::seed_from_u64(0);
        let d = Dist::fixed(10 * SECOND);
        // 4 replicas, surge 1, unavailable 1: 5 pods may exist, 3 must be ready.
        // Wave 1 starts 2 new pods (1 surge + 1 killed old), wave 2 the other 2.
        assert_eq!(rolling_update_time(4, 1, 1, 4, 0, &d, &mut r), 20 * SECOND);
        // Surge 100%: all new pods start at once.
        assert_eq!(rolling_update_time(4, 4, 0, 4, 0, &d, &mut r), 10 * SECOND);
        // One at a time.
        assert_eq!(rolling_update_time(3, 1, 0, 3, 0, &d, &mut r), 30 * SECOND);
        // From nothing (a deleted Deployment re-created): every pod at once.
        assert_eq!(rolling_update_time(3, 1, 0, 0, 0, &d, &mut r), 10 * SECOND);
    }

    #[test]
    fn a_rollback_soon_after_a_template_change_finds_the_old_pods_up() {
        let mut r = ChaCha8Rng::seed_from_u64(0);
        let d = Dist::fixed(10 * SECOND);
        // 3 replicas, surge 1, unavailable 0: no old pod goes before a new one is ready.
        assert_eq!(old_pods_left_after(3, 1, 0, 5 * SECOND, &d, &mut r), 3);
        assert_eq!(old_pods_left_after(3, 1, 0, 15 * SECOND, &d, &mut r), 2);
        // Rolling back with all three old pods still ready takes no pod start at all.
        assert_eq!(rolling_update_time(3, 1, 0, 0, 3, &d, &mut r), 0);
        // With two left, one pod must start again.
        assert_eq!(rolling_update_time(3, 1, 0, 1, 2, &d, &mut r), 10 * SECOND);
    }

    #[test]
    fn surge_and_unavailable_at_u32_max_do_not_overflow() {
        let mut r = ChaCha8Rng::seed_from_u64(0);
        let d = Dist::fixed(10 * SECOND);
        // Everything may go at once: one wave.
        assert_eq!(
            rolling_update_time(4, u32::MAX, u32::MAX, 4, 0, &d, &mut r),
            10 * SECOND
        );
        assert_eq!(
            old_pods_left_after(4, u32::MAX, 0, 5 * SECOND, &d, &mut r),
            4
        );
        // A pod start at the end of time is drawn as the longest span a scenario may hold
        // (100 years), and three waves of them add up without wrapping.
        let never = Dist::fixed(u64::MAX);
        assert_eq!(
            rolling_update_time(3, 1, 0, 3, 0, &never, &mut r),
            3 * crate::scenario::bounds::MAX_SPAN
        );
    }

    #[test]
    fn scale_up_waits_for_the_slowest_pod() {
        let mut r = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(scale_up_time(3, &Dist::fixed(SECOND), &mut r), SECOND);
        assert_eq!(scale_up_time(0, &Dist::fixed(SECOND), &mut r), 0);
    }
}
