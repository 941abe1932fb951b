//! `GET /events` against a real server: headers, wire format, ids, fan-out.

mod helpers;

use app::model::EventId;
use helpers::{ChunkedStream, Update, spawn_app, symbols_of};
use std::{
    collections::{HashMap, HashSet},
    time::SystemTime,
};
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
async fn a_fresh_stream_is_retry_snapshot_heartbeat_then_price_updates() {
    let app = spawn_app(&[
        "--retry-ms",
        "2000",
        "--rate",
        "100",
        "--symbols",
        "AAPL,MSFT",
    ])
    .await;
    let mut stream = app.open_stream().await;

    // retry: the base ± 25 %, in whole milliseconds.
    let retry = stream.next_frame().await.unwrap();
    let ms: u64 = retry
        .strip_prefix("retry: ")
        .and_then(|rest| rest.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("not a retry frame: {retry:?}"))
        .parse()
        .unwrap();
    assert!((1500..=2500).contains(&ms), "retry {ms}");

    let snapshot = stream.next_event().await.unwrap();
    let data = snapshot.json();
    let id = snapshot.id.clone().unwrap();
    assert_eq!(
        snapshot.raw,
        format!("event: snapshot\nid: {id}\ndata: {}\n\n", snapshot.data)
    );
    assert_eq!(data["lastEventId"], id.as_str());
    assert_eq!(symbols_of(&data), ["AAPL", "MSFT"]);

    // The heartbeat ends the catch-up, at the id of the last update before it
    // (updates published while the stream started come first, in order).
    let mut position: EventId = id.parse().unwrap();
    let heartbeat = loop {
        let frame = stream.next_event().await.unwrap();
        if frame.kind() == "heartbeat" {
            break frame;
        }
        position = Update::from(frame).assert_follows(position);
    };
    let beat = heartbeat.json();
    let at = heartbeat.id.clone().unwrap();
    assert_eq!(
        heartbeat.raw,
        format!(
            "event: heartbeat\nid: {at}\ndata: {{\"time\":{},\"lastEventId\":\"{at}\",\"intervalMs\":5000,\"retryMs\":2000}}\n\n",
            beat["time"]
        )
    );
    assert_eq!(heartbeat.event_id(), position);
    assert!(now_ms().abs_diff(u128::from(beat["time"].as_u64().unwrap())) < 5_000);

    let update = stream.next_update().await.unwrap();
    assert_eq!(
        update.id,
        heartbeat.event_id().next(),
        "the first update follows"
    );
    let fields: Vec<&str> = update
        .data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "change",
            "changePct",
            "high",
            "low",
            "open",
            "price",
            "symbol",
            "ts"
        ]
    );
    // The exact bytes: the three fields in this order, compact JSON, a blank line.
    let expected = format!(
        "event: priceUpdate\nid: {}\ndata: {{\"symbol\":\"{}\",\"price\":{},\"open\":{},\"high\":{},\"low\":{},\"change\":{},\"changePct\":{},\"ts\":{}}}\n\n",
        update.id,
        update.symbol(),
        update.data["price"],
        update.data["open"],
        update.data["high"],
        update.data["low"],
        update.data["change"],
        update.data["changePct"],
        update.data["ts"],
    );
    assert_eq!(update.raw, expected);

    let ts = u128::from(update.data["ts"].as_u64().unwrap());
    assert!(now_ms().abs_diff(ts) < 5_000, "ts {ts} is not now");
    let price = update.price();
    assert!(price > 0.0 && (price * 100.0 - (price * 100.0).round()).abs() < 1e-6);
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test]
async fn retry_delays_vary_between_connections() {
    let app = spawn_app(&["--retry-ms", "3000"]).await;
    let mut delays = HashSet::new();
    for _ in 0..10 {
        let mut stream = app.open_stream().await;
        delays.insert(stream.next_frame().await.unwrap());
    }
    assert!(delays.len() >= 5, "retry barely varies: {delays:?}");
}

