//! The emulator's TCP edge: accepts loopback connections and serves each with hyper's
//! HTTP/1, closing slow and idle ones with kube-apiserver's timeouts, and keeping the
//! process's open connections below its file-descriptor limit so `/healthz` always answers.
//!
//! kube-apiserver serves with Go's `http.Server{ReadHeaderTimeout: 32s, IdleTimeout: 90s,
//! MaxHeaderBytes: 1 MiB}` (k8s.io/apiserver/pkg/server/secure_serving.go: 32 s is "just shy
//! of requestTimeoutUpperBound", 90 s "matches http.DefaultTransport keep-alive timeout").
//! The same rules hold here: a connection must deliver a request's headers within 32 s of
//! its first byte (or of the accept, for the first request), and a keep-alive connection
//! with no request in flight is closed after 90 s. A request in flight (a watch included)
//! is never timed out by this layer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// kube-apiserver's `ReadHeaderTimeout`: a request's headers must arrive within this.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(32);
/// kube-apiserver's `IdleTimeout`: a keep-alive connection waits this long for a request.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Go's `http.DefaultMaxHeaderBytes`, which kube-apiserver sets explicitly.
const MAX_HEADER_BYTES: usize = 1 << 20;
/// How often a connection checks its deadlines (the timeouts' resolution).
const TICK: Duration = Duration::from_millis(250);
/// Upper bound on open connections per process, whatever the descriptor limit (memory:
/// an idle connection costs a task and hyper's buffers, some tens of KiB).
const MAX_CONNECTIONS: usize = 4096;
/// Pause before accepting again when descriptors ran out or every slot is busy.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// After shutdown is signalled, connections get this long to finish their request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How many connections this process keeps open at most: the soft `RLIMIT_NOFILE` minus a
/// reserve for everything else the process opens (an eighth, at least 32), within
/// [16, `MAX_CONNECTIONS`]. Read once from `/proc/self/limits`; 1024 when unreadable.
pub(crate) fn connection_cap() -> usize {
    static CAP: LazyLock<usize> = LazyLock::new(|| {
        let soft = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|text| soft_nofile(&text))
            .unwrap_or(1024);
        cap_for(soft)
    });
    *CAP
}

fn cap_for(soft_limit: u64) -> usize {
    let soft = usize::try_from(soft_limit).unwrap_or(usize::MAX);
    let reserve = (soft / 8).max(32);
    soft.saturating_sub(reserve).clamp(16, MAX_CONNECTIONS)
}

/// The soft limit from the "Max open files" line of `/proc/self/limits`.
fn soft_nofile(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// The timing state of one connection.
#[derive(Debug)]
struct Timing {
    /// Requests whose response has not finished (a watch stays in flight while it streams).
    in_flight: usize,
    /// When the connection last became free of requests (or was accepted).
    idle_since: Instant,
    /// When the first byte of the next request's headers arrived, while none is in flight.
    head_started: Option<Instant>,
}

/// One open connection, as the registry and its own task see it.
#[derive(Debug)]
struct Conn {
    timing: Mutex<Timing>,
    /// Set when the registry closes this connection to make room for a new one.
    evict: Notify,
}

impl Conn {
    fn new(now: Instant) -> Self {
        Conn {
            timing: Mutex::new(Timing {
                in_flight: 0,
                idle_since: now,
                // Like Go's server: the first request's header deadline runs from the accept.
                head_started: Some(now),
            }),
            evict: Notify::new(),
        }
    }

    fn timing(&self) -> MutexGuard<'_, Timing> {
        // The lock guards plain data; a panic elsewhere cannot leave it inconsistent.
        self.timing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_idle(&self) -> bool {
        self.timing().in_flight == 0
    }

    /// Bytes arrived from the client.
    fn on_read(&self) {
        let mut t = self.timing();
        if t.in_flight == 0 && t.head_started.is_none() {
            t.head_started = Some(Instant::now());
        }
    }

    fn request_started(&self) {
        let mut t = self.timing();
        t.in_flight += 1;
        t.head_started = None;
    }

    fn request_finished(&self) {
        let mut t = self.timing();
        t.in_flight = t.in_flight.saturating_sub(1);
        if t.in_flight == 0 {
            t.idle_since = Instant::now();
        }
    }

    /// Whether a deadline has passed: headers too slow, or idle too long.
    fn expired(&self, now: Instant) -> Option<&'static str> {
        let t = self.timing();
        if t.in_flight > 0 {
            return None;
        }
        if let Some(start) = t.head_started {
            if now.duration_since(start) >= HEADER_READ_TIMEOUT {
                return Some("request headers not received within 32s");
            }
        } else if now.duration_since(t.idle_since) >= IDLE_TIMEOUT {
            return Some("idle for 90s");
        }
        None
    }
}

