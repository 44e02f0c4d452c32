//! Property-based robustness of everything a scenario file reaches: every file in
//! scenarios/ is mutated (keys deleted, renamed, added and duplicated; values swapped to
//! other types; numeric and duration extremes; deep nesting; YAML tags; anchors and
//! aliases; encodings and invalid UTF-8; very long strings; truncation) and the binary
//! must treat each mutant as a user's bad input: `pushpull validate`, and `pushpull run`
//! when validate accepts it, exit 0, 1 or 2 (never a panic or a signal), every exit 2
//! names `file:line`, and each command finishes within a time and a memory bound.
//!
//! Cases are drawn by proptest from a fixed seed, so every run tries the same mutants.
//! They run as processes, so instead of shrinking, every failing mutant is kept under
//! target/scenario-mutations/ and the failures are listed by class at the end.
//!
//! The default test runs a short, fixed set (well under a minute). The long run tries
//! every class:
//!
//! ```text
//! PUSHPULL_MUTATIONS=5000 cargo test --release --test scenario_mutations -- --ignored
//! ```
//!
//! `PUSHPULL_MUTATION_CLASSES=all` (or a comma-separated list of class names) widens the
//! default test; `PUSHPULL_MUTATION_CPU_S` changes the CPU-time bound (10 s).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The seed of every run's cases (fixed: a failure seen once is seen again).
const SEED: [u8; 32] = *b"pushpull-scenario-mutations-v001";

/// Mutants per scenario file in the default test.
const DEFAULT_PER_FILE: usize = 3;

/// Each command's bounds: CPU time (`ulimit -t`; the kernel stops the process with
/// SIGXCPU), address space (`ulimit -v`), and a wall-clock backstop for a process that
/// blocks instead of computing. CPU time, not wall time, is the bound that matters: on a
/// shared 2-core machine the same run takes 2 s of CPU and anything up to 30 s of wall
/// time.
const DEFAULT_CPU_S: u64 = 10;
const WALL_FACTOR: u64 = 6;
const MEMORY_LIMIT_KIB: u64 = 2 * 1024 * 1024;
const SIGXCPU: i32 = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    DeleteKey,
    RenameKey,
    AddKey,
    DuplicateKey,
    SwapType,
    NumericExtreme,
    DurationExtreme,
    DeepNesting,
    YamlTag,
    AnchorAlias,
    Encoding,
    LongString,
    Truncate,
}

const ALL_CLASSES: [Class; 13] = [
    Class::DeleteKey,
    Class::RenameKey,
    Class::AddKey,
    Class::DuplicateKey,
    Class::SwapType,
    Class::NumericExtreme,
    Class::DurationExtreme,
    Class::DeepNesting,
    Class::YamlTag,
    Class::AnchorAlias,
    Class::Encoding,
    Class::LongString,
    Class::Truncate,
];

/// The classes of the default test: every class.
const DEFAULT_CLASSES: [Class; 13] = ALL_CLASSES;

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::DeleteKey => "delete-key",
            Class::RenameKey => "rename-key",
            Class::AddKey => "add-key",
            Class::DuplicateKey => "duplicate-key",
            Class::SwapType => "swap-type",
            Class::NumericExtreme => "numeric-extreme",
            Class::DurationExtreme => "duration-extreme",
            Class::DeepNesting => "deep-nesting",
            Class::YamlTag => "yaml-tag",
            Class::AnchorAlias => "anchor-alias",
            Class::Encoding => "encoding",
            Class::LongString => "long-string",
            Class::Truncate => "truncate",
        }
    }

    fn from_name(s: &str) -> Option<Class> {
        ALL_CLASSES.into_iter().find(|c| c.name() == s.trim())
    }
}

/// One mutant: which file, which class, and the numbers that pick where and what.
#[derive(Clone, Debug)]
struct Case {
    file: usize,
    class: Class,
    pick: u64,
    variant: u64,
    extra: u64,
}

