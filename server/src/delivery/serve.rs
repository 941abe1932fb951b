//! Serving accepted connections: a stream on a connection of its own goes to
//! the server's stream writers; everything else goes through hyper.
//!
//! Why: hyper gives every HTTP/1 connection an 8 KiB read buffer and an 8 KiB
//! write buffer for its whole life. For a page or an API call that is nothing;
//! for 10 000 viewers who each hold one connection open for hours it is most of
//! the server's memory (measured: an idle keep-alive connection costs 17 KiB
//! after one request, a stream 21 KiB; see the README). And a task per stream,
//! woken for every update, costs more CPU than the writes themselves need
//! ([`writer`](crate::delivery::writer)). So when the *first* request on a connection is
//! `GET` or `HEAD /events`, this module reads its head with `httparse` and
//! hands it to the same [`Router`] as every other request (same access checks,
//! limits, CORS and headers, same handler). A stream the handler opens is
//! handed, with its socket and response head, to a [`Writers`] writer, which
//! sends it as HTTP/1.1 chunks and closes the connection at its end; any other
//! answer (an error, `HEAD`) is written here, and the connection closed.
//!
//! Any other first request (or one this module does not handle, such as one
//! with a body, or a head it cannot parse) goes to hyper with the bytes already
//! read put back in front ([`GuardedStream::unread`]), exactly as if it had been
//! accepted by hyper. A keep-alive connection that later asks for `/events` is
//! served by hyper too, with the same handler.

use super::raw_http::{First, plain_http_to_tls, read_head, serve_stream};
use crate::{
    delivery::guard::Guard,
    delivery::idle::{Activity, IdleSettings},
    delivery::listener::{Connection, Delivery, GuardedListener},
    delivery::writer::Writers,
};
use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// How much hyper may buffer per HTTP/2 stream beyond what the client's
/// flow-control window lets through.
const H2_SEND_BUFFER: usize = 64 * 1024;

/// The most a request head may take on a connection hyper serves (hyper
/// answers 431 past it): a cookie of a few kilobytes is common, 64 KiB is not.
const MAX_BUFFER: usize = 64 * 1024;

/// Accepts connections from `listener` and serves them with `router` until
/// `shutdown`; then stops accepting and asks hyper's connections to finish.
/// Connection tasks are tracked in `connections`, for the caller to wait on.
pub async fn serve(
    mut listener: GuardedListener,
    router: Router,
    writers: Arc<Writers>,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
    connections: TaskTracker,
) {
    let guard = listener.guard();
    let idle = listener.connections();
    loop {
        let (socket, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let handlers = Handlers {
            router: router.clone(),
            writers: writers.clone(),
            guard: guard.clone(),
            tls: tls.clone(),
        };
        let activity = idle.admit();
        connections.spawn(serve_connection(
            socket,
            peer,
            activity,
            handlers,
            shutdown.clone(),
        ));
    }
    connections.close();
}

/// What answers a connection's requests.
struct Handlers {
    router: Router,
    writers: Arc<Writers>,
    guard: Guard,
    /// Set when the server speaks HTTPS.
    tls: Option<TlsAcceptor>,
}

/// One connection: a stream of its own, or hyper.
async fn serve_connection(
    mut socket: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    handlers: Handlers,
    shutdown: CancellationToken,
) {
    if let Some(acceptor) = handlers.tls.clone() {
        // Boxed, as the other paths below: the task of every connection is as
        // large as its largest path, and in a storm thousands of them wait
        // for their first request at once (the heap profile's largest site,
        // 9 KB each, before these were boxed; README "Memory").
        Box::pin(serve_tls(
            socket, peer, activity, acceptor, handlers, shutdown,
        ))
        .await;
        return;
    }
    let first = tokio::select! {
        first = read_head(&mut socket, &activity) => first,
        reason = activity.expired() => {
            tracing::debug!(%peer, ?reason, "closing a connection before its first request");
            return;
        }
        // Shutting down: a connection that has not asked for anything yet is
        // closed, as hyper closes its idle ones.
        () = shutdown.cancelled() => return,
    };
    match first {
        Ok(First::Stream(request)) => {
            let connection = Connection {
                peer,
                delivery: Delivery::Writers,
                tls: false,
            };
            let busy = activity.busy();
            if let Err(error) = Box::pin(serve_stream(
                socket,
                *request,
                connection,
                handlers.router,
                &handlers.writers,
                &handlers.guard,
            ))
            .await
            {
                tracing::debug!(%error, "stream connection ended");
            }
            drop(busy);
        }
        Ok(First::Other(prefix)) => {
            let mut io = handlers.guard.wrap(socket, peer);
            io.watch_reads(activity.clone());
            let connection = Connection {
                peer,
                delivery: Delivery::Hyper(io.watch_backpressure()),
                tls: false,
            };
            io.unread(prefix);
            let service = connection_service(handlers.router, connection, activity.clone());
            let settings = handlers.guard.settings().idle;
            Box::pin(serve_http1(
                TokioIo::new(io),
                service,
                &activity,
                settings,
                shutdown,
            ))
            .await;
        }
        Err(error) => tracing::debug!(%error, "connection closed before a whole request"),
    }
}

/// The router as hyper's service for one connection: every request learns
/// of the connection (`ConnectInfo<Connection>`), and keeps the connection
/// busy (not idle) until its response is sent.
fn connection_service(
    router: Router,
    connection: Connection,
    activity: Arc<Activity>,
) -> TowerToHyperService<
    impl Clone
    + tower::Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Send,
> {
    TowerToHyperService::new(tower::service_fn(move |request: Request<Incoming>| {
        let busy = activity.busy();
        let mut request = request.map(Body::new);
        request
            .extensions_mut()
            .insert(ConnectInfo(connection.clone()));
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await?;
            Ok(response.map(|body| busy.track(body)))
        }
    }))
}

