//! The TCP listener: binding with a deep backlog, accepting without silent
//! pauses, and guarding every connection against clients that fall behind.
//!
//! - **Storms.** A restart or a network blip brings every viewer back at once, so
//!   the listen backlog is deep ([`bind`]) and the open-files limit is raised at
//!   start-up ([`raise_open_files_limit`]). Running out of file descriptors is
//!   logged and counted, and accepting resumes as soon as one is free.
//! - **Slow clients.** Each connection asks the kernel for a small send buffer,
//!   so little can wait there for a client that reads slowly, and tells its
//!   streams when the kernel's buffer is full ([`Backpressure`]): a stream then
//!   holds back instead of queueing frames in hyper, and when the client catches
//!   up it sends the latest state rather than a backlog.
//! - **Stalled clients.** A write that makes no progress for the stall timeout
//!   fails the connection; hyper drops the response and the stream's memory is
//!   freed. The browser reconnects and resumes where it stopped.

use crate::{
    delivery::idle::{Activity, Connections, IdleSettings},
    metrics::{AcceptError, Metrics},
};
use bytes::Bytes;
use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpSocket, TcpStream},
};
use tokio_io_timeout::TimeoutStream;

/// `EMFILE` and `ENFILE`: the process's or the system's file descriptors are all in use.
const OUT_OF_FILES: [i32; 2] = [24, 23];

/// How long to wait before accepting again after an error that is not the
/// client's: long enough not to spin, short enough not to matter.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Binds `addr` with a listen backlog of `backlog` (the kernel caps it at
/// `net.core.somaxconn`, which is logged when lower).
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted server can bind while the old one's connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(backlog)?;
    match somaxconn() {
        Some(cap) if cap < backlog => tracing::warn!(
            backlog,
            somaxconn = cap,
            "the kernel caps the listen backlog at net.core.somaxconn; raise it for connection storms"
        ),
        _ => tracing::debug!(backlog, "listening"),
    }
    Ok(listener)
}

fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Raises the soft limit of open files to the hard limit (every connection is a
/// file) and logs the limit in force.
pub fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!("open files limit: {limit}"),
        Err(error) => tracing::warn!(%error, "could not raise the open files limit"),
    }
}

/// What each accepted connection gets.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// A write that makes no progress for this long fails the connection.
    pub stall_timeout: Duration,
    /// The kernel send buffer to ask for; `None` keeps the kernel's default.
    pub send_buffer: Option<usize>,
    /// How long connections that are not streams may wait, and how many may.
    pub idle: IdleSettings,
    /// How often an HTTP/2 connection is pinged (and how long the client has
    /// to answer).
    pub h2_ping_interval: Duration,
}

/// A [`TcpListener`] whose connections are guarded against slow and stalled
/// clients, and whose accept errors are logged and counted.
#[derive(Debug)]
pub struct GuardedListener {
    inner: TcpListener,
    settings: ConnectionSettings,
    metrics: Arc<Metrics>,
    /// The connections that are not streams, closed for room when the file
    /// descriptors run out.
    connections: Arc<Connections>,
    /// Since when, and how many times, accepting has failed for want of file
    /// descriptors, while it still does.
    out_of_files: Option<(Instant, u64)>,
}

/// How many idle connections are closed each time accepting fails for want of
/// file descriptors.
const EVICT_WHEN_OUT_OF_FILES: usize = 32;

