//! The TCP listener: every accepted connection gets a write timeout, so a client
//! that stops reading is disconnected instead of holding its buffers forever.
//!
//! A stream's frames wait in hyper's and the kernel's buffers while the client
//! reads slowly; the hub holds no queue per client. When a write makes no progress
//! for the stall timeout, the connection fails, hyper drops the response and the
//! stream's memory is freed. The browser reconnects and resumes where it stopped.

use crate::hub::Hub;
use axum::{
    extract::connect_info::Connected,
    serve::{IncomingStream, Listener},
};
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
    net::{TcpListener, TcpStream},
};
use tokio_io_timeout::TimeoutStream;

/// A [`TcpListener`] whose connections time out when a write stalls.
#[derive(Debug)]
pub struct StallGuardListener {
    inner: TcpListener,
    stall_timeout: Duration,
    hub: Arc<Hub>,
}

impl StallGuardListener {
    /// Guards the connections `inner` accepts with `stall_timeout`, counting
    /// disconnections in `hub`'s counters.
    pub fn new(inner: TcpListener, stall_timeout: Duration, hub: Arc<Hub>) -> Self {
        Self {
            inner,
            stall_timeout,
            hub,
        }
    }
}

impl Listener for StallGuardListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, peer) = Listener::accept(&mut self.inner).await;
        // Prices are small and urgent: do not wait to fill a segment.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(self.stall_timeout));
        let guarded = GuardedStream {
            inner: Box::pin(stream),
            peer,
            hub: self.hub.clone(),
        };
        (guarded, peer)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection with a write timeout; logs and counts the timeout.
#[derive(Debug)]
pub struct GuardedStream {
    inner: Pin<Box<TimeoutStream<TcpStream>>>,
    peer: SocketAddr,
    hub: Arc<Hub>,
}

impl GuardedStream {
    fn note<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(error)) = &result
            && error.kind() == io::ErrorKind::TimedOut
        {
            self.hub.metrics.slow_disconnects.inc();
            tracing::warn!(peer = %self.peer, "disconnecting a client that stopped reading");
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
        self.inner.as_mut().poll_read(cx, buf)
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

/// The client's socket address, for handlers (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, StallGuardListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, StallGuardListener>) -> Self {
        Self(*stream.remote_addr())
    }
}
