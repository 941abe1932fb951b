//! Hostile and odd clients against the real server on 127.0.0.1: heads read
//! back by a strict parser, HTTP/1.0, idle and half-sent connections, too
//! many of them, huge heads, and HTTP/2 connections that sit idle.

mod helpers;

use helpers::{Framing, PATIENCE, spawn_app, spawn_tls_app, strict_framing, tls_connect};
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Reads until `end` (included), failing past `PATIENCE`.
async fn read_until(io: &mut (impl AsyncRead + Unpin), end: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while !seen.windows(end.len()).any(|w| w == end) {
            let mut chunk = [0; 4096];
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {end:?} in {}", String::from_utf8_lossy(&seen)));
    seen
}

/// Waits for the server to close `tcp`, reading what comes; returns how long it took.
async fn closed_after(tcp: &mut TcpStream) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server kept the connection open");
    started.elapsed()
}

/// The count of `tickertape_connections_closed_total{reason="…"}`.
fn closed(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("tickertape_connections_closed_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |count| count.parse().unwrap())
}

#[tokio::test]
async fn a_stream_on_a_first_request_is_framed_once() {
    let app = spawn_app(&[]).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until(&mut tcp, b"\r\n\r\n").await;
    let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(strict_framing(&seen[..end]), Ok((200, Framing::Chunked)));

    // The refusals written on that path are framed once too.
    for (request, status) in [
        ("GET /events?symbols=NOPE HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n", 200),
    ] {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (code, framing) = strict_framing(&answer[..end]).unwrap();
        assert_eq!(code, status, "{request}");
        let Framing::Length(length) = framing else {
            panic!("{framing:?} for {request}");
        };
        if status != 200 {
            assert_eq!(length as usize, answer.len() - end, "{request}");
        }
    }
}

#[tokio::test]
async fn an_http_1_0_client_never_gets_chunks() {
    let app = spawn_app(&["--rate", "200"]).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until(&mut tcp, b"event: heartbeat").await;
    let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let (status, framing) = strict_framing(&seen[..end]).unwrap();
    assert_eq!((status, framing), (200, Framing::Close));
    // The body is the stream itself, with no chunk size lines.
    assert!(seen[end..].starts_with(b"retry: "), "{seen:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app(&[
        "--idle-timeout-ms",
        "400",
        "--header-read-timeout-ms",
        "5000",
    ])
    .await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut tcp, b"\"status\"").await;
    let took = closed_after(&mut tcp).await;
    assert!(took >= Duration::from_millis(300), "closed after {took:?}");
    // A connection that never asks for anything is idle too.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    closed_after(&mut silent).await;
    assert!(closed(&app.metrics().await, "idle_timeout") >= 2);
}

#[tokio::test]
async fn a_half_sent_head_is_cut_at_the_header_timeout_first_or_later() {
    let app = spawn_app(&[
        "--idle-timeout-ms",
        "20000",
        "--header-read-timeout-ms",
        "300",
    ])
    .await;
    // On a new connection (the server's own reader).
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    first
        .write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let took = closed_after(&mut first).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");

    // On a kept-alive connection (hyper), after a whole request.
    let mut later = TcpStream::connect(app.addr).await.unwrap();
    later
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut later, b"\"status\"").await;
    later
        .write_all(b"GET /api/snapshot HTTP/1.1\r\n")
        .await
        .unwrap();
    // A byte at a time keeps no connection open past the timeout.
    let trickle = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if later.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let started = Instant::now();
    trickle.await;
    assert!(started.elapsed() < Duration::from_secs(4), "still open");
    assert!(closed(&app.metrics().await, "header_timeout") >= 2);
}

#[tokio::test]
async fn a_stream_on_a_kept_alive_connection_is_never_idle() {
    let app = spawn_app(&[
        "--idle-timeout-ms",
        "200",
        "--heartbeat-ms",
        "100",
        "--no-simulator",
    ])
    .await;
    let mut stream = helpers::ChunkedStream::open_reused(app.addr, "/events", &[], None).await;
    // Heartbeats for ten idle timeouts: the stream is still open.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        stream.next_chunk().await;
    }
}

#[tokio::test]
async fn past_the_cap_the_longest_idle_connection_makes_room() {
    let app = spawn_app(&["--max-idle-connections", "4"]).await;
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut tcp, b"\"status\"").await;
        idle.push(tcp);
    }
    // The first six were closed for room, the newest four are open.
    for tcp in &mut idle[..6] {
        closed_after(tcp).await;
    }
    // A new stream and a health check still get in (and are not held up).
    let mut stream = helpers::ChunkedStream::open(app.addr, "/events", &[], None).await;
    stream.next_chunk().await;
    assert!(app.get_text("/healthz").await.contains("ok"));
    assert!(closed(&app.metrics().await, "evicted") >= 6);
}

#[tokio::test]
async fn a_huge_head_is_refused_without_being_buffered() {
    let app = spawn_app(&[]).await;
    for first in [true, false] {
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        if !first {
            tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            read_until(&mut tcp, b"\"status\"").await;
        }
        let cookie = "a".repeat(400 * 1024);
        let request =
            format!("GET / HTTP/1.1\r\nHost: t\r\nCookie: tickertape_watchlist={cookie}\r\n\r\n");
        // The server stops reading; the write may fail once it has closed.
        let _ = tcp.write_all(request.as_bytes()).await;
        // An answer (431), or a reset when the server closed with the rest
        // unread; never a wait.
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
            .await
            .expect("the server kept reading a 400 KiB head")
            .ok();
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 431"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let (app, der) = spawn_tls_app(&["--idle-timeout-ms", "400"]).await;
    let tls = tls_connect(app.addr, der, b"h2").await;
    let (mut send, connection) = h2::client::handshake(tls).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = axum::http::Request::get("https://localhost/healthz")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let mut body = response.await.unwrap().into_body();
    while body.data().await.is_some() {}
    let started = Instant::now();
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the idle HTTP/2 connection stayed open")
        .unwrap()
        .ok();
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_http2_stream_whose_window_stays_shut_is_cut_by_the_stall_guard() {
    let (app, der) = spawn_tls_app(&["--rate", "200", "--stall-timeout-ms", "500"]).await;
    let tls = tls_connect(app.addr, der, b"h2").await;
    // No stream may receive a byte of DATA until the client opens its window,
    // which it never does.
    let (mut send, connection) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, bytes::Bytes>(tls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let request = axum::http::Request::get("https://localhost/events")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    // Held, never read (dropping it would cancel the stream).
    let _body = response.into_body();
    app.wait_for_subscribers(1).await;
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("a stream with a shut window held its connection")
        .unwrap()
        .ok();
    // Well before the idle timeout (30 s) or a ping could have closed it.
    app.wait_for_subscribers(0).await;
}
