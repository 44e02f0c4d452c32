//! Entry point of a live run: set up the clusters of the chosen mode and a git
//! repository per model, deploy the initial revision and wait for it, then run both
//! models side by side (each on its own clusters or namespaces) for every repetition.

use super::LiveError;
use super::cluster::ClusterHandle;
use super::driver::{ApiFaults, LiveWorld, Repo, Writer};
use super::git::{LiveRepo, ManifestParams};
pub use super::preflight::{Target, preflight};
use crate::emulator::{Emulator, EmulatorConfig, InjectedError, PodStartDelay, RunningEmulator};
use crate::model::{AppId, Rev};
use crate::plan::Plan;
use crate::scenario::{Dist, Fault, Nanos, Scenario, Setup as DeliverySetup};
use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

pub struct LiveOptions {
    pub target: Target,
    /// The run directory: git repositories go to `<run_dir>/git/`.
    pub run_dir: PathBuf,
}

pub struct LiveOutcome {
    pub runs: crate::measure::Runs,
    /// Interrupted (Ctrl-C) or stopped by `error`: what was measured so far.
    pub partial: bool,
    /// Fault kinds this mode cannot inject (recorded, not pretended).
    pub unsupported_faults: Vec<String>,
    /// The error that stopped the run after it had measured at least one repetition
    /// (a cluster gone, a namespace refused): `runs` holds what came before, and the run
    /// is `partial`. An error before anything was measured is returned as the `Err`.
    pub error: Option<LiveError>,
}

/// Fault kinds that need hooks inside the API server.
fn needs_server_hooks(f: &Fault) -> bool {
    matches!(f, Fault::ApiBrownout { .. } | Fault::ClusterLoss { .. })
}

pub fn unsupported_faults(s: &Scenario, target: &Target) -> Vec<String> {
    if matches!(target, Target::Emulated) {
        return Vec::new();
    }
    let mut v: Vec<String> = s
        .faults
        .iter()
        .filter(|f| needs_server_hooks(f))
        .map(|f| f.kind().to_string())
        .collect();
    v.dedup();
    v
}

/// A real cluster cannot run faster than real time: only the emulator scales its pod
/// starts and deadlines with the scenario's `time_scale`.
pub fn check_time_scale(s: &Scenario, target: &Target) -> Result<(), LiveError> {
    if matches!(target, Target::Emulated) || s.time_scale == 1.0 {
        return Ok(());
    }
    Err(LiveError::TimeScale {
        scale: s.time_scale,
        factor: 1.0 / s.time_scale,
        duration: s.duration.to_string(),
    })
}

/// Live worlds write every app's manifest with the fleet's replicas and rollout, so a
/// fleet whose app groups differ from them runs in the simulator only.
pub fn check_app_groups(s: &Scenario) -> Result<(), LiveError> {
    match s
        .fleet
        .groups
        .iter()
        .find(|g| g.replicas != s.fleet.replicas || g.rollout != s.fleet.rollout)
    {
        None => Ok(()),
        Some(g) => Err(LiveError::AppGroups {
            group: g.name.clone(),
        }),
    }
}

struct EmuFaults(crate::emulator::Faults);

impl ApiFaults for EmuFaults {
    fn set_brownout(&self, latency: Duration, error_rate: f64) {
        self.0.set_latency(latency);
        let statuses = [
            InjectedError::TooManyRequests,
            InjectedError::Internal,
            InjectedError::Unavailable,
        ];
        if let Err(e) = self.0.set_error_rate(error_rate, &statuses) {
            tracing::warn!("brownout error rate not set: {e}");
        }
    }
    fn clear_brownout(&self) {
        self.0.set_latency(Duration::ZERO);
        let _ = self.0.set_error_rate(0.0, &[]);
    }
    fn outage(&self, on: bool) {
        if on {
            self.0.begin_outage(None);
        } else {
            self.0.end_outage();
        }
    }
}

