//! Fan-out under load against a real server: updates that fall due together go
//! out in one write, still as separate events; a reader that falls behind skips
//! to the latest prices, with ids it can resume from.

mod helpers;

use app::model::EventId;
use helpers::{ChunkedStream, Frame, PUBLISH_TOKEN, Update, spawn_app};

/// The ids and symbols of `events`, which must all be price updates.
fn updates(events: Vec<Frame>) -> Vec<(EventId, String)> {
    events
        .into_iter()
        .map(|frame| {
            let update = Update::from(frame);
            (update.id, update.symbol().to_owned())
        })
        .collect()
}

/// Reads chunks until the one that ends the catch-up (the first heartbeat).
async fn caught_up(stream: &mut ChunkedStream) -> EventId {
    loop {
        let events = stream.next_chunk_events().await;
        if let Some(heartbeat) = events.iter().find(|frame| frame.kind() == "heartbeat") {
            return heartbeat.event_id();
        }
    }
}

/// Who writes the stream: the server's stream writers (the stream is the first
/// request on its connection) or hyper (the connection answered another first).
#[derive(Clone, Copy)]
enum Via {
    Writers,
    Hyper,
}

impl Via {
    async fn open(
        self,
        addr: std::net::SocketAddr,
        path: &str,
        headers: &[&str],
        recv_buffer: Option<u32>,
    ) -> ChunkedStream {
        match self {
            Via::Writers => ChunkedStream::open(addr, path, headers, recv_buffer).await,
            Via::Hyper => ChunkedStream::open_reused(addr, path, headers, recv_buffer).await,
        }
    }
}

#[tokio::test]
async fn a_batch_reaches_each_viewer_in_one_write_as_separate_events_in_order() {
    a_batch_reaches_each_viewer_in_one_write_as_separate_events_in_order_via(Via::Writers).await;
}

#[tokio::test]
async fn a_batch_reaches_each_viewer_in_one_write_as_separate_events_in_order_through_hyper() {
    a_batch_reaches_each_viewer_in_one_write_as_separate_events_in_order_via(Via::Hyper).await;
}

async fn a_batch_reaches_each_viewer_in_one_write_as_separate_events_in_order_via(via: Via) {
    let app = spawn_app(&["--no-simulator", "--publish-token", PUBLISH_TOKEN]).await;
    let mut stream = via.open(app.addr, "/events", &[], None).await;
    let start = caught_up(&mut stream).await;

    let body = r#"[{"symbol":"AAA","price":1},{"symbol":"BBB","price":2},{"symbol":"AAA","price":3},
                   {"symbol":"CCC","price":4},{"symbol":"BBB","price":5}]"#;
    app.publish_body(body).await;

    let chunk = updates(stream.next_chunk_events().await);
    let expected: Vec<(EventId, String)> = ["AAA", "BBB", "AAA", "CCC", "BBB"]
        .iter()
        .enumerate()
        .map(|(i, symbol)| {
            let id = EventId {
                seq: start.seq + 1 + i as u64,
                ..start
            };
            (id, (*symbol).to_owned())
        })
        .collect();
    assert_eq!(
        chunk, expected,
        "the batch did not arrive in one write, in order"
    );
}

#[tokio::test]
async fn updates_within_the_coalescing_window_share_a_write_and_the_first_goes_at_once() {
    updates_within_the_coalescing_window_share_a_write_and_the_first_goes_at_once_via(Via::Writers)
        .await;
}

#[tokio::test]
async fn updates_within_the_coalescing_window_share_a_write_and_the_first_goes_at_once_through_hyper()
 {
    updates_within_the_coalescing_window_share_a_write_and_the_first_goes_at_once_via(Via::Hyper)
        .await;
}

