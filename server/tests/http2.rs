//! HTTPS with HTTP/2: the server with a certificate made here, read by an
//! HTTP/2 client (the `h2` crate, which hyper uses) over rustls.

mod helpers;

use app::model::EventId;
use helpers::{
    events_of, h2_connect as connect, h2_connect_deafened, h2_next_data as next_data, h2_open,
    spawn_tls_app, tls_connect,
};
use std::time::{Duration, Instant};

#[tokio::test]
async fn over_http2_frames_arrive_one_write_at_a_time_and_a_stopped_reader_holds_up_no_other() {
    let (app, der) = spawn_tls_app(&["--rate", "2000", "--max-lag-ms", "100"]).await;
    let mut send = connect(app.addr, der).await;

    // A stream that is never read: its window fills and stays full.
    let mut stopped = h2_open(&mut send, "/events").await;
    // Another stream on the same connection, read.
    let mut read = h2_open(&mut send, "/events").await;
    let mut previous: Option<EventId> = None;
    let mut updates = 0;
    let mut pending = String::new();
    // Far more than the stopped stream's window (64 KiB) holds.
    while updates < 4000 {
        let text = next_data(&mut read).await;
        // A write of the server's goes out as it is made: a DATA frame under
        // the largest size (16 KiB) ends with a whole event.
        assert!(
            text.len() >= 16_000 || text.ends_with("\n\n"),
            "a write was split: {text:?}"
        );
        pending.push_str(&text);
        let Some(end) = pending.rfind("\n\n") else {
            continue;
        };
        let rest = pending.split_off(end + 2);
        let whole = std::mem::replace(&mut pending, rest);
        for frame in events_of(&whole) {
            if frame.kind() != "priceUpdate" {
                continue;
            }
            let id = frame.event_id();
            if let Some(previous) = previous {
                assert!(id.follows(previous), "{id} after {previous}");
            }
            previous = Some(id);
            updates += 1;
        }
    }

    // The stopped reader was not dropped: reading again, it gets what its
    // window held, then the latest prices (a snapshot), not the backlog.
    let snapshot = async {
        let mut seen = String::new();
        loop {
            seen.push_str(&next_data(&mut stopped).await);
            // After the catch-up's own snapshot, the one that skips the backlog.
            let snapshots: Vec<_> = events_of(&seen[..seen.rfind("\n\n").map_or(0, |at| at + 2)])
                .into_iter()
                .filter(|frame| frame.kind() == "snapshot")
                .collect();
            if snapshots.len() >= 2 {
                return snapshots[1].event_id();
            }
        }
    };
    let at = tokio::time::timeout(Duration::from_secs(20), snapshot)
        .await
        .expect("the stopped reader got no snapshot");
    assert!(at.seq > 1000, "an old snapshot: {at}");
}

#[tokio::test]
async fn a_connection_that_stops_answering_pings_is_closed_and_one_that_answers_is_kept() {
    // One update a second: no window fills, no stream lags; only the pings
    // tell the two clients apart.
    let (app, der) = spawn_tls_app(&["--rate", "1", "--h2-ping-interval-ms", "200"]).await;
    let mut answering = connect(app.addr, der.clone()).await;
    let mut kept = h2_open(&mut answering, "/events").await;
    let (mut deaf, deafen) = h2_connect_deafened(app.addr, der).await;
    let _unread = h2_open(&mut deaf, "/events").await;
    app.wait_for_subscribers(2).await;

    deafen.send(()).unwrap();
    // Closed after a ping goes unanswered for an interval: within 2 intervals
    // (0.4 s), the rest is margin for a busy machine.
    app.wait_for_subscribers(1).await;

    // The other connection answered every ping since and still streams.
    let at = Instant::now();
    while at.elapsed() < Duration::from_secs(1) {
        next_data(&mut kept).await;
    }
    assert_eq!(app.limits.open(), 1);
}

#[tokio::test]
async fn https_answers_http_1_1_too() {
    let (app, der) = spawn_tls_app(&[]).await;
    let mut tls = tls_connect(app.addr, der, b"http/1.1").await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Read to a clean end: the server closes with TLS's close_notify.
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