/// The emulator's pod start model for the scenario's distribution.
fn pod_start(d: &Dist) -> PodStartDelay {
    let ns = Duration::from_nanos;
    match d {
        Dist::Fixed { value } => PodStartDelay::Fixed(ns(*value)),
        Dist::Uniform { min, max } => PodStartDelay::Uniform {
            min: ns(*min),
            max: ns(*max),
        },
        Dist::LogNormal { median, p99 } => PodStartDelay::LogNormal {
            median: ns(*median),
            p99: ns(*p99),
        },
        // The emulator draws fixed, uniform and log-normal delays; other shapes run at
        // their mean.
        other => PodStartDelay::Fixed(crate::live::driver::real_span(
            crate::scenario::duration::from_secs_f64(other.mean_secs()),
            1.0,
        )),
    }
}

struct GitRepo(LiveRepo);

impl Repo for GitRepo {
    fn commit(
        &mut self,
        at: Nanos,
        changes: &[(AppId, u32, bool)],
        message: &str,
        by: Writer,
    ) -> Result<Rev, LiveError> {
        use super::git::Who;
        let done = match by {
            Writer::Developer => self.0.commit(at, changes, message),
            Writer::Ci => self.0.commit_by(at, changes, message, Who::CI),
            Writer::ImageAutomation => {
                self.0
                    .commit_by(at, changes, message, Who::IMAGE_AUTOMATION)
            }
            // One pull request per config commit: the branch's commit dated when the bot
            // opened it, the merge when the core's review delay ran out (now).
            Writer::PullRequest { opened } => self
                .0
                .merge_pull_request(opened, at, changes, message)
                .map(|(rev, id, _)| (rev, id)),
        };
        done.map(|(rev, _)| rev)
            .map_err(|e| LiveError::Git(e.to_string()))
    }
    fn promote(
        &mut self,
        at: Nanos,
        env: u32,
        changes: &[(AppId, u32, bool)],
        message: &str,
    ) -> Result<(), LiveError> {
        self.0
            .promote(at, env, changes, message)
            .map(|_| ())
            .map_err(|e| LiveError::Git(e.to_string()))
    }
    fn revert(&mut self, at: Nanos, bad: Rev) -> Result<Rev, LiveError> {
        self.0
            .revert(at, bad)
            .map(|(rev, _)| rev)
            .map_err(|e| LiveError::Git(e.to_string()))
    }
    fn read_tree(&self, rev: Rev) -> Result<Vec<(u32, bool)>, LiveError> {
        self.0
            .read_tree(rev)
            .map_err(|e| LiveError::Git(e.to_string()))
    }
    fn manifests(
        &self,
        env: u32,
        rev: Rev,
        app: AppId,
        image: u32,
    ) -> Result<(String, String), LiveError> {
        self.0
            .manifests_in(env, rev, app, image)
            .map_err(|e| LiveError::Git(e.to_string()))
    }
}

/// One model's world for one repetition: its clusters, its repository, its emulators.
struct Setup {
    clusters: Vec<ClusterHandle>,
    hooks: Vec<Option<Arc<dyn ApiFaults>>>,
    emulators: Vec<RunningEmulator>,
    repo: LiveRepo,
}

async fn client_for(url: Option<&str>, context: Option<&str>) -> Result<kube::Client, LiveError> {
    let config = match (url, context) {
        (Some(url), _) => {
            let uri = url
                .parse()
                .map_err(|e| LiveError::Setup(format!("bad emulator URL {url}: {e}")))?;
            kube::Config::new(uri)
        }
        (None, ctx) => {
            let opts = kube::config::KubeConfigOptions {
                context: ctx.map(str::to_string),
                ..Default::default()
            };
            kube::Config::from_kubeconfig(&opts).await.map_err(|e| {
                LiveError::Setup(format!(
                    "cannot load kubeconfig context {}: {e} (check `kubectl config get-contexts`)",
                    ctx.unwrap_or("(current)")
                ))
            })?
        }
    };
    // The delivery models retry with their own backoff (as kubectl scripts and Argo CD
    // do): the client must let them see every failure.
    let mut config = config;
    config.default_retry = false;
    kube::Client::try_from(config)
        .map_err(|e| LiveError::Setup(format!("cannot build a Kubernetes client: {e}")))
}