async fn updates_within_the_coalescing_window_share_a_write_and_the_first_goes_at_once_via(
    via: Via,
) {
    // A window long enough for two debug-build POSTs on a busy machine: the
    // longest there is (1 s).
    let app = spawn_app(&[
        "--no-simulator",
        "--publish-token",
        PUBLISH_TOKEN,
        "--coalesce-ms",
        "1000",
    ])
    .await;
    let mut stream = via.open(app.addr, "/events", &[], None).await;
    let start = caught_up(&mut stream).await;
    let post = |symbol: &'static str| {
        let app = &app;
        async move {
            app.publish_body(format!(r#"{{"symbol":"{symbol}","price":1}}"#))
                .await;
        }
    };

    // After a quiet spell an update goes out at once, alone...
    post("AAA").await;
    let first = updates(stream.next_chunk_events().await);
    assert_eq!(first.len(), 1);
    assert!(first[0].0.follows(start));
    // ...and the ones that follow within the window go out together at its end.
    post("BBB").await;
    post("CCC").await;
    let second = updates(stream.next_chunk_events().await);
    let symbols: Vec<&str> = second.iter().map(|(_, symbol)| symbol.as_str()).collect();
    assert_eq!(symbols, ["BBB", "CCC"]);
    assert!(second[0].0.follows(first[0].0) && second[1].0.follows(second[0].0));
}

#[tokio::test]
async fn a_reader_that_stops_for_a_while_gets_the_latest_prices_with_ids_to_resume_from() {
    a_reader_that_stops_for_a_while_gets_the_latest_prices_with_ids_to_resume_from_via(
        Via::Writers,
    )
    .await;
}

#[tokio::test]
async fn a_reader_that_stops_for_a_while_gets_the_latest_prices_with_ids_to_resume_from_through_hyper()
 {
    a_reader_that_stops_for_a_while_gets_the_latest_prices_with_ids_to_resume_from_via(Via::Hyper)
        .await;
}

async fn a_reader_that_stops_for_a_while_gets_the_latest_prices_with_ids_to_resume_from_via(
    via: Via,
) {
    let app = spawn_app(&[
        "--rate",
        "2000",
        "--max-lag-ms",
        "100",
        "--send-buffer-bytes",
        "4096",
    ])
    .await;
    // A small receive buffer: not reading pushes back on the server at once.
    let mut stream = via.open(app.addr, "/events", &[], Some(4096)).await;
    let start = caught_up(&mut stream).await;

    // Stop reading while a second of updates goes by (about 2 000).
    app.wait_for_updates_after(start, 2000).await;
    let resumed_at = app.hub.head();
    let missed = resumed_at.seq - start.seq;

    // Reading again: what was already in the buffers, in order, then a snapshot
    // of prices at least as new as when reading resumed, not the backlog. What
    // the buffers held may end with an older snapshot: a stream that fell
    // behind before they filled (on a busy machine) skipped ahead then too.
    let mut previous = start;
    let mut stale = 0;
    let mut resumed = false;
    while !resumed {
        for frame in stream.next_chunk_events().await {
            match frame.kind() {
                "priceUpdate" => {
                    previous = Update::from(frame).assert_follows(previous);
                    if !resumed {
                        stale += 1;
                    }
                }
                "snapshot" => {
                    previous = frame.event_id();
                    resumed |= previous.seq >= resumed_at.seq;
                }
                _ => {}
            }
        }
    }
    // The buffers hold the kernel's bytes and the last batch written, at most
    // `--max-lag-ms` of updates (about 200): a queued backlog would be them all.
    assert!(
        stale < missed / 2,
        "{stale} of the {missed} updates published while the reader stopped came \
         before the snapshot: a backlog was queued"
    );
    // Live again from the snapshot's id, without a hole.
    for _ in 0..3 {
        for frame in stream.next_chunk_events().await {
            if frame.kind() == "priceUpdate" {
                previous = Update::from(frame).assert_follows(previous);
            }
        }
    }
    let skipped = app
        .metrics()
        .await
        .value("tickertape_conflated_events_total") as u64;
    assert!(skipped >= 1000, "only {skipped} skipped updates counted");

    // The last id seen resumes exactly: the next update is the one after it.
    drop(stream);
    let last_event_id = format!("Last-Event-ID: {previous}");
    let mut again = via.open(app.addr, "/events", &[&last_event_id], None).await;
    let first = loop {
        let events = again.next_chunk_events().await;
        if let Some(update) = events.into_iter().find(|f| f.kind() == "priceUpdate") {
            break Update::from(update);
        }
    };
    first.assert_follows(previous);
}
