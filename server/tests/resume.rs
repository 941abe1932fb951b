//! Resuming and resyncing `GET /events` against a real server: a client cut off
//! mid-stream comes back with exactly what it missed, or with a snapshot.

mod helpers;

use app::model::{EventId, RunId};
use helpers::{SseClient, TestApp, Update, spawn_app};

/// Reads `n` updates on a fresh stream, then drops it (the client is cut off).
async fn read_then_cut(app: &TestApp, n: usize) -> EventId {
    let mut stream = app.open_stream().await;
    let seen = stream.updates(n).await;
    seen.last().unwrap().id
}

/// The updates up to the first heartbeat (the catch-up), checking that no
/// snapshot came.
async fn replayed(stream: &mut SseClient) -> Vec<Update> {
    let mut updates = Vec::new();
    loop {
        let frame = stream.next_event().await.unwrap();
        match frame.kind() {
            "heartbeat" => return updates,
            "priceUpdate" => updates.push(Update::from(frame)),
            other => panic!("a {other} during a resume: {:?}", frame.raw),
        }
    }
}

/// Asserts that `updates` are exactly the ones after `from`, with no hole.
fn assert_continues(from: EventId, updates: &[Update]) {
    let mut previous = from;
    for update in updates {
        previous = update.assert_follows(previous);
    }
}

#[tokio::test]
async fn last_event_id_header_replays_exactly_the_missed_updates() {
    let app = spawn_app(&["--rate", "500"]).await;
    let cut_at = read_then_cut(&app, 20).await;
    app.wait_for_updates_after(cut_at, 100).await;

    let mut stream = app
        .open_stream_at("/events", Some(&cut_at.to_string()))
        .await;
    let missed = replayed(&mut stream).await;

    assert!(missed.len() >= 100, "only {} replayed", missed.len());
    assert_continues(cut_at, &missed);
    // And then live, still without a hole or a duplicate.
    let live = stream.updates(50).await;
    assert_continues(missed.last().unwrap().id, &live);
}

#[tokio::test]
async fn the_last_event_id_query_parameter_resumes_too_and_the_header_wins() {
    let app = spawn_app(&["--rate", "500"]).await;
    let cut_at = read_then_cut(&app, 10).await;
    app.wait_for_updates_after(cut_at, 50).await;

    let mut by_query = app
        .open_stream_at(&format!("/events?lastEventId={cut_at}"), None)
        .await;
    let missed = replayed(&mut by_query).await;
    assert!(missed.len() >= 50);
    assert_continues(cut_at, &missed);

    // A browser reconnecting to that URL sends its newer id in the header.
    let newer = missed[20].id;
    let mut both = app
        .open_stream_at(
            &format!("/events?lastEventId={cut_at}"),
            Some(&newer.to_string()),
        )
        .await;
    let missed = replayed(&mut both).await;
    assert_continues(newer, &missed);
}

#[tokio::test]
async fn resuming_at_the_head_replays_nothing() {
    let app = spawn_app(&["--rate", "0.001"]).await;
    let head = app.hub.head();

    let mut stream = app.open_stream_at("/events", Some(&head.to_string())).await;

    assert!(replayed(&mut stream).await.is_empty());
}