/// A scenario file as mutations start from it.
struct Base {
    name: String,
    /// The file's text (the re-serialized document if it had to be made smaller).
    text: String,
    doc: Value,
    /// Every node below the root, as a path of keys and indices.
    paths: Vec<Vec<Seg>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(Value),
    Index(usize),
}

/// A value the YAML serializer writes bare, replaced afterwards by raw YAML text.
const HOLE: &str = "PUSHPULLMUTATIONHOLE";
const HOLE2: &str = "PUSHPULLMUTATIONHOLETWO";

fn bases() -> Vec<Base> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("shipped scenarios are UTF-8");
            let mut doc: Value = serde_yaml_ng::from_str(&text).expect("shipped scenarios parse");
            // Keep unmutated runs short: at most 1,000 Deployments (fleet-xl has 100,000).
            let shrunk = shrink(&mut doc);
            let text = if shrunk {
                serde_yaml_ng::to_string(&doc).expect("a parsed document serializes")
            } else {
                text
            };
            let mut paths = Vec::new();
            collect_paths(&doc, &mut Vec::new(), &mut paths);
            Base {
                name: p
                    .file_stem()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned(),
                text,
                doc,
                paths,
            }
        })
        .collect()
}

fn shrink(doc: &mut Value) -> bool {
    let Some(fleet) = doc.get_mut("fleet").and_then(Value::as_mapping_mut) else {
        return false;
    };
    let get = |m: &Mapping, k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(1);
    let (clusters, apps) = (get(fleet, "clusters"), get(fleet, "apps"));
    if clusters * apps <= 1_000 {
        return false;
    }
    fleet.insert("clusters".into(), Value::from((1_000 / apps).max(1)));
    true
}

