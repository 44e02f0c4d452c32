//! The manifests one app has in the live repository: a Deployment and a ConfigMap, rendered
//! as YAML text by hand so the bytes depend only on the inputs (a blob id is then a function
//! of (app, spec, broken, params)), and the image tag parsed back when a revision is read.

use crate::model::{AppId, SpecId};

/// The image every good release runs: the pause image, which every kind node already holds
/// (it is the pod sandbox image) and any cluster can pull, so a rollout really completes on
/// kind, K3s or a cloud cluster. Which release a Deployment runs is carried by the
/// [`RELEASE_ENV`] variable, whose change replaces the pod template as a new image would.
pub const IMAGE: &str = "registry.k8s.io/pause:3.10";

/// The image of a broken release: a tag that does not exist, so its pods stay in
/// `ErrImagePull` and the rollout exceeds its progress deadline, on a real cluster as in the
/// emulator (which never makes an image containing `broken` ready).
pub const BROKEN_IMAGE: &str = "registry.k8s.io/pause:pushpull-broken";

/// Images a hand edit (`kubectl set image`) switches to: real, pullable tags that are
/// neither [`IMAGE`] nor [`BROKEN_IMAGE`]; two of them so each edit differs from the last.
pub const HAND_IMAGES: [&str; 2] = ["registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.8"];

/// The container environment variable naming the release (`app-007:spec-42[-broken]`).
pub const RELEASE_ENV: &str = "PUSHPULL_RELEASE";

/// An ordinary setting every manifest declares (`LOG_LEVEL=info`). A hand `kubectl set env`
/// changes its value: drift in a field git owns, which a server-side apply (and a
/// client-side one) takes back. A variable git never declared would survive both, and no
/// GitOps tool would see it as drift.
pub const LOG_LEVEL_ENV: &str = "LOG_LEVEL";
/// The value of [`LOG_LEVEL_ENV`] in git.
pub const LOG_LEVEL: &str = "info";

/// The label that marks every object the harness owns.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Deployment settings shared by every app, from the scenario's `fleet` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestParams {
    pub replicas: u32,
    /// `maxSurge` of the RollingUpdate strategy: an integer (`"1"`) or a percentage (`"25%"`).
    pub max_surge: String,
    /// `maxUnavailable` of the RollingUpdate strategy, same forms as `max_surge`.
    pub max_unavailable: String,
    /// `progressDeadlineSeconds`; at least 1.
    pub progress_deadline_s: u64,
}

/// Kubernetes' own Deployment defaults: one replica, 25% surge and unavailability, a
/// 600-second progress deadline.
impl Default for ManifestParams {
    fn default() -> Self {
        ManifestParams {
            replicas: 1,
            max_surge: "25%".into(),
            max_unavailable: "25%".into(),
            progress_deadline_s: 600,
        }
    }
}

impl ManifestParams {
    /// Checks the fields end up as valid Kubernetes values (and as YAML that needs no
    /// escaping). `Err` is (field, value, what was expected).
    pub fn validate(&self) -> Result<(), (&'static str, String, &'static str)> {
        for (field, value) in [
            ("max_surge", &self.max_surge),
            ("max_unavailable", &self.max_unavailable),
        ] {
            if int_or_percent(value).is_none() {
                return Err((
                    field,
                    value.clone(),
                    "an integer such as 1 or a percentage such as 25%",
                ));
            }
        }
        if self.progress_deadline_s == 0 {
            return Err((
                "progress_deadline_s",
                "0".into(),
                "at least 1 second (Kubernetes requires progressDeadlineSeconds > minReadySeconds)",
            ));
        }
        Ok(())
    }
}

/// `app-007`: the app's name, folder and image repository.
pub fn app_name(app: AppId) -> String {
    format!("app-{app:03}")
}

/// The folder holding one app's manifests.
pub fn app_dir(app: AppId) -> String {
    format!("apps/{}", app_name(app))
}

/// The release one spec of an app is: `app-007:spec-42`, or `app-007:spec-42-broken` for a
/// broken release. It is the value of [`RELEASE_ENV`] in the pod template.
pub fn release(app: AppId, spec: SpecId, broken: bool) -> String {
    let suffix = if broken { "-broken" } else { "" };
    format!("{}:spec-{spec}{suffix}", app_name(app))
}

/// The container image of a good or a broken release.
pub fn image(broken: bool) -> &'static str {
    if broken { BROKEN_IMAGE } else { IMAGE }
}

/// `deployment.yaml` for one app at one spec.
pub fn deployment(params: &ManifestParams, app: AppId, spec: SpecId, broken: bool) -> String {
    let name = app_name(app);
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    {MANAGED_BY}: pushpull
    app.kubernetes.io/name: {name}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {deadline}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: {surge}
      maxUnavailable: {unavailable}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        {MANAGED_BY}: pushpull
        app.kubernetes.io/name: {name}
    spec:
      containers:
        - name: app
          image: {image}
          env:
            - name: {RELEASE_ENV}
              value: \"{release}\"
            - name: {LOG_LEVEL_ENV}
              value: {LOG_LEVEL}
",
        replicas = params.replicas,
        deadline = params.progress_deadline_s,
        surge = int_or_string_yaml(&params.max_surge),
        unavailable = int_or_string_yaml(&params.max_unavailable),
        image = image(broken),
        release = release(app, spec, broken),
    )
}

