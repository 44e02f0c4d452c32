//! kube-rs watchers of ReplicaSets and Pods during a rolling update see the sequence a
//! real cluster produces: the deployment controller's scale steps follow the
//! maxSurge/maxUnavailable maths (pkg/controller/deployment/rolling.go), and no old pod is
//! deleted before the new pod that replaces it is Ready.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use pushpull::emulator::{Emulator, EmulatorConfig, PodStartDelay};
use serde_json::json;

const REPLICAS: i32 = 4;

fn deployment(image: &str, surge: i32, unavailable: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}}
    }))
    .expect("valid Deployment")
}

/// The (new, old) ReplicaSet sizes the upstream controller steps through for a rolling
/// update of `replicas` pods, every pod becoming available in one step: scale the new
/// ReplicaSet up to `replicas + maxSurge` in total (`NewRSNewReplicas`), then the old one
/// down while `replicas - maxUnavailable` stay available (`reconcileOldReplicaSets`).
fn expected_steps(replicas: i32, surge: i32, unavailable: i32) -> Vec<(i32, i32)> {
    let (mut new, mut old, mut available_new) = (0, replicas, 0);
    let mut steps = vec![];
    loop {
        // Scale up (the first time: the new ReplicaSet is created, at 0 if it must be).
        let total = new + old;
        let up = (replicas - new).min(replicas + surge - total).max(0);
        if up > 0 || steps.is_empty() {
            new += up;
            steps.push((new, old));
        }
        // Scale down: old pods are available, new ones only after a step.
        let min_available = replicas - unavailable;
        let down = (old + available_new - min_available).min(old).max(0);
        if down > 0 {
            old -= down;
            steps.push((new, old));
        }
        if new == replicas && old == 0 {
            return steps;
        }
        available_new = new;
    }
}

#[test]
fn the_expected_step_maths_matches_known_rollouts() {
    // maxSurge 1, maxUnavailable 0: one pod at a time, surge first.
    assert_eq!(
        expected_steps(4, 1, 0),
        [
            (1, 4),
            (1, 3),
            (2, 3),
            (2, 2),
            (3, 2),
            (3, 1),
            (4, 1),
            (4, 0)
        ]
    );
    // maxSurge 0, maxUnavailable 1: scale down first.
    assert_eq!(
        expected_steps(4, 0, 1),
        [
            (0, 4),
            (0, 3),
            (1, 3),
            (1, 2),
            (2, 2),
            (2, 1),
            (3, 1),
            (3, 0),
            (4, 0)
        ]
    );
}

async fn run(surge: i32, unavailable: i32) -> (Vec<(i32, i32)>, i32) {
    let emulator = Emulator::start(EmulatorConfig {
        pod_start: PodStartDelay::Fixed(Duration::from_millis(150)),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let client =
        Client::try_from(Config::new(emulator.url().parse().expect("URL"))).expect("client");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    deployments
        .create(
            &PostParams::default(),
            &deployment("nginx:1", surge, unavailable),
        )
        .await
        .expect("created");
    emulator
        .rollout_log()
        .wait_for(|r| r.name == "web" && r.generation == 1)
        .await;

    // Watch ReplicaSet sizes and Ready pods from here on.
    let rs_stream = watcher(sets, watcher::Config::default()).applied_objects();
    let pod_stream = watcher(pods, watcher::Config::default()).default_backoff();
    let steps = tokio::spawn(async move {
        let mut sizes: BTreeMap<String, i32> = BTreeMap::new();
        let mut seen: Vec<BTreeMap<String, i32>> = vec![];
        let mut stream = std::pin::pin!(rs_stream);
        while let Ok(Some(rs)) = stream.try_next().await {
            let name = rs.metadata.name.clone().unwrap_or_default();
            let size = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if sizes.get(&name) != Some(&size) {
                sizes.insert(name, size);
                seen.push(sizes.clone());
                if sizes.len() == 2
                    && sizes.values().copied().collect::<Vec<_>>().contains(&0)
                    && sizes.values().any(|v| *v == REPLICAS)
                    && seen.len() > 2
                {
                    break;
                }
            }
        }
        seen
    });
    let minimum = Arc::new(AtomicI32::new(i32::MAX));
    let seen_minimum = minimum.clone();
    let min_ready = tokio::spawn(async move {
        let mut ready: BTreeMap<String, bool> = BTreeMap::new();
        let mut listed = false;
        let mut stream = std::pin::pin!(pod_stream);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while let Ok(Ok(Some(event))) = tokio::time::timeout_at(deadline, stream.try_next()).await {
            match event {
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                    let is_ready = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        });
                    ready.insert(pod.metadata.name.unwrap_or_default(), is_ready);
                }
                watcher::Event::Delete(pod) => {
                    ready.remove(&pod.metadata.name.unwrap_or_default());
                }
                watcher::Event::Init => {
                    ready.clear();
                    listed = false;
                }
                watcher::Event::InitDone => listed = true,
            }
            if listed {
                let count = ready.values().filter(|r| **r).count() as i32;
                seen_minimum.fetch_min(count, Ordering::SeqCst);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}})),
        )
        .await
        .expect("image changed");
    emulator
        .rollout_log()
        .wait_for(|r| r.name == "web" && r.generation == 2)
        .await;
    let seen = tokio::time::timeout(Duration::from_secs(15), steps)
        .await
        .expect("the ReplicaSet watcher saw the rollout end")
        .expect("watcher task");
    // Let the pod watcher see the last deletions, then stop it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    min_ready.abort();
    let minimum = minimum.load(Ordering::SeqCst);
    assert_ne!(minimum, i32::MAX, "the pod watcher listed the pods");
    // Name the ReplicaSets by role: the new one is the one at REPLICAS at the end.
    let last = seen.last().cloned().unwrap_or_default();
    let new_name = last
        .iter()
        .find(|(_, v)| **v == REPLICAS)
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let pairs: Vec<(i32, i32)> = seen
        .iter()
        .filter(|s| s.len() == 2)
        .map(|s| {
            let new = s.get(&new_name).copied().unwrap_or(0);
            let old = s
                .iter()
                .find(|(k, _)| **k != new_name)
                .map_or(0, |(_, v)| *v);
            (new, old)
        })
        .collect();
    emulator.shutdown().await;
    (pairs, minimum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_scale_steps_follow_max_surge_one_max_unavailable_zero() {
    let (steps, min_ready) = run(1, 0).await;
    assert_eq!(
        steps,
        expected_steps(REPLICAS, 1, 0),
        "ReplicaSet sizes (new, old)"
    );
    assert!(
        min_ready >= REPLICAS,
        "maxUnavailable 0: Ready pods never dropped below {REPLICAS} (saw {min_ready})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_scale_steps_follow_max_surge_zero_max_unavailable_one() {
    let (steps, min_ready) = run(0, 1).await;
    assert_eq!(
        steps,
        expected_steps(REPLICAS, 0, 1),
        "ReplicaSet sizes (new, old)"
    );
    assert!(
        min_ready >= REPLICAS - 1,
        "maxUnavailable 1: saw {min_ready} Ready pods"
    );
}
