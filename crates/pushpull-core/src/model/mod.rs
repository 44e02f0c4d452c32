//! The two delivery models as sans-IO state machines (the shape of quinn-proto's
//! `Connection` and str0m's `Rtc`): a world feeds [`Input`]s with the current time and
//! drains [`Action`]s. A model never reads a clock, sleeps, spawns or does I/O, so the
//! sim world (virtual time) and the live world (tokio, kube-rs, gix) drive the same code.

pub mod flux;
pub mod harness;
pub mod hub;
pub mod pull;
pub mod push;
pub mod ratelimit;
pub mod refresh;
pub mod reposerver;

use crate::scenario::Nanos;
use std::sync::Arc;

pub type ClusterId = u32;
pub type AppId = u32;
/// A git revision: the index of a commit in the repository's history (0 = initial).
pub type Rev = u32;
/// One app's manifest as of some commit. Ids grow with commit order, so a larger id is a
/// newer manifest of the same app.
pub type SpecId = u32;
/// Identifies an apply operation between a model and its world.
pub type OpId = u64;

/// The manifests of every app at one revision (index = app).
pub type Tree = Arc<[SpecId]>;

/// When the work that led to an apply was picked up and started; carried with the apply
/// so measurements can split deploy latency into stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Trace {
    /// The model noticed the revision (push: the run was triggered; pull: a fetch saw it).
    pub picked_up: Nanos,
    /// Work started (push: a runner took the run; pull: a sync worker took the app).
    pub started: Nanos,
    /// The first apply of this piece of work was issued.
    pub first_apply: Nanos,
    /// Push: the run's build ended (the image was published); 0 for pull.
    pub built: Nanos,
    /// Push with environments: the run finished the environment before this one (its gate
    /// opened), and the gate passed; both equal `built` in the first environment and 0
    /// without environments.
    pub gate_open: Nanos,
    pub gate_passed: Nanos,
}

/// One source commit's CI draws: how long its pipeline takes to be triggered and to
/// build. The world draws them from a stream keyed by the commit, so every setup that
/// builds the same commit with the same distributions waits exactly as long (common
/// random numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CiDraw {
    /// Push event → the run enters the runner queue.
    pub trigger: Nanos,
    /// The build and test steps (checkout excluded) up to the published image.
    pub build: Nanos,
}

