//! One cluster as the live world sees it, through kube-rs: server-side applies under a
//! field manager, reads for diffs, hand edits under a third field manager (as a person
//! running kubectl would), and a kube-runtime watcher whose events become rollout
//! observations timestamped with the client's monotonic clock on arrival (as
//! clusterloader2 does).

use super::LiveError;
use super::git::{BROKEN_IMAGE, HAND_IMAGES, IMAGE, LOG_LEVEL, LOG_LEVEL_ENV, RELEASE_ENV};
use crate::model::{AppId, ClusterId};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// The label every object the harness owns carries.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=pushpull";
/// The field manager of hand edits (drift).
pub const HAND_EDIT_MANAGER: &str = "kubectl-edit";
/// The field manager of the operator's `kubectl rollout undo`.
pub const ROLLOUT_MANAGER: &str = "kubectl-rollout";

/// The Deployment controller's annotations, and kubectl's own: a rollback keeps the
/// Deployment's values of these and takes every other annotation from the ReplicaSet
/// (kubectl rollback.go `annotationsToSkip`).
const UNDO_KEEPS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// What `rollout_undo` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undone {
    /// The Deployment's template was patched back to this revision's.
    To(i64),
    /// The Deployment already runs this revision's template (kubectl: "skipped rollback").
    Skipped(i64),
}
/// The value a hand `kubectl set env LOG_LEVEL=debug` gives the manifests' log level.
pub const HAND_LOG_LEVEL: &str = "debug";

/// The image a hand `kubectl set image` switches `current` to: a real tag, never the one
/// it already runs (so every edit replaces the pod template, as each one does in the sim).
pub fn hand_image(current: &Deployment) -> &'static str {
    let image = current
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.as_deref());
    if image == Some(HAND_IMAGES[0]) {
        HAND_IMAGES[1]
    } else {
        HAND_IMAGES[0]
    }
}

/// What the watch says about one app's Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// The Deployment as it is: the release its pod template names, whether a hand edit
    /// changed the image or the environment, and whether its rollout is complete or
    /// exceeded its deadline (kubectl `rollout status` rules).
    Seen {
        generation: i64,
        release: String,
        hand_image: bool,
        env_drift: bool,
        replicas: i32,
        state: RolloutState,
    },
    Deleted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutState {
    InProgress,
    Complete,
    DeadlineExceeded,
}

#[derive(Clone)]
pub struct ClusterHandle {
    pub index: ClusterId,
    pub client: kube::Client,
    pub namespace: String,
}

pub fn app_name(app: AppId) -> String {
    format!("app-{app:03}")
}

fn app_of(name: &str) -> Option<AppId> {
    name.strip_prefix("app-")?.parse().ok()
}

