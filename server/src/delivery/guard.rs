//! Each connection's guards: a write that makes no progress for the stall
//! timeout fails the connection (logged and counted); an HTTP/2 stream kept
//! waiting as long closes its connection ([`Guard::stalled_stream`]); and what
//! each accepted connection is given ([`ConnectionSettings`]).

use crate::{
    delivery::{
        backpressure::Backpressure,
        idle::{Activity, IdleSettings},
    },
    metrics::Metrics,
};
use bytes::Bytes;
use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_io_timeout::TimeoutStream;

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

/// What guards a connection: the stall timeout, counted in the metrics.
#[derive(Debug, Clone)]
pub struct Guard {
    settings: ConnectionSettings,
    metrics: Arc<Metrics>,
}

impl Guard {
    /// The guard of connections with `settings`, counting in `metrics`.
    pub fn new(settings: ConnectionSettings, metrics: Arc<Metrics>) -> Self {
        Self { settings, metrics }
    }

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
