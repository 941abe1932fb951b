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
    delivery::{
        backpressure::Backpressure,
        guard::{ConnectionSettings, Guard},
        idle::Connections,
    },
    metrics::{AcceptError, Metrics},
};
use std::{
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

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
        Guard::new(self.settings, self.metrics.clone())
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
