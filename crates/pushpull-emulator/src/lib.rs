//! Embedded Kubernetes API emulator: a small API server on 127.0.0.1 that kubectl and
//! kube-rs talk to over plain HTTP, with kwok-style simulated rollouts, fault hooks and a
//! ground-truth log of completed rollouts. Cheap enough to run one per simulated cluster.
//!
//! Layers: `store` (+ `patch`, `apply`, `fields`, `defaults`) holds object semantics and
//! knows nothing of HTTP; `server`/`watch`/`table`/`discovery` are the wire; `rollout` is
//! the sans-IO pod model and `controller` its real-time shell; `faults` sits in front.

mod apply;
pub mod cli;
mod config;
mod connections;
mod controller;
mod defaults;
mod discovery;
mod event;
mod faults;
mod fields;
mod history;
pub mod kubeconfig;
mod openapi;
mod patch;
mod protobuf;
mod resource;
mod rollout;
mod scale;
mod schema;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod validation;
mod watch;
mod workloads;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use config::{ConfigError, EmulatorConfig, PodStartDelay};
pub use controller::{RolloutLog, RolloutRecord};
pub use faults::{FaultError, FaultStats, Faults, InjectedError};
pub use status::ApiError;

use controller::Controller;
use resource::Resource;
use store::{PatchKind, Store, Subresource, WriteOptions};

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator config: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error(
        "unknown object type {api_version}/{kind}: the emulator serves Namespace, ConfigMap and Deployment"
    )]
    UnknownType { api_version: String, kind: String },
    #[error(transparent)]
    Api(Box<ApiError>),
}

impl From<ApiError> for EmulatorError {
    fn from(err: ApiError) -> Self {
        EmulatorError::Api(Box::new(err))
    }
}

/// Entry point: `Emulator::start(config).await` inside tokio, or `start_blocking` outside.
pub struct Emulator;

impl Emulator {
    /// Binds 127.0.0.1 and starts the server and rollout controller on the current runtime.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .map_err(|source| EmulatorError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                port: config.port,
                source,
            })?;
        let store = Arc::new(Store::new(config.seed, config.watch_history));
        let faults = Faults::new(config.seed, store.clone());
        let log = Arc::new(RolloutLog::default());
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

        let sampler =
            config::PodStartSampler::new(config.pod_start.clone(), config.time_scale, config.seed);
        let controller = Controller::new(store.clone(), sampler, config.time_scale, log.clone())
            .with_max_pods(config.max_pods);
        let controller_task = tokio::spawn(controller.run(shutdown_rx.clone()));

        let app = server::router(server::AppState {
            store: store.clone(),
            faults: faults.clone(),
            server_address: addr.to_string(),
            bookmark_interval: config.bookmark_interval,
            shutdown: shutdown_rx.clone(),
        });
        let server_task = tokio::spawn(connections::serve(listener, app, shutdown_rx));
        tracing::debug!(%addr, "emulator listening");
        Ok(RunningEmulator {
            addr,
            store,
            faults,
            log,
            shutdown: shutdown_tx,
            tasks: vec![server_task, controller_task],
        })
    }

    /// Starts an emulator on its own runtime, for callers that are not async (tests, CLI).
    pub fn start_blocking(config: EmulatorConfig) -> Result<BlockingEmulator, EmulatorError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pushpull-emulator")
            .enable_all()
            .build()
            .map_err(EmulatorError::Runtime)?;
        let inner = runtime.block_on(Emulator::start(config))?;
        Ok(BlockingEmulator {
            inner: Some(inner),
            runtime,
        })
    }
}

/// A started emulator. Dropping it without `shutdown` leaves the tasks running until
/// their runtime ends.
pub struct RunningEmulator {
    addr: SocketAddr,
    store: Arc<Store>,
    faults: Faults,
    log: Arc<RolloutLog>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Ground truth: every Deployment generation that became fully rolled out, in order.
    pub fn rollout_log(&self) -> &Arc<RolloutLog> {
        &self.log
    }

    /// A kubeconfig with the given context name pointing at this emulator.
    pub fn kubeconfig_yaml(&self, context: &str) -> String {
        kubeconfig::render(&self.url(), context)
    }

    /// Writes a kubeconfig with context `pushpull-emulator`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), EmulatorError> {
        Ok(kubeconfig::write(path, &self.url(), kubeconfig::CONTEXT)?)
    }

    fn resource_of(object: &Value) -> Result<Resource, EmulatorError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        Resource::from_type(api_version, kind).ok_or_else(|| EmulatorError::UnknownType {
            api_version: api_version.into(),
            kind: kind.into(),
        })
    }

    /// Server-side applies an object in-process, bypassing HTTP and faults (drift
    /// injection, test setup while an outage is on).
    pub fn apply(
        &self,
        object: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, EmulatorError> {
        let resource = Self::resource_of(object)?;
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let opts = WriteOptions {
            manager: manager.into(),
            force,
            dry_run: false,
        };
        let applied = self.store.patch(
            resource,
            namespace,
            name,
            Subresource::Main,
            PatchKind::Apply,
            object,
            &opts,
        )?;
        Ok((*applied).clone())
    }

    /// Reads an object in-process (`api_version`/`kind` as in a manifest).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, EmulatorError> {
        let resource =
            Resource::from_type(api_version, kind).ok_or_else(|| EmulatorError::UnknownType {
                api_version: api_version.into(),
                kind: kind.into(),
            })?;
        Ok((*self.store.get(resource, namespace, name)?).clone())
    }

    /// Deletes an object in-process.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<(), EmulatorError> {
        let resource =
            Resource::from_type(api_version, kind).ok_or_else(|| EmulatorError::UnknownType {
                api_version: api_version.into(),
                kind: kind.into(),
            })?;
        self.store.delete(resource, namespace, name, None, false)?;
        Ok(())
    }

    /// Stops accepting requests, ends watches and the controller, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// An emulator that owns its runtime; shuts down on drop.
pub struct BlockingEmulator {
    inner: Option<RunningEmulator>,
    runtime: tokio::runtime::Runtime,
}

impl std::ops::Deref for BlockingEmulator {
    type Target = RunningEmulator;

    fn deref(&self) -> &RunningEmulator {
        self.inner.as_ref().expect("present until drop")
    }
}

impl BlockingEmulator {
    /// The runtime the emulator runs on (to drive async clients against it).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            self.runtime.block_on(inner.shutdown());
        }
    }
}
