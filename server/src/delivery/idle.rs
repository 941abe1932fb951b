//! Connections that are not streams: how long they may wait, and how many
//! may wait at once.
//!
//! A connection that is not carrying a request costs a file descriptor and
//! buffers, and a client can open as many as it likes. So every connection
//! the server accepts (until it becomes a stream of the writers', which
//! `--max-streams` counts) is registered here, and:
//!
//! - **idle** (no request in flight): closed after `--idle-timeout-ms`, on
//!   HTTP/1 (keep-alive) and HTTP/2 alike; the first request's wait counts too;
//! - **half-sent** (bytes of a request head read, the head not whole): closed
//!   `--header-read-timeout-ms` after its first byte; so is a TLS handshake;
//! - **too many**: past `--max-idle-connections` idle ones, those idle the
//!   longest (a second at least) are closed to make room (as nginx reuses its
//!   keep-alive connections), and so are some when the file descriptors run
//!   out, so that idle connections alone can never keep `/healthz` or a new
//!   stream out.
//!
//! A request in flight (a stream above all) is never idle: a stream is
//! guarded by the stall timeout instead ([`listener`](crate::delivery::listener)).

use crate::metrics::{CloseReason, Metrics};
use axum::body::{Body, HttpBody};
use std::{
    collections::BTreeMap,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::Duration,
};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

/// How long connections may wait, and how many may.
#[derive(Debug, Clone, Copy)]
pub struct IdleSettings {
    /// A request head (or TLS handshake) must be whole this long after its
    /// first byte.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// The most connections that may be idle at once.
    pub max_idle: usize,
}

/// The registry of the connections that are not streams, the longest idle first.
#[derive(Debug)]
pub struct Connections {
    settings: IdleSettings,
    metrics: Arc<Metrics>,
    registry: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// The key the next connection to go idle gets: keys grow, so the first
    /// entry of `idle` is the connection idle the longest.
    next: u64,
    /// The idle connections: since when each is idle, and how to close it.
    idle: BTreeMap<u64, (Instant, CancellationToken)>,
}

impl Registry {
    fn park(&mut self, close: &CancellationToken) -> u64 {
        let key = self.next;
        self.next += 1;
        self.idle.insert(key, (Instant::now(), close.clone()));
        key
    }
}

/// How long a connection must have been idle to be closed for room (unless
/// the descriptors ran out): a storm of reconnecting viewers brings thousands
/// of connections at once, each idle until its request arrives a moment
/// later, and none of them should be closed for the others.
const MIN_IDLE_TO_EVICT: Duration = Duration::from_secs(1);

impl Connections {
    /// An empty registry.
    pub fn new(settings: IdleSettings, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            metrics,
            registry: Mutex::new(Registry::default()),
        })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection just accepted (idle: it has asked for nothing
    /// yet), closing the one idle the longest when that makes too many.
    pub fn admit(self: &Arc<Self>) -> Arc<Activity> {
        let close = CancellationToken::new();
        let key = {
            let mut registry = self.registry();
            let excess = (registry.idle.len() + 1).saturating_sub(self.settings.max_idle);
            evict(&mut registry, &self.metrics, excess, MIN_IDLE_TO_EVICT);
            registry.park(&close)
        };
        Arc::new(Activity {
            connections: self.clone(),
            close,
            state: Mutex::new(State {
                in_flight: 0,
                key: Some(key),
                since: Instant::now(),
                reading: None,
                heads: true,
            }),
            changed: Notify::new(),
        })
    }

    /// Closes up to `n` of the connections idle the longest (the file
    /// descriptors ran out); returns how many.
    pub fn evict(&self, n: usize) -> usize {
        evict(&mut self.registry(), &self.metrics, n, Duration::ZERO)
    }

    /// How many connections are idle now.
    pub fn idle(&self) -> usize {
        self.registry().idle.len()
    }
}

/// Closes up to `n` of the connections idle the longest, if idle for at least
/// `min_idle`.
fn evict(registry: &mut Registry, metrics: &Metrics, n: usize, min_idle: Duration) -> usize {
    let mut evicted = 0;
    while evicted < n {
        let Some(entry) = registry.idle.first_entry() else {
            break;
        };
        if entry.get().0.elapsed() < min_idle {
            break;
        }
        let (_, close) = entry.remove();
        close.cancel();
        metrics.closed(CloseReason::evicted);
        evicted += 1;
    }
    if evicted > 0 {
        tracing::debug!(evicted, "closed idle connections to make room");
    }
    evicted
}

/// One connection's activity: whether it has a request in flight, since
/// when it has not, whether a request head is arriving.
#[derive(Debug)]
pub struct Activity {
    connections: Arc<Connections>,
    /// Cancelled to close the connection for room.
    close: CancellationToken,
    state: Mutex<State>,
    /// Told of every change of `state`.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests being answered (an HTTP/2 connection carries many).
    in_flight: usize,
    /// Its key among the idle connections, while it is idle.
    key: Option<u64>,
    /// Since when it is idle.
    since: Instant,
    /// When the first byte of the next request head arrived, while it is idle.
    reading: Option<Instant>,
    /// Whether bytes read while idle are a request head (HTTP/1); HTTP/2
    /// reads pings and settings between requests.
    heads: bool,
}

