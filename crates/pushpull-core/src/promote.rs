//! Environments and promotion in a world: the gates before each environment and, for a
//! pull setup, the config repository's per-environment paths (Kustomize overlays, one
//! Argo CD Application or Flux Kustomization per environment) and the promotion commits
//! that move a change from one path to the next once the environment before is healthy.
//!
//! A push pipeline walks its environments itself ([`crate::model::push`]) and asks the
//! world to time each gate ([`Action::Gate`](crate::model::Action::Gate)). For pull, the
//! write-back commits to the first environment's path (the branch head); when every
//! cluster of an environment runs a change, the gate before the next opens, and when it
//! passes CI commits the change to the next path after a git push, or, with the
//! environment's `promotion: pull-request`, a bot pushes a branch and opens a pull request
//! that someone reviews and merges after the gate (both waits are paid). A reconciler reads
//! only its environment's path. A change overtaken in its environment by a newer one of
//! the same apps is promoted with it rather than on its own, as Kargo promotes the newest
//! freight.

use crate::measure::EventKind;
use crate::model::{AppId, ClusterId, Input, Rev, SpecId};
use crate::plan::{Component, rng};
use crate::scenario::{Environments, Nanos, SetupConfig, WriteBackMethod};
use crate::world::{Core, Ev, Shell};
use std::collections::HashMap;

/// The gate answer that goes to the pull promoter rather than a model instance.
pub const PROMOTER: u32 = u32::MAX;

/// A change in one environment's path: the manifests one config revision wrote.
#[derive(Clone, Debug)]
struct Change {
    rev: Rev,
    specs: Vec<(AppId, SpecId)>,
}

/// A pull change at the gate before `env`, or on its way into `env`'s path.
struct Crossing {
    env: u32,
    change: Change,
    open: Nanos,
    /// A promotion PR: when it was opened (its merge is the landing).
    pr_opened: Option<Nanos>,
}

/// A world's environments and, for pull, its per-environment config paths.
pub struct Promotion {
    pub envs: Environments,
    /// Pull: per environment, the tree its path holds (the first environment's is the
    /// branch head, kept by the model of git; its entry here is empty).
    heads: Vec<Vec<SpecId>>,
    /// Pull: per (cluster, app), the newest manifest rolled out.
    rolled: Vec<SpecId>,
    /// Pull: per environment, changes in its path not yet running on all its clusters.
    waiting: Vec<Vec<Change>>,
    /// Pull: the last revision of the branch head entered into the first environment.
    seen: Rev,
    /// Pull: changes at a gate or being committed, by id.
    crossings: Vec<Option<Crossing>>,
    /// The source commit behind each config revision, whose stream the gates draw from
    /// (so every setup meets the same reviewer delays for the same commit).
    sources: HashMap<Rev, (u32, u8)>,
    apps: u32,
    pull: bool,
    /// Pull: promotion commits so far. Each is a new commit of the config repository,
    /// so a reconciler that resolves the branch by revision (Argo CD) sees a new one.
    pub commits: u32,
}

impl Promotion {
    pub fn new(
        envs: &Environments,
        clusters: u32,
        apps: u32,
        initial: &[SpecId],
        pull: bool,
    ) -> Promotion {
        let n = envs.len();
        Promotion {
            envs: envs.clone(),
            heads: (0..n)
                .map(|k| {
                    if k == 0 || !pull {
                        Vec::new()
                    } else {
                        initial.to_vec()
                    }
                })
                .collect(),
            rolled: if pull {
                (0..clusters)
                    .flat_map(|_| initial.iter().copied())
                    .collect()
            } else {
                Vec::new()
            },
            waiting: vec![Vec::new(); n],
            seen: 0,
            crossings: Vec::new(),
            sources: HashMap::new(),
            apps,
            pull,
            commits: 0,
        }
    }

    /// The push pipeline's stages: each environment's clusters, and whether a gate
    /// stands before it.
    pub fn stages(&self) -> Vec<(Vec<ClusterId>, bool)> {
        self.envs
            .list
            .iter()
            .map(|e| (e.clusters.clone(), e.gate.is_some()))
            .collect()
    }

    /// Remembers the source commit behind config revision `rev`.
    pub fn note_source(&mut self, rev: Rev, source: Component) {
        if let Component::Source { index, bad } = source {
            self.sources.insert(rev, (index, u8::from(bad)));
        }
    }

    /// Pull: the manifest of `app` that `cluster`'s path holds, when it is not the
    /// branch head's (a later environment).
    pub fn desired(&self, cluster: ClusterId, app: AppId) -> Option<SpecId> {
        if !self.pull {
            return None;
        }
        let k = self.envs.env_of(cluster) as usize;
        if k == 0 {
            return None;
        }
        self.heads.get(k)?.get(app as usize).copied()
    }

    /// The stream a gate before `env` draws from for revision `rev`.
    fn gate_rng(&self, seed: u64, repetition: u32, env: u32, rev: Rev) -> rand_chacha::ChaCha8Rng {
        // A revert has no source commit of the plan: keyed by its revision.
        let (source, kind) = self.sources.get(&rev).copied().unwrap_or((rev, 2));
        rng(seed, repetition, Component::Gate { env, source, kind })
    }
}