impl GuardedListener {
    /// Guards the connections `inner` accepts with `settings`, counting
    /// disconnections and accept errors in `metrics`.
    pub fn new(inner: TcpListener, settings: ConnectionSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            settings,
            connections: Connections::new(settings.idle, metrics.clone()),
            metrics,
            out_of_files: None,
        }
    }

    /// The registry of the connections that are not streams.
    pub fn connections(&self) -> Arc<Connections> {
        self.connections.clone()
    }

    /// What guards this listener's connections.
    pub fn guard(&self) -> Guard {
        Guard {
            settings: self.settings,
            metrics: self.metrics.clone(),
        }
    }

    /// Asks the kernel for what every connection gets.
    fn prepare(&self, stream: &TcpStream) {
        // Prices are small and urgent: do not wait to fill a segment.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        if let Some(bytes) = self.settings.send_buffer
            && let Err(error) = socket2::SockRef::from(stream).set_send_buffer_size(bytes)
        {
            tracing::debug!(%error, "could not set the send buffer");
        }
    }

    /// Logs and counts a failed accept; waits a moment when retrying at once
    /// would fail the same way.
    async fn accept_failed(&mut self, error: io::Error) {
        let client_gone = matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
        );
        if client_gone {
            tracing::debug!(%error, "a client left before it was accepted");
            return;
        }
        if error
            .raw_os_error()
            .is_some_and(|code| OUT_OF_FILES.contains(&code))
        {
            self.metrics
                .accept_failed(AcceptError::out_of_file_descriptors);
            // Idle connections make room for new ones (a viewer's stream, a
            // health check), which they could otherwise keep out for as long
            // as their clients liked.
            let evicted = self.connections.evict(EVICT_WHEN_OUT_OF_FILES);
            let (since, failures) = self.out_of_files.get_or_insert((Instant::now(), 0));
            *failures += 1;
            let (since, failures) = (*since, *failures);
            // Once when it starts, then every 100th failure: about once a second,
            // since each waits `ACCEPT_RETRY`.
            if failures % 100 == 1 {
                tracing::error!(
                    %error,
                    failures,
                    evicted,
                    for_ms = since.elapsed().as_millis() as u64,
                    "out of file descriptors: closing idle connections, and new ones wait \
                     until a descriptor is free (raise the open files limit, or lower \
                     --max-streams or --max-idle-connections)"
                );
            }
        } else {
            self.metrics.accept_failed(AcceptError::other);
            tracing::error!(%error, "could not accept a connection");
        }
        tokio::time::sleep(ACCEPT_RETRY).await;
    }

    /// The next connection, with its small send buffer and `TCP_NODELAY`
    /// (guard it with [`Guard::wrap`] unless its writer guards it itself);
    /// waits (logging and counting) while accepting fails.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    if let Some((since, _)) = self.out_of_files.take() {
                        tracing::info!(
                            after_ms = since.elapsed().as_millis() as u64,
                            "accepting connections again"
                        );
                    }
                    self.prepare(&stream);
                    return (stream, peer);
                }
                Err(error) => self.accept_failed(error).await,
            }
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// What guards a connection: the stall timeout, counted in the metrics.
#[derive(Debug, Clone)]
pub struct Guard {
    settings: ConnectionSettings,
    metrics: Arc<Metrics>,
}

impl Guard {
    /// What every connection gets.
    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// Completes when a stream on the connection of `backpressure` (from
    /// `peer`) has had something to send that was not taken for the stall
    /// timeout, logged and counted like a stalled write; the caller closes the
    /// connection.
    pub async fn stalled_stream(&self, backpressure: &Backpressure, peer: SocketAddr) {
        let timeout = self.settings.stall_timeout;
        let every = (timeout / 4).clamp(Duration::from_millis(25), Duration::from_secs(1));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if backpressure.longest_wait() >= timeout {
                self.metrics.stalled_client(peer);
                return;
            }
        }
    }

    /// `stream` (from `peer`) with a write timeout, logged and counted.
    pub fn wrap(&self, stream: TcpStream, peer: SocketAddr) -> GuardedStream {
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(self.settings.stall_timeout));
        GuardedStream {
            inner: Box::pin(stream),
            peer,
            unread: Bytes::new(),
            backpressure: None,
            activity: None,
            metrics: self.metrics.clone(),
        }
    }
}

/// Whether a connection's last write found the kernel's send buffer full.
///
/// The connection sets it; the streams on the connection wait for it to clear
/// before taking more frames from the hub, so what a slow client has not taken
/// yet waits in the hub (where it can be replaced by newer prices), not in
/// hyper's buffers.
///
/// It also keeps, for each stream on the connection, since when the stream
/// has had something to send that hyper has not taken ([`Handing`]): an
/// HTTP/2 stream whose client keeps its flow-control window shut is never
/// polled again, and no write of the connection ever stalls, so the stall
/// guard needs that clock ([`Guard::stalled_stream`]).
#[derive(Debug, Default)]
pub struct Backpressure {
    blocked: AtomicBool,
    /// Every stream waiting for the connection (an HTTP/2 connection carries
    /// many).
    waiting: Mutex<Vec<Waker>>,
    /// The streams' clocks.
    handing: Mutex<Vec<Weak<Handing>>>,
}

/// Since when a stream has had something for hyper to take, in milliseconds
/// since the Unix epoch; 0 while hyper is polling it.
#[derive(Debug, Default)]
pub struct Handing(AtomicU64);

