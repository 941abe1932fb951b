//! Serving accepted connections: a stream on a connection of its own goes to
//! the server's stream writers; everything else goes through hyper.
//!
//! Why: hyper gives every HTTP/1 connection an 8 KiB read buffer and an 8 KiB
//! write buffer for its whole life. For a page or an API call that is nothing;
//! for 10 000 viewers who each hold one connection open for hours it is most of
//! the server's memory (measured: an idle keep-alive connection costs 17 KiB
//! after one request, a stream 21 KiB; see the README). And a task per stream,
//! woken for every update, costs more CPU than the writes themselves need
//! ([`writer`](crate::writer)). So when the *first* request on a connection is
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

use crate::{
    listener::{Connection, Delivery, Guard, GuardedListener, GuardedStream},
    sse::Handoff,
    writer::Writers,
};
use axum::{
    Router,
    body::{Body, HttpBody},
    extract::ConnectInfo,
    http::{Method, Request, Uri, Version, header, response},
};
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    service::TowerToHyperService,
};
use std::{
    future::Future,
    io::{self, Write as _},
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// The most request head this module reads before leaving the request to hyper.
const MAX_HEAD: usize = 16 * 1024;

/// How much hyper may buffer per HTTP/2 stream beyond what the client's
/// flow-control window lets through.
const H2_SEND_BUFFER: usize = 64 * 1024;

/// How long a new connection may take to send its first request head: a
/// client that connects and says nothing does not keep a descriptor for ever.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The most headers a stream request may have.
const MAX_HEADERS: usize = 64;

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
        connections.spawn(serve_connection(socket, peer, handlers, shutdown.clone()));
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
    handlers: Handlers,
    shutdown: CancellationToken,
) {
    if let Some(acceptor) = handlers.tls.clone() {
        serve_tls(socket, peer, acceptor, handlers, shutdown).await;
        return;
    }
    let first = tokio::select! {
        first = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut socket)) => {
            first.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
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
            };
            if let Err(error) = serve_stream(socket, *request, connection, handlers).await {
                tracing::debug!(%error, "stream connection ended");
            }
        }
        Ok(First::Other(prefix)) => {
            let mut io = handlers.guard.wrap(socket, peer);
            let connection = Connection {
                peer,
                delivery: Delivery::Hyper(io.watch_backpressure()),
            };
            serve_hyper(io, prefix, connection, handlers.router, shutdown).await;
        }
        Err(error) => tracing::debug!(%error, "connection closed before a whole request"),
    }
}

/// What the first request on a connection is.
enum First {
    /// `GET` or `HEAD /events`, parsed: served here.
    Stream(Box<Request<Body>>),
    /// Anything else; the bytes read so far, for hyper.
    Other(Bytes),
}

/// Reads the first request head, as far as it takes to decide.
async fn read_head(io: &mut TcpStream) -> io::Result<First> {
    let mut buffer = BytesMut::with_capacity(1024);
    loop {
        if buffer.len() >= MAX_HEAD {
            return Ok(First::Other(buffer.freeze()));
        }
        if io.read_buf(&mut buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => {
                return Ok(stream_request(&parsed).map_or_else(
                    || First::Other(buffer.freeze()),
                    |request| First::Stream(Box::new(request)),
                ));
            }
            Ok(httparse::Status::Partial) => {}
            // Not HTTP/1 as httparse reads it (too many headers, garbage):
            // hyper answers it, as it would have.
            Err(_) => return Ok(First::Other(buffer.freeze())),
        }
    }
}

/// The request, when it is one this module serves: `GET` or `HEAD /events`
/// over HTTP/1.1 without a body or an upgrade.
fn stream_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<Body>> {
    let method = match parsed.method? {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        _ => return None,
    };
    let target = parsed.path?;
    if target.split('?').next() != Some("/events") || parsed.version != Some(1) {
        return None;
    }
    let mut request = Request::builder()
        .method(method)
        .uri(Uri::try_from(target).ok()?)
        .version(Version::HTTP_11);
    for header in parsed.headers.iter() {
        let name = header::HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        // A body, or a switch of protocol, is hyper's business.
        if name == header::CONTENT_LENGTH && header.value != b"0"
            || name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
        {
            return None;
        }
        request = request.header(name, header::HeaderValue::from_bytes(header.value).ok()?);
    }
    request.body(Body::empty()).ok()
}

/// Answers `request` through `router` and writes the response on `io`, then
/// closes the connection; a stream goes to the `writers` after its head.
async fn serve_stream(
    socket: TcpStream,
    mut request: Request<Body>,
    connection: Connection,
    handlers: Handlers,
) -> io::Result<()> {
    let head_only = request.method() == Method::HEAD;
    request
        .extensions_mut()
        .insert(ConnectInfo(connection.clone()));
    let response = handlers
        .router
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    if let Some(opened) = parts.extensions.get::<Handoff>().and_then(Handoff::take) {
        let head = response_head(&parts, None, true);
        handlers.writers.add(socket, connection.peer, &head, opened);
        return Ok(());
    }
    let mut io = handlers.guard.wrap(socket, connection.peer);
    // Anything else (an error, or `HEAD`) has a known length.
    let length = body.size_hint().exact();
    let head = response_head(&parts, length, false);
    io.write_all(&head).await?;
    if !head_only {
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        io.write_all(&body).await?;
    }
    io.shutdown().await
}

