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

use crate::{
    delivery::body::Handoff,
    delivery::idle::{Activity, IdleSettings},
    delivery::listener::{Connection, Delivery, Guard, GuardedListener},
    delivery::writer::Writers,
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
    rt::{TokioExecutor, TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{future::Future, io, net::SocketAddr, pin::Pin, sync::Arc, time::SystemTime};
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

/// The most a request head may take on a connection hyper serves (hyper
/// answers 431 past it): a cookie of a few kilobytes is common, 64 KiB is not.
const MAX_BUFFER: usize = 64 * 1024;

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
        serve_tls(socket, peer, activity, acceptor, handlers, shutdown).await;
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
            if let Err(error) = serve_stream(socket, *request, connection, handlers).await {
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
            serve_http1(TokioIo::new(io), service, &activity, settings, shutdown).await;
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

/// Reads the first request head, as far as it takes to decide; tells
/// `activity` when it begins.
async fn read_head(io: &mut TcpStream, activity: &Activity) -> io::Result<First> {
    let mut buffer = BytesMut::with_capacity(1024);
    loop {
        if buffer.len() >= MAX_HEAD {
            return Ok(First::Other(buffer.freeze()));
        }
        if io.read_buf(&mut buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        activity.read();
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
    if target.split('?').next() != Some(app::model::route::EVENTS) || parsed.version != Some(1) {
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
        let head = response_head(&parts, Framing::Chunked);
        handlers.writers.add(socket, connection.peer, &head, opened);
        return Ok(());
    }
    let mut io = handlers.guard.wrap(socket, connection.peer);
    // Anything else (an error, or `HEAD`) is short: written whole, with its length.
    let (head, body) = if head_only {
        // The length its `GET` would have: the router keeps the header and
        // empties the body.
        let length = declared_length(&parts).or(body.size_hint().exact());
        (
            response_head(&parts, Framing::Length(length.unwrap_or(0))),
            Bytes::new(),
        )
    } else {
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        (
            response_head(&parts, Framing::Length(body.len() as u64)),
            body,
        )
    };
    io.write_all(&head).await?;
    io.write_all(&body).await?;
    io.shutdown().await
}

/// How a response written here is framed: one way only (RFC 9112 §6.1: never
/// both `Content-Length` and `Transfer-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// A stream: HTTP/1.1 chunks until the connection closes.
    Chunked,
    /// A body of this many bytes.
    Length(u64),
}

/// The `content-length` the handler declared, when it is one number.
fn declared_length(parts: &response::Parts) -> Option<u64> {
    let mut values = parts.headers.get_all(header::CONTENT_LENGTH).iter();
    let length = values.next()?.to_str().ok()?.parse().ok()?;
    values.next().is_none().then_some(length)
}

/// The status line and headers of `parts`, framed by `framing`, with the
/// connection closed after the response (only the first request on a
/// connection is answered here).
fn response_head(parts: &response::Parts, framing: Framing) -> BytesMut {
    let mut head = BytesMut::with_capacity(512);
    let status = parts.status;
    let reason = status.canonical_reason().unwrap_or("Unknown");
    head.put_slice(format!("HTTP/1.1 {} {reason}\r\n", status.as_str()).as_bytes());
    for (name, value) in &parts.headers {
        // The framing and the connection's fate are this function's alone (the
        // router sets `content-length: 0` on a stream's empty placeholder).
        if OWN_HEADERS.contains(name) {
            continue;
        }
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    // RFC 9110 §8.6: no `content-length` on a 1xx or 204 answer.
    let bodiless = status.is_informational() || status == axum::http::StatusCode::NO_CONTENT;
    match framing {
        Framing::Chunked => head.put_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Length(_) if bodiless => {}
        Framing::Length(length) => {
            head.put_slice(format!("content-length: {length}\r\n").as_bytes());
        }
    }
    let date = httpdate::fmt_http_date(SystemTime::now());
    head.put_slice(format!("connection: close\r\ndate: {date}\r\n\r\n").as_bytes());
    head
}

/// The headers that [`response_head`] writes itself.
const OWN_HEADERS: [header::HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::DATE,
];

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

/// The answer to plain HTTP on the HTTPS port.
fn plain_http_to_tls() -> Vec<u8> {
    let body = "{\"error\":\"https_required\",\
                \"message\":\"this port speaks HTTPS: use https:// in the address\"}\n";
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether the client began with plain HTTP (a method's capital letters)
/// rather than a TLS handshake (which begins with the byte 0x16).
async fn is_plain_http(socket: &TcpStream) -> bool {
    let mut first = [0; 1];
    matches!(socket.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::chunked::{END_OF_CHUNKS, chunk};

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

    /// What a strict HTTP/1.1 client reads of a response: `httparse` for the
    /// head, then the framing rules of RFC 9112 §6.1 and §6.3 that lenient
    /// clients let pass (Node's fetch and aiohttp refuse such responses).
    fn strict_framing(bytes: &[u8]) -> Result<(u16, Framing, usize), String> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let end = match response.parse(bytes).map_err(|e| e.to_string())? {
            httparse::Status::Complete(end) => end,
            httparse::Status::Partial => return Err("the head is incomplete".into()),
        };
        if response.version != Some(1) {
            return Err("not HTTP/1.1".into());
        }
        let values = |name: &str| -> Vec<&str> {
            response
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| std::str::from_utf8(h.value).unwrap())
                .collect()
        };
        let (lengths, encodings) = (values("content-length"), values("transfer-encoding"));
        let framing = match (&lengths[..], &encodings[..]) {
            ([], []) => return Err("no framing: the body would end with the connection".into()),
            ([_, ..], [_, ..]) => return Err("both Content-Length and Transfer-Encoding".into()),
            ([length], []) => Framing::Length(
                length
                    .parse()
                    .map_err(|_| format!("Content-Length {length:?} is not a number"))?,
            ),
            (_, ["chunked"]) => Framing::Chunked,
            (lengths, encodings) => {
                return Err(format!("framing {lengths:?} {encodings:?}"));
            }
        };
        if values("connection") != ["close"] || values("date").len() != 1 {
            return Err("one `connection: close` and one `date` expected".into());
        }
        Ok((response.code.unwrap(), framing, end))
    }

    fn parts(status: u16, headers: &[(&'static str, &'static str)]) -> response::Parts {
        let mut builder = response::Builder::new().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_stream_head_is_chunked_only_whatever_the_handler_set() {
        // As the router leaves a stream's placeholder response.
        let stream = parts(
            200,
            &[
                ("content-type", "text/event-stream"),
                ("content-length", "0"),
                ("connection", "keep-alive"),
                ("date", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ],
        );
        let mut wire = response_head(&stream, Framing::Chunked).to_vec();
        let (status, framing, end) = strict_framing(&wire).unwrap();
        assert_eq!((status, framing), (200, Framing::Chunked));
        // The body that follows is read by httparse's chunk parser.
        wire.extend_from_slice(&chunk(b"data: 1\n\n"));
        wire.extend_from_slice(END_OF_CHUNKS);
        let body = &wire[end..];
        let Ok(httparse::Status::Complete((start, size))) = httparse::parse_chunk_size(body) else {
            panic!("no chunk size in {body:?}");
        };
        assert_eq!(&body[start..start + size as usize], b"data: 1\n\n");
        assert_eq!(&body[start + size as usize..], b"\r\n0\r\n\r\n");
    }

    #[test]
    fn an_answer_has_one_content_length() {
        for (status, declared, length) in [(401, "57", 57), (503, "0", 0), (200, "12", 12)] {
            let error = parts(
                status,
                &[
                    ("content-type", "application/json"),
                    ("content-length", declared),
                    ("transfer-encoding", "chunked"),
                ],
            );
            let wire = response_head(&error, Framing::Length(length));
            let (code, framing, _) = strict_framing(&wire).unwrap();
            assert_eq!((code, framing), (status, Framing::Length(length)));
        }
        assert_eq!(
            declared_length(&parts(200, &[("content-length", "7")])),
            Some(7)
        );
        let twice = parts(200, &[("content-length", "7"), ("content-length", "8")]);
        assert_eq!(declared_length(&twice), None);
    }

    #[test]
    fn the_strict_reader_refuses_what_main_used_to_send() {
        let both = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\
                    connection: close\r\ndate: x\r\n\r\n";
        assert!(strict_framing(both.as_bytes()).is_err());
    }

    #[test]
    fn the_hint_to_plain_http_is_one_well_framed_answer() {
        let hint = plain_http_to_tls();
        let (status, framing, end) = {
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut response = httparse::Response::new(&mut headers);
            let end = response.parse(&hint).unwrap().unwrap();
            let length = response
                .headers
                .iter()
                .find(|h| h.name == "content-length")
                .unwrap();
            let length: usize = std::str::from_utf8(length.value).unwrap().parse().unwrap();
            (response.code.unwrap(), length, end)
        };
        assert_eq!(status, 400);
        assert_eq!(hint.len() - end, framing);
        let body: serde_json::Value = serde_json::from_slice(&hint[end..]).unwrap();
        assert_eq!(body["error"], "https_required");
    }
}
