//! The decision card's one-at-a-time sensitivity pass: the scenario is re-run in the sim
//! with each key preset value scaled (×0.5 and ×2, then ×0.25 and ×4), few repetitions,
//! and each card question records the nearest scaling that changes which setup leads.
//! A flip at ×½ or ×2 counts only if ×¼ or ×4 flips the same way (with three
//! repetitions a single scaling can flip a close call by chance). Deterministic: the
//! same scenario and seed give the same sentences.

use crate::measure::seed::Sensitivity;
use crate::measure::summary::Summary;
use crate::report::card;
use crate::report::table::human;
use crate::scenario::Scenario;
use crate::scenario::estimate::Estimate;
use crate::scenario::models::SetupConfig;
use std::collections::BTreeMap;

/// The scalings tried, nearest first.
pub const FACTORS: [f64; 4] = [0.5, 2.0, 0.25, 4.0];

/// Repetitions each variant runs (fewer if the scenario has fewer): enough for the point
/// estimates the verdicts compare, cheap enough to run beside every sim run.
pub const REPETITIONS: u32 = 3;

/// The most engine events the whole pass may take (estimated); a larger scenario skips
/// it and says so.
pub const MAX_EVENTS: f64 = 250_000.0;

/// A value the pass scales: its name in the sentence, whether it needs a new simulation
/// (a price does not), and how to scale it (returns the new value as text, or `None`
/// when the scenario has no such value).
struct Knob {
    name: &'static str,
    simulate: bool,
    scale: fn(&mut Scenario, f64) -> Option<String>,
}

fn scaled(n: u64, f: f64) -> u64 {
    (n as f64 * f).round() as u64
}

fn secs(n: u64) -> String {
    human(n as f64 / 1e9)
}

const KNOBS: [Knob; 8] = [
    Knob {
        name: "the pull poll interval",
        simulate: true,
        scale: |s, f| {
            let mut first = None;
            for setup in &mut s.models.setups {
                if let SetupConfig::Pull(c) = &mut setup.config {
                    c.poll.interval.0 = scaled(c.poll.interval.0, f);
                    c.poll.jitter.0 = scaled(c.poll.jitter.0, f);
                    first.get_or_insert(secs(c.poll.interval.0));
                }
            }
            first
        },
    },
    Knob {
        name: "the Argo CD revision cache",
        simulate: true,
        scale: |s, f| {
            let mut first = None;
            for setup in &mut s.models.setups {
                if let SetupConfig::Pull(c) = &mut setup.config
                    && c.revision_cache.0 > 0
                {
                    c.revision_cache.0 = scaled(c.revision_cache.0, f);
                    first.get_or_insert(secs(c.revision_cache.0));
                }
            }
            first
        },
    },
    Knob {
        name: "the pull reconcile interval",
        simulate: true,
        scale: |s, f| {
            let mut first = None;
            for setup in &mut s.models.setups {
                if let SetupConfig::Pull(c) = &mut setup.config {
                    c.reconcile_interval.0 = scaled(c.reconcile_interval.0, f);
                    first.get_or_insert(secs(c.reconcile_interval.0));
                }
            }
            first
        },
    },
    Knob {
        name: "the CI runners",
        simulate: true,
        scale: |s, f| {
            let mut first = None;
            let count = |r: u32| ((r as f64 * f).round() as u32).max(1);
            for setup in &mut s.models.setups {
                if let SetupConfig::Push(c) = &mut setup.config {
                    c.runners = count(c.runners);
                    first.get_or_insert(c.runners.to_string());
                }
            }
            if let Some(ci) = &mut s.ci {
                ci.runners = count(ci.runners);
                first.get_or_insert(ci.runners.to_string());
            }
            first
        },
    },
    Knob {
        name: "the push drift check",
        simulate: true,
        scale: |s, f| {
            let mut first = None;
            for setup in &mut s.models.setups {
                if let SetupConfig::Push(c) = &mut setup.config
                    && let Some(every) = &mut c.drift_check
                {
                    *every = scaled(*every, f).max(1);
                    first.get_or_insert(format!("every {}", secs(*every)));
                }
            }
            first
        },
    },
    Knob {
        name: "the CI minute price",
        simulate: false,
        scale: |s, f| {
            s.prices.github_hosted_minute_usd *= f;
            s.prices.self_hosted_runner_hour_usd *= f;
            Some(format!("${:.4}/min", s.prices.github_hosted_minute_usd))
        },
    },
    Knob {
        name: "the reconciler's CPU and memory requests",
        simulate: false,
        scale: |s, f| {
            s.prices.reconciler_vcpu *= f;
            s.prices.reconciler_memory_gib *= f;
            Some(format!(
                "{:.3} vCPU, {:.3} GiB",
                s.prices.reconciler_vcpu, s.prices.reconciler_memory_gib
            ))
        },
    },
    Knob {
        name: "the git transfer sizes",
        simulate: false,
        scale: |s, f| {
            s.prices.git_ref_check_kib *= f;
            s.prices.git_fetch_kib *= f;
            s.prices.git_checkout_kib *= f;
            Some(format!(
                "{:.0} MiB a checkout",
                s.prices.git_checkout_kib / 1024.0
            ))
        },
    },
];