/// Every open connection of every emulator in the process, oldest first: descriptors are
/// a per-process budget, so eviction is process-wide too.
#[derive(Default)]
struct Registry {
    conns: Mutex<(u64, BTreeMap<u64, Arc<Conn>>)>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, (u64, BTreeMap<u64, Arc<Conn>>)> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, conn: Arc<Conn>) -> u64 {
        let mut guard = self.lock();
        let id = guard.0;
        guard.0 += 1;
        guard.1.insert(id, conn);
        id
    }

    fn remove(&self, id: u64) {
        self.lock().1.remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().1.len()
    }

    /// Closes the oldest connection with no request in flight; false when every one is busy.
    fn evict_oldest_idle(&self) -> bool {
        let mut guard = self.lock();
        let victim = guard
            .1
            .iter()
            .find(|(_, conn)| conn.is_idle())
            .map(|(id, conn)| (*id, conn.clone()));
        match victim {
            Some((id, conn)) => {
                // Removed now so the next eviction picks another; the task closes it.
                guard.1.remove(&id);
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Accepts and serves connections until `shutdown` turns true, then lets open requests
/// finish (at most `SHUTDOWN_GRACE`; watches end on shutdown themselves).
pub(crate) async fn serve(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    let cap = connection_cap();
    loop {
        // At the cap, make room by closing the oldest idle connection; when every open
        // connection is busy, leave new ones in the kernel's backlog for a moment.
        while REGISTRY.len() >= cap && !REGISTRY.evict_oldest_idle() {
            tokio::select! {
                _ = shutdown.changed() => return drain(tasks).await,
                _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
            }
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Latency matters more than throughput here; a failure only costs speed.
                    let _ = tcp.set_nodelay(true);
                    tasks.spawn(serve_connection(tcp, app.clone(), shutdown.clone()));
                }
                Err(err) => {
                    // Out of descriptors (EMFILE/ENFILE) or a connection reset before it
                    // was accepted: free a slot if we can and retry shortly, never exit.
                    if is_out_of_descriptors(&err) {
                        REGISTRY.evict_oldest_idle();
                    }
                    tracing::debug!(%err, "emulator accept failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drain(tasks).await;
}

async fn drain(mut tasks: JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

fn is_out_of_descriptors(err: &io::Error) -> bool {
    // EMFILE (24) and ENFILE (23) on Linux; std has no ErrorKind for them.
    matches!(err.raw_os_error(), Some(23 | 24))
}

/// Removes the connection from the registry when its task ends, however it ends.
struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        REGISTRY.remove(self.0);
    }
}

async fn serve_connection(tcp: TcpStream, app: Router, mut shutdown: watch::Receiver<bool>) {
    let conn = Arc::new(Conn::new(Instant::now()));
    let _registered = Registered(REGISTRY.register(conn.clone()));
    let io = TokioIo::new(Tracked {
        inner: tcp,
        conn: conn.clone(),
    });
    let router = TowerToHyperService::new(app);
    let service_conn = conn.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let guard = InFlight::enter(service_conn.clone());
        let response = hyper::service::Service::call(&router, request);
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| TrackedBody {
                inner: body,
                guard: Some(guard),
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // Deadlines are enforced below, where idle and header time can be told apart.
        .header_read_timeout(None)
        .max_buf_size(MAX_HEADER_BYTES);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%err, "emulator connection ended with an error");
                }
                return;
            }
            _ = tick.tick() => {
                if let Some(why) = conn.expired(Instant::now()) {
                    tracing::debug!(why, "emulator closes a connection");
                    return;
                }
            }
            _ = conn.evict.notified() => {
                tracing::debug!("emulator closes its oldest idle connection to make room");
                return;
            }
            _ = shutdown.changed() => break,
        }
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
}

/// Counts one request as in flight until its response body has been sent (or dropped).
struct InFlight(Arc<Conn>);

impl InFlight {
    fn enter(conn: Arc<Conn>) -> Self {
        conn.request_started();
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that releases its request's `InFlight` when it ends.
struct TrackedBody {
    inner: Body,
    guard: Option<InFlight>,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting when request bytes arrive (to start the header deadline).
struct Tracked {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_stays_below_the_descriptor_limit_with_a_reserve() {
        assert_eq!(cap_for(100), 68);
        assert_eq!(cap_for(1024), 896);
        assert_eq!(cap_for(20_000), MAX_CONNECTIONS);
        assert_eq!(cap_for(10), 16);
        assert_eq!(cap_for(u64::MAX), MAX_CONNECTIONS);
    }

    #[test]
    fn soft_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            100                  4096                 files\n";
        assert_eq!(soft_nofile(text), Some(100));
        assert_eq!(
            soft_nofile("Max open files  unlimited unlimited files"),
            Some(u64::MAX)
        );
        assert_eq!(soft_nofile("nothing here"), None);
    }

    #[test]
    fn headers_time_out_after_32s_and_idle_connections_after_90s() {
        let start = Instant::now();
        let conn = Conn::new(start);
        assert!(conn.expired(start + Duration::from_secs(31)).is_none());
        assert!(conn.expired(start + HEADER_READ_TIMEOUT).is_some());
        conn.request_started();
        assert!(
            conn.expired(start + Duration::from_secs(3600)).is_none(),
            "a request in flight (a watch) never times out here"
        );
        conn.request_finished();
        let idle = conn.timing().idle_since;
        assert!(conn.expired(idle + Duration::from_secs(89)).is_none());
        assert!(conn.expired(idle + IDLE_TIMEOUT).is_some());
        conn.on_read();
        let head = conn
            .timing()
            .head_started
            .expect("first byte starts the header clock");
        assert!(conn.expired(head + Duration::from_secs(31)).is_none());
        assert!(conn.expired(head + HEADER_READ_TIMEOUT).is_some());
    }
}
