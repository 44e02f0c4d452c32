//! The manifests one app has in the live repository: a Deployment and a ConfigMap, rendered
//! as YAML text by hand so the bytes depend only on the inputs (a blob id is then a function
//! of (app, spec, broken, params)), and the image tag parsed back when a revision is read.

use crate::model::{AppId, SpecId};

/// The image registry every app's image lives in (never pulled: the emulator and the
/// rollout model only look at the tag).
pub const REGISTRY: &str = "registry.pushpull.local";

/// The label that marks every object the harness owns.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Deployment settings shared by every app, from the scenario's `fleet` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestParams {
    /// Namespace the objects live in (an RFC 1123 label, e.g. `pushpull-live`).
    pub namespace: String,
    pub replicas: u32,
    /// `maxSurge` of the RollingUpdate strategy: an integer (`"1"`) or a percentage (`"25%"`).
    pub max_surge: String,
    /// `maxUnavailable` of the RollingUpdate strategy, same forms as `max_surge`.
    pub max_unavailable: String,
    /// `progressDeadlineSeconds`; at least 1.
    pub progress_deadline_s: u64,
}

impl ManifestParams {
    /// Checks the fields end up as valid Kubernetes values (and as YAML that needs no
    /// escaping). `Err` is (field, value, what was expected).
    pub fn validate(&self) -> Result<(), (&'static str, String, &'static str)> {
        if !is_dns_label(&self.namespace) {
            return Err((
                "namespace",
                self.namespace.clone(),
                "an RFC 1123 label: 1-63 of a-z, 0-9 and '-', starting and ending alphanumeric",
            ));
        }
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

/// The container image for one spec of an app; a broken release gets a `-broken` tag,
/// which the emulator's rollout model never makes ready.
pub fn image(app: AppId, spec: SpecId, broken: bool) -> String {
    let suffix = if broken { "-broken" } else { "" };
    format!("{REGISTRY}/{}:spec-{spec}{suffix}", app_name(app))
}

/// `deployment.yaml` for one app at one spec.
pub fn deployment(params: &ManifestParams, app: AppId, spec: SpecId, broken: bool) -> String {
    let name = app_name(app);
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
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
",
        namespace = params.namespace,
        replicas = params.replicas,
        deadline = params.progress_deadline_s,
        surge = int_or_string_yaml(&params.max_surge),
        unavailable = int_or_string_yaml(&params.max_unavailable),
        image = image(app, spec, broken),
    )
}

/// `configmap.yaml` for one app at one spec: the spec id as data, so a config-only
/// difference is visible to a reconciler's diff as well.
pub fn configmap(params: &ManifestParams, app: AppId, spec: SpecId) -> String {
    let name = app_name(app);
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    {MANAGED_BY}: pushpull
    app.kubernetes.io/name: {name}
data:
  spec: \"{spec}\"
",
        namespace = params.namespace,
    )
}

/// Reads (spec id, broken) back from a `deployment.yaml` of `app`: the one `image:` line
/// must name this app's image with a `spec-N` or `spec-N-broken` tag.
pub fn parse_deployment(text: &str, app: AppId) -> Result<(SpecId, bool), String> {
    let mut images = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("image:"))
        .map(str::trim);
    let Some(image) = images.next() else {
        return Err("no `image:` line".into());
    };
    if images.next().is_some() {
        return Err("more than one `image:` line (expected one container)".into());
    }
    let (found_app, spec, broken) = parse_image(image).ok_or_else(|| {
        format!("image `{image}` is not of the form {REGISTRY}/app-NNN:spec-N[-broken]")
    })?;
    if found_app != app {
        return Err(format!(
            "image `{image}` belongs to {}, not {}",
            app_name(found_app),
            app_name(app)
        ));
    }
    Ok((spec, broken))
}

/// Splits `registry.pushpull.local/app-NNN:spec-N[-broken]` into (app, spec, broken).
pub fn parse_image(image: &str) -> Option<(AppId, SpecId, bool)> {
    let rest = image.strip_prefix(REGISTRY)?.strip_prefix("/app-")?;
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

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ManifestParams {
        ManifestParams {
            namespace: "pushpull-live".into(),
            replicas: 3,
            max_surge: "25%".into(),
            max_unavailable: "1".into(),
            progress_deadline_s: 600,
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
            "  namespace: pushpull-live\n",
            "    app.kubernetes.io/managed-by: pushpull\n",
            "    app.kubernetes.io/name: app-007\n",
            "  replicas: 3\n",
            "  progressDeadlineSeconds: 600\n",
            "    type: RollingUpdate\n",
            "      maxSurge: \"25%\"\n",
            "      maxUnavailable: 1\n",
            "      app.kubernetes.io/name: app-007\n",
            "        - name: app\n",
            "          image: registry.pushpull.local/app-007:spec-42\n",
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
        assert_eq!(
            s["template"]["spec"]["containers"][0]["image"].as_str(),
            Some("registry.pushpull.local/app-003:spec-9-broken")
        );
        assert_eq!(
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("pushpull")
        );
    }

    #[test]
    fn broken_release_gets_a_broken_tag_the_emulator_recognises() {
        let text = deployment(&params(), 0, 5, true);
        assert!(text.contains("image: registry.pushpull.local/app-000:spec-5-broken\n"));
        assert!(!deployment(&params(), 0, 5, false).contains("broken"));
    }

    #[test]
    fn configmap_carries_labels_and_the_spec_as_a_string() {
        let text = configmap(&params(), 12, 77);
        assert_eq!(text, configmap(&params(), 12, 77));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
        assert_eq!(v["kind"].as_str(), Some("ConfigMap"));
        assert_eq!(v["metadata"]["name"].as_str(), Some("app-012"));
        assert_eq!(v["metadata"]["namespace"].as_str(), Some("pushpull-live"));
        assert_eq!(
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("pushpull")
        );
        assert_eq!(v["data"]["spec"].as_str(), Some("77"));
    }

    #[test]
    fn tags_parse_back_to_what_was_rendered() {
        for (app, spec, broken) in [(0, 0, false), (7, 42, true), (999, u32::MAX, false)] {
            assert_eq!(
                parse_deployment(&deployment(&params(), app, spec, broken), app),
                Ok((spec, broken))
            );
            assert_eq!(
                parse_image(&image(app, spec, broken)),
                Some((app, spec, broken))
            );
        }
    }

    #[test]
    fn malformed_tags_are_rejected() {
        for bad in [
            "registry.pushpull.local/app-001:latest",
            "registry.pushpull.local/app-001:spec-",
            "registry.pushpull.local/app-001:spec--broken",
            "registry.pushpull.local/app-001:spec-+4",
            "registry.pushpull.local/app-001:spec-4-broke",
            "registry.pushpull.local/app-001",
            "docker.io/app-001:spec-4",
            "registry.pushpull.local/web:spec-4",
        ] {
            assert_eq!(parse_image(bad), None, "{bad}");
        }
        let other_app = deployment(&params(), 2, 1, false);
        let err = parse_deployment(&other_app, 3).unwrap_err();
        assert!(err.contains("belongs to app-002, not app-003"), "{err}");
        assert!(
            parse_deployment("kind: Deployment\n", 0)
                .unwrap_err()
                .contains("no `image:`")
        );
    }

    #[test]
    fn params_are_validated() {
        assert!(params().validate().is_ok());
        let mut p = params();
        p.namespace = "Pushpull_Live".into();
        assert_eq!(p.validate().unwrap_err().0, "namespace");
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