impl Handing {
    /// The stream has something to hand over (and hyper may not ask for it).
    pub fn waiting(&self) {
        if self.0.load(Ordering::Relaxed) == 0 {
            self.0.store(crate::clock::now_ms(), Ordering::Relaxed);
        }
    }

    /// Hyper is polling the stream.
    pub fn polled(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl Backpressure {
    /// A clock for a new stream on this connection.
    pub fn handing(&self) -> Arc<Handing> {
        let handing = Arc::new(Handing::default());
        let mut all = self.handing.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|stream| stream.strong_count() > 0);
        all.push(Arc::downgrade(&handing));
        handing
    }

    /// How long the stream waiting the longest has waited for hyper.
    fn longest_wait(&self) -> Duration {
        let now = crate::clock::now_ms();
        let all = self.handing.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = all
            .iter()
            .filter_map(Weak::upgrade)
            .map(|handing| handing.0.load(Ordering::Relaxed))
            .filter(|&since| since > 0)
            .min();
        Duration::from_millis(oldest.map_or(0, |since| now.saturating_sub(since)))
    }

    /// Ready when the connection can take more; otherwise wakes `cx` when it can.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.blocked.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if !waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
        }
        // Cleared between the check and the registration: no wake would come.
        if self.blocked.load(Ordering::Acquire) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    fn note<T>(&self, result: &Poll<io::Result<T>>) {
        match result {
            Poll::Pending => self.blocked.store(true, Ordering::Release),
            Poll::Ready(_) => {
                if self.blocked.swap(false, Ordering::AcqRel) {
                    let waiting = std::mem::take(
                        &mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner),
                    );
                    for waker in waiting {
                        waker.wake();
                    }
                }
            }
        }
    }
}

/// An accepted connection with a write timeout and a [`Backpressure`] flag;
/// logs and counts the timeout.
#[derive(Debug)]
pub struct GuardedStream {
    inner: Pin<Box<TimeoutStream<TcpStream>>>,
    peer: SocketAddr,
    /// Bytes already read and put back, read again before the socket.
    unread: Bytes,
    /// Kept only for connections hyper serves: a stream written directly awaits
    /// each write, which is backpressure enough.
    backpressure: Option<Arc<Backpressure>>,
    /// Told of every read, to time request heads ([`idle`](crate::delivery::idle)).
    activity: Option<Arc<Activity>>,
    metrics: Arc<Metrics>,
}

impl GuardedStream {
    /// Tells `activity` of every read from now on.
    pub fn watch_reads(&mut self, activity: Arc<Activity>) {
        self.activity = Some(activity);
    }

    /// Puts back `bytes` already read, to be read again first (the request head
    /// [`serve`](crate::delivery::serve) looked at before handing the connection to hyper).
    pub fn unread(&mut self, bytes: Bytes) {
        debug_assert!(self.unread.is_empty(), "bytes put back twice");
        self.unread = bytes;
    }

    /// Starts telling whether the connection can take more, for the streams
    /// hyper will serve on it.
    pub fn watch_backpressure(&mut self) -> Arc<Backpressure> {
        self.backpressure.get_or_insert_default().clone()
    }

    fn note<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Some(backpressure) = &self.backpressure {
            backpressure.note(&result);
        }
        if let Poll::Ready(Err(error)) = &result
            && error.kind() == io::ErrorKind::TimedOut
        {
            self.metrics.stalled_client(self.peer);
        }
        result
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.remaining());
            buf.put_slice(&self.unread.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let result = self.inner.as_mut().poll_read(cx, buf);
        if let Some(activity) = &self.activity
            && buf.filled().len() > before
        {
            activity.read();
        }
        result
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = self.inner.as_mut().poll_write(cx, buf);
        self.note(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = self.inner.as_mut().poll_write_vectored(cx, bufs);
        self.note(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.inner.as_mut().poll_flush(cx);
        self.note(result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.inner.as_mut().poll_shutdown(cx);
        self.note(result)
    }
}

/// What handlers learn of the connection (`ConnectInfo<Connection>`).
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's socket address.
    pub peer: SocketAddr,
    /// Who writes a stream's body on this connection.
    pub delivery: Delivery,
    /// Whether the connection is HTTPS (the server's own TLS).
    pub tls: bool,
}

/// Who writes a stream's body.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Hyper, as the response body; the stream holds back while the
    /// connection's [`Backpressure`] says the client is not taking more.
    Hyper(Arc<Backpressure>),
    /// The server's stream writers ([`writer`](crate::delivery::writer)), which take the
    /// stream over from the response.
    Writers,
}
