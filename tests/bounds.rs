//! End-to-end: every reproduction of issue 11's scenario items (1, 4, 6–10) ends in exit
//! 2 within a second, with the file and line of the offending key, or, for scenarios
//! that are valid but do not fit the machine, with the estimate and the flag to raise
//! the budget. Nothing here simulates: each case is refused before the engine starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(1);

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Runs `args`, asserts exit 2 within [`LIMIT`], returns stderr.
fn refused(args: &[&std::ffi::OsStr]) -> String {
    let t = Instant::now();
    let o: Output = bin().args(args).output().expect("binary runs");
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}\nstdout:\n{}\nstderr:\n{err}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(took < LIMIT, "{args:?} took {took:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Writes `text` as a scenario file and returns its path.
fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// `validate` and `run` both refuse `text` with `file:line` and the key.
fn refused_at(text: &str, line: usize, key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = scenario(dir.path(), "case", text);
    let place = format!("{}:{line}:", p.display());
    for cmd in ["validate", "run"] {
        let mut args = vec![cmd.as_ref(), p.as_os_str()];
        let out = dir.path().join("out");
        if cmd == "run" {
            args.extend(["--out".as_ref(), out.as_os_str()]);
        }
        let err = refused(&args);
        assert!(err.contains(&place), "{cmd}: expected {place}\n{err}");
        assert!(err.contains(key), "{cmd}: expected {key}\n{err}");
        assert!(!out.exists(), "{cmd} wrote results for a refused scenario");
    }
}

const HEAD: &str = "name: t\nduration: 6h\n";

#[test]
fn item1_replicas_beyond_int32_are_refused_in_files_and_sweeps() {
    refused_at(
        &format!(
            "{HEAD}fleet: {{replicas: 2147483648}}\nfaults:\n  - {{ kind: drift, change: scale, at: 1h }}\n"
        ),
        3,
        "fleet.replicas",
    );
    let out = tempfile::tempdir().unwrap();
    let err = refused(&[
        "sweep".as_ref(),
        repo("scenarios/quickstart.yaml").as_os_str(),
        "--set".as_ref(),
        "fleet.replicas=3,2147483648".as_ref(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    assert!(
        err.contains("fleet.replicas") && err.contains("int32"),
        "{err}"
    );
}

#[test]
fn item4_time_scale_outside_its_range_is_refused_in_file_and_flag() {
    for x in ["1e300", "1e-300", "1e12"] {
        refused_at(&format!("{HEAD}time_scale: {x}\n"), 3, "time_scale");
        let out = tempfile::tempdir().unwrap();
        let err = refused(&[
            "run".as_ref(),
            repo("scenarios/quickstart-live.yaml").as_os_str(),
            "--mode".as_ref(),
            "emulated".as_ref(),
            "--time-scale".as_ref(),
            x.as_ref(),
            "--out".as_ref(),
            out.path().as_os_str(),
        ]);
        assert!(
            err.contains("--time-scale") && err.contains("0.001..1"),
            "{err}"
        );
        assert!(err.contains("round trip"), "says why: {err}");
    }
}

#[test]
fn item6_counts_beyond_their_bounds_are_located() {
    refused_at(
        &format!("{HEAD}fleet:\n  clusters: 100000\n"),
        4,
        "fleet.clusters",
    );
    refused_at(
        &format!("{HEAD}fleet:\n  clusters: 1e9\n"),
        4,
        "fleet.clusters",
    );
    refused_at(&format!("{HEAD}fleet:\n  apps: 1e9\n"), 4, "fleet.apps");
    refused_at(&format!("{HEAD}repetitions: 1e9\n"), 3, "repetitions");
    refused_at(&format!("{HEAD}repetitions: 100000\n"), 3, "repetitions");
    refused_at("name: t\nduration: 500y\n", 2, "duration");
    refused_at(
        &format!("{HEAD}workload:\n  commits: {{ arrival: poisson, mean_interval: 1ns }}\n"),
        4,
        "workload.commits.mean_interval",
    );
    refused_at(
        &format!(
            "{HEAD}faults:\n  - {{ kind: drift, change: env, arrival: poisson, mean_interval: 1ns }}\n"
        ),
        4,
        "faults[0]",
    );
    refused_at(
        &format!("{HEAD}models:\n  push:\n    drift_check: {{every: 1ns}}\n"),
        5,
        "models.push.drift_check",
    );
}

#[test]
fn item6_valid_scenarios_too_big_for_the_machine_are_refused_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (name, text, flag) in [
        (
            "replicas",
            format!("{HEAD}fleet:\n  replicas: 100000000\n"),
            "--max-events",
        ),
        (
            "fleet",
            format!("{HEAD}fleet:\n  clusters: 10000\n  apps: 1000\n"),
            "--max-memory",
        ),
        (
            "commits",
            format!("{HEAD}workload:\n  commits: {{ arrival: poisson, mean_interval: 1ms }}\n"),
            "--max-memory",
        ),
    ] {
        let p = scenario(dir.path(), name, &text);
        let err = refused(&[
            "run".as_ref(),
            p.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--max-memory".as_ref(),
            "4GiB".as_ref(),
        ]);
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(
            err.contains("estimated") && err.contains(flag),
            "{name}: {err}"
        );
        assert!(!out.exists());
        // validate accepts it and prints the estimate, with a warning.
        let o = bin().arg("validate").arg(&p).output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("peak memory"));
    }
    // A budget flag that is not a size is bad usage.
    let p = scenario(dir.path(), "ok", HEAD);
    let err = refused(&[
        "run".as_ref(),
        p.as_os_str(),
        "--max-memory".as_ref(),
        "lots".as_ref(),
    ]);
    assert!(err.contains("--max-memory"), "{err}");
}

#[test]
fn item7_zero_delay_retries_and_backoffs_are_refused() {
    refused_at(
        &format!(
            "{HEAD}models:\n  pull:\n    retry: {{initial: 0s, max: 0s}}\nfaults:\n  - {{ kind: git_outage, at: 1h, duration: 1h }}\n"
        ),
        5,
        "models.pull.retry.initial",
    );
    refused_at(
        &format!("{HEAD}models:\n  pull:\n    self_heal:\n      cooldown: 0s\n"),
        6,
        "models.pull.self_heal.cooldown",
    );
    refused_at(
        &format!("{HEAD}models:\n  pull:\n    self_heal: {{ initial: 1ms, max: 0s }}\n"),
        5,
        "models.pull.self_heal.max",
    );
}

#[test]
fn item8_deep_nesting_is_refused_at_its_line_in_well_under_a_second() {
    let n = 160_000;
    refused_at(
        &format!("{HEAD}fleet:\n{}{}\n", "[".repeat(n), "]".repeat(n)),
        4,
        "deeper than 64",
    );
    refused_at(
        &format!("{HEAD}fleet: {}1{}\n", "{a: ".repeat(n), "}".repeat(n)),
        3,
        "deeper than 64",
    );
}

#[test]
fn item9_durations_over_a_hundred_years_are_refused_where_written() {
    refused_at(
        "name: t\nduration: 200days\nfaults:\n  - { kind: git_outage, at: 199days, duration: 584y }\n",
        4,
        "100 years",
    );
    refused_at(
        "name: t\nduration: 200days\nfaults:\n  - { kind: bad_release, at: 199days, rollback_after: 584y }\n",
        4,
        "100 years",
    );
}

#[test]
fn item10_names_and_scalars_are_strictly_typed() {
    refused_at(
        &format!("name: {}\nduration: 1h\n", "a".repeat(300)),
        1,
        "DNS-1123",
    );
    refused_at("name: true\nduration: 1h\n", 1, "name");
    refused_at("name: 123\nduration: 1h\n", 1, "name");
    refused_at(
        &format!("{HEAD}fleet:\n  clusters: !!float 1\n"),
        4,
        "fleet.clusters",
    );
    refused_at(&format!("{HEAD}fleet:\n  apps: \"10\"\n"), 4, "fleet.apps");
    refused_at(&format!("{HEAD}seed: \"1\"\n"), 3, "seed");
}

#[test]
fn validate_prints_an_estimate_for_every_shipped_scenario() {
    let o = bin()
        .arg("validate")
        .arg(repo("scenarios/fleet.yaml"))
        .arg(repo("scenarios/quickstart-live.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("events") && out.contains("peak memory"),
        "{out}"
    );
    assert!(out.contains("54 s of wall time"), "{out}");
}

#[test]
fn a_live_run_longer_than_ten_minutes_is_announced_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let long = scenario(
        dir.path(),
        "long",
        "name: long\nduration: 1h\ntime_scale: 1\n",
    );
    let short = scenario(
        dir.path(),
        "short",
        "name: short\nduration: 1h\ntime_scale: 0.1\n",
    );
    // A second, invalid file stops the run after every file was admitted, so nothing
    // live starts here.
    let bad = scenario(dir.path(), "bad", "name: true\nduration: 1h\n");
    let out = dir.path().join("out");
    let err = refused(&[
        "run".as_ref(),
        "--mode".as_ref(),
        "emulated".as_ref(),
        long.as_os_str(),
        short.as_os_str(),
        bad.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        err.contains(&format!("warning: {}", long.display()))
            && err.contains("60 min of wall time"),
        "{err}"
    );
    assert!(
        !err.contains(&format!("warning: {}", short.display())),
        "{err}"
    );
    assert!(err.contains("bad.yaml:1:"), "{err}");
}
