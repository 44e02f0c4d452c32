//! Sweeps across machines: a sweep cut into shards (`--shard I/N`, or `--shards N` with
//! the pod index Kubernetes sets in `JOB_COMPLETION_INDEX`) and merged back writes the
//! very files of the unsharded sweep; `--emit-job` prints an Indexed Job that Kubernetes'
//! own types accept; the image builds from the Dockerfile (ignored here: no Docker).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

const TINY: &str = "name: tiny\nseed: 3\nduration: 1h\nrepetitions: 5\n\
fleet: { clusters: 1, apps: 2, replicas: 1 }\n\
workload:\n  commits: { arrival: poisson, mean_interval: 15m }\n\
models:\n  push: { preset: github-actions }\n  pull: { preset: argocd }\n\
faults:\n  - { kind: drift, change: image, at: 20m }\n\
thresholds:\n  - { model: pull, metric: deploy_latency, quantile: p50, max: 20m }\n";

/// 3 × 4 = 12 variants of 5 repetitions each.
const SWEEP: [&str; 4] = ["--set", "fleet.apps=1,2,3", "--set", "seed=1,2,3,4"];

/// Runs pushpull in `dir`, where the scenario is `tiny.yaml` and results go to `out`, so
/// that every run records the same command line.
fn pushpull(dir: &Path, args: &[&str], env: Option<(&str, &str)>) -> Output {
    let mut c = bin();
    c.current_dir(dir)
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX");
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let o = c.output().expect("pushpull runs");
    assert!(
        o.status.success(),
        "pushpull {args:?}: exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// run.json without what describes an execution rather than the results.
fn run_json(bytes: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("wall_s").is_some() && o.remove("threads").is_some());
    v
}

#[test]
fn twelve_variants_of_five_repetitions_in_three_shards_merge_into_the_unsharded_sweep_byte_for_byte()
 {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    for d in [&whole, &split] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("tiny.yaml"), TINY).unwrap();
    }
    let sweep: Vec<&str> = ["sweep", "tiny.yaml"]
        .into_iter()
        .chain(SWEEP)
        .chain(["--out", "out"])
        .collect();
    // The unsharded sweep runs beside the shards and the merge (both write reports).
    let whole_sweep = {
        let (whole, sweep) = (
            whole.clone(),
            sweep.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        std::thread::spawn(move || {
            let args: Vec<&str> = sweep.iter().map(String::as_str).collect();
            pushpull(&whole, &args, None);
        })
    };

    // Shards 0 and 2 by flag, shard 1 as an Indexed Job's pod finds it.
    for (i, flag) in [(0, "0/3"), (2, "2/3")] {
        let mut a = sweep.clone();
        a.extend(["--shard", flag]);
        let o = pushpull(&split, &a, None);
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            said.contains(&format!("shard {i}/3: ran 20 of the sweep's 60")),
            "{said}"
        );
    }
    let mut a = sweep.clone();
    a.extend(["--shards", "3"]);
    pushpull(&split, &a, Some(("JOB_COMPLETION_INDEX", "1")));
    let shards = split.join("out/tiny.shards");
    for i in 0..3 {
        let units = std::fs::read_dir(shards.join(format!("{i}-of-3/units"))).unwrap();
        assert_eq!(units.count(), 20, "shard {i}");
    }
    pushpull(
        &split,
        &["sweep", "merge", "out/tiny.shards", "--out", "out"],
        None,
    );
    whole_sweep.join().expect("the unsharded sweep ran");

    let want = files(&whole.join("out/tiny/sweep"));
    let got = files(&split.join("out/tiny/sweep"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the merged sweep has other files"
    );
    assert_eq!(
        want.keys().filter(|p| p.ends_with("summary.json")).count(),
        12
    );
    for (path, bytes) in &want {
        if path.ends_with("run.json") {
            assert_eq!(run_json(&got[path]), run_json(bytes), "{}", path.display());
        } else {
            assert!(got[path] == *bytes, "{} differs", path.display());
        }
    }

    // A missing or doubled shard is refused before anything is written.
    let partial = tmp.path().join("partial");
    std::fs::create_dir(&partial).unwrap();
    for i in [0, 2] {
        let from = shards.join(format!("{i}-of-3"));
        let to = partial.join(format!("{i}-of-3"));
        std::fs::create_dir_all(to.join("units")).unwrap();
        for (rel, bytes) in files(&from) {
            std::fs::write(to.join(rel), bytes).unwrap();
        }
    }
    let o = bin()
        .current_dir(&split)
        .args(["sweep", "merge"])
        .arg(&partial)
        .args(["--out", "again"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("shard(s) 1/3 missing"), "{e}");
    let o = bin()
        .current_dir(&split)
        .args(["sweep", "merge"])
        .arg(shards.join("0-of-3"))
        .arg(partial.join("0-of-3"))
        .args(["--out", "again"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"));
    assert!(!split.join("again/tiny").exists());
}

#[test]
fn shards_outside_an_indexed_job_or_out_of_range_are_refused_naming_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tiny.yaml"), TINY).unwrap();
    let run = |args: &[&str], env: Option<&str>| {
        let mut c = bin();
        c.current_dir(tmp.path())
            .args(["sweep", "tiny.yaml", "--set", "seed=1,2"])
            .args(args)
            .env_remove("JOB_COMPLETION_INDEX");
        if let Some(i) = env {
            c.env("JOB_COMPLETION_INDEX", i);
        }
        c.output().unwrap()
    };
    for (args, env, needle) in [
        (&["--shard", "3/3"][..], None, "0 <= I < N"),
        (&["--shards", "3"][..], None, "JOB_COMPLETION_INDEX"),
        (&["--shards", "3"][..], Some("3"), "below the count"),
    ] {
        let o = run(args, env);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    }
    assert!(!tmp.path().join("reports").exists());
}

/// The documents of `sweep --emit-job`, parsed.
fn emitted_job(dir: &Path, extra: &[&str]) -> (String, Vec<serde_json::Value>) {
    std::fs::write(dir.join("tiny.yaml"), TINY).unwrap();
    let mut args = vec!["sweep", "tiny.yaml"];
    args.extend(SWEEP);
    args.extend(["--emit-job", "--shards", "6", "--job-parallelism", "3"]);
    args.extend(extra);
    let o = pushpull(dir, &args, None);
    let text = String::from_utf8(o.stdout).unwrap();
    use serde::Deserialize;
    let docs = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde_json::Value::deserialize(d).expect("YAML"))
        .collect();
    (text, docs)
}

/// Deserializes `v` as `T` and back: a field Kubernetes' types do not know is dropped on
/// the way, so the round trip fails on it (deny-unknown semantics).
fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(v: &serde_json::Value) {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("not a valid {}: {e}\n{v:#}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back,
        v,
        "fields {} does not know",
        std::any::type_name::<T>()
    );
}

#[test]
fn the_emitted_indexed_job_is_a_valid_batch_v1_job_of_pushpull_objects_in_a_pushpull_namespace() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    let tmp = tempfile::tempdir().unwrap();
    let (_, docs) = emitted_job(tmp.path(), &[]);
    assert_eq!(docs.len(), 3);
    round_trips::<Namespace>(&docs[0]);
    round_trips::<ConfigMap>(&docs[1]);
    round_trips::<Job>(&docs[2]);
    for d in &docs {
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pushpull",
            "{d:#}"
        );
    }
    assert_eq!(docs[0]["metadata"]["name"], "pushpull-sweep");
    assert_eq!(
        docs[1]["data"]["tiny.yaml"], TINY,
        "the scenario travels whole"
    );
    let job: Job = serde_json::from_value(docs[2].clone()).unwrap();
    assert_eq!(job.metadata.namespace.as_deref(), Some("pushpull-sweep"));
    let spec = job.spec.expect("a spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(6), Some(3)));
    let pod = spec.template.spec.expect("a pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some(concat!("pushpull:", env!("CARGO_PKG_VERSION")))
    );
    let args = c.args.clone().unwrap_or_default().join(" ");
    assert_eq!(
        args,
        "sweep /etc/pushpull/tiny.yaml --set fleet.apps=1,2,3 --set seed=1,2,3,4 --shards 6 --threads 1 --out /results"
    );
    let volumes = pod.volumes.unwrap_or_default();
    let results = volumes
        .iter()
        .find(|v| v.name == "results")
        .expect("a results volume");
    assert_eq!(
        results
            .persistent_volume_claim
            .as_ref()
            .map(|p| p.claim_name.as_str()),
        Some("pushpull-results")
    );
    let mounts = c.volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == "results" && m.mount_path == "/results")
    );
    assert!(
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.contains_key("memory")),
        "a memory request from the estimate"
    );

    let (_, docs) = emitted_job(tmp.path(), &["--job-results", "emptydir"]);
    round_trips::<Job>(&docs[2]);
    assert!(docs[2].to_string().contains("\"emptyDir\":{}"));
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "sweep",
            "tiny.yaml",
            "--set",
            "seed=1",
            "--emit-job",
            "--job-namespace",
            "default",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pushpull-*"));
}

