//! `pushpull sweep ... --emit-job`: a Kubernetes Indexed Job that runs the sweep's shards
//! in parallel, one pod per shard (`completionMode: Indexed`, `completions` = shards; each
//! pod reads its index from `JOB_COMPLETION_INDEX`, which Kubernetes sets:
//! <https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode>), with
//! the scenario in a ConfigMap and the results on a volume. Emitted as YAML documents: the
//! `pushpull-*` Namespace, the ConfigMap and the Job, every object labelled
//! `app.kubernetes.io/managed-by=pushpull`.

use serde_json::{Value, json};

/// Where the shards write their folders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Results {
    /// A PersistentVolumeClaim (ReadWriteMany, so that every pod and the merge can mount
    /// it), made by the user.
    Pvc(String),
    /// A pod-local emptyDir: the shard folders go with the pods (a dry run, or an image
    /// whose entrypoint uploads them).
    EmptyDir,
}

impl Results {
    /// `pvc:NAME` or `emptydir`.
    pub fn parse(text: &str) -> Result<Results, String> {
        if text == "emptydir" {
            return Ok(Results::EmptyDir);
        }
        match text.strip_prefix("pvc:") {
            Some(name) if dns_label(name) => Ok(Results::Pvc(name.to_string())),
            _ => Err(format!(
                "--job-results {text}: expected pvc:NAME (a PersistentVolumeClaim, a DNS label) or emptydir"
            )),
        }
    }
}

/// What the Job runs and where.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The scenario's name (it names the objects).
    pub name: String,
    /// The scenario file's base name and text (the ConfigMap's one key).
    pub file_name: String,
    pub text: String,
    /// The sweep's `--set`, `--seed`, `--repetitions`.
    pub set: Vec<String>,
    pub seed: Option<u64>,
    pub repetitions: Option<u32>,
    pub shards: u32,
    pub parallelism: u32,
    pub image: String,
    pub namespace: String,
    pub results: Results,
    /// Memory a shard needs (the largest variant's estimate, one thread), in bytes.
    pub memory_bytes: f64,
}

/// A DNS-1123 label: what a namespace, a ConfigMap key's object or a claim is named.
pub fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks a namespace for the harness: a DNS label starting with `pushpull-`.
pub fn check_namespace(ns: &str) -> Result<(), String> {
    if ns.starts_with("pushpull-") && dns_label(ns) {
        Ok(())
    } else {
        Err(format!(
            "--job-namespace {ns}: pushpull only touches namespaces named pushpull-* (a DNS label of at most 63 characters), e.g. pushpull-sweep"
        ))
    }
}

/// The Job's name: `pushpull-sweep-<name>` cut to 52 characters, so that a pod's
/// hostname (`<job>-<index>`) stays a DNS label.
fn job_name(name: &str) -> String {
    let mut n = format!("pushpull-sweep-{name}");
    n.truncate(52);
    n.trim_end_matches('-').to_string()
}

const RESULTS: &str = "/results";
const SCENARIO_DIR: &str = "/etc/pushpull";

/// The container's arguments: the sweep as given, its shard from the pod's index.
pub fn args(spec: &JobSpec) -> Vec<String> {
    let mut a = vec![
        "sweep".to_string(),
        format!("{SCENARIO_DIR}/{}", spec.file_name),
    ];
    for s in &spec.set {
        a.push("--set".into());
        a.push(s.clone());
    }
    if let Some(seed) = spec.seed {
        a.extend(["--seed".into(), seed.to_string()]);
    }
    if let Some(r) = spec.repetitions {
        a.extend(["--repetitions".into(), r.to_string()]);
    }
    a.extend([
        "--shards".into(),
        spec.shards.to_string(),
        "--threads".into(),
        "1".into(),
        "--out".into(),
        RESULTS.into(),
    ]);
    a
}

/// The manifests as one YAML stream.
pub fn manifest(spec: &JobSpec) -> String {
    let labels = json!({
        "app.kubernetes.io/name": "pushpull",
        "app.kubernetes.io/component": "sweep",
        "app.kubernetes.io/managed-by": "pushpull",
        "app.kubernetes.io/instance": spec.name,
    });
    let job = job_name(&spec.name);
    let config = format!("{job}-scenario");
    let mebibytes = (spec.memory_bytes / (1024.0 * 1024.0)).ceil().max(64.0) as u64;
    let volume = match &spec.results {
        Results::Pvc(claim) => {
            json!({"name": "results", "persistentVolumeClaim": {"claimName": claim}})
        }
        Results::EmptyDir => json!({"name": "results", "emptyDir": {}}),
    };
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace, "labels": labels},
    });
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config, "namespace": spec.namespace, "labels": labels},
        "data": {spec.file_name.clone(): spec.text},
    });
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.shards,
            "parallelism": spec.parallelism,
            "backoffLimit": 3,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "pushpull",
                        "image": spec.image,
                        "args": args(spec),
                        "resources": {
                            "requests": {"cpu": "1", "memory": format!("{mebibytes}Mi")},
                            "limits": {"memory": format!("{mebibytes}Mi")},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "scenario", "mountPath": SCENARIO_DIR, "readOnly": true},
                            {"name": "results", "mountPath": RESULTS},
                        ],
                    }],
                    "volumes": [
                        {"name": "scenario", "configMap": {"name": config}},
                        volume,
                    ],
                },
            },
        },
    });
    let mut out = String::from(
        "# pushpull sweep as a Kubernetes Indexed Job: one pod per shard, each running\n# `pushpull sweep ... --shards N` with its index from JOB_COMPLETION_INDEX.\n# After it completes, merge the shards from a pod that mounts the results volume:\n#   pushpull sweep merge /results/",
    );
    out.push_str(&spec.name);
    out.push_str(".shards --out /results\n");
    for (i, doc) in [namespace, configmap, job].iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&yaml(doc));
    }
    out
}

fn yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).expect("a JSON value is YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_stay_dns_labels_with_room_for_the_pod_index() {
        let long = "a".repeat(63);
        let n = job_name(&long);
        assert!(n.len() <= 52 && dns_label(&n), "{n}");
        assert_eq!(job_name("quickstart"), "pushpull-sweep-quickstart");
    }

    #[test]
    fn namespaces_and_result_volumes_are_checked() {
        assert!(check_namespace("pushpull-sweep").is_ok());
        assert!(check_namespace("default").is_err());
        assert!(check_namespace("pushpull-Sweep").is_err());
        assert_eq!(Results::parse("emptydir"), Ok(Results::EmptyDir));
        assert_eq!(
            Results::parse("pvc:results"),
            Ok(Results::Pvc("results".into()))
        );
        assert!(Results::parse("pvc:").is_err());
        assert!(Results::parse("hostpath:/x").is_err());
    }
}