impl Core<'_> {
    /// Pull: the manifest of `app` that `cluster`'s reconciler reads: its environment's
    /// path, or the branch head.
    pub fn desired_spec(&self, cluster: ClusterId, app: AppId) -> SpecId {
        self.promotion
            .as_ref()
            .and_then(|p| p.desired(cluster, app))
            .unwrap_or(self.git.head[app as usize])
    }
}

fn gate_event<'a, S: Shell<'a> + ?Sized>(w: &mut S, kind: EventKind, env: u32, detail: String) {
    let now = w.now();
    let core = w.core_mut();
    let name = core
        .promotion
        .as_ref()
        .map(|p| p.envs.name(env).to_string())
        .unwrap_or_default();
    core.tracker
        .event(now, None, None, kind, format!("env={name} {detail}"));
}

/// Push: a run waits at the gate before `env`: time it and answer the pipeline.
pub fn push_gate<'a, S: Shell<'a> + ?Sized>(w: &mut S, target: u32, run: u32, env: u32, rev: Rev) {
    let now = w.now();
    let core = w.core();
    let Some(p) = core.promotion.as_ref() else {
        return;
    };
    let Some(gate) = p.envs.list.get(env as usize).and_then(|e| e.gate.clone()) else {
        w.schedule(
            now,
            Ev::Gate {
                target,
                env,
                id: run,
                passed: true,
            },
        );
        return;
    };
    let mut r = p.gate_rng(core.s.seed, core.repetition, env, rev);
    let out = gate.outcome(now, &mut r);
    gate_event(
        w,
        EventKind::GateOpened,
        env,
        format!("gate={} run={run} rev={rev}", gate.kind()),
    );
    w.schedule(
        out.at,
        Ev::Gate {
            target,
            env,
            id: run,
            passed: out.passed,
        },
    );
}

/// A gate ended: a push run goes on (or fails), a pull change is committed to the next
/// environment's path.
pub fn gate_ended<'a, S: Shell<'a> + ?Sized>(
    w: &mut S,
    target: u32,
    env: u32,
    id: u32,
    passed: bool,
) {
    if target != PROMOTER {
        let gated = w
            .core()
            .promotion
            .as_ref()
            .and_then(|p| p.envs.list.get(env as usize))
            .is_some_and(|e| e.gate.is_some());
        if gated {
            let kind = if passed {
                EventKind::GatePassed
            } else {
                EventKind::GateFailed
            };
            gate_event(w, kind, env, format!("run={id}"));
        }
        w.deliver(
            target,
            Input::Gate {
                run: id,
                env,
                passed,
            },
        );
        return;
    }
    land(w, id, passed);
}

/// Pull: a change at a gate reaches its end; a passed one is pushed to the next
/// environment's path (retried while git cannot be reached).
fn land<'a, S: Shell<'a> + ?Sized>(w: &mut S, id: u32, passed: bool) {
    let now = w.now();
    let core = w.core_mut();
    let retry = match &core.setup.config {
        SetupConfig::Pull(c) => c.write_back.retry.0,
        SetupConfig::Push(_) => return,
    };
    let Some(p) = core.promotion.as_mut() else {
        return;
    };
    let Some(c) = p.crossings.get(id as usize).and_then(|c| c.as_ref()) else {
        return;
    };
    let (env, rev) = (c.env, c.change.rev);
    if !passed {
        p.crossings[id as usize] = None;
        gate_event(w, EventKind::GateFailed, env, format!("rev={rev}"));
        return;
    }
    if !core.write_back_reachable(WriteBackMethod::CiCommit) {
        core.tracker.event(
            now,
            None,
            None,
            EventKind::WriteBackFailed,
            format!("promotion rev={rev}"),
        );
        w.schedule(
            now.saturating_add(retry),
            Ev::Gate {
                target: PROMOTER,
                env,
                id,
                passed,
            },
        );
        return;
    }
    let Some(p) = core.promotion.as_mut() else {
        return;
    };
    let Some(c) = p.crossings[id as usize].take() else {
        return;
    };
    let head = &mut p.heads[env as usize];
    for &(app, spec) in &c.change.specs {
        let h = &mut head[app as usize];
        *h = (*h).max(spec);
    }
    let apps: Vec<AppId> = c.change.specs.iter().map(|&(a, _)| a).collect();
    let clusters = p.envs.list[env as usize].clusters.clone();
    let specs = c.change.specs.clone();
    p.waiting[env as usize].push(c.change);
    p.commits = p.commits.saturating_add(1);
    core.tracker.promoted(rev, env, c.open, now);
    if let Some(opened) = c.pr_opened {
        let secs = |n: Nanos| n as f64 / 1e9;
        gate_event(
            w,
            EventKind::PromotionMerged,
            env,
            format!(
                "rev={rev} opened_s={:.6} review_s={:.6}",
                secs(opened),
                secs(now.saturating_sub(opened))
            ),
        );
    }
    w.write_promotion(env, rev, &specs);
    gate_event(w, EventKind::Promoted, env, format!("rev={rev}"));
    webhooks(w, &clusters, &apps);
    check(w, env);
}