/// `configmap.yaml` for one app at one spec: the spec id as data, so a config-only
/// difference is visible to a reconciler's diff as well.
pub fn configmap(app: AppId, spec: SpecId) -> String {
    let name = app_name(app);
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  labels:
    {MANAGED_BY}: pushpull
    app.kubernetes.io/name: {name}
data:
  spec: \"{spec}\"
",
    )
}

/// Reads (spec id, broken) back from a `deployment.yaml` of `app`: its one container must
/// carry this app's release in [`RELEASE_ENV`] and the image that release runs.
pub fn parse_deployment(text: &str, app: AppId) -> Result<(SpecId, bool), String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let containers = doc["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .ok_or("no `spec.template.spec.containers` list")?;
    let [container] = containers.as_slice() else {
        return Err(format!("{} containers (expected one)", containers.len()));
    };
    let release_value = container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|e| e["name"].as_str() == Some(RELEASE_ENV))
        .and_then(|e| e["value"].as_str())
        .ok_or_else(|| format!("no `{RELEASE_ENV}` env variable"))?;
    let (found_app, spec, broken) = parse_release(release_value).ok_or_else(|| {
        format!("{RELEASE_ENV} `{release_value}` is not of the form app-NNN:spec-N[-broken]")
    })?;
    if found_app != app {
        return Err(format!(
            "{RELEASE_ENV} `{release_value}` belongs to {}, not {}",
            app_name(found_app),
            app_name(app)
        ));
    }
    let found_image = container["image"].as_str().unwrap_or_default();
    if found_image != image(broken) {
        return Err(format!(
            "image `{found_image}` is not the image of release `{release_value}` ({})",
            image(broken)
        ));
    }
    Ok((spec, broken))
}

/// Splits `app-NNN:spec-N[-broken]` into (app, spec, broken).
pub fn parse_release(release: &str) -> Option<(AppId, SpecId, bool)> {
    let rest = release.strip_prefix("app-")?;
    let (app, tag) = rest.split_once(':')?;
    let tag = tag.strip_prefix("spec-")?;
    let (spec, broken) = match tag.strip_suffix("-broken") {
        Some(spec) => (spec, true),
        None => (tag, false),
    };
    Some((parse_digits(app)?, parse_digits(spec)?, broken))
}

/// The app an `apps/app-NNN[/...]` path belongs to.
pub fn app_of_path(path: &str) -> Option<AppId> {
    let rest = path.strip_prefix("apps/app-")?;
    let digits = rest.split('/').next()?;
    parse_digits(digits)
}

/// Only ASCII digits (no sign, no whitespace), as a u32.
fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Integer form bare, percentage quoted: Kubernetes' IntOrString reads `"1"` as an
/// (invalid) string, so an integer must not be quoted.
fn int_or_string_yaml(value: &str) -> String {
    match int_or_percent(value) {
        Some(false) => value.to_string(),
        _ => format!("\"{value}\""),
    }
}

