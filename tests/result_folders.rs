//! Result folders stay whole: two runs into one folder, runs killed (SIGKILL) or interrupted
//! (SIGINT) at any point, planted symbolic links and unusable `--out` folders never leave a
//! folder that mixes two runs, temporary files, or a file written through a link.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// `pushpull run scenarios/quickstart.yaml --repetitions 1 --out OUT --seed SEED`: about
/// 2 s of CPU in a debug build, nearly all of it writing the reports and charts.
fn quickstart(out: &Path, seed: u64) -> Command {
    let mut c = bin();
    c.arg("run")
        .arg(repo("scenarios/quickstart.yaml"))
        .args(["--repetitions", "1", "--threads", "1", "--out"])
        .arg(out)
        .args(["--seed", &seed.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn run_ok(mut c: Command) -> Output {
    let o = c.output().expect("binary runs");
    assert!(
        o.status.success(),
        "exit {:?}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every file under `dir`, by path relative to it.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A snapshot with what differs between two identical commands into different folders
/// removed: the folder's path (in the command) and run.json's wall time.
fn normalized(dir: &Path, out: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let out = out.display().to_string();
    snapshot(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let bytes = if name == Path::new("run.json") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("{}: run.json: {e}", dir.display()));
                v.as_object_mut().unwrap().remove("wall_s");
                v.to_string().into_bytes()
            } else {
                bytes
            };
            let text = String::from_utf8(bytes.clone());
            let bytes = match text {
                Ok(t) => t.replace(&out, "<OUT>").into_bytes(),
                Err(_) => bytes,
            };
            (name, bytes)
        })
        .collect()
}

/// The complete folders of seed 1 and seed 2, normalized.
fn references() -> &'static BTreeMap<u64, BTreeMap<PathBuf, Vec<u8>>> {
    static REFS: OnceLock<BTreeMap<u64, BTreeMap<PathBuf, Vec<u8>>>> = OnceLock::new();
    REFS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let mut refs = BTreeMap::new();
        for seed in [1, 2] {
            let out = tmp.path().join(format!("seed{seed}"));
            run_ok(quickstart(&out, seed));
            refs.insert(seed, normalized(&out.join("quickstart"), &out));
        }
        assert_ne!(
            refs[&1][Path::new("samples.csv")],
            refs[&2][Path::new("samples.csv")]
        );
        refs
    })
}

/// Asserts that `out/quickstart` holds the files of exactly one complete run (every file,
/// byte for byte, and no other file) and returns its seed; `None` if it is absent.
fn whole_run(out: &Path) -> Option<u64> {
    let dir = out.join("quickstart");
    if !dir.exists() {
        return None;
    }
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("summary.json"))
            .unwrap_or_else(|e| panic!("{}: summary.json: {e}", dir.display())),
    )
    .unwrap();
    let seed = summary["seed"].as_u64().expect("a seed");
    let want = references()
        .get(&seed)
        .unwrap_or_else(|| panic!("seed {seed} was never run"));
    let have = normalized(&dir, out);
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&have), names(want), "the files of one run, no more");
    for (name, bytes) in want {
        assert!(
            &have[name] == bytes,
            "{} does not belong to the run of seed {seed} (summary.json)",
            name.display()
        );
    }
    Some(seed)
}

/// Names in `out` other than the result folder: temporary folders, lock files.
fn leftovers(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "quickstart")
                .collect()
        })
        .unwrap_or_default()
}

/// Any file anywhere under `dir` whose name marks it temporary.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.contains("pushpull-tmp") || n.ends_with(".tmp")
        })
        .collect()
}