/// A pull setup's webhooks for a promotion commit: only the environment's reconcilers
/// watch its path.
fn webhooks<'a, S: Shell<'a> + ?Sized>(w: &mut S, clusters: &[ClusterId], apps: &[AppId]) {
    let now = w.now();
    let core = w.core_mut();
    let SetupConfig::Pull(cfg) = &core.setup.config else {
        return;
    };
    let Some(hook) = cfg.webhook.as_ref() else {
        return;
    };
    if !core.git_reachable() {
        return;
    }
    let sends = crate::world::webhook_sends(
        hook,
        &mut core.webhook_rng,
        now,
        clusters.iter().copied(),
        apps,
    );
    for (at, cluster, app) in sends {
        w.schedule(at, Ev::Webhook { cluster, app });
    }
}

/// Pull: a Deployment finished a rollout; a change that now runs on every cluster of its
/// environment goes to the gate before the next.
pub fn rolled_out<'a, S: Shell<'a> + ?Sized>(
    w: &mut S,
    cluster: ClusterId,
    app: AppId,
    spec: SpecId,
    ok: bool,
) {
    let core = w.core_mut();
    let Some(p) = core.promotion.as_mut() else {
        return;
    };
    if !p.pull || !ok {
        return;
    }
    let i = cluster as usize * p.apps as usize + app as usize;
    if let Some(r) = p.rolled.get_mut(i) {
        *r = (*r).max(spec);
    }
    let env = p.envs.env_of(cluster);
    check(w, env);
}

/// Pull: the changes of `env` that run on all its clusters open the next gate; those
/// overtaken by a newer change of the same apps drop out.
fn check<'a, S: Shell<'a> + ?Sized>(w: &mut S, env: u32) {
    let now = w.now();
    let core = w.core_mut();
    let (seed, repetition) = (core.s.seed, core.repetition);
    let Some(p) = core.promotion.as_mut() else {
        return;
    };
    let k = env as usize;
    if k == 0 {
        // Every revision of the branch head is a change in the first environment.
        let git = &core.git;
        while p.seen < git.head_rev() {
            let r = p.seen + 1;
            let (old, new) = (&git.trees[r as usize - 1], &git.trees[r as usize]);
            let specs: Vec<(AppId, SpecId)> = (0..p.apps)
                .filter(|&a| old[a as usize] != new[a as usize])
                .map(|a| (a, new[a as usize]))
                .collect();
            if !specs.is_empty() {
                p.waiting[0].push(Change { rev: r, specs });
            }
            p.seen = r;
        }
    }
    let clusters = &p.envs.list[k].clusters;
    let head = |a: AppId| -> SpecId {
        if k == 0 {
            core.git.head[a as usize]
        } else {
            p.heads[k][a as usize]
        }
    };
    let mut ready = Vec::new();
    let mut kept = Vec::new();
    for c in std::mem::take(&mut p.waiting[k]) {
        if c.specs.iter().all(|&(a, s)| s < head(a)) {
            continue;
        }
        let runs = clusters.iter().all(|&cl| {
            c.specs
                .iter()
                .all(|&(a, s)| p.rolled[cl as usize * p.apps as usize + a as usize] >= s)
        });
        if runs {
            ready.push(c);
        } else {
            kept.push(c);
        }
    }
    p.waiting[k] = kept;
    let next = env + 1;
    if next as usize >= p.envs.len() {
        return;
    }
    let gate = p.envs.list[next as usize].gate.clone();
    let promotion = p.envs.list[next as usize].promotion.clone();
    let SetupConfig::Pull(cfg) = &core.setup.config else {
        return;
    };
    let git_push = cfg.write_back.git_push.clone();
    let mut opened = Vec::new();
    for change in ready {
        let mut r = p.gate_rng(seed, repetition, next, change.rev);
        let (at, passed) = match &gate {
            Some(g) => {
                let o = g.outcome(now, &mut r);
                (o.at, o.passed)
            }
            None => (now, true),
        };
        // CI commits the change to the next path (its git push), or a bot pushes a
        // branch and opens the promotion PR, which lands when it is merged.
        let at = at.saturating_add(git_push.sample(&mut r));
        let (at, pr_opened) = match promotion.merged_at(at, &mut r) {
            Some(merged) if passed => (merged, Some(at)),
            _ => (at, None),
        };
        let id = p.crossings.len() as u32;
        opened.push((id, change.rev, at, passed));
        p.crossings.push(Some(Crossing {
            env: next,
            change,
            open: now,
            pr_opened,
        }));
    }
    for (id, rev, at, passed) in opened {
        if let Some(g) = &gate {
            gate_event(
                w,
                EventKind::GateOpened,
                next,
                format!("gate={} rev={rev}", g.kind()),
            );
        }
        w.schedule(
            at,
            Ev::Gate {
                target: PROMOTER,
                env: next,
                id,
                passed,
            },
        );
    }
}