impl Activity {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request starts: the connection is busy until the [`Busy`] is dropped
    /// (with the response's body, see [`Busy::track`]).
    pub fn busy(self: &Arc<Self>) -> Busy {
        let mut state = self.state();
        state.in_flight += 1;
        state.reading = None;
        if let Some(key) = state.key.take() {
            self.connections.registry().idle.remove(&key);
        }
        drop(state);
        self.changed.notify_waiters();
        Busy(self.clone())
    }

    fn done(&self) {
        let mut state = self.state();
        state.in_flight -= 1;
        if state.in_flight == 0 && !self.close.is_cancelled() {
            state.since = Instant::now();
            state.key = Some(self.connections.registry().park(&self.close));
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Bytes arrived: while idle on HTTP/1, a request head has begun.
    pub fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.heads && state.reading.is_none() {
            state.reading = Some(Instant::now());
            drop(state);
            self.changed.notify_waiters();
        }
    }

    /// The connection speaks HTTP/2 from now on: what it reads while idle is
    /// not a request head.
    pub fn speaks_h2(&self) {
        let mut state = self.state();
        state.heads = false;
        state.reading = None;
        drop(state);
        self.changed.notify_waiters();
    }

    /// When it must close now and why, if it has no request in flight.
    fn deadline(&self) -> Option<(Instant, CloseReason)> {
        let state = self.state();
        let settings = &self.connections.settings;
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.reading {
            Some(first) => (
                first + settings.header_read_timeout,
                CloseReason::header_timeout,
            ),
            None => (
                state.since + settings.idle_timeout,
                CloseReason::idle_timeout,
            ),
        })
    }

    /// Completes when the connection must be closed (it can be closed at once:
    /// it has no request in flight), and says why; the caller closes it.
    pub async fn expired(&self) -> CloseReason {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let deadline = self.deadline();
            tokio::select! {
                () = self.close.cancelled() => return CloseReason::evicted,
                () = changed => {}
                () = sleep_until(deadline) => {
                    // Still due (a request may have come meanwhile)?
                    if let Some((at, reason)) = self.deadline()
                        && at <= Instant::now()
                    {
                        self.connections.metrics.closed(reason);
                        return reason;
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<(Instant, CloseReason)>) {
    match deadline {
        Some((at, _)) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        let key = self.state().key.take();
        if let Some(key) = key {
            self.connections.registry().idle.remove(&key);
        }
    }
}

/// A request in flight on a connection: the connection is not idle while it
/// lives.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Busy {
    /// `body`, keeping the connection busy until it is sent (or dropped).
    pub fn track(self, body: Body) -> Body {
        Body::new(Tracked { body, _busy: self })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// A response body that keeps its connection busy.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections(max_idle: usize) -> Arc<Connections> {
        let settings = IdleSettings {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            max_idle,
        };
        Connections::new(settings, Arc::new(Metrics::new()))
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_cap_the_longest_idle_is_closed() {
        let connections = connections(2);
        let first = connections.admit();
        let second = connections.admit();
        // A storm: connections a moment old are not closed for room.
        let storm = connections.admit();
        assert!(!first.close.is_cancelled() && !second.close.is_cancelled());
        drop(storm);
        tokio::time::advance(MIN_IDLE_TO_EVICT).await;
        // The first becomes busy, then idle again: now the second is the oldest.
        drop(first.busy());
        let third = connections.admit();
        assert!(second.close.is_cancelled());
        assert!(!first.close.is_cancelled() && !third.close.is_cancelled());
        assert_eq!(connections.idle(), 2);
        // A busy connection is never closed for room.
        let _busy = first.busy();
        tokio::time::advance(MIN_IDLE_TO_EVICT).await;
        let _fourth = connections.admit();
        assert!(!first.close.is_cancelled());
        assert_eq!(connections.evict(10), 2);
        drop((third, first));
        assert_eq!(connections.idle(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_half_sent_connections_expire_busy_ones_do_not() {
        let connections = connections(10);
        let idle = connections.admit();
        let started = Instant::now();
        assert_eq!(idle.expired().await, CloseReason::idle_timeout);
        assert_eq!(started.elapsed(), Duration::from_secs(5));

        let half = connections.admit();
        tokio::time::sleep(Duration::from_secs(3)).await;
        half.read();
        let started = Instant::now();
        assert_eq!(half.expired().await, CloseReason::header_timeout);
        assert_eq!(started.elapsed(), Duration::from_secs(1));

        let busy = connections.admit();
        let request = busy.busy();
        let expired = tokio::time::timeout(Duration::from_secs(3600), busy.expired()).await;
        assert!(expired.is_err(), "a busy connection expired");
        drop(request);
        let started = Instant::now();
        assert_eq!(busy.expired().await, CloseReason::idle_timeout);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn http2_reads_between_requests_are_not_heads() {
        let connections = connections(10);
        let h2 = connections.admit();
        h2.speaks_h2();
        h2.read();
        let started = Instant::now();
        assert_eq!(h2.expired().await, CloseReason::idle_timeout);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
