//! Validation messages speak the scenario's language: a bad value of every kind of key
//! (a boolean, a count, a whole number, a share, a duration, a distribution, a map, a
//! list, a name, a setting of a setup) makes `pushpull validate` exit 2 with the key's
//! path, the line the value is on, and what the key accepts as an author writes it; no
//! message names a Rust or serde type ("expected f64", "nonzero u32", "invalid type").

use std::process::Command;

const BASE: &str = "name: msg
duration: 6h
repetitions: 2
fleet:
  clusters: 2
  apps: 4
  replicas: 3
workload:
  commits: { arrival: fixed, interval: 30m }
models:
  gha: { kind: push, preset: github-actions }
  argocd: { kind: pull, preset: argocd }
";

/// Words of Rust types and serde's generic messages, matched as whole words.
const TYPE_WORDS: [&str; 17] = [
    "u8",
    "u16",
    "u32",
    "u64",
    "usize",
    "i32",
    "i64",
    "f32",
    "f64",
    "nonzero",
    "invalid type",
    "invalid value",
    "struct",
    "Value::Tagged",
    "a boolean",
    "floating point",
    "(document)",
];

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
        edge(before) && edge(after)
    })
}

fn validate(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (what the scenario becomes, the key path, the line, words the message must hold).
fn cases() -> Vec<(String, &'static str, usize, &'static str)> {
    let push = |kv: &str| {
        BASE.replace(
            "gha: { kind: push, preset: github-actions }",
            &format!("gha: {{ kind: push, preset: github-actions, {kv} }}"),
        )
    };
    let pull = |kv: &str| {
        BASE.replace(
            "argocd: { kind: pull, preset: argocd }",
            &format!("argocd: {{ kind: pull, preset: argocd, {kv} }}"),
        )
    };
    let add = |extra: &str| format!("{BASE}{extra}\n");
    let named_late = BASE.replace("name: msg\n", "") + "name: Bad_Name\n";
    vec![
        // Booleans.
        (
            push("wait_for_rollout: 3"),
            "models.gha.wait_for_rollout",
            11,
            "true or false",
        ),
        (
            push("wait_for_rollout: yes"),
            "models.gha.wait_for_rollout",
            11,
            "true or false",
        ),
        (
            pull("retry: { refresh: 2 }"),
            "models.argocd.retry.refresh",
            12,
            "true or false",
        ),
        // Counts of at least 1.
        (
            BASE.replace("replicas: 3", "replicas: 0"),
            "fleet.replicas",
            7,
            "a whole number of at least 1, like 3",
        ),
        (
            BASE.replace("replicas: 3", "replicas: -1"),
            "fleet.replicas",
            7,
            "a whole number of at least 1, like 3",
        ),
        (
            BASE.replace("replicas: 3", "replicas: 2.5"),
            "fleet.replicas",
            7,
            "a whole number of at least 1",
        ),
        (
            BASE.replace("clusters: 2", "clusters: many"),
            "fleet.clusters",
            5,
            "a whole number of at least 1",
        ),
        (
            push("runners: 0"),
            "models.gha.runners",
            11,
            "a whole number of at least 1, like 3",
        ),
        (
            pull("concurrency: 0"),
            "models.argocd.concurrency",
            12,
            "a whole number of at least 1, like 3",
        ),
        (
            BASE.replace("repetitions: 2", "repetitions: true"),
            "repetitions",
            3,
            "a whole number of at least 1",
        ),
        // Whole numbers of 0 or more.
        (
            pull("retry: { limit: -1 }"),
            "models.argocd.retry.limit",
            12,
            "a whole number of 0 or more, like 3",
        ),
        (add("seed: -1"), "seed", 13, "a whole number of 0 or more"),
        (add("seed: abc"), "seed", 13, "a whole number of 0 or more"),
        // Shares.
        (
            pull("webhook: { loss: 2 }"),
            "models.argocd.webhook.loss",
            12,
            "a number like 0.05 or 5%",
        ),
        (
            pull("webhook: { loss: many }"),
            "models.argocd.webhook.loss",
            12,
            "a number like 0.05 or 5%",
        ),
        (
            add("faults: [{kind: api_brownout, at: 1h, duration: 5m, error_rate: 2}]"),
            "faults[0].error_rate",
            13,
            "a number like 0.05 or 5%",
        ),
        (
            add("thresholds: [{model: gha, metric: apply_errors, max: 1, tolerance: ten}]"),
            "thresholds[0].tolerance",
            13,
            "a number like 0.05 or 5%",
        ),
        (
            BASE.replace(
                "  clusters: 2\n",
                "  clusters: [{name: d, environment: dev}, {name: p, environment: prod}]\n",
            ) + "environments:\n  - { name: dev }\n  - name: prod\n    gate: { check: { duration: 1m, failure: 2 } }\n",
            "environments[1].gate.check.failure",
            16,
            "a number like 0.05 or 5%",
        ),
        // Durations and distributions.
        (
            BASE.replace("interval: 30m", "interval: 5"),
            "workload.commits.interval",
            9,
            "a duration like `5s` or `5m`",
        ),
        (
            BASE.replace("interval: 30m", "interval: soon"),
            "workload.commits.interval",
            9,
            "a number and a unit",
        ),
        (
            BASE.replace("duration: 6h", "duration: 6"),
            "duration",
            2,
            "a duration like",
        ),
        (
            push("build: 5"),
            "models.gha.build",
            11,
            "a distribution like",
        ),
        (
            pull("reconcile_jitter: 2"),
            "models.argocd.reconcile_jitter",
            12,
            "a duration like",
        ),
        // Real numbers.
        (add("time_scale: fast"), "time_scale", 13, "a number"),
        // Maps, lists and names.
        (
            pull("self_heal: 3"),
            "models.argocd.self_heal",
            12,
            "a map of settings",
        ),
        (
            pull("poll: 5"),
            "models.argocd.poll",
            12,
            "a map of settings",
        ),
        (add("prices: 3"), "prices", 13, "a map of settings"),
        (add("faults: 3"), "faults", 13, "a list"),
        (add("faults: [3]"), "faults[0]", 13, "a map of settings"),
        (
            pull("topology: 3"),
            "models.argocd.topology",
            12,
            "written as text",
        ),
        (add("baseline: 3"), "baseline", 13, "where text belongs"),
        (add("description: [a]"), "description", 13, "expected text"),
        // The name, wherever it is written; a key given twice, at its second line.
        (named_late.clone(), "name", 12, "is not a valid name"),
        (
            BASE.replace("name: msg\n", "") + "name: 5\n",
            "name",
            12,
            "where text belongs",
        ),
        (
            format!("{named_late}name: x\n"),
            "name",
            13,
            "given twice (first on line 12)",
        ),
        (
            BASE.replace("  apps: 4\n", "  apps: 4\n  apps: 5\n"),
            "fleet.apps",
            7,
            "given twice (first on line 6)",
        ),
        (
            BASE.replace("name: msg\n", ""),
            "top level",
            1,
            "`name` is missing",
        ),
    ]
}

#[test]
fn every_bad_value_is_refused_in_the_scenarios_words_at_its_line() {
    let mut wrong = Vec::new();
    for (yaml, key, line, says) in cases() {
        let (code, err) = validate(&yaml);
        let place = format!("bad.yaml:{line}:");
        let ok = code == 2
            && err.contains(&place)
            && err.contains(&format!(": {key}: "))
            && err.contains(says)
            && !TYPE_WORDS.iter().any(|w| has_word(&err, w));
        if !ok {
            wrong.push(format!(
                "{key} (want line {line}, `{says}`): exit {code}: {err}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} message(s) wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_type_word_check_finds_words_not_parts_of_words() {
    assert!(has_word("expected u32", "u32"));
    assert!(has_word("invalid type: integer", "invalid type"));
    assert!(!has_word("construct a list", "struct"));
    assert!(!has_word("a u32x value", "u32"));
}