fn stderr_of(child: Child) -> (Option<i32>, String) {
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn two_runs_into_one_folder_leave_one_whole_run_and_the_second_is_refused() {
    references();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let started = Instant::now();
    let mut refused = 0;
    for i in 0..20 {
        // Alternate which one starts first.
        let (a, b) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
        let first = quickstart(&out, a).spawn().unwrap();
        let second = quickstart(&out, b).spawn().unwrap();
        let (ca, ea) = stderr_of(first);
        let (cb, eb) = stderr_of(second);
        let seed = whole_run(&out).expect("a run finished");
        match (ca, cb) {
            (Some(0), Some(0)) => {} // one after the other: the later one's folder
            (Some(0), Some(2)) | (Some(2), Some(0)) => {
                refused += 1;
                let (winner, loser_err) = if ca == Some(0) { (a, &eb) } else { (b, &ea) };
                assert_eq!(seed, winner, "the folder is the run that exited 0");
                assert!(
                    loser_err.contains("quickstart is being written by another pushpull run")
                        && loser_err.contains("pick another folder with --out"),
                    "{loser_err}"
                );
            }
            other => panic!("exit codes {other:?}\n{ea}\n{eb}"),
        }
        assert_eq!(leftovers(&out), Vec::<String>::new(), "pair {i}");
    }
    assert!(
        refused > 0,
        "no two runs overlapped: the test proved nothing"
    );
    eprintln!(
        "20 pairs in {:.1}s, {refused} refused",
        started.elapsed().as_secs_f64()
    );
}

/// How long a complete run takes here, to spread the signals over it.
fn run_time(out: &Path) -> Duration {
    let t = Instant::now();
    run_ok(quickstart(out, 1));
    t.elapsed()
}

/// Delays spread over the run's whole span (and a little past it), in a shuffled order.
fn delays(span: Duration) -> Vec<Duration> {
    (0..20)
        .map(|i| span.mul_f64(((i * 7) % 20) as f64 / 19.0 * 1.1))
        .collect()
}

#[test]
fn sigint_at_any_point_leaves_the_previous_or_the_new_run_and_no_temp_files() {
    references();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let span = run_time(&out);
    let mut previous = Some(1);
    let mut kept = 0;
    for (i, delay) in delays(span).into_iter().enumerate() {
        let seed = 1 + (i as u64 + 1) % 2;
        let child = quickstart(&out, seed).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let (code, err) = stderr_of(child);
        // 130: interrupted; 0: it had finished; None: killed before its handler existed.
        assert!(
            matches!(code, Some(130) | Some(0) | None),
            "exit {code:?}: {err}"
        );
        let now = whole_run(&out);
        assert!(
            now == previous || now == Some(seed),
            "after SIGINT at {delay:?}: seed {now:?}, expected {previous:?} or {seed}"
        );
        if code == Some(130) {
            assert!(err.contains("interrupted (SIGINT)"), "{err}");
            kept += usize::from(now == previous);
        }
        assert_eq!(
            leftovers(&out),
            Vec::<String>::new(),
            "after SIGINT at {delay:?}"
        );
        assert_eq!(temp_files(&out), Vec::<PathBuf>::new());
        previous = now;
    }
    assert!(kept > 0, "no SIGINT landed during a run");
}

#[test]
fn sigkill_at_any_point_leaves_a_whole_run_and_the_next_run_removes_the_leftovers() {
    references();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let span = run_time(&out);
    let mut previous = Some(1);
    let mut left = 0;
    for (i, delay) in delays(span).into_iter().enumerate() {
        let seed = 1 + (i as u64 + 1) % 2;
        let mut child = quickstart(&out, seed).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let now = whole_run(&out);
        assert!(
            now == previous || now == Some(seed),
            "after SIGKILL at {delay:?}: seed {now:?}, expected {previous:?} or {seed}"
        );
        // Only pushpull's own hidden names may be left, for the next run to remove.
        for name in leftovers(&out) {
            assert!(
                name.starts_with(".quickstart.pushpull-"),
                "unexpected {name}"
            );
            left += 1;
        }
        previous = now;
    }
    assert!(left > 0, "no SIGKILL landed during a run");
    run_ok(quickstart(&out, 2));
    assert_eq!(whole_run(&out), Some(2));
    assert_eq!(
        leftovers(&out),
        Vec::<String>::new(),
        "the next run cleans up"
    );
    assert_eq!(temp_files(&out), Vec::<PathBuf>::new());
}

#[test]
fn planted_links_at_temporary_and_lock_names_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let victim = tmp.path().join("victim.txt");
    let victim_dir = tmp.path().join("victim-dir");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep.txt"), "precious").unwrap();
    let link = |at: &Path, to: &Path| std::os::unix::fs::symlink(to, at).unwrap();
    let intact = || {
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            std::fs::read_to_string(victim_dir.join("keep.txt")).unwrap(),
            "precious"
        );
    };
    run_ok(quickstart(&out, 1));
    let dir = out.join("quickstart");

    // A link at the lock file: refused, the link's target untouched.
    link(&out.join(".quickstart.pushpull-lock"), &victim);
    let o = quickstart(&out, 2).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(".quickstart.pushpull-lock is a symbolic link"),
        "{err}"
    );
    intact();
    std::fs::remove_file(out.join(".quickstart.pushpull-lock")).unwrap();

    // Links at the temporary names of earlier versions, at names a killed run leaves
    // (removed, not followed), and at a report file.
    for name in [".summary.json.tmp", ".samples.csv.tmp", ".report.html.tmp"] {
        link(&dir.join(name), &victim);
    }
    link(&dir.join("charts/.deploy_latency.svg.tmp"), &victim);
    link(
        &out.join(".quickstart.pushpull-tmp-1-0000000000000000"),
        &victim_dir,
    );
    link(
        &out.join(".quickstart.pushpull-old-1-0000000000000000"),
        &victim_dir,
    );
    run_ok(quickstart(&out, 2));
    intact();
    assert_eq!(whole_run(&out), Some(2));
    assert_eq!(leftovers(&out), Vec::<String>::new());

    // `pushpull report` rebuilds in place: a link at a temporary name or at an output is
    // replaced, never written through; a linked charts/ folder is refused.
    link(&dir.join(".report.html.tmp"), &victim);
    std::fs::remove_file(dir.join("report.md")).unwrap();
    link(&dir.join("report.md"), &victim);
    let o = bin().arg("report").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    intact();
    assert!(
        !std::fs::symlink_metadata(dir.join("report.md"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    std::fs::remove_file(dir.join(".report.html.tmp")).unwrap();
    assert_eq!(whole_run(&out), Some(2));

    std::fs::rename(dir.join("charts"), tmp.path().join("charts-aside")).unwrap();
    link(&dir.join("charts"), &victim_dir);
    let o = bin().arg("report").arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");
    intact();
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 1);
}

/// `run` of the 24-hour, 2,000-Deployment fleet scenario with 4 repetitions: a minute of
/// simulation in a debug build, so a refusal within 10 s happened before simulating.
fn fleet_into(out: &Path) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let o = bin()
        .arg("run")
        .arg(repo("scenarios/fleet.yaml"))
        .args(["--repetitions", "4", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.stdout.is_empty(), "it simulated: {err}");
    (o.status.code(), err, t.elapsed())
}

#[test]
fn unusable_out_folders_and_names_are_refused_before_simulating() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let fast = Duration::from_secs(10);

    for out in [file.clone(), file.join("below")] {
        let (code, err, took) = fleet_into(&out);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("{} is a file, not a folder", file.display()))
                && err.contains("pick another with --out"),
            "{err}"
        );
        assert!(took < fast, "took {took:?}");
    }

    // Read-only: permission bits where they bind (not for root, which ignores them), else
    // /sys, which the kernel keeps unwritable even for root.
    let ro = tmp.path().join("read-only");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    let ro = if std::fs::write(ro.join("probe"), "").is_err() {
        ro
    } else {
        let sys = PathBuf::from("/sys");
        assert!(
            std::fs::write(sys.join("pushpull-probe"), "").is_err(),
            "no read-only folder to test with"
        );
        sys
    };
    let (code, err, took) = fleet_into(&ro);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot write in {}", ro.display()))
            && err.contains("pick another folder with --out"),
        "{err}"
    );
    assert!(took < fast, "took {took:?}");
    let (code, err, _) = fleet_into(&ro.join("deeper"));
    assert_eq!(code, Some(2), "{err}");

    // The scenario's folder is a file, or holds files pushpull did not write.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("fleet"), "mine").unwrap();
    let (code, err, took) = fleet_into(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("fleet is a file, not a folder"), "{err}");
    assert!(took < fast, "took {took:?}");
    std::fs::remove_file(out.join("fleet")).unwrap();
    std::fs::create_dir(out.join("fleet")).unwrap();
    std::fs::write(out.join("fleet/notes.txt"), "mine").unwrap();
    let (code, err, _) = fleet_into(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("holds `notes.txt`, which is not a pushpull result"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("fleet/notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(leftovers_of(&out), vec!["fleet".to_string()]);

    // A name too long to be a folder name.
    let long = tmp.path().join("long.yaml");
    let text = std::fs::read_to_string(repo("scenarios/fleet.yaml"))
        .unwrap()
        .replace("name: fleet", &format!("name: {}", "f".repeat(250)));
    std::fs::write(&long, text).unwrap();
    let t = Instant::now();
    let o = bin()
        .arg("run")
        .arg(&long)
        .args(["--repetitions", "4", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("name"), "{err}");
    assert!(o.stdout.is_empty() && t.elapsed() < fast);
}

fn leftovers_of(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_run_keeps_the_sweep_folder_and_a_sweep_replaces_its_folder_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let scenario = tmp.path().join("tiny.yaml");
    std::fs::write(
        &scenario,
        "name: tiny\nseed: 1\nduration: 1h\nrepetitions: 1\n\
         fleet: { clusters: 1, apps: 2, replicas: 1 }\n\
         workload: { commits: { arrival: poisson, mean_interval: 10m }, apps_per_commit: 1 }\n\
         models: { push: { preset: github-actions }, pull: { preset: argocd } }\n",
    )
    .unwrap();
    let sweep = |values: &str| {
        let mut c = bin();
        c.arg("sweep")
            .arg(&scenario)
            .args(["--set", &format!("fleet.apps={values}"), "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        run_ok(c);
    };
    sweep("1,2");
    let mut run = bin();
    run.arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    run_ok(run);
    let dir = out.join("tiny");
    assert!(dir.join("summary.json").is_file());
    assert!(
        dir.join("sweep/fleet-apps-1/summary.json").is_file(),
        "kept"
    );
    assert!(
        dir.join("sweep/fleet-apps-2/summary.json").is_file(),
        "kept"
    );
    sweep("3");
    let variants = leftovers_of(&dir.join("sweep"));
    assert_eq!(
        variants,
        vec!["charts", "fleet-apps-3", "sweep.csv", "sweep.html"],
        "replaced whole"
    );
    assert!(dir.join("summary.json").is_file(), "the run is untouched");
    assert_eq!(leftovers_of(&out), vec!["tiny".to_string()]);
    assert_eq!(temp_files(&dir), Vec::<PathBuf>::new());
}