fn collect_paths(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                at.push(Seg::Key(k.clone()));
                out.push(at.clone());
                collect_paths(child, at, out);
                at.pop();
            }
        }
        Value::Sequence(s) => {
            for (i, child) in s.iter().enumerate() {
                at.push(Seg::Index(i));
                out.push(at.clone());
                collect_paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for seg in path {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Mapping(m)) => m.get_mut(k)?,
            (Seg::Index(i), Value::Sequence(s)) => s.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn pick<T: Clone>(items: &[T], n: u64) -> T {
    items[(n % items.len() as u64) as usize].clone()
}

/// The document with the node at `path` replaced by raw YAML text.
fn with_raw(doc: &Value, path: &[Seg], raw: &str) -> String {
    let mut d = doc.clone();
    if let Some(n) = node_mut(&mut d, path) {
        *n = Value::String(HOLE.into());
    }
    serde_yaml_ng::to_string(&d)
        .expect("a document serializes")
        .replace(HOLE, raw)
}

const SWAPS: &[&str] = &[
    "\"a string\"",
    "word",
    "42",
    "-7",
    "3.5",
    "true",
    "false",
    "[1, 2]",
    "{a: 1}",
    "null",
    "~",
    "\"\"",
    "[]",
    "{}",
    "\"10m\"",
    "\"25%\"",
    "yes",
];

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e9",
    "1000000000",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e300",
    "-1e300",
    "1e-300",
    ".nan",
    ".inf",
    "-.inf",
    "0.0",
    "-0.0",
    "0x10",
    "0o17",
    "1_000",
    "100000",
];

const DURATIONS: &[&str] = &[
    "1ns",
    "0s",
    "0",
    "1ms",
    "600y",
    "584y",
    "500y",
    "200days",
    "1000000000h",
    "18446744073709551615ns",
    "18446744073709551616ns",
    "99999999999999999999s",
    "-5m",
    "1h 1h",
    "1.5h",
    "5",
];

const TAGS: &[&str] = &[
    "!!float 1",
    "!!binary aGVsbG8=",
    "!!str 3",
    "!!int 7",
    "!!bool true",
    "!!null ''",
    "!!map {}",
    "!!seq []",
    "!custom x",
    "!<tag:yaml.org,2002:str> 5",
    "!!timestamp 2001-12-14",
    "!!set {a, b}",
];

fn deep(variant: u64, extra: u64) -> String {
    let depth = pick(&[8usize, 64, 1_000, 20_000, 100_000], extra);
    match variant % 3 {
        0 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
        _ => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
    }
}

/// Flow YAML (JSON) of a node, for anchoring a copy of it.
fn flow(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn key_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.split_once(':').is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
        .map(|(i, _)| i)
        .collect()
}

fn mutate(base: &Base, case: &Case) -> Vec<u8> {
    let (p, v, x) = (case.pick, case.variant, case.extra);
    let paths = &base.paths;
    let path = &paths[(p % paths.len() as u64) as usize];
    let key_paths: Vec<&Vec<Seg>> = paths
        .iter()
        .filter(|p| matches!(p.last(), Some(Seg::Key(_))))
        .collect();
    match case.class {
        Class::DeleteKey => {
            let mut d = base.doc.clone();
            let (last, parent) = path.split_last().expect("paths are not empty");
            match (last, node_mut(&mut d, parent)) {
                (Seg::Key(k), Some(Value::Mapping(m))) => {
                    m.remove(k);
                }
                (Seg::Index(i), Some(Value::Sequence(s))) => {
                    s.remove(*i);
                }
                _ => {}
            }
            serde_yaml_ng::to_string(&d)
                .expect("serializes")
                .into_bytes()
        }
        Class::RenameKey => {
            let kp = key_paths[(p % key_paths.len() as u64) as usize];
            let (last, parent) = kp.split_last().expect("not empty");
            let Seg::Key(k) = last else {
                unreachable!("a key path")
            };
            let old = k.as_str().unwrap_or("k").to_string();
            let new = match v % 7 {
                0 => format!("{old}s"),
                1 => old.to_uppercase(),
                2 => old.replace('_', "-"),
                3 => format!("{old}_"),
                4 => String::new(),
                5 => "<<".into(),
                _ => format!(" {old}"),
            };
            let mut d = base.doc.clone();
            if let Some(Value::Mapping(m)) = node_mut(&mut d, parent)
                && let Some(val) = m.remove(k)
            {
                m.insert(Value::String(new), val);
            }
            serde_yaml_ng::to_string(&d)
                .expect("serializes")
                .into_bytes()
        }
        Class::AddKey => {
            let maps: Vec<Vec<Seg>> = std::iter::once(Vec::new())
                .chain(paths.iter().cloned())
                .filter(|p| {
                    let mut d = base.doc.clone();
                    matches!(node_mut(&mut d, p), Some(Value::Mapping(_)))
                })
                .collect();
            let at = &maps[(p % maps.len() as u64) as usize];
            let mut d = base.doc.clone();
            let key = pick(
                &[
                    "extra", "duration", "kind", "seed", "name", "at", "replicas", "",
                ],
                v,
            );
            let val = pick(&[Value::from(1), Value::from("1h"), Value::Null], x);
            if let Some(Value::Mapping(m)) = node_mut(&mut d, at) {
                m.insert(
                    Value::String(format!("{key}{}", if v % 2 == 0 { "_x" } else { "" })),
                    val,
                );
            }
            serde_yaml_ng::to_string(&d)
                .expect("serializes")
                .into_bytes()
        }
        Class::DuplicateKey => {
            let lines: Vec<&str> = base.text.lines().collect();
            let keyed = key_lines(&base.text);
            let i = keyed[(p % keyed.len() as u64) as usize];
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let dup = match v % 2 {
                0 => lines[i].to_string(),
                // The same key with another value.
                _ => match lines[i].split_once(':') {
                    Some((k, _)) => format!("{k}: {}", pick(SWAPS, x)),
                    None => lines[i].to_string(),
                },
            };
            out.insert(i + 1, dup);
            (out.join("\n") + "\n").into_bytes()
        }
        Class::SwapType => with_raw(&base.doc, path, pick(SWAPS, v)).into_bytes(),
        Class::NumericExtreme => with_raw(&base.doc, path, pick(NUMBERS, v)).into_bytes(),
        Class::DurationExtreme => with_raw(&base.doc, path, pick(DURATIONS, v)).into_bytes(),
        Class::DeepNesting => with_raw(&base.doc, path, &deep(v, x)).into_bytes(),
        Class::YamlTag => with_raw(&base.doc, path, pick(TAGS, v)).into_bytes(),
        Class::AnchorAlias => {
            let other = &paths[(x % paths.len() as u64) as usize];
            let related = other.starts_with(path) || path.starts_with(other);
            match v % 4 {
                0 | 1 if !related => {
                    let mut d = base.doc.clone();
                    let orig = node_mut(&mut d, path).cloned().unwrap_or(Value::Null);
                    if let Some(n) = node_mut(&mut d, path) {
                        *n = Value::String(HOLE.into());
                    }
                    if let Some(n) = node_mut(&mut d, other) {
                        *n = Value::String(HOLE2.into());
                    }
                    // HOLE2 contains HOLE: replace it first.
                    let text = serde_yaml_ng::to_string(&d).expect("serializes");
                    let alias = if v % 4 == 0 { "*a" } else { "[*a, *a, *a]" };
                    text.replace(HOLE2, alias)
                        .replace(HOLE, &format!("&a {}", flow(&orig)))
                        .into_bytes()
                }
                2 => with_raw(&base.doc, path, "*undefined").into_bytes(),
                _ => {
                    // A small billion-laughs: 9^5 nodes from a few lines.
                    let raw = "&l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]";
                    let mut text = with_raw(&base.doc, path, raw);
                    for lvl in 1..=5 {
                        let prev = format!("*l{}", lvl - 1);
                        let list = [prev.as_str(); 9].join(", ");
                        text.push_str(&format!("x{lvl}: &l{lvl} [{list}]\n"));
                    }
                    text.into_bytes()
                }
            }
        }
        Class::Encoding => {
            let t = base.text.as_bytes();
            let at = (p % (t.len() as u64 + 1)) as usize;
            match v % 9 {
                0 => [b"\xEF\xBB\xBF".as_slice(), t].concat(),
                1 => {
                    let mut out = vec![0xFF, 0xFE];
                    out.extend(base.text.encode_utf16().flat_map(u16::to_le_bytes));
                    out
                }
                2 => {
                    let mut out = vec![0xFE, 0xFF];
                    out.extend(base.text.encode_utf16().flat_map(u16::to_be_bytes));
                    out
                }
                3 => base
                    .text
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect(),
                4 => [&t[..at], b"\xFF".as_slice(), &t[at..]].concat(),
                5 => [t, b"\xC3".as_slice()].concat(),
                6 => [&t[..at], b"\x00".as_slice(), &t[at..]].concat(),
                7 => base.text.replace('\n', "\r\n").into_bytes(),
                _ => [&t[..at], b"\xC0\xAF".as_slice(), &t[at..]].concat(),
            }
        }
        Class::LongString => {
            let len = pick(&[300usize, 10_000, 1_000_000], x);
            let s = if v % 2 == 0 {
                "a".repeat(len)
            } else {
                "é".repeat(len)
            };
            with_raw(&base.doc, path, &format!("\"{s}\"")).into_bytes()
        }
        Class::Truncate => {
            let t = base.text.as_bytes();
            t[..(p % t.len() as u64) as usize].to_vec()
        }
    }
}

fn case_strategy(files: usize, classes: Vec<Class>) -> impl Strategy<Value = Case> {
    (
        0..files,
        proptest::sample::select(classes),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(file, class, pick, variant, extra)| Case {
            file,
            class,
            pick,
            variant,
            extra,
        })
}

/// How one command ended.
enum End {
    Exited(ExitStatus),
    TimedOut,
}

/// Runs the binary with `args` under the CPU and memory limits, stdout and stderr to
/// files in `dir` (a pipe nobody reads could stall it), killing it at the wall backstop.
fn run_bounded(args: &[&std::ffi::OsStr], dir: &Path, cpu_s: u64) -> (End, String) {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let timeout = Duration::from_secs(cpu_s * WALL_FACTOR);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -t {cpu_s} && ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_pushpull"))
        .args(args)
        // glibc reserves 64 MiB of address space per malloc arena: keep the address
        // space close to what the process uses.
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("a stdout file"))
        .stderr(std::fs::File::create(&err).expect("a stderr file"))
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    let end = loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            break End::Exited(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break End::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&err).unwrap_or_default()).into_owned();
    (end, stderr)
}

