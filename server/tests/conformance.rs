//! Conformance: the raw bytes of a real stream holding every kind of frame, read
//! by two independent SSE parsers (the Rust `eventsource-stream` crate and the
//! npm package `eventsource-parser`), which must see the same events.

mod helpers;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use helpers::spawn_app;
use serde::Deserialize;
use std::{
    collections::BTreeSet,
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

/// One dispatched event, as a browser's `MessageEvent` would carry it.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    r#type: String,
    data: String,
    last_event_id: String,
}

#[derive(Debug, Deserialize)]
struct NodeParse {
    retry: Vec<u64>,
    events: Vec<Seen>,
}

#[tokio::test]
async fn two_independent_parsers_read_the_same_events() {
    let app = spawn_app(&["--rate", "200", "--heartbeat-ms", "100"]).await;
    // Garbage as the last id gives every kind of frame: retry, snapshot, a notice,
    // heartbeats, updates, and at shutdown the multi-line notice. Capture the bytes.
    let response = app
        .client
        .get(app.url("/events"))
        .header("Last-Event-ID", "garbage")
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut raw = Vec::new();
    while count(&raw, b"event: priceUpdate\n") < 20 || count(&raw, b"event: heartbeat\n") < 2 {
        let chunk = body.next().await.unwrap().unwrap();
        raw.extend_from_slice(&chunk);
    }
    app.shutdown().await;
    while let Some(chunk) = body.next().await {
        raw.extend_from_slice(&chunk.unwrap());
    }
    assert!(raw.ends_with(
        b"data: server restarting\ndata: your browser reconnects and catches up by itself\n\n"
    ));

    let rust = parse_with_eventsource_stream(&raw).await;
    let node = parse_with_eventsource_parser(&raw);

    assert_eq!(rust, node.events, "the two parsers disagree");
    let kinds: BTreeSet<&str> = rust.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        kinds,
        ["heartbeat", "message", "priceUpdate", "snapshot"].into(),
        "not every kind of event was captured"
    );
    let notices: Vec<&str> = rust
        .iter()
        .filter(|e| e.r#type == "message")
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(notices.len(), 2);
    assert!(notices[0].starts_with("resynced from a snapshot"));
    assert_eq!(
        notices[1],
        "server restarting\nyour browser reconnects and catches up by itself"
    );
    // Every event after the snapshot carries an id of this run; notices keep it.
    let run = rust[0].last_event_id.split('-').next().unwrap().to_owned();
    assert!(rust.iter().all(|e| e.last_event_id.starts_with(&run)));
    // eventsource-stream drops a frame holding only `retry:` (no data to
    // dispatch), so the delay is checked with eventsource-parser alone.
    assert_eq!(node.retry.len(), 1);
    assert!((2250..=3750).contains(&node.retry[0]), "{:?}", node.retry);
}

async fn parse_with_eventsource_stream(raw: &[u8]) -> Vec<Seen> {
    // Fed in small uneven pieces, as a network would split it.
    let pieces: Vec<Result<Vec<u8>, std::convert::Infallible>> =
        raw.chunks(37).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(pieces)
        .eventsource()
        .map(|event| {
            let event = event.unwrap();
            Seen {
                r#type: event.event,
                data: event.data,
                last_event_id: event.id,
            }
        })
        .collect()
        .await
}

fn parse_with_eventsource_parser(raw: &[u8]) -> NodeParse {
    let end2end = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    assert!(
        end2end.join("node_modules/eventsource-parser").exists(),
        "end2end/node_modules is missing: run `make test` (or `npm ci` in end2end/)"
    );
    let mut node = Command::new("node")
        .arg("conformance/parse.mjs")
        .current_dir(&end2end)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is needed for the conformance test");
    node.stdin.take().unwrap().write_all(raw).unwrap();
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success(), "node failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