/// HTTP/1.1 on `io` until it ends, until `activity` expires (idle, or a head
/// too slow), or until `shutdown` and the request in hand is answered.
async fn serve_http1<I, S>(
    io: I,
    service: S,
    activity: &Activity,
    settings: IdleSettings,
    shutdown: CancellationToken,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Send,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http1::Builder::new()
        // A head larger than this is refused (431) rather than buffered:
        // hyper's default is about 400 KiB per connection.
        .max_buf_size(MAX_BUFFER)
        // Behind the idle and header timeouts of `activity`, hyper's own
        // (which runs from the end of one answer to the end of the next head),
        // should a connection ever escape them.
        .timer(TokioTimer::new())
        .header_read_timeout(settings.idle_timeout + settings.header_read_timeout)
        .serve_connection(io, service)
        .with_upgrades();
    // A stalled write fails the connection by itself (the guard's timeout).
    let stalled = std::future::pending();
    until_done(conn, activity, stalled, shutdown, |conn| {
        conn.graceful_shutdown();
    })
    .await;
}

/// Drives a hyper connection until it ends; until `activity` says it has
/// waited too long with no request in flight, or `stalled` completes (it is
/// dropped, which closes it); or, after `shutdown`, until `graceful` (its `graceful_shutdown`) has
/// let it finish what it is answering.
async fn until_done<C>(
    conn: C,
    activity: &Activity,
    stalled: impl Future<Output = ()>,
    shutdown: CancellationToken,
    graceful: impl FnOnce(Pin<&mut C>),
) where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        reason = activity.expired() => {
            tracing::debug!(?reason, "closing a connection with no request in flight");
            return;
        }
        // Logged and counted by the guard.
        () = stalled => return,
        () = shutdown.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Serves an HTTPS connection: the TLS handshake (as long as a request head
/// may take), then HTTP/2 when the client chose it by ALPN, HTTP/1.1 otherwise.
/// Every stream of an HTTP/2 connection is polled by hyper only while its
/// flow-control window has room, so a viewer that stops reading holds up no
/// other stream: its updates wait in the hub, where they can be skipped.
async fn serve_tls(
    socket: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    acceptor: TlsAcceptor,
    handlers: Handlers,
    shutdown: CancellationToken,
) {
    // Plain HTTP sent to the HTTPS port gets a hint rather than a failed
    // handshake, which clients report as a garbled answer.
    let plain = tokio::select! {
        plain = is_plain_http(&socket) => plain,
        _ = activity.expired() => return,
        () = shutdown.cancelled() => return,
    };
    if plain {
        let mut socket = socket;
        let _ = socket.write_all(&plain_http_to_tls()).await;
        let _ = socket.shutdown().await;
        return;
    }
    let mut io = handlers.guard.wrap(socket, peer);
    io.watch_reads(activity.clone());
    let backpressure = io.watch_backpressure();
    // The handshake is timed like a request head, from its first byte.
    let tls = tokio::select! {
        tls = acceptor.accept(io) => match tls {
            Ok(tls) => tls,
            Err(error) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
        },
        reason = activity.expired() => {
            tracing::debug!(%peer, ?reason, "closing a connection before its TLS handshake ended");
            return;
        }
        () = shutdown.cancelled() => return,
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let connection = Connection {
        peer,
        delivery: Delivery::Hyper(backpressure.clone()),
        tls: true,
    };
    let service = connection_service(handlers.router, connection, activity.clone());
    if !h2 {
        let settings = handlers.guard.settings().idle;
        serve_http1(TokioIo::new(tls), service, &activity, settings, shutdown).await;
        return;
    }
    activity.speaks_h2();
    let ping = handlers.guard.settings().h2_ping_interval;
    let conn = http2::Builder::new(TokioExecutor::new())
        // What hyper may queue per stream beyond the client's window: a
        // couple of snapshots, not seconds of updates.
        .max_send_buf_size(H2_SEND_BUFFER)
        // A client that stops answering pings is gone: its connection closes
        // even while its streams wait for a window it will never open.
        .timer(TokioTimer::new())
        .keep_alive_interval(ping)
        .keep_alive_timeout(ping)
        .serve_connection(TokioIo::new(tls), service);
    // A stream whose window stays shut is never polled, and nothing stalls
    // on the socket: the guard watches the streams' own clocks.
    let stalled = handlers.guard.stalled_stream(&backpressure, peer);
    until_done(conn, &activity, stalled, shutdown, |conn| {
        conn.graceful_shutdown();
    })
    .await;
}

/// Whether the client began with plain HTTP (a method's capital letters)
/// rather than a TLS handshake (which begins with the byte 0x16).
async fn is_plain_http(socket: &TcpStream) -> bool {
    let mut first = [0; 1];
    matches!(socket.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}