async fn setup(
    s: &Scenario,
    delivery: &DeliverySetup,
    rep: u32,
    opts: &LiveOptions,
) -> Result<Setup, LiveError> {
    let n = s.clusters();
    let mut clusters = Vec::new();
    let mut hooks: Vec<Option<Arc<dyn ApiFaults>>> = Vec::new();
    let mut emulators = Vec::new();
    for c in 0..n {
        let (client, namespace, hook): (kube::Client, String, Option<Arc<dyn ApiFaults>>) =
            match &opts.target {
                Target::Emulated => {
                    let config = EmulatorConfig {
                        seed: s.seed ^ ((rep as u64) << 32) ^ c as u64,
                        pod_start: pod_start(&s.fleet.rollout.pod_start),
                        time_scale: s.time_scale,
                        ..EmulatorConfig::default()
                    };
                    let emu = Emulator::start(config)
                        .await
                        .map_err(|e| LiveError::Emulator(e.to_string()))?;
                    let client = client_for(Some(&emu.url()), None).await?;
                    let hook: Arc<dyn ApiFaults> = Arc::new(EmuFaults(emu.faults().clone()));
                    emulators.push(emu);
                    (client, "pushpull-live".to_string(), Some(hook))
                }
                Target::Kind => {
                    let ctx = format!("kind-pushpull-{c}");
                    super::guard::verify_context(&ctx, None, super::guard::Via::Kind)?;
                    (
                        client_for(None, Some(&ctx)).await?,
                        format!("pushpull-live-{}", delivery.name),
                        None,
                    )
                }
                Target::Kubeconfig { context, .. } => (
                    client_for(None, Some(context)).await?,
                    format!("pushpull-live-{}-c{c}", delivery.name),
                    None,
                ),
            };
        let handle = ClusterHandle {
            index: c,
            client,
            namespace,
        };
        if !matches!(opts.target, Target::Emulated) {
            handle.reset_namespace(Duration::from_secs(180)).await?;
        }
        handle.ensure_namespace().await?;
        clusters.push(handle);
        hooks.push(hook);
    }
    let dir = opts
        .run_dir
        .join("git")
        .join(format!("{}-{rep}", delivery.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(opts.run_dir.join("git")).map_err(|e| {
        LiveError::Git(format!(
            "cannot create {}: {e}",
            opts.run_dir.join("git").display()
        ))
    })?;
    let params = ManifestParams {
        replicas: s.fleet.replicas.get(),
        max_surge: percent(s.fleet.rollout.max_surge),
        max_unavailable: percent(s.fleet.rollout.max_unavailable),
        progress_deadline_s: s.fleet.rollout.progress_deadline.0 / 1_000_000_000,
    };
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // A pull setup with environments reads one path per environment (`envs/<env>/`); a
    // push pipeline deploys the same manifests environment by environment.
    let envs: Vec<String> = match (&s.environments, delivery.pull()) {
        (Some(e), Some(_)) => e.list.iter().map(|e| e.name.clone()).collect(),
        _ => Vec::new(),
    };
    let repo = LiveRepo::create_with_environments(&dir, s.apps(), &envs, params, epoch)
        .map_err(|e| LiveError::Git(e.to_string()))?;
    Ok(Setup {
        clusters,
        hooks,
        emulators,
        repo,
    })
}

fn percent(v: crate::scenario::IntOrPercent) -> String {
    match v {
        crate::scenario::IntOrPercent::Count(n) => n.to_string(),
        crate::scenario::IntOrPercent::Percent(p) => format!("{p}%"),
    }
}

/// Applies revision 0 everywhere and waits until every app has rolled out.
async fn deploy_initial(
    s: &Scenario,
    delivery: &DeliverySetup,
    setup: &Setup,
) -> Result<(), LiveError> {
    let manager = super::driver::field_manager(delivery);
    let manager = manager.as_str();
    for c in &setup.clusters {
        let env = match (&s.environments, delivery.pull()) {
            (Some(e), Some(_)) => e.env_of(c.index),
            _ => 0,
        };
        for app in 0..s.apps() {
            let (dep, cm) = setup
                .repo
                .manifests_in(env, 0, app, app)
                .map_err(|e| LiveError::Git(e.to_string()))?;
            c.apply(manager, &dep, &cm).await?;
        }
    }
    // A real cluster may first pull the image: never less than a minute.
    let wait = crate::live::driver::real_span(s.fleet.rollout.progress_deadline.0, s.time_scale)
        .max(Duration::from_secs(60))
        .saturating_mul(2);
    let deadline = std::time::Instant::now()
        .checked_add(wait)
        .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(365 * 86_400));
    for c in &setup.clusters {
        for app in 0..s.apps() {
            loop {
                let d = c.get(app).await?;
                if let Some(d) = d
                    && let super::cluster::Observation::Seen {
                        state: super::cluster::RolloutState::Complete,
                        release,
                        hand_image: false,
                        ..
                    } = super::cluster::observe(&d)
                    && release == super::git::release(app, app, false)
                {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(LiveError::Setup(format!(
                        "cluster {}: app {app} did not roll out its initial revision in time",
                        c.index
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok(())
}

/// Runs every repetition of both models live. In kind mode, clusters `pushpull-0..N`
/// that do not exist yet are created from `kind-config.yaml` (as `pushpull cluster up`
/// would) and deleted again when the run ends, however it ends; clusters that were
/// already there are left alone.
pub fn run_live(s: &Scenario, opts: &LiveOptions) -> Result<LiveOutcome, LiveError> {
    preflight(&opts.target)?;
    if let Target::Kubeconfig { context, allow } = &opts.target {
        use super::guard::{Via, verify_context};
        verify_context(context, allow.as_deref(), Via::Kubeconfig)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Setup(format!("cannot start the async runtime: {e}")))?;
    // Ctrl-C from here on stops the run instead of killing the process: cluster creation
    // cleans up after itself, and every world writes what it measured, marked partial.
    let stop = stop_on_ctrl_c(&rt);
    let interrupted = {
        let stop = stop.clone();
        move || *stop.borrow()
    };
    let created = match opts.target {
        Target::Kind => {
            let have = super::kind::existing()?;
            let missing: Vec<String> = (0..s.clusters())
                .map(super::kind::cluster_name)
                .filter(|n| !have.contains(n))
                .collect();
            if !missing.is_empty() {
                eprintln!(
                    "creating kind cluster(s) {} from {KIND_CONFIG}; they are deleted when the run ends \
                     (make them beforehand with `pushpull cluster up --clusters {}` to keep them)",
                    missing.join(", "),
                    s.clusters()
                );
            }
            super::kind::up_until(
                s.clusters(),
                std::path::Path::new(KIND_CONFIG),
                &interrupted,
            )?
        }
        _ => Vec::new(),
    };
    let outcome = rt.block_on(run_repetitions(s, opts, stop));
    if !created.is_empty() {
        eprintln!(
            "deleting the kind cluster(s) this run created: {}",
            created.join(", ")
        );
        if let Err(e) = super::kind::down(Some(&created)) {
            eprintln!("could not delete them ({e}); run `pushpull cluster down`");
        }
    }
    // On clusters that outlive the run, say what it left there.
    let outlived = match opts.target {
        Target::Emulated => false,
        Target::Kind => created.len() < s.clusters() as usize,
        Target::Kubeconfig { .. } => true,
    };
    if outlived {
        eprintln!(
            "the pushpull-live-* namespaces stay for inspection (the next run empties them); \
             remove them with `kubectl delete namespace -l app.kubernetes.io/managed-by=pushpull`"
        );
    }
    outcome
}

/// A flag that turns true on Ctrl-C. The handler is installed before this returns (by the
/// first poll of `ctrl_c`), so no Ctrl-C after it can kill the process instead.
fn stop_on_ctrl_c(rt: &tokio::runtime::Runtime) -> tokio::sync::watch::Receiver<bool> {
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let first = rt.block_on(async { futures::poll!(ctrl_c.as_mut()) });
    let (stop_tx, stop) = tokio::sync::watch::channel(matches!(first, Poll::Ready(Ok(()))));
    if first.is_pending() {
        rt.spawn(async move {
            if ctrl_c.await.is_ok() {
                let _ = stop_tx.send(true);
            }
        });
    }
    stop
}

/// The kind config `--mode kind` creates missing clusters from (relative to the working
/// directory, like `pushpull cluster up`'s default).
const KIND_CONFIG: &str = "kind-config.yaml";

/// Every repetition of every setup; `stop` turns true on Ctrl-C.
async fn run_repetitions(
    s: &Scenario,
    opts: &LiveOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<LiveOutcome, LiveError> {
    let unsupported = unsupported_faults(s, &opts.target);
    let mut runs: crate::measure::Runs = s
        .models
        .setups
        .iter()
        .map(|d| (d.name.clone(), Vec::new()))
        .collect();
    let mut partial = false;
    let mut error = None;
    let progress = Progress::new(s);
    for rep in 0..s.repetitions {
        let plan = Plan::draw(s, rep);
        progress.preparing(rep);
        let prepared = async {
            let mut setups = Vec::new();
            for delivery in &s.models.setups {
                let setup = setup(s, delivery, rep, opts).await?;
                deploy_initial(s, delivery, &setup).await?;
                setups.push((delivery, setup));
            }
            Ok::<_, LiveError>(setups)
        };
        let stopped = {
            let mut stop = stop.clone();
            async move {
                let _ = stop.wait_for(|s| *s).await;
            }
        };
        // Ctrl-C while the clusters are prepared (a namespace can take minutes to go).
        let prepared = tokio::select! {
            r = prepared => r,
            _ = stopped => {
                partial = true;
                break;
            }
        };
        let setups = match prepared {
            Ok(setups) => setups,
            // Nothing measured yet: a plain failure.
            Err(e) if rep == 0 => return Err(e),
            // Keep the repetitions that ran; the caller writes them, marked partial.
            Err(e) => {
                partial = true;
                error = Some(e);
                break;
            }
        };
        let ticker = progress.running(rep);
        let mut futures = Vec::new();
        let mut keep = Vec::new();
        for (delivery, setup) in setups {
            let Setup {
                clusters,
                hooks,
                emulators,
                repo,
            } = setup;
            keep.push(emulators);
            let world = LiveWorld::new(
                s,
                &plan,
                delivery,
                rep,
                Box::new(GitRepo(repo)),
                clusters,
                hooks,
            );
            let mut stop = stop.clone();
            futures.push(async move {
                let (rec, p) = world
                    .run(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                (delivery.name.clone(), rec, p)
            });
        }
        let finished = futures::future::join_all(futures).await;
        ticker.abort();
        for (name, rec, p) in finished {
            partial |= p;
            if let Some(slot) = runs.iter_mut().find(|(k, _)| *k == name) {
                slot.1.push(rec);
            }
        }
        for emus in keep {
            for e in emus {
                e.shutdown().await;
            }
        }
        if partial || *stop.borrow() {
            partial = true;
            break;
        }
    }
    progress.bar.finish_and_clear();
    Ok(LiveOutcome {
        runs,
        partial,
        unsupported_faults: unsupported,
        error,
    })
}

/// A progress line on stderr while a live run goes on (a real-time run can take hours):
/// the repetition, how much scenario time has passed and how much real time is left.
/// Hidden when stderr is not a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    repetitions: u32,
    duration_s: f64,
    scale: f64,
}

impl Progress {
    fn new(s: &Scenario) -> Progress {
        let duration_s = s.duration.0 as f64 / 1e9;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(duration_s.ceil() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} [{bar:20}] {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(s.name.clone());
        Progress {
            bar,
            repetitions: s.repetitions,
            duration_s,
            scale: s.time_scale,
        }
    }

    fn preparing(&self, rep: u32) {
        self.bar.set_position(0);
        self.bar.set_message(format!(
            "rep {}/{}: preparing clusters, deploying the initial revision",
            rep + 1,
            self.repetitions
        ));
    }

    /// Updates the line twice a second until the returned task is aborted.
    fn running(&self, rep: u32) -> tokio::task::JoinHandle<()> {
        let (bar, reps, total, scale) = (
            self.bar.clone(),
            self.repetitions,
            self.duration_s,
            self.scale,
        );
        let t0 = std::time::Instant::now();
        tokio::spawn(async move {
            let human = crate::report::table::human;
            loop {
                let done = (t0.elapsed().as_secs_f64() / scale).min(total);
                bar.set_position(done as u64);
                bar.set_message(format!(
                    "rep {}/{reps}: {} of {}, {} left (Ctrl-C stops, keeps results)",
                    rep + 1,
                    human(done),
                    human(total),
                    human((total - done) * scale),
                ));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }
}