#[tokio::test]
async fn a_quiet_stream_sends_heartbeats_with_its_position() {
    // One update every 1000 s: nothing but heartbeats in this test's lifetime.
    let app = spawn_app(&["--rate", "0.001", "--heartbeat-ms", "200"]).await;
    let mut stream = app.open_stream().await;
    let snapshot = stream.next_of("snapshot").await.unwrap();

    let started = std::time::Instant::now();
    for _ in 0..3 {
        let heartbeat = stream.next_event().await.unwrap();
        assert_eq!(heartbeat.kind(), "heartbeat", "{:?}", heartbeat.raw);
        assert_eq!(heartbeat.id, snapshot.id);
        assert_eq!(heartbeat.json()["intervalMs"], 200);
    }
    // The first comes at once, the next two one interval apart.
    assert!(
        started.elapsed().as_millis() >= 380,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ids_increase_by_one_with_every_update() {
    let app = spawn_app(&["--rate", "500"]).await;
    let mut stream = app.open_stream().await;

    let ids: Vec<u64> = stream.updates(200).await.iter().map(|u| u.id.seq).collect();

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
        .map(|u| (u.id.seq, (u.symbol().to_owned(), u.price())))
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

    let b: HashMap<EventId, &Update> = b.iter().map(|u| (u.id, u)).collect();
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
async fn a_client_that_leaves_a_quiet_stream_is_released_at_once() {
    // Nothing to send for a minute: only the client's close can end the stream.
    let app = spawn_app(&["--no-simulator", "--heartbeat-ms", "60000"]).await;
    for via_hyper in [false, true] {
        let mut stream = if via_hyper {
            ChunkedStream::open_reused(app.addr, "/events", &[], None).await
        } else {
            ChunkedStream::open(app.addr, "/events", &[], None).await
        };
        // The catch-up and the heartbeat after it: the stream is live.
        while !stream
            .next_chunk_events()
            .await
            .iter()
            .any(|frame| frame.kind() == "heartbeat")
        {}
        app.wait_for_subscribers(1).await;
        let closed = std::time::Instant::now();
        drop(stream);
        app.wait_for_subscribers(0).await;
        assert!(
            closed.elapsed() < std::time::Duration::from_secs(2),
            "released after {:?}",
            closed.elapsed()
        );
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_hold_up_the_others_and_is_disconnected() {
    a_client_that_stops_reading(b"").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_a_stream_hyper_serves_is_disconnected_too() {
    // A first request on the connection: the stream after it is hyper's.
    a_client_that_stops_reading(b"GET /healthz HTTP/1.1\r\nHost: tickertape\r\n\r\n").await;
}

async fn a_client_that_stops_reading(first: &[u8]) {
    let app = spawn_app(&["--rate", "5000", "--stall-timeout-ms", "1000"]).await;
    // A raw connection with a small receive buffer that asks for the stream and
    // then never reads a byte.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    stalled.write_all(first).await.unwrap();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    app.wait_for_subscribers(1).await;
    let mut readers = Vec::new();
    for _ in 0..4 {
        readers.push(app.open_stream().await);
    }

    // Every reader gets 10 000 consecutive updates (two seconds of prices) in time.
    let results = futures::future::join_all(readers.iter_mut().map(|r| r.updates(10_000))).await;
    for ids in results {
        assert!(
            ids.windows(2).all(|pair| pair[1].id.follows(pair[0].id)),
            "a reader missed events"
        );
    }
    // The stalled client is cut off; its stream and buffers are freed.
    let deadline = std::time::Instant::now() + helpers::PATIENCE * 3;
    while app.stats().await["stalledDisconnects"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled client is still connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.metrics()
            .await
            .value("tickertape_slow_client_disconnects_total"),
        1.0
    );
    drop(readers);
    app.wait_for_subscribers(0).await;
    assert!(app.hub.history_len() <= server::hub::DEFAULT_HISTORY);
}

#[tokio::test]
async fn shutdown_tells_every_stream_and_ends_it_promptly() {
    // All 200 streams come from 127.0.0.1: lift the per-address limit. The
    // grace is long (10 s), so that waiting for the idle connection below,
    // rather than closing it, could not pass for prompt.
    let app = spawn_app(&[
        "--rate",
        "100",
        "--max-streams-per-ip",
        "1000",
        "--shutdown-grace-ms",
        "10000",
    ])
    .await;
    let mut streams = Vec::new();
    for _ in 0..200 {
        let mut stream = app.open_stream().await;
        stream.next_of("heartbeat").await.unwrap();
        streams.push(stream);
    }
    // A connection that has not sent a request yet is closed too, not waited for.
    let idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();

    let took = app.shutdown().await;

    // Prompt: well within the grace, with room for 200 streams on a busy machine.
    assert!(took.as_secs_f64() < 5.0, "shutdown took {took:?}");
    drop(idle);
    for stream in &mut streams {
        let last = stream.rest().await.pop().expect("no frame before the end");
        assert_eq!(
            last.raw,
            "data: server restarting\ndata: your browser reconnects and catches up by itself\n\n"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_their_time_under_traffic() {
    // 2000 updates a second: a heartbeat never waits for a quiet moment.
    let app = spawn_app(&["--rate", "2000", "--heartbeat-ms", "300"]).await;
    let mut stream = app.open_stream().await;
    let mut times = Vec::new();
    while times.len() < 12 {
        let beat = stream.next_of("heartbeat").await.unwrap();
        times.push(beat.json()["time"].as_u64().unwrap());
    }
    // By the server's own clock (the `time` it stamps): each within the
    // interval of the one before, with 50 % for a timer on a loaded machine
    // (a heartbeat held back by traffic would be a whole interval late or more).
    for pair in times[1..].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap <= 450,
            "a heartbeat came {gap} ms after the last: {times:?}"
        );
    }
}

#[tokio::test]
async fn each_connection_draws_its_own_retry() {
    // Browsers dropped together by a restart must not all come back in the
    // same millisecond: five streams, five draws from 1500..=2500 ms (all five
    // the same by chance: about one in 10^12).
    let app = spawn_app(&["--retry-ms", "2000"]).await;
    let mut retries = std::collections::HashSet::new();
    for _ in 0..5 {
        let mut stream = app.open_stream().await;
        let retry = stream.next_frame().await.unwrap();
        retries.insert(retry);
    }
    assert!(retries.len() > 1, "every stream got {retries:?}");
}