#[test]
fn the_emitted_job_is_accepted_by_kubectl_apply_against_the_emulator() {
    use pushpull::emulator::{Emulator, EmulatorConfig};
    let tmp = tempfile::tempdir().unwrap();
    let (text, _) = emitted_job(tmp.path(), &[]);
    let file = tmp.path().join("job.yaml");
    std::fs::write(&file, text).unwrap();
    let emulator =
        Emulator::start_blocking(EmulatorConfig::default()).expect("the emulator starts");
    let kubeconfig = tmp.path().join("kubeconfig");
    emulator
        .write_kubeconfig(&kubeconfig)
        .expect("kubeconfig written");
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .env("HOME", tmp.path())
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs (Debian package kubernetes-client)")
    };
    let o = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kubectl(&[
        "-n",
        "pushpull-sweep",
        "get",
        "job",
        "pushpull-sweep-tiny",
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 6);
}

#[test]
#[ignore = "needs Docker: cargo test --test sweep_shard -- --ignored docker_build (runs `docker build -t pushpull:test .`)"]
fn docker_build_makes_a_non_root_image_whose_pushpull_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("docker")
        .args(["build", "-t", "pushpull:test", "."])
        .current_dir(root)
        .output()
        .expect("docker runs");
    assert!(
        o.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("docker")
        .args(["run", "--rm", "pushpull:test", "--version"])
        .output()
        .expect("docker runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("pushpull "));
    let o = Command::new("docker")
        .args([
            "image",
            "inspect",
            "-f",
            "{{.Config.User}}",
            "pushpull:test",
        ])
        .output()
        .expect("docker runs");
    let user = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "runs as {user:?}"
    );
}
