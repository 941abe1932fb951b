//! Hand-written HTTP/1.1, where hyper is not used: the first request on a
//! connection, read with `httparse`, is a stream of its own when it is a
//! plain `GET /events` (answered here, its head written here, then handed to
//! the writers); and the one answer to plain HTTP on the HTTPS port. Every
//! head written here is read back by a strict parser in the tests below.

use crate::delivery::{
    body::Handoff, guard::Guard, idle::Activity, listener::Connection, writer::Writers,
};
use axum::{
    Router,
    body::{Body, HttpBody},
    extract::ConnectInfo,
    http::{Method, Request, Uri, Version, header, response},
};
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use std::{io, time::SystemTime};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tower::ServiceExt;

/// The most request head this module reads before leaving the request to hyper.
const MAX_HEAD: usize = 16 * 1024;

/// The most headers a stream request may have.
const MAX_HEADERS: usize = 64;

/// What the first request on a connection is.
pub(super) enum First {
    /// `GET` or `HEAD /events`, parsed: served here.
    Stream(Box<Request<Body>>),
    /// Anything else; the bytes read so far, for hyper.
    Other(Bytes),
}

/// Reads the first request head, as far as it takes to decide; tells
/// `activity` when it begins.
pub(super) async fn read_head(io: &mut TcpStream, activity: &Activity) -> io::Result<First> {
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

/// Answers `request` through `router` and writes the response on the socket
/// (guarded by `guard`), then closes the connection; a stream goes to the
/// `writers` after its head.
pub(super) async fn serve_stream(
    socket: TcpStream,
    mut request: Request<Body>,
    connection: Connection,
    router: Router,
    writers: &Writers,
    guard: &Guard,
) -> io::Result<()> {
    let head_only = request.method() == Method::HEAD;
    request
        .extensions_mut()
        .insert(ConnectInfo(connection.clone()));
    let response = router
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    if let Some(opened) = parts.extensions.get::<Handoff>().and_then(Handoff::take) {
        let head = response_head(&parts, ResponseFraming::Chunked);
        writers.add(socket, connection.peer, &head, opened);
        return Ok(());
    }
    let mut io = guard.wrap(socket, connection.peer);
    // Anything else (an error, or `HEAD`) is short: written whole, with its length.
    let (head, body) = if head_only {
        // The length its `GET` would have: the router keeps the header and
        // empties the body.
        let length = declared_length(&parts).or(body.size_hint().exact());
        (
            response_head(&parts, ResponseFraming::Length(length.unwrap_or(0))),
            Bytes::new(),
        )
    } else {
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        (
            response_head(&parts, ResponseFraming::Length(body.len() as u64)),
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
enum ResponseFraming {
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
fn response_head(parts: &response::Parts, framing: ResponseFraming) -> BytesMut {
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
        ResponseFraming::Chunked => head.put_slice(b"transfer-encoding: chunked\r\n"),
        ResponseFraming::Length(_) if bodiless => {}
        ResponseFraming::Length(length) => {
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

/// The answer to plain HTTP on the HTTPS port.
pub(super) fn plain_http_to_tls() -> Vec<u8> {
    let body = "{\"error\":\"https_required\",\
                \"message\":\"this port speaks HTTPS: use https:// in the address\"}\n";
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
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
    fn strict_framing(bytes: &[u8]) -> Result<(u16, ResponseFraming, usize), String> {
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
            ([length], []) => ResponseFraming::Length(
                length
                    .parse()
                    .map_err(|_| format!("Content-Length {length:?} is not a number"))?,
            ),
            (_, ["chunked"]) => ResponseFraming::Chunked,
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
        let mut wire = response_head(&stream, ResponseFraming::Chunked).to_vec();
        let (status, framing, end) = strict_framing(&wire).unwrap();
        assert_eq!((status, framing), (200, ResponseFraming::Chunked));
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
            let wire = response_head(&error, ResponseFraming::Length(length));
            let (code, framing, _) = strict_framing(&wire).unwrap();
            assert_eq!((code, framing), (status, ResponseFraming::Length(length)));
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
