//! Simulated Deployments and their rollouts. A rollout's duration is computed when it
//! starts by stepping the Deployment controller's rolling update (maxSurge,
//! maxUnavailable, a pod start delay drawn per pod) to its end, so a whole rollout costs
//! one event in the queue however many pods it has.

use crate::scenario::{Dist, Nanos};
use rand::Rng;

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
        }
    }
}

/// Time for a rolling update of `replicas` pods from `old_ready` ready old pods to a new
/// template, honouring `surge` extra pods and `unavailable` missing pods.
pub fn rolling_update_time<R: Rng + ?Sized>(
    replicas: u32,
    surge: u32,
    unavailable: u32,
    old_ready: u32,
    pod_start: &Dist,
    rng: &mut R,
) -> Nanos {
    let min_available = replicas.saturating_sub(unavailable);
    let max_total = replicas + surge;
    let mut old = old_ready.min(replicas);
    let mut ready = 0u32;
    let mut starting: Vec<Nanos> = Vec::new();
    let mut now: Nanos = 0;
    loop {
        // Scale the old ReplicaSet down as far as availability allows.
        let kill = (old + ready).saturating_sub(min_available).min(old);
        old -= kill;
        // Scale the new one up as far as the surge allows.
        let total = old + ready + starting.len() as u32;
        let room = max_total.saturating_sub(total);
        let want = replicas - ready - starting.len() as u32;
        for _ in 0..room.min(want) {
            starting.push(now + pod_start.sample(rng));
        }
        if ready == replicas && old == 0 {
            return now;
        }
        // Advance to the next pod becoming ready.
        let Some((i, &t)) = starting.iter().enumerate().min_by_key(|(_, t)| **t) else {
            // Nothing is starting and nothing can start: only possible with surge and
            // unavailable both zero, which validation refuses. Treat as instantaneous.
            return now;
        };
        starting.swap_remove(i);
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
        assert_eq!(rolling_update_time(4, 1, 1, 4, &d, &mut r), 20 * SECOND);
        // Surge 100%: all new pods start at once.
        assert_eq!(rolling_update_time(4, 4, 0, 4, &d, &mut r), 10 * SECOND);
        // One at a time.
        assert_eq!(rolling_update_time(3, 1, 0, 3, &d, &mut r), 30 * SECOND);
        // From nothing (a deleted Deployment re-created): every pod at once.
        assert_eq!(rolling_update_time(3, 1, 0, 0, &d, &mut r), 10 * SECOND);
    }

    #[test]
    fn scale_up_waits_for_the_slowest_pod() {
        let mut r = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(scale_up_time(3, &Dist::fixed(SECOND), &mut r), SECOND);
        assert_eq!(scale_up_time(0, &Dist::fixed(SECOND), &mut r), 0);
    }
}