impl ClusterHandle {
    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates the harness's namespace (server-side apply, labelled as ours).
    pub async fn ensure_namespace(&self) -> Result<(), LiveError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {"app.kubernetes.io/managed-by": "pushpull"}}
        });
        api.patch(
            &self.namespace,
            &PatchParams::apply("pushpull").force(),
            &Patch::Apply(&ns),
        )
        .await
        .map_err(|e| self.err("create namespace", e))?;
        Ok(())
    }

    /// Deletes what an earlier run left in the harness's namespace (a real cluster keeps
    /// it between runs and repetitions) and waits until it is gone, so every repetition
    /// starts from an empty namespace. A namespace of that name without the harness's
    /// label is not ours: it is refused, never deleted.
    pub async fn reset_namespace(&self, timeout: std::time::Duration) -> Result<(), LiveError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(existing) = api
            .get_opt(&self.namespace)
            .await
            .map_err(|e| self.err("read namespace", e))?
        else {
            return Ok(());
        };
        let ours = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/managed-by"))
            .is_some_and(|v| v == "pushpull");
        if !ours {
            return Err(LiveError::Setup(format!(
                "cluster {}: namespace {} exists but is not labelled app.kubernetes.io/managed-by=pushpull; \
                 pushpull will not touch it (delete or rename it yourself)",
                self.index, self.namespace
            )));
        }
        if existing.metadata.deletion_timestamp.is_none() {
            match api.delete(&self.namespace, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(self.err("delete namespace", e)),
            }
        }
        let deadline = Instant::now() + timeout;
        while api
            .get_opt(&self.namespace)
            .await
            .map_err(|e| self.err("read namespace", e))?
            .is_some()
        {
            if Instant::now() > deadline {
                return Err(LiveError::Setup(format!(
                    "cluster {}: namespace {} from an earlier run was not gone after {}s \
                     (check `kubectl get namespace {} -o yaml` for stuck finalizers)",
                    self.index,
                    self.namespace,
                    timeout.as_secs(),
                    self.namespace
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Ok(())
    }

    fn err(&self, what: &str, e: kube::Error) -> LiveError {
        LiveError::Kube {
            cluster: self.index,
            what: what.to_string(),
            source: Box::new(e),
        }
    }

    /// Server-side applies one app's Deployment and ConfigMap (YAML text) under `manager`,
    /// into this cluster's namespace (the manifests in git name none).
    pub async fn apply(
        &self,
        manager: &str,
        deployment: &str,
        configmap: &str,
    ) -> Result<(), LiveError> {
        let parse = |text: &str| -> Result<Value, LiveError> {
            let mut v: Value =
                serde_yaml_ng::from_str(text).map_err(|e| LiveError::Manifest(e.to_string()))?;
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".into(), json!(self.namespace));
            }
            Ok(v)
        };
        let (cm, dep) = (parse(configmap)?, parse(deployment)?);
        let pp = PatchParams::apply(manager).force();
        let name = |v: &Value| {
            v.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        cms.patch(&name(&cm), &pp, &Patch::Apply(&cm))
            .await
            .map_err(|e| self.err("apply configmap", e))?;
        self.deployments()
            .patch(&name(&dep), &pp, &Patch::Apply(&dep))
            .await
            .map_err(|e| self.err("apply deployment", e))?;
        Ok(())
    }

    /// `kubectl rollout undo deploy/<app> --to-revision=N`, with N the newest revision
    /// whose pod template runs `release` (the one `kubectl rollout history` shows the
    /// operator; the previous revision unless releases came between). As kubectl's
    /// `DeploymentRollbacker` (rollback.go): the Deployment's ReplicaSets are those its
    /// selector matches and it controls; the chosen one's template, without its
    /// `pod-template-hash` label, replaces `spec.template`, and its annotations replace the
    /// Deployment's except the controller's and kubectl's own, in one JSON patch. The
    /// Deployment controller then rolls that template out as the newest revision.
    ///
    /// The PATCH waits until `not_before`: the model's step time (kubectl's run) covers
    /// the reads, so only the write's own round trip comes on top of it.
    pub async fn rollout_undo(
        &self,
        app: AppId,
        release: &str,
        not_before: Instant,
    ) -> Result<Undone, LiveError> {
        let name = app_name(app);
        let undo_err = |why: String| {
            LiveError::Setup(format!(
                "cluster {}: rollout undo {name}: {why}",
                self.index
            ))
        };
        let deployment = self
            .deployments()
            .get(&name)
            .await
            .map_err(|e| self.err("rollout undo: get deployment", e))?;
        let uid = deployment.metadata.uid.clone().unwrap_or_default();
        let selector = deployment
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let sets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let listed = sets
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.err("rollout undo: list replicasets", e))?;
        let mut target: Option<(i64, Value, Value)> = None;
        for rs in listed.items {
            let controlled = rs
                .metadata
                .owner_references
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid);
            let revision = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .and_then(|r| r.parse::<i64>().ok());
            let (true, Some(revision)) = (controlled, revision) else {
                continue;
            };
            let Some(template) = rs.spec.as_ref().and_then(|s| s.template.as_ref()) else {
                continue;
            };
            let template = serde_json::to_value(template)
                .map_err(|e| undo_err(format!("ReplicaSet template: {e}")))?;
            if template_release(&template) != Some(release)
                || target.as_ref().is_some_and(|(r, _, _)| *r > revision)
            {
                continue;
            }
            let annotations = serde_json::to_value(rs.metadata.annotations.unwrap_or_default())
                .map_err(|e| undo_err(format!("ReplicaSet annotations: {e}")))?;
            target = Some((revision, template, annotations));
        }
        let Some((revision, mut template, rs_annotations)) = target else {
            return Err(undo_err(format!(
                "no revision in its rollout history runs {release} (kubectl: revision not found)"
            )));
        };
        if let Some(labels) = template
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove(HASH_LABEL);
        }
        let current = deployment
            .spec
            .as_ref()
            .map(|s| serde_json::to_value(&s.template))
            .transpose()
            .map_err(|e| undo_err(format!("Deployment template: {e}")))?
            .unwrap_or(Value::Null);
        if current == template {
            return Ok(Undone::Skipped(revision));
        }
        let mut annotations = serde_json::Map::new();
        let own = deployment.metadata.annotations.unwrap_or_default();
        for key in UNDO_KEEPS {
            if let Some(v) = own.get(key) {
                annotations.insert(key.into(), json!(v));
            }
        }
        if let Some(map) = rs_annotations.as_object() {
            for (k, v) in map {
                if !UNDO_KEEPS.contains(&k.as_str()) {
                    annotations.insert(k.clone(), v.clone());
                }
            }
        }
        let ops = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]);
        let pp = PatchParams {
            field_manager: Some(ROLLOUT_MANAGER.into()),
            ..PatchParams::default()
        };
        // kube-rs sends JSON patches only with its `jsonpatch` feature (a typed patch
        // crate): the request is built as a merge patch and given kubectl's JSON patch
        // body and media type instead.
        let url = format!("/apis/apps/v1/namespaces/{}/deployments", self.namespace);
        let mut request = kube::core::Request::new(url)
            .patch(&name, &pp, &Patch::Merge(&ops))
            .map_err(|e| self.err("rollout undo: build patch", kube::Error::BuildRequest(e)))?;
        let body = serde_json::to_vec(&ops).map_err(|e| undo_err(format!("patch body: {e}")))?;
        *request.body_mut() = body;
        let media = "application/json-patch+json"
            .parse()
            .map_err(|_| undo_err("patch media type".into()))?;
        if let Some(v) = request
            .headers_mut()
            .iter_mut()
            .find(|(k, _)| k.as_str() == "content-type")
            .map(|(_, v)| v)
        {
            *v = media;
        }
        tokio::time::sleep_until(not_before.into()).await;
        self.client
            .request::<Deployment>(request)
            .await
            .map_err(|e| self.err("rollout undo: patch deployment", e))?;
        Ok(Undone::To(revision))
    }

    /// The live Deployment of an app, if any.
    pub async fn get(&self, app: AppId) -> Result<Option<Deployment>, LiveError> {
        self.deployments()
            .get_opt(&app_name(app))
            .await
            .map_err(|e| self.err("get deployment", e))
    }

    /// A hand edit, as `kubectl scale`, `kubectl set image`, `kubectl set env` or
    /// `kubectl delete` would make it.
    pub async fn hand_edit(&self, app: AppId, edit: HandEdit) -> Result<(), LiveError> {
        let name = app_name(app);
        let api = self.deployments();
        // kubectl scale, set image and set env send merge and strategic merge patches,
        // not server-side applies, so an edit never takes fields away from another.
        let pp = PatchParams {
            field_manager: Some(HAND_EDIT_MANAGER.into()),
            ..PatchParams::default()
        };
        let result = match edit {
            HandEdit::Scale(n) => {
                api.patch(&name, &pp, &Patch::Merge(json!({"spec": {"replicas": n}})))
                    .await
            }
            HandEdit::Image(image) => {
                let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
                api.patch(&name, &pp, &Patch::Strategic(p)).await
            }
            HandEdit::Env => {
                let p = json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "app", "env": [{"name": LOG_LEVEL_ENV, "value": HAND_LOG_LEVEL}]}]}}}});
                api.patch(&name, &pp, &Patch::Strategic(p)).await
            }
            HandEdit::Delete => {
                api.delete(&name, &DeleteParams::default())
                    .await
                    .map_err(|e| self.err("delete deployment", e))?;
                return Ok(());
            }
        };
        result.map_err(|e| self.err("hand edit", e))?;
        Ok(())
    }

    /// Watches the harness's Deployments and sends each change with its arrival time.
    /// After an error the watcher waits before it re-lists, as kube-rs controllers do
    /// (`DefaultBackoff`: 0.8 s doubling to 30 s, jittered, reset by the next event), with
    /// those delays in scenario time (multiplied by `time_scale`). Without a backoff an
    /// API server that went away is retried in a tight loop that starves the run.
    pub fn spawn_watch(
        &self,
        tx: UnboundedSender<(ClusterId, AppId, Observation, Instant)>,
        time_scale: f64,
    ) -> tokio::task::JoinHandle<()> {
        let api = self.deployments();
        let cluster = self.index;
        let backoff = watcher::ExponentialBackoff::from(
            backon::ExponentialBuilder::default()
                .with_min_delay(crate::live::driver::real_span(800_000_000, time_scale))
                .with_max_delay(crate::live::driver::real_span(30_000_000_000, time_scale))
                .with_factor(2.0)
                .with_jitter()
                .without_max_times(),
        );
        tokio::spawn(async move {
            let cfg = watcher::Config::default().labels(MANAGED_BY);
            let mut stream = std::pin::pin!(watcher(api, cfg).backoff(backoff));
            while let Some(ev) = stream.next().await {
                let now = Instant::now();
                let (obj, deleted) = match ev {
                    Ok(watcher::Event::Apply(d)) | Ok(watcher::Event::InitApply(d)) => (d, false),
                    Ok(watcher::Event::Delete(d)) => (d, true),
                    Ok(_) => continue,
                    // The watcher re-lists and resumes by itself after errors (410 Gone,
                    // dropped streams, a server away); a brownout only delays observations.
                    Err(_) => continue,
                };
                let Some(app) = obj.metadata.name.as_deref().and_then(app_of) else {
                    continue;
                };
                let obs = if deleted {
                    Observation::Deleted
                } else {
                    observe(&obj)
                };
                if tx.send((cluster, app, obs, now)).is_err() {
                    break;
                }
            }
        })
    }
}