/// The status line and headers of `parts`, with the framing this module uses:
/// `content-length` when the body's length is known, chunks for a stream, and
/// the connection closed after it.
fn response_head(parts: &response::Parts, length: Option<u64>, chunked: bool) -> BytesMut {
    let mut head = BytesMut::with_capacity(512);
    let reason = parts.status.canonical_reason().unwrap_or("Unknown");
    head.put_slice(format!("HTTP/1.1 {} {reason}\r\n", parts.status.as_str()).as_bytes());
    for (name, value) in &parts.headers {
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    if let Some(length) = length
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        head.put_slice(format!("content-length: {length}\r\n").as_bytes());
    }
    if chunked {
        head.put_slice(b"transfer-encoding: chunked\r\n");
    }
    let date = httpdate::fmt_http_date(SystemTime::now());
    head.put_slice(format!("connection: close\r\ndate: {date}\r\n\r\n").as_bytes());
    head
}

/// The end of a chunked body.
pub const END_OF_CHUNKS: &[u8] = b"0\r\n\r\n";

/// `data` as one HTTP/1.1 chunk: size line, data, line end. A stream's frames
/// go out framed in one buffer and one `send`: a vectored write of the three
/// parts cost the kernel more than copying them (about 3 % of the CPU at
/// 10 000 streams, measured with `perf`).
pub fn chunk(data: &[u8]) -> Bytes {
    let size = ChunkSize::of(data.len());
    let mut framed = BytesMut::with_capacity(size.len + data.len() + 2);
    framed.put_slice(size.as_bytes());
    framed.put_slice(data);
    framed.put_slice(b"\r\n");
    framed.freeze()
}

/// The size line of an HTTP/1.1 chunk (`1f4\r\n`), formatted without allocating.
struct ChunkSize {
    text: [u8; 18],
    len: usize,
}

impl ChunkSize {
    fn of(size: usize) -> Self {
        let mut text = [0; 18];
        let mut rest = &mut text[..];
        write!(rest, "{size:x}\r\n").expect("18 bytes hold any size in hex and a line end");
        let len = 18 - rest.len();
        Self { text, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

/// The router as hyper's service for one connection: every request learns
/// of the connection (`ConnectInfo<Connection>`).
fn connection_service(
    router: Router,
    connection: Connection,
) -> TowerToHyperService<
    impl Clone
    + tower::Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Send,
> {
    TowerToHyperService::new(router.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request
            .extensions_mut()
            .insert(ConnectInfo(connection.clone()));
        request
    }))
}

/// Serves the connection with hyper (HTTP/1.1, as `axum::serve` did), `prefix` first.
async fn serve_hyper(
    mut io: GuardedStream,
    prefix: Bytes,
    connection: Connection,
    router: Router,
    shutdown: CancellationToken,
) {
    io.unread(prefix);
    serve_http1(
        TokioIo::new(io),
        connection_service(router, connection),
        shutdown,
    )
    .await;
}

/// HTTP/1.1 on `io` until it ends, or until `shutdown` and the request in
/// hand is answered.
async fn serve_http1<I, S>(io: I, service: S, shutdown: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Send,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades();
    until_done(conn, shutdown, |conn| conn.graceful_shutdown()).await;
}

/// Drives a hyper connection until it ends or, after `shutdown`, until
/// `graceful` (its `graceful_shutdown`) has let it finish what it is answering.
async fn until_done<C>(conn: C, shutdown: CancellationToken, graceful: impl FnOnce(Pin<&mut C>))
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
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
    acceptor: TlsAcceptor,
    handlers: Handlers,
    shutdown: CancellationToken,
) {
    let mut io = handlers.guard.wrap(socket, peer);
    let backpressure = io.watch_backpressure();
    let tls = tokio::select! {
        tls = tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(io)) => match tls {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        },
        () = shutdown.cancelled() => return,
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let connection = Connection {
        peer,
        delivery: Delivery::Hyper(backpressure),
    };
    let service = connection_service(handlers.router, connection);
    if !h2 {
        serve_http1(TokioIo::new(tls), service, shutdown).await;
        return;
    }
    let conn = http2::Builder::new(TokioExecutor::new())
        // What hyper may queue per stream beyond the client's window: a
        // couple of snapshots, not seconds of updates.
        .max_send_buf_size(H2_SEND_BUFFER)
        .serve_connection(TokioIo::new(tls), service);
    until_done(conn, shutdown, |conn| conn.graceful_shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Option<Request<Body>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        assert!(parsed.parse(head.as_bytes()).unwrap().is_complete());
        stream_request(&parsed)
    }

    #[test]
    fn only_a_plain_get_or_head_of_the_stream_is_served_here() {
        let request =
            parse("GET /events?symbols=AAPL HTTP/1.1\r\nHost: a\r\nLast-Event-ID: x\r\n\r\n")
                .unwrap();
        assert_eq!(request.uri().query(), Some("symbols=AAPL"));
        assert_eq!(request.headers()["last-event-id"], "x");
        assert!(parse("HEAD /events HTTP/1.1\r\nHost: a\r\n\r\n").is_some());
        for other in [
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /events/x HTTP/1.1\r\nHost: a\r\n\r\n",
            "POST /events HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /events HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET /events HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
            "GET /events HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_chunk_size_is_lower_case_hex_and_a_line_end() {
        for (size, line) in [
            (0, "0\r\n"),
            (18, "12\r\n"),
            (500, "1f4\r\n"),
            (65_536, "10000\r\n"),
            (usize::MAX, "ffffffffffffffff\r\n"),
        ] {
            assert_eq!(ChunkSize::of(size).as_bytes(), line.as_bytes());
        }
    }
}
