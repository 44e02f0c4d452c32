//! The layering the compiler cannot see on its own: `pushpull-core` stays pure. Its
//! manifest, and everything its dependencies pull in, has no async runtime, Kubernetes
//! client, git, HTTP, charts or other effectful crate (checked with `cargo metadata`),
//! and its library code names no file system, network, process or thread API.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

/// Crates that do I/O (or exist to serve those that do): none may reach the core.
/// (`libc` is not among them: `rand` reaches it through `getrandom` for entropy the core
/// never asks for, since every stream is seeded.)
const EFFECTFUL: [&str; 13] = [
    "tokio",
    "kube",
    "kube-client",
    "kube-runtime",
    "k8s-openapi",
    "gix",
    "axum",
    "hyper",
    "hyper-util",
    "reqwest",
    "plotters",
    "png",
    "csv",
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn the_core_manifest_names_no_effectful_dependency() {
    let m = metadata();
    let core = m["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "pushpull-core")
        .expect("the workspace has pushpull-core");
    let direct: Vec<&str> = core["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null()) // normal dependencies, not dev or build
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(!direct.is_empty(), "the core has dependencies to check");
    for d in &direct {
        assert!(
            !EFFECTFUL.contains(d),
            "pushpull-core depends on `{d}`: the core must stay free of I/O; put that code in the pushpull crate"
        );
    }
}

#[test]
fn nothing_the_core_depends_on_pulls_in_an_effectful_crate() {
    let m = metadata();
    let nodes = m["resolve"]["nodes"].as_array().expect("a resolved graph");
    let by_id: HashMap<&str, &Value> = nodes
        .iter()
        .map(|n| (n["id"].as_str().expect("an id"), n))
        .collect();
    let name_of = |id: &str| -> String {
        m["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    let core = nodes
        .iter()
        .find(|n| name_of(n["id"].as_str().unwrap_or("")) == "pushpull-core")
        .expect("pushpull-core is resolved");
    // Walk normal (not dev, not build) dependency edges from the core.
    let mut seen = BTreeSet::new();
    let mut todo = vec![core["id"].as_str().expect("an id")];
    while let Some(id) = todo.pop() {
        if !seen.insert(id.to_string()) {
            continue;
        }
        for dep in by_id[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()));
            if normal {
                todo.push(dep["pkg"].as_str().expect("a package id"));
            }
        }
    }
    let names: BTreeSet<String> = seen.iter().map(|id| name_of(id)).collect();
    assert!(
        names.contains("serde"),
        "the walk reached the core's dependencies"
    );
    for bad in EFFECTFUL {
        assert!(
            !names.contains(bad),
            "`{bad}` reaches pushpull-core through its dependencies: {names:?}"
        );
    }
}

#[test]
fn the_core_library_code_names_no_file_system_network_process_or_thread_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/pushpull-core/src");
    let mut files = vec![src];
    let mut checked = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("readable") {
                files.push(e.expect("an entry").path());
            }
            continue;
        }
        // Unit tests may read the repository's scenario files.
        if p.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("UTF-8 source");
        // Code after `#[cfg(test)]` is test code.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for api in [
            "std::fs",
            "std::net",
            "std::process",
            "std::thread",
            "std::env",
        ] {
            assert!(
                !code.contains(api),
                "{} uses {api}: the core does no I/O",
                p.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} files checked");
}