#[tokio::test]
async fn unusable_ids_get_200_and_a_snapshot_with_a_notice() {
    let app = spawn_app(&["--rate", "2000", "--history", "100"]).await;
    let cut_at = read_then_cut(&app, 5).await;
    // Far more than the history holds.
    app.wait_for_updates_after(cut_at, 500).await;
    let head = app.hub.head();
    let other_run = EventId {
        run: RunId(head.run.0.wrapping_add(1)),
        seq: head.seq,
    };
    let ahead = EventId {
        seq: head.seq + 1_000_000,
        ..head
    };

    for (id, says) in [
        (cut_at.to_string(), "are no longer kept"),
        (other_run.to_string(), "the server restarted since"),
        (ahead.to_string(), "are no longer kept"),
        ("42".to_owned(), "not an event id"),
        ("<script>".to_owned(), "not an event id"),
    ] {
        let mut stream = app.open_stream_at("/events", Some(&id)).await;

        let snapshot = stream.next_event().await.unwrap();
        assert_eq!(snapshot.kind(), "snapshot", "resuming from {id:?}");
        let resumes_at = snapshot.event_id();
        assert_eq!(resumes_at.run, head.run);
        assert!(resumes_at.seq >= head.seq);
        let notice = stream.next_event().await.unwrap();
        assert_eq!(notice.kind(), "message");
        assert!(notice.id.is_none(), "a notice must not move Last-Event-ID");
        assert!(notice.data.contains(says), "{id:?}: {:?}", notice.data);
        // And the stream goes on from the snapshot.
        let update = stream.next_update().await.unwrap();
        assert!(update.id.seq > resumes_at.seq);
    }
    let stats = app.stats().await;
    assert_eq!(stats["resynced"], 5);
}

#[tokio::test]
async fn an_id_from_before_a_restart_resyncs_on_the_new_server() {
    let first = spawn_app(&["--rate", "200"]).await;
    let cut_at = read_then_cut(&first, 5).await;
    first.shutdown().await;

    let second = spawn_app(&["--rate", "200"]).await;
    let mut stream = second
        .open_stream_at("/events", Some(&cut_at.to_string()))
        .await;

    let snapshot = stream.next_event().await.unwrap();
    assert_eq!(snapshot.kind(), "snapshot");
    assert_ne!(snapshot.event_id().run, cut_at.run);
}

#[tokio::test]
async fn a_filtered_stream_resumes_with_its_own_symbols_only() {
    let app = spawn_app(&["--rate", "500", "--symbols", "AAPL,MSFT,NVDA"]).await;
    let mut stream = app.open_stream_at("/events?symbols=MSFT", None).await;
    let seen = stream.updates(3).await;
    drop(stream);
    let cut_at = seen.last().unwrap().id;
    app.wait_for_updates_after(cut_at, 60).await;

    let mut stream = app
        .open_stream_at("/events?symbols=MSFT", Some(&cut_at.to_string()))
        .await;
    let missed = replayed(&mut stream).await;

    assert!(!missed.is_empty());
    assert!(missed.iter().all(|u| u.symbol() == "MSFT"));
    assert!(missed.windows(2).all(|w| w[1].id.seq > w[0].id.seq));
    assert!(missed[0].id.seq > cut_at.seq);
}

#[tokio::test]
async fn a_reader_that_falls_out_of_the_history_gets_a_snapshot_not_a_hole() {
    let app = spawn_app(&["--rate", "20000", "--history", "100"]).await;
    let mut stream = SseClient::open_with_small_buffer(app.addr, "/events", 4096).await;
    let start = stream.next_of("heartbeat").await.unwrap().event_id();

    // Stop reading while far more than the history (and the buffers) goes by.
    app.wait_for_updates_after(start, 50_000).await;

    // Reading again: every update follows the one before it, or a snapshot
    // (which may come again if this reader keeps falling behind): never a hole.
    let mut previous = start;
    let mut snapshots = 0;
    let mut updates = 0;
    while snapshots == 0 || updates < 200 {
        let frame = stream.next_event().await.unwrap();
        match frame.kind() {
            "snapshot" => {
                snapshots += 1;
                assert!(frame.event_id().seq > previous.seq, "a snapshot went back");
                previous = frame.event_id();
            }
            "priceUpdate" => {
                previous = Update::from(frame).assert_follows(previous);
                updates += 1;
            }
            _ => {}
        }
    }
    // Gone, the reader falls behind no more: the counts hold still.
    drop(stream);
    app.wait_for_subscribers(0).await;
    let slow = app.stats().await["slowSnapshots"].as_u64().unwrap();
    assert!(slow >= 1);
    // The metric counts the same snapshots.
    assert_eq!(
        app.metrics().await.value("tickertape_slow_snapshots_total"),
        slow as f64
    );
}