fn times(f: f64) -> String {
    match f {
        0.25 => "×¼".into(),
        0.5 => "×½".into(),
        f => format!("×{f}"),
    }
}

/// Runs the pass for `s` (sim mode) on `threads` threads.
pub fn pass(s: &Scenario, threads: usize) -> Sensitivity {
    let mut base = s.clone();
    base.repetitions = s.repetitions.min(REPETITIONS);
    let simulated = KNOBS.iter().filter(|k| k.simulate).count() * FACTORS.len() + 1;
    let e = Estimate::of(&base, threads);
    let work = (e.events + e.rollout_work) * simulated as f64;
    if work > MAX_EVENTS {
        return Sensitivity {
            repetitions: base.repetitions,
            factors: FACTORS.to_vec(),
            values: Vec::new(),
            skipped: Some(format!(
                "not computed: the pass would take about {:.0}k engine events for this scenario (the limit is {:.0}k); a `pushpull sweep` over the value in question answers it",
                work / 1e3,
                MAX_EVENTS / 1e3
            )),
            questions: BTreeMap::new(),
        };
    }
    let base_runs = crate::sim::run(&base, threads);
    let base_winners = card::winners(&Summary::build(&base, "sim", &base_runs));
    let mut tried: Vec<String> = Vec::new();
    // Per knob and factor: each question's winner.
    let mut outcome: Vec<Vec<Option<Vec<Option<String>>>>> = Vec::new();
    for knob in &KNOBS {
        let mut per_factor = Vec::new();
        for &f in &FACTORS {
            let mut v = base.clone();
            let Some(_) = (knob.scale)(&mut v, f) else {
                per_factor.push(None);
                continue;
            };
            let summary = if knob.simulate {
                Summary::build(&v, "sim", &crate::sim::run(&v, threads))
            } else {
                Summary::build(&v, "sim", &base_runs)
            };
            per_factor.push(Some(
                card::winners(&summary)
                    .into_iter()
                    .map(|(_, w)| w)
                    .collect(),
            ));
        }
        if per_factor.iter().any(Option::is_some) {
            tried.push(knob.name.to_string());
        }
        outcome.push(per_factor);
    }
    // The factor each one must agree with: ×½ with ×¼, ×2 with ×4.
    let farther = |rank: usize| match rank {
        0 => Some(2),
        1 => Some(3),
        _ => None,
    };
    let mut questions = BTreeMap::new();
    for (q, (key, was)) in base_winners.iter().enumerate() {
        if *key == "credential_exposure" {
            continue;
        }
        let winner_at = |k: usize, rank: usize| -> Option<&String> {
            outcome[k][rank].as_ref().and_then(|w| w[q].as_ref())
        };
        let mut found: Option<String> = None;
        'search: for (rank, &factor) in FACTORS.iter().enumerate() {
            for (k, knob) in KNOBS.iter().enumerate() {
                let (Some(was), Some(now)) = (was, winner_at(k, rank)) else {
                    continue;
                };
                if was == now {
                    continue;
                }
                if let Some(r2) = farther(rank)
                    && winner_at(k, r2) != Some(now)
                {
                    continue;
                }
                let mut v = base.clone();
                let value = (knob.scale)(&mut v, factor).unwrap_or_default();
                found = Some(format!(
                    "flips to {now} if {} is {value} ({})",
                    knob.name,
                    times(factor)
                ));
                break 'search;
            }
        }
        let text = match (found, was) {
            (Some(t), _) => t,
            (None, Some(_)) => "holds for every value tried, ×¼ to ×4".to_string(),
            (None, None) => "no setup leads in the pass's repetitions".to_string(),
        };
        questions.insert(key.to_string(), text);
    }
    Sensitivity {
        repetitions: base.repetitions,
        factors: FACTORS.to_vec(),
        values: tried,
        skipped: None,
        questions,
    }
}

/// What a live run records instead of the pass.
pub fn skipped_live() -> Sensitivity {
    Sensitivity {
        repetitions: 0,
        factors: Vec::new(),
        values: Vec::new(),
        skipped: Some(
            "not computed: the sensitivity pass re-runs the simulation and is skipped in live modes"
                .into(),
        ),
        questions: BTreeMap::new(),
    }
}
