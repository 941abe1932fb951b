//! `GET /events` against a real server: headers, wire format, ids, fan-out.

mod helpers;

use helpers::{Update, spawn_app};
use std::{collections::HashMap, time::SystemTime};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn the_stream_has_event_stream_headers_and_is_open_to_any_origin() {
    let app = spawn_app(&[]).await;

    let response = app
        .client
        .get(app.url("/events"))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/event-stream");
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("x-accel-buffering"), "no");
    assert_eq!(header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn cors_is_restricted_to_the_configured_origins() {
    let app = spawn_app(&[
        "--cors-origins",
        "https://good.example,http://localhost:8080",
    ])
    .await;

    for (origin, allowed) in [
        ("https://good.example", true),
        ("http://localhost:8080", true),
        ("https://evil.example", false),
    ] {
        let response = app
            .client
            .get(app.url("/events"))
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        let allow = response.headers().get("access-control-allow-origin");
        match allowed {
            true => assert_eq!(allow.unwrap(), origin),
            false => assert!(allow.is_none(), "{origin} was allowed"),
        }
    }
}

#[tokio::test]
async fn frames_are_exactly_retry_then_price_updates() {
    let app = spawn_app(&["--retry-ms", "1234", "--rate", "100"]).await;
    let mut stream = app.open_stream().await;

    assert_eq!(stream.next_frame().await.unwrap(), "retry: 1234\n\n");

    let update = stream.next_update().await.unwrap();
    let fields: Vec<&str> = update
        .data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["change", "changePct", "price", "symbol", "ts"]);
    // The exact bytes: the three fields in this order, compact JSON, a blank line.
    let expected = format!(
        "event: priceUpdate\nid: {}\ndata: {{\"symbol\":\"{}\",\"price\":{},\"change\":{},\"changePct\":{},\"ts\":{}}}\n\n",
        update.id,
        update.symbol(),
        update.data["price"],
        update.data["change"],
        update.data["changePct"],
        update.data["ts"],
    );
    assert_eq!(update.raw, expected);

    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let ts = u128::from(update.data["ts"].as_u64().unwrap());
    assert!(now_ms.abs_diff(ts) < 5_000, "ts {ts} is not now ({now_ms})");
    let price = update.price();
    assert!(price > 0.0 && (price * 100.0 - (price * 100.0).round()).abs() < 1e-6);
}

#[tokio::test]
async fn a_quiet_stream_sends_keep_alive_comments() {
    // One update every 1000 s: nothing but keep-alives in this test's lifetime.
    let app = spawn_app(&["--rate", "0.001", "--keep-alive-ms", "200"]).await;
    let mut stream = app.open_stream().await;

    assert!(stream.next_frame().await.unwrap().starts_with("retry: "));
    assert_eq!(stream.next_frame().await.unwrap(), ": keep-alive\n\n");
    assert_eq!(stream.next_frame().await.unwrap(), ": keep-alive\n\n");
}

#[tokio::test]
async fn ids_increase_by_one_with_every_update() {
    let app = spawn_app(&["--rate", "500"]).await;
    let mut stream = app.open_stream().await;

    let ids: Vec<u64> = stream.updates(200).await.iter().map(|u| u.id).collect();

    for pair in ids.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "ids jumped: {ids:?}");
    }
}

/// Collects `n` updates from a fresh server with `seed`, keyed by id.
async fn prices_by_id(seed: &str, n: usize) -> HashMap<u64, (String, f64)> {
    let app = spawn_app(&["--seed", seed, "--rate", "400"]).await;
    let mut stream = app.open_stream().await;
    stream
        .updates(n)
        .await
        .into_iter()
        .map(|u| (u.id, (u.symbol().to_owned(), u.price())))
        .collect()
}

fn common_ids(a: &HashMap<u64, (String, f64)>, b: &HashMap<u64, (String, f64)>) -> Vec<u64> {
    let mut ids: Vec<u64> = a.keys().filter(|id| b.contains_key(id)).copied().collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn the_same_seed_gives_the_same_prices() {
    let (first, second, other) = tokio::join!(
        prices_by_id("7", 300),
        prices_by_id("7", 300),
        prices_by_id("8", 300)
    );

    let common = common_ids(&first, &second);
    assert!(common.len() >= 100, "only {} ids in common", common.len());
    for id in &common {
        assert_eq!(
            first[id], second[id],
            "event {id} differs under the same seed"
        );
    }
    let common = common_ids(&first, &other);
    assert!(common.len() >= 100, "only {} ids in common", common.len());
    let differing = common.iter().filter(|id| first[id] != other[id]).count();
    assert!(
        differing > common.len() / 2,
        "another seed gave the same prices"
    );
}

#[tokio::test]
async fn two_clients_receive_the_same_events() {
    let app = spawn_app(&["--rate", "200"]).await;
    let (mut a, mut b) = (app.open_stream().await, app.open_stream().await);

    let (a, b): (Vec<Update>, Vec<Update>) = tokio::join!(a.updates(100), b.updates(100));

    let b: HashMap<u64, &Update> = b.iter().map(|u| (u.id, u)).collect();
    let shared: Vec<&Update> = a.iter().filter(|u| b.contains_key(&u.id)).collect();
    assert!(shared.len() >= 90, "only {} events in common", shared.len());
    for update in shared {
        assert_eq!(update.raw, b[&update.id].raw);
    }
}

#[tokio::test]
async fn a_dropped_client_is_released() {
    let app = spawn_app(&["--rate", "100"]).await;
    let mut stream = app.open_stream().await;
    stream.next_update().await.unwrap();
    app.wait_for_subscribers(1).await;

    drop(stream);

    app.wait_for_subscribers(0).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_hold_up_the_others() {
    let app = spawn_app(&["--rate", "5000"]).await;
    // A raw connection that asks for the stream and then never reads a byte.
    let mut stalled = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    app.wait_for_subscribers(1).await;
    let mut reader = app.open_stream().await;

    // Ten times the stalled client's buffer in the hub, without a gap.
    let ids: Vec<u64> = reader.updates(10_000).await.iter().map(|u| u.id).collect();

    assert!(
        ids.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "the reader missed events"
    );
    drop(stalled);
    app.wait_for_subscribers(1).await;
}

#[tokio::test]
async fn shutdown_ends_every_stream_promptly() {
    let app = spawn_app(&["--rate", "100"]).await;
    let mut streams = Vec::new();
    for _ in 0..50 {
        let mut stream = app.open_stream().await;
        stream.next_frame().await.unwrap();
        streams.push(stream);
    }

    let took = app.shutdown().await;

    assert!(took.as_secs_f64() < 2.0, "shutdown took {took:?}");
    for stream in &mut streams {
        while stream.next_frame().await.is_some() {}
    }
}