/// Whether `stderr` names `file` followed by `:LINE`.
fn names_file_and_line(stderr: &str, file: &str) -> bool {
    stderr.match_indices(file).any(|(i, _)| {
        let rest = &stderr[i + file.len()..];
        rest.strip_prefix(':')
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// What went wrong with one command on one mutant, or `None`.
fn judge(end: &End, stderr: &str, file: &str, cpu_s: u64) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let first = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let first: String = first.chars().take(200).collect();
    match end {
        End::TimedOut => Some(format!(
            "no exit within {} s of wall time (blocked?)",
            cpu_s * WALL_FACTOR
        )),
        End::Exited(s) => match (s.code(), s.signal()) {
            (Some(0 | 1), _) => None,
            (Some(2), _) if names_file_and_line(stderr, file) => None,
            // A budget refusal is about the whole file (its size), so it names the file
            // and the budget, not a line.
            (Some(2), _) if stderr.contains(file) && stderr.contains("too big to run") => None,
            (Some(2), _) => Some(format!("exit 2 without file:line: {first}")),
            (Some(101), _) => Some(format!(
                "panic: {}",
                stderr
                    .lines()
                    .find(|l| l.contains("panicked"))
                    .unwrap_or(&first)
                    .trim()
            )),
            (Some(c), _) => Some(format!("exit {c}: {first}")),
            (None, Some(SIGXCPU)) => Some(format!("more than {cpu_s} s of CPU time")),
            (None, Some(sig)) => Some(format!(
                "killed by signal {sig} (6 is an abort, e.g. an allocation over the {} GiB limit): {first}",
                MEMORY_LIMIT_KIB / 1024 / 1024
            )),
            (None, None) => Some("ended without a code or a signal".into()),
        },
    }
}

struct Failure {
    class: Class,
    base: String,
    command: &'static str,
    what: String,
    kept: PathBuf,
}

/// Runs every case; returns the failures (each mutant that failed is kept).
fn run_cases(bases: &[Base], cases: &[Case], cpu_s: u64) -> Vec<Failure> {
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scenario-mutations");
    let _ = std::fs::remove_dir_all(&keep);
    std::fs::create_dir_all(&keep).expect("a folder for failing mutants");
    let work = tempfile::tempdir().expect("a temp dir");
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let base = &bases[case.file];
        let bytes = mutate(base, case);
        let dir = work.path().join(format!("{n}"));
        std::fs::create_dir_all(&dir).expect("a case folder");
        let file = dir.join(format!("{}.yaml", base.name));
        std::fs::write(&file, &bytes).expect("writes the mutant");
        let file_s = file.display().to_string();
        let mut fail = |command: &'static str, what: String| {
            let kept = keep.join(format!(
                "{n:05}-{}-{}-{command}.yaml",
                case.class.name(),
                base.name
            ));
            let _ = std::fs::write(&kept, &bytes);
            failures.push(Failure {
                class: case.class,
                base: base.name.clone(),
                command,
                what,
                kept,
            });
        };
        let (end, stderr) = run_bounded(&["validate".as_ref(), file.as_os_str()], &dir, cpu_s);
        if let Some(what) = judge(&end, &stderr, &file_s, cpu_s) {
            fail("validate", what);
            continue;
        }
        let validated = matches!(end, End::Exited(s) if s.success());
        if !validated {
            continue;
        }
        let out = dir.join("out");
        let args: [&std::ffi::OsStr; 6] = [
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--repetitions".as_ref(),
            "1".as_ref(),
        ];
        let (end, stderr) = run_bounded(&args, &dir, cpu_s);
        if let Some(what) = judge(&end, &stderr, &file_s, cpu_s) {
            fail("run", what);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    failures
}

fn report(failures: &[Failure], cases: usize) -> String {
    let mut by: BTreeMap<(Class, &str, String), Vec<&Failure>> = BTreeMap::new();
    for f in failures {
        // Group by the message without its varying parts (paths, numbers).
        let shape: String = f
            .what
            .split_whitespace()
            .take(6)
            .map(|w| {
                if w.contains('/') || w.chars().any(|c| c.is_ascii_digit()) {
                    "…"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        by.entry((f.class, f.command, shape)).or_default().push(f);
    }
    let mut s = format!("{} of {cases} mutants failed:\n", failures.len());
    for ((class, command, _), fs) in &by {
        let f = fs[0];
        s.push_str(&format!(
            "- {} / {command} ×{}: {} (from {}; kept: {})\n",
            class.name(),
            fs.len(),
            f.what,
            f.base,
            f.kept.display()
        ));
    }
    s
}

fn cpu_bound() -> u64 {
    std::env::var("PUSHPULL_MUTATION_CPU_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CPU_S)
}

/// `per_file` cases for each base, round robin, classes and places drawn by proptest.
fn draw_cases(bases: &[Base], classes: &[Class], per_file: usize) -> Vec<Case> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
    );
    let strategy = case_strategy(bases.len(), classes.to_vec());
    (0..per_file * bases.len())
        .map(|i| {
            let mut c = strategy
                .new_tree(&mut runner)
                .expect("the strategy always yields")
                .current();
            c.file = i % bases.len();
            c
        })
        .collect()
}

fn classes_from_env(default: &[Class]) -> Vec<Class> {
    match std::env::var("PUSHPULL_MUTATION_CLASSES") {
        Ok(v) if v.trim() == "all" => ALL_CLASSES.to_vec(),
        Ok(v) => v
            .split(',')
            .map(|n| Class::from_name(n).unwrap_or_else(|| panic!("unknown class `{n}`")))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

#[test]
fn mutated_scenarios_exit_0_1_or_2_with_file_and_line_within_bounds() {
    let bases = bases();
    let classes = classes_from_env(&DEFAULT_CLASSES);
    let cases = draw_cases(&bases, &classes, DEFAULT_PER_FILE);
    let failures = run_cases(&bases, &cases, cpu_bound());
    assert!(failures.is_empty(), "{}", report(&failures, cases.len()));
}

#[test]
#[ignore = "long: PUSHPULL_MUTATIONS=5000 cargo test --release --test scenario_mutations -- --ignored"]
fn many_mutated_scenarios_of_every_class_exit_0_1_or_2_within_bounds() {
    let bases = bases();
    let total: usize = std::env::var("PUSHPULL_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let classes = classes_from_env(&ALL_CLASSES);
    let cases = draw_cases(&bases, &classes, total.div_ceil(bases.len()));
    let failures = run_cases(&bases, &cases, cpu_bound());
    assert!(failures.is_empty(), "{}", report(&failures, cases.len()));
}

/// The harness itself: a mutant of each class differs from its base, and the check of
/// an exit-2 message finds `file:line` only where it is.
#[test]
fn every_mutation_class_changes_the_file_and_file_line_is_recognised() {
    let bases = bases();
    for class in ALL_CLASSES {
        let cases = draw_cases(&bases, &[class], 2);
        let changed = cases
            .iter()
            .filter(|c| mutate(&bases[c.file], c) != bases[c.file].text.as_bytes())
            .count();
        assert!(
            changed > cases.len() / 2,
            "{}: {changed} of {}",
            class.name(),
            cases.len()
        );
    }
    assert!(names_file_and_line(
        "/tmp/x.yaml:3:5: name: bad",
        "/tmp/x.yaml"
    ));
    assert!(!names_file_and_line(
        "/tmp/x.yaml: cannot read",
        "/tmp/x.yaml"
    ));
    assert!(!names_file_and_line("x.yaml:3: other file", "/tmp/x.yaml"));
}