/// Timers a model asks its world to fire. Each carries what the model needs to tell a
/// current timer from a stale one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Push: a triggered run enters the runner queue.
    Trigger { run: u32 },
    /// Push: a run's build step ended.
    Build { run: u32 },
    /// Push: the scheduled drift-check job fires.
    DriftCheck,
    /// Push: retry a failed checkout.
    Checkout { run: u32 },
    /// Push: retry a failed apply to one cluster.
    ApplyRetry { run: u32, cluster: ClusterId },
    /// Pull: poll git for one app (a retry after a failed fetch replaces the schedule,
    /// so older polls carry an older generation).
    Poll { app: AppId, generation: u32 },
    /// Pull: self-heal an app after its backoff.
    SelfHeal { app: AppId, generation: u32 },
    /// Pull: retry a failed sync.
    SyncRetry { app: AppId, generation: u32 },
    /// Pull: periodic diff-and-correct of one app.
    Reconcile { app: AppId },
    /// Pull, Argo CD refresh: the application informer's resync, which asks every app
    /// for a refresh (see [`refresh`]).
    Resync { generation: u32 },
    /// Pull, Flux (`refresh: source`): the GitRepository's interval (see [`flux`]).
    Source { generation: u32 },
    /// Pull, Flux: a Kustomization's own interval reconcile.
    Kustomization { app: AppId, generation: u32 },
    /// Pull, Flux: a Kustomization's health check ends (seen ready, failed or timed out).
    Health { app: AppId, generation: u32 },
    /// Argo CD hub: a step of one app slot's work that waits for time (see [`hub`]).
    Hub { step: hub::HubStep, slot: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Push: a commit landed on the branch the pipeline builds (for a CI-only pipeline,
    /// `rev` numbers the source commit). `ci`: the commit's own trigger and build draws;
    /// `None` draws them from the pipeline's stream.
    Commit {
        rev: Rev,
        ci: Option<CiDraw>,
    },
    Timer(Timer),
    /// Push: the answer to [`Action::Checkout`].
    CheckedOut {
        run: u32,
        rev: Rev,
        tree: Tree,
    },
    /// Push: a checkout failed (git unreachable).
    CheckoutFailed {
        run: u32,
    },
    /// Push: runners became unavailable or available again.
    Runners {
        available: bool,
    },
    /// Pull: the answer to [`Action::Fetch`]: the app's manifest at the branch head.
    Fetched {
        app: AppId,
        spec: SpecId,
    },
    /// Pull: a fetch failed (git unreachable).
    FetchFailed {
        app: AppId,
    },
    /// Pull: the answer to [`Action::Resolve`]: the branch's head revision, and its tree
    /// when it is not the revision the reconciler already has. `at`: when the git host
    /// was asked (now, unless an Argo CD installation's shared revision cache answered
    /// with a resolution another shard made earlier).
    Resolved {
        rev: Rev,
        tree: Option<Tree>,
        at: Nanos,
    },
    /// Pull: a branch resolution failed (git unreachable).
    ResolveFailed,
    /// Pull: a webhook told the reconciler that this app changed.
    Webhook {
        app: AppId,
    },
    /// Pull: the watch saw someone else change this app's live objects.
    LiveChanged {
        app: AppId,
    },
    /// Pull: the answer to [`Action::Diff`]: whether live equals the manifest (`None`:
    /// the cluster could not be reached).
    Diffed {
        app: AppId,
        in_sync: Option<bool>,
    },
    /// Pull: the reconciler process restarted with empty memory; `live` holds, per app,
    /// the manifest its live objects were last applied from, as it reads them back.
    Restart {
        live: Tree,
    },
    /// The answer to [`Action::Apply`].
    Applied {
        op: OpId,
        ok: bool,
    },
    /// Push with environments: the gate before environment `env` of run `run` ended,
    /// passed or failed (a failed automated check).
    Gate {
        run: u32,
        env: u32,
        passed: bool,
    },
    /// Push: the operator re-runs the last good deploy job: apply `spec` (app `app` at
    /// revision `rev`) to every cluster again, without a build (rollback `redeploy`).
    Redeploy {
        app: AppId,
        spec: SpecId,
        rev: Rev,
    },
    /// Pull: `argocd app rollback`: automated sync of `app` is off from now on, and the
    /// reconciler syncs the earlier manifest `spec` (rollback `app-rollback`).
    Rollback {
        app: AppId,
        spec: SpecId,
    },
    /// Pull: someone re-enables automated sync of `app` after an app rollback.
    AutoSyncEnabled {
        app: AppId,
    },
    /// A Deployment finished rolling out (`ok`) or exceeded its progress deadline.
    RolloutFinished {
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
        ok: bool,
    },
}

/// Apply manifests to one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Apply {
    pub op: OpId,
    pub cluster: ClusterId,
    pub items: Arc<[(AppId, SpecId)]>,
    /// How long the model's apply step takes (kubectl or the sync operation), drawn
    /// from the scenario; the sim world completes the apply after it.
    pub duration: Nanos,
    pub trace: Trace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    SetTimer {
        at: Nanos,
        timer: Timer,
    },
    /// Push: check out a revision (`None` = the branch head at checkout time).
    Checkout {
        run: u32,
        rev: Option<Rev>,
    },
    /// Pull: fetch the branch head and read one app's manifest.
    Fetch {
        cluster: ClusterId,
        app: AppId,
    },
    /// Pull, Argo CD refresh: resolve the config branch to a revision (`git ls-remote`,
    /// one ref check at the git host) and, when the head is not `have`, fetch its objects
    /// (one git fetch). The repo-server's revision cache decides when this is needed.
    Resolve {
        cluster: ClusterId,
        have: Rev,
    },
    /// Pull: compare an app's live objects with a manifest (a server-side dry run).
    Diff {
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
    },
    Apply(Apply),
    /// A CI-only pipeline published the image of every source commit up to `upto`; its
    /// run took a runner at `started`.
    Published {
        upto: Rev,
        started: Nanos,
    },
    /// Push with environments: run `run` (deploying commit `rev`) waits for the gate
    /// before environment `env`; the world answers with [`Input::Gate`].
    Gate {
        run: u32,
        env: u32,
        rev: Rev,
    },
    /// Something worth a line in the timeline.
    Note(Note),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub cluster: Option<ClusterId>,
    pub app: Option<AppId>,
    /// A run id (push) or a manifest id (pull).
    pub detail: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    RunQueued,
    RunStarted,
    RunCancelled,
    RunSucceeded,
    RunFailed,
    DriftCheckStarted,
    SyncStarted,
    SyncFailed,
    SelfHealScheduled,
    Degraded,
    FetchFailed,
    CheckoutFailed,
    ApplyFailed,
    Restarted,
    /// Pull, Flux: a Kustomization reconciled a manifest and reported Ready (after its
    /// health check with `wait`); `detail` is the manifest.
    Ready,
}

/// What both delivery models look like to a world.
pub trait Model {
    /// Feeds one input that happened at `now`.
    fn handle(&mut self, now: Nanos, input: Input);
    /// Drains the next action; `None` when the model is idle until its next input.
    fn poll_action(&mut self) -> Option<Action>;
}