#[derive(Clone, Debug)]
pub enum HandEdit {
    Scale(i32),
    Image(&'static str),
    Env,
    Delete,
}

/// The release a pod template runs (its first container's [`RELEASE_ENV`]).
fn template_release(template: &Value) -> Option<&str> {
    template
        .pointer("/spec/containers/0/env")
        .and_then(Value::as_array)?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(RELEASE_ENV))
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
}

/// kubectl's `rollout status` rules on a Deployment object.
pub fn observe(d: &Deployment) -> Observation {
    let generation = d.metadata.generation.unwrap_or(0);
    let spec = d.spec.as_ref();
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
    let container = spec
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    let image = container
        .and_then(|c| c.image.as_deref())
        .unwrap_or_default();
    let env = container.and_then(|c| c.env.as_deref()).unwrap_or_default();
    // Git declares LOG_LEVEL=info; any other value (or none) is a hand edit.
    let env_drift = env
        .iter()
        .find(|e| e.name == LOG_LEVEL_ENV)
        .and_then(|e| e.value.as_deref())
        != Some(LOG_LEVEL);
    let release = env
        .iter()
        .find(|e| e.name == RELEASE_ENV)
        .and_then(|e| e.value.clone())
        .unwrap_or_default();
    // Git only ever holds the good and the broken image; any other is a hand edit.
    let hand_image = image != IMAGE && image != BROKEN_IMAGE;
    let st = d.status.as_ref();
    let observed = st.and_then(|s| s.observed_generation).unwrap_or(0) >= generation;
    let deadline = st.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
    });
    let updated = st.and_then(|s| s.updated_replicas).unwrap_or(0);
    let total = st.and_then(|s| s.replicas).unwrap_or(0);
    let available = st.and_then(|s| s.available_replicas).unwrap_or(0);
    let state = if !observed {
        RolloutState::InProgress
    } else if deadline {
        RolloutState::DeadlineExceeded
    } else if updated >= replicas && total == updated && available >= updated {
        RolloutState::Complete
    } else {
        RolloutState::InProgress
    };
    Observation::Seen {
        generation,
        release,
        hand_image,
        env_drift,
        replicas,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::{Emulator, EmulatorConfig, PodStartDelay, RunningEmulator};
    use crate::live::git::{ManifestParams, configmap, deployment, release};
    use std::path::PathBuf;
    use std::time::Duration;

    fn params() -> ManifestParams {
        ManifestParams {
            replicas: 3,
            ..ManifestParams::default()
        }
    }

    /// An emulator whose pods start in 10 ms, and a handle on its namespace `namespace`
    /// (the emulator stops when the first value is dropped).
    async fn emulated(namespace: &str) -> (RunningEmulator, ClusterHandle) {
        let emulator = Emulator::start(EmulatorConfig {
            pod_start: PodStartDelay::Fixed(Duration::from_millis(10)),
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let mut config = kube::Config::new(emulator.url().parse().expect("URL"));
        config.default_retry = false;
        let handle = ClusterHandle {
            index: 0,
            client: kube::Client::try_from(config).expect("client"),
            namespace: namespace.into(),
        };
        (emulator, handle)
    }

    /// The Deployment once its rollout is complete, or the last one seen after 10 s.
    async fn settled(handle: &ClusterHandle, app: AppId) -> (Deployment, Observation) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = handle.get(app).await.expect("get").expect("exists");
            let obs = observe(&d);
            // As `kubectl rollout status`: a status the controller wrote for an older
            // generation says nothing about this one.
            let observed =
                d.status.as_ref().and_then(|s| s.observed_generation) >= d.metadata.generation;
            let done = observed
                && matches!(
                    obs,
                    Observation::Seen {
                        state: RolloutState::Complete,
                        ..
                    }
                );
            if done || Instant::now() > deadline {
                return (d, obs);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn clean(obs: &Observation, want: &str) -> bool {
        matches!(obs, Observation::Seen { release, hand_image: false, env_drift: false,
                  replicas: 3, state: RolloutState::Complete, .. } if release == want)
    }

    /// `rollout_undo` does what `kubectl rollout undo` does on a real cluster: the
    /// Deployment's template goes back to the good revision's, that ReplicaSet becomes the
    /// newest revision (3, remembering 1), the broken one is scaled to nothing, kubectl's
    /// `rollout history` shows it, and undoing again to the same release changes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollout_undo_makes_the_good_revision_the_newest_as_kubectl_does() {
        let (emulator, handle) = emulated("pushpull-undo").await;
        handle.ensure_namespace().await.expect("namespace");
        let app = 2;
        let good = release(app, 5, false);
        let bad = release(app, 6, true);
        handle
            .apply(
                "pushpull-gha",
                &deployment(&params(), app, 5, false),
                &configmap(app, 5),
            )
            .await
            .expect("good apply");
        let (_, obs) = settled(&handle, app).await;
        assert!(clean(&obs, &good), "{obs:?}");
        handle
            .apply(
                "pushpull-gha",
                &deployment(&params(), app, 6, true),
                &configmap(app, 6),
            )
            .await
            .expect("bad apply");
        let sets: Api<ReplicaSet> = Api::namespaced(handle.client.clone(), &handle.namespace);
        let revisions = || async {
            let mut v: Vec<(String, String, String, i32)> = sets
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|rs| {
                    let a = rs.metadata.annotations.clone().unwrap_or_default();
                    let t = serde_json::to_value(rs.spec.as_ref().and_then(|s| s.template.clone()))
                        .expect("template");
                    (
                        template_release(&t).unwrap_or_default().to_string(),
                        a.get(REVISION_ANNOTATION).cloned().unwrap_or_default(),
                        a.get("deployment.kubernetes.io/revision-history")
                            .cloned()
                            .unwrap_or_default(),
                        rs.spec.and_then(|s| s.replicas).unwrap_or(-1),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while revisions().await.len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = revisions().await;
        assert_eq!(before[0].0, good);
        assert_eq!(before[0].1, "1");
        assert_eq!(before[1].0, bad);
        assert_eq!(before[1].1, "2");

        let done = handle
            .rollout_undo(app, &good, Instant::now())
            .await
            .expect("undo");
        assert_eq!(done, Undone::To(1), "undo to the revision that ran {good}");
        let (live, obs) = settled(&handle, app).await;
        assert!(
            clean(&obs, &good),
            "the good release rolled out again: {obs:?}"
        );
        let template = live.spec.as_ref().map(|s| &s.template).expect("template");
        let image = template
            .spec
            .as_ref()
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.as_deref());
        assert_eq!(image, Some(IMAGE));
        assert!(
            template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref())
                .is_none_or(|l| !l.contains_key(HASH_LABEL)),
            "the hash label is not copied into the Deployment"
        );
        // The controller writes the revision annotation in its own update of the
        // Deployment, which may land just after the rollout's status.
        let revision = |d: &Deployment| {
            d.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION).cloned())
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut annotated = revision(&live);
        while annotated.as_deref() != Some("3") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let d = handle.get(app).await.expect("get").expect("exists");
            annotated = revision(&d);
        }
        assert_eq!(annotated.as_deref(), Some("3"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut after = revisions().await;
        while after.iter().any(|r| r.0 == bad && r.3 != 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            after = revisions().await;
        }
        assert_eq!(
            after,
            vec![
                (good.clone(), "3".into(), "1".into(), 3),
                (bad.clone(), "2".into(), String::new(), 0),
            ],
            "the old ReplicaSet is the newest revision, the broken one scaled down"
        );
        assert_eq!(
            handle
                .rollout_undo(app, &good, Instant::now())
                .await
                .expect("second undo"),
            Undone::Skipped(3),
            "the template already matches"
        );
        let err = handle
            .rollout_undo(app, &release(app, 99, false), Instant::now())
            .await
            .expect_err("no such revision");
        assert!(err.to_string().contains("revision not found"), "{err}");

        // What the operator sees afterwards with kubectl.
        if let Ok(kubectl) = which_kubectl() {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("kubeconfig");
            emulator.write_kubeconfig(&path).expect("kubeconfig");
            let out = std::process::Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(&path)
                .args([
                    "-n",
                    "pushpull-undo",
                    "rollout",
                    "history",
                    "deployment/app-002",
                ])
                .output()
                .expect("kubectl runs");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let rows: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| w.parse::<u32>().is_ok())
                .collect();
            assert_eq!(rows, ["2", "3"], "{text}");
        }
        emulator.shutdown().await;
    }

    fn which_kubectl() -> Result<PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("kubectl"))
                    .find(|f| f.is_file())
            })
            .ok_or(())
    }

    /// Every kind of hand edit shows as drift in what the watch reports, and one forced
    /// server-side apply of the manifests in git takes each back, as it does in the sim.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hand_edits_are_drift_and_an_apply_of_git_takes_each_back() {
        let (emulator, handle) = emulated("pushpull-handedit").await;
        handle.ensure_namespace().await.expect("namespace");
        let (app, spec) = (4, 9);
        let (dep, cm) = (
            deployment(&params(), app, spec, false),
            configmap(app, spec),
        );
        let want = release(app, spec, false);
        handle
            .apply("pushpull-pull", &dep, &cm)
            .await
            .expect("apply");
        let (live, obs) = settled(&handle, app).await;
        assert!(clean(&obs, &want), "fresh apply: {obs:?}");
        assert_eq!(hand_image(&live), HAND_IMAGES[0]);

        let edits = [
            HandEdit::Image(hand_image(&live)),
            HandEdit::Env,
            HandEdit::Scale(5),
        ];
        for edit in edits {
            handle
                .hand_edit(app, edit.clone())
                .await
                .expect("hand edit");
            let (live, obs) = settled(&handle, app).await;
            let Observation::Seen {
                release,
                hand_image: image_drift,
                env_drift,
                replicas,
                ..
            } = &obs
            else {
                panic!("{edit:?}: deleted")
            };
            assert_eq!(release, &want, "{edit:?} keeps the release variable");
            match edit {
                HandEdit::Image(_) => {
                    assert!(*image_drift, "{obs:?}");
                    // A second `set image` would switch to the other hand image.
                    assert_eq!(hand_image(&live), HAND_IMAGES[1]);
                }
                HandEdit::Env => assert!(*env_drift && !*image_drift, "{obs:?}"),
                HandEdit::Scale(_) => assert_eq!(*replicas, 5, "{obs:?}"),
                HandEdit::Delete => unreachable!(),
            }
            handle
                .apply("pushpull-pull", &dep, &cm)
                .await
                .expect("re-apply");
            let (_, obs) = settled(&handle, app).await;
            assert!(clean(&obs, &want), "after {edit:?} and a re-apply: {obs:?}");
        }

        handle
            .hand_edit(app, HandEdit::Delete)
            .await
            .expect("delete");
        assert!(handle.get(app).await.expect("get").is_none());
        handle
            .apply("pushpull-pull", &dep, &cm)
            .await
            .expect("re-create");
        let (_, obs) = settled(&handle, app).await;
        assert!(clean(&obs, &want), "re-created: {obs:?}");

        // The next repetition on a real cluster starts from an empty namespace.
        handle
            .reset_namespace(Duration::from_secs(5))
            .await
            .expect("reset");
        handle.ensure_namespace().await.expect("namespace again");
        assert!(handle.get(app).await.expect("get").is_none());
        // A namespace of that name the harness did not label is never deleted.
        let foreign = ClusterHandle {
            namespace: "pushpull-theirs".into(),
            ..handle.clone()
        };
        let api: Api<Namespace> = Api::all(handle.client.clone());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pushpull-theirs"}});
        api.patch(
            "pushpull-theirs",
            &PatchParams::apply("someone"),
            &Patch::Apply(&ns),
        )
        .await
        .expect("foreign namespace");
        let err = foreign
            .reset_namespace(Duration::from_secs(5))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("will not touch it"), "{err}");
        assert!(api.get_opt("pushpull-theirs").await.expect("get").is_some());
        emulator.shutdown().await;
    }
}