/// `Some(false)` for an integer, `Some(true)` for a percentage, `None` otherwise.
fn int_or_percent(value: &str) -> Option<bool> {
    match value.strip_suffix('%') {
        Some(digits) => parse_digits(digits).map(|_| true),
        None => parse_digits(value).map(|_| false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ManifestParams {
        ManifestParams {
            replicas: 3,
            max_unavailable: "1".into(),
            ..ManifestParams::default()
        }
    }

    #[test]
    fn deployment_is_deterministic_and_carries_every_field() {
        let a = deployment(&params(), 7, 42, false);
        assert_eq!(a, deployment(&params(), 7, 42, false));
        assert_ne!(a, deployment(&params(), 7, 43, false));
        for needle in [
            "apiVersion: apps/v1\n",
            "kind: Deployment\n",
            "  name: app-007\n",
            "    app.kubernetes.io/managed-by: pushpull\n",
            "    app.kubernetes.io/name: app-007\n",
            "  replicas: 3\n",
            "  progressDeadlineSeconds: 600\n",
            "    type: RollingUpdate\n",
            "      maxSurge: \"25%\"\n",
            "      maxUnavailable: 1\n",
            "      app.kubernetes.io/name: app-007\n",
            "        - name: app\n",
            "          image: registry.k8s.io/pause:3.10\n",
            "            - name: PUSHPULL_RELEASE\n",
            "              value: \"app-007:spec-42\"\n",
            "            - name: LOG_LEVEL\n",
            "              value: info\n",
        ] {
            assert!(a.contains(needle), "missing {needle:?} in\n{a}");
        }
        // The template's labels match the selector.
        assert_eq!(a.matches("app.kubernetes.io/name: app-007").count(), 3);
        assert_eq!(
            a.matches("app.kubernetes.io/managed-by: pushpull").count(),
            2
        );
    }

    #[test]
    fn deployment_is_valid_yaml_with_the_expected_structure() {
        let text = deployment(&params(), 3, 9, true);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
        let s = &v["spec"];
        assert_eq!(s["replicas"].as_u64(), Some(3));
        assert_eq!(
            s["strategy"]["rollingUpdate"]["maxSurge"].as_str(),
            Some("25%")
        );
        assert_eq!(
            s["strategy"]["rollingUpdate"]["maxUnavailable"].as_u64(),
            Some(1)
        );
        assert_eq!(
            s["selector"]["matchLabels"],
            s["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
                .as_str()
                .map(|n| {
                    let mut m = serde_yaml_ng::Mapping::new();
                    m.insert("app.kubernetes.io/name".into(), n.into());
                    serde_yaml_ng::Value::Mapping(m)
                })
                .expect("template name label")
        );
        let container = &s["template"]["spec"]["containers"][0];
        assert_eq!(container["image"].as_str(), Some(BROKEN_IMAGE));
        assert_eq!(
            container["env"][0]["name"].as_str(),
            Some("PUSHPULL_RELEASE")
        );
        assert_eq!(
            container["env"][0]["value"].as_str(),
            Some("app-003:spec-9-broken")
        );
        assert_eq!(
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("pushpull")
        );
    }

    #[test]
    fn broken_release_gets_a_broken_tag_the_emulator_recognises() {
        let text = deployment(&params(), 0, 5, true);
        assert!(text.contains("image: registry.k8s.io/pause:pushpull-broken\n"));
        assert!(text.contains("value: \"app-000:spec-5-broken\"\n"));
        assert!(!deployment(&params(), 0, 5, false).contains("broken"));
        // Hand-edit images are real tags, and none is mistaken for a release's image.
        for hand in HAND_IMAGES {
            assert!(hand.starts_with("registry.k8s.io/pause:3."));
            assert!(hand != IMAGE && hand != BROKEN_IMAGE && !hand.contains("broken"));
        }
    }

    #[test]
    fn configmap_carries_labels_and_the_spec_as_a_string() {
        let text = configmap(12, 77);
        assert_eq!(text, configmap(12, 77));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
        assert_eq!(v["kind"].as_str(), Some("ConfigMap"));
        assert_eq!(v["metadata"]["name"].as_str(), Some("app-012"));
        // No namespace: each cluster's applier puts the objects in its own (as an Argo CD
        // Application's destination or a Flux Kustomization's targetNamespace does).
        assert!(v["metadata"]["namespace"].is_null());
        assert_eq!(
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("pushpull")
        );
        assert_eq!(v["data"]["spec"].as_str(), Some("77"));
    }

    #[test]
    fn releases_parse_back_to_what_was_rendered() {
        for (app, spec, broken) in [(0, 0, false), (7, 42, true), (999, u32::MAX, false)] {
            assert_eq!(
                parse_deployment(&deployment(&params(), app, spec, broken), app),
                Ok((spec, broken))
            );
            assert_eq!(
                parse_release(&release(app, spec, broken)),
                Some((app, spec, broken))
            );
        }
    }

    #[test]
    fn malformed_releases_are_rejected() {
        for bad in [
            "app-001:latest",
            "app-001:spec-",
            "app-001:spec--broken",
            "app-001:spec-+4",
            "app-001:spec-4-broke",
            "app-001",
            "app-:spec-4",
            "web:spec-4",
        ] {
            assert_eq!(parse_release(bad), None, "{bad}");
        }
        let other_app = deployment(&params(), 2, 1, false);
        let err = parse_deployment(&other_app, 3).unwrap_err();
        assert!(err.contains("belongs to app-002, not app-003"), "{err}");
        let no_env = "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: x\n";
        assert!(
            parse_deployment(no_env, 0)
                .unwrap_err()
                .contains("no `PUSHPULL_RELEASE`")
        );
        assert!(
            parse_deployment("kind: Deployment\n", 0)
                .unwrap_err()
                .contains("containers")
        );
        // A good release's variable with the broken image (or the reverse) is not a
        // manifest pushpull wrote.
        let swapped = deployment(&params(), 4, 2, false).replace(IMAGE, BROKEN_IMAGE);
        let err = parse_deployment(&swapped, 4).unwrap_err();
        assert!(err.contains("is not the image of release"), "{err}");
    }

    #[test]
    fn params_are_validated() {
        assert!(params().validate().is_ok());
        let mut p = params();
        p.max_surge = "25 %".into();
        assert_eq!(p.validate().unwrap_err().0, "max_surge");
        let mut p = params();
        p.max_unavailable = "-1".into();
        assert_eq!(p.validate().unwrap_err().0, "max_unavailable");
        let mut p = params();
        p.progress_deadline_s = 0;
        assert_eq!(p.validate().unwrap_err().0, "progress_deadline_s");
    }

    #[test]
    fn paths_map_to_apps() {
        assert_eq!(app_dir(4), "apps/app-004");
        assert_eq!(app_of_path("apps/app-004/deployment.yaml"), Some(4));
        assert_eq!(app_of_path("apps/app-004"), Some(4));
        assert_eq!(app_of_path("apps"), None);
        assert_eq!(app_of_path("README.md"), None);
    }
}
