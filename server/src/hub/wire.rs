//! How tickertape's events look on the wire: each frame is encoded once, into
//! shared [`Bytes`] that every stream writes as they are.
//!
//! A stream starts with a `retry:` field, then catches up (a `snapshot`, or the
//! replay of the updates a resuming client missed), then sends a `heartbeat` and
//! goes live: one `priceUpdate` per price, a `heartbeat` every few seconds, and
//! unnamed events (the default `message` type) carrying notices for people:
//!
//! ```text
//! retry: 3127
//!
//! event: snapshot
//! id: 3f9a0c21-41
//! data: {"lastEventId":"3f9a0c21-41","time":1763900000010,"quotes":[{"symbol":"AAPL","price":228.5,...}]}
//!
//! event: heartbeat
//! id: 3f9a0c21-41
//! data: {"time":1763900000012,"lastEventId":"3f9a0c21-41","intervalMs":5000,"retryMs":3000}
//!
//! event: priceUpdate
//! id: 3f9a0c21-42
//! data: {"symbol":"AAPL","price":228.61,"open":228.5,"high":228.61,"low":228.5,"change":0.11,"changePct":0.05,"ts":1763900000050}
//!
//! data: server restarting
//! data: your browser reconnects and catches up by itself
//!
//! ```
//!
//! The bytes are those axum's [`Sse`](axum::response::Sse) writes for the same
//! events (a test below holds them to it); tickertape writes them itself so that
//! a frame encoded once can be shared by every stream without a copy, and so that
//! several frames can go out in one write.

use app::model::{
    EventId, HEARTBEAT_EVENT, Heartbeat, PRICE_UPDATE_EVENT, Quote, SNAPSHOT_EVENT, Snapshot,
};
use bytes::{BufMut, Bytes, BytesMut};
use rand::Rng;
use serde::Serialize;
use std::{io::Write, time::Duration};

/// The notice every stream gets when the server shuts down.
pub const SHUTDOWN_NOTICE: &str =
    "server restarting\nyour browser reconnects and catches up by itself";

/// How far each connection's `retry:` may stray from the configured delay, as a
/// fraction of it.
pub const RETRY_JITTER: f64 = 0.25;

/// `base` ± [`RETRY_JITTER`], drawn anew for each connection so that browsers
/// dropped together (by a restart) do not all come back in the same millisecond.
pub fn jittered(base: Duration, rng: &mut impl Rng) -> Duration {
    base.mul_f64(rng.random_range(1.0 - RETRY_JITTER..=1.0 + RETRY_JITTER))
}

/// The first frame of every stream: how long the browser waits before
/// reconnecting, in whole milliseconds.
pub fn retry(delay: Duration) -> Bytes {
    Bytes::from(format!("retry: {}\n\n", delay.as_millis()))
}

/// A `priceUpdate` event carrying `quote` as camelCase JSON.
pub fn price_update(id: EventId, quote: &Quote) -> Result<Bytes, serde_json::Error> {
    event(PRICE_UPDATE_EVENT, id, quote)
}

/// A `priceUpdate` event whose data, `quote`'s JSON, was encoded elsewhere (by
/// the instance of a cluster that published it): the same bytes as
/// [`price_update`] gives for that quote.
pub fn price_update_data(id: EventId, data: &str) -> Bytes {
    let mut frame = BytesMut::with_capacity(data.len() + 64);
    frame.put_slice(format!("event: {PRICE_UPDATE_EVENT}\nid: {id}\ndata: ").as_bytes());
    frame.put_slice(data.as_bytes());
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// A `snapshot` event: the full state, with the id the stream continues from.
pub fn snapshot(snapshot: &Snapshot) -> Result<Bytes, serde_json::Error> {
    event(SNAPSHOT_EVENT, snapshot.last_event_id, snapshot)
}

/// A `heartbeat` event. Its `id:` is the stream's position, so a client that
/// reconnects after it resumes from there.
pub fn heartbeat(heartbeat: &Heartbeat) -> Result<Bytes, serde_json::Error> {
    event(HEARTBEAT_EVENT, heartbeat.last_event_id, heartbeat)
}

/// A notice for people: an unnamed event (type `message`) with no id, one
/// `data:` line per line of `text`.
pub fn notice(text: &str) -> Bytes {
    if text.is_empty() {
        return Bytes::from_static(b"\n");
    }
    let mut frame = BytesMut::with_capacity(text.len() + 16);
    frame.put_slice(b"data: ");
    // Every line break (either kind, as axum splits them) starts a new `data:` line.
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        frame.put_slice(&rest[..=at]);
        frame.put_slice(b"data: ");
        rest = &rest[at + 1..];
    }
    frame.put_slice(rest);
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// A named event with an id and `value` as its one line of JSON data.
fn event(name: &str, id: EventId, value: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    let mut frame = BytesMut::with_capacity(256).writer();
    write!(frame, "event: {name}\nid: {id}\ndata: ").map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut frame, value)?;
    frame.write_all(b"\n\n").map_err(serde_json::Error::io)?;
    Ok(frame.into_inner().freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{Price, RunId};
    use axum::response::{IntoResponse, Sse, sse::Event};
    use http_body_util::BodyExt;
    use rand::{SeedableRng, rngs::StdRng};
    use std::{collections::HashSet, convert::Infallible};

    const ID: EventId = EventId {
        run: RunId(0x3f9a_0c21),
        seq: 42,
    };

    fn quote() -> Quote {
        let symbol = "AAPL".parse().unwrap();
        Quote::opening(symbol, Price::new(228.5).unwrap(), 1_763_900_000_000)
            .moved_to(Price::new(228.61).unwrap(), 1_763_900_000_050)
    }

    fn text(frame: &Bytes) -> &str {
        std::str::from_utf8(frame).unwrap()
    }

    /// What axum's `Sse` writes for `event`, to hold our encoder to it.
    async fn axum_bytes(event: Event) -> Bytes {
        let stream = futures::stream::iter([Ok::<_, Infallible>(event)]);
        let body = Sse::new(stream).into_response().into_body();
        body.collect().await.unwrap().to_bytes()
    }

    #[test]
    fn retry_is_whole_milliseconds_and_a_blank_line() {
        assert_eq!(
            text(&retry(Duration::from_micros(3_127_900))),
            "retry: 3127\n\n"
        );
    }

    #[test]
    fn a_price_update_is_named_numbered_and_one_line_of_json() {
        assert_eq!(
            text(&price_update(ID, &quote()).unwrap()),
            "event: priceUpdate\nid: 3f9a0c21-42\ndata: {\"symbol\":\"AAPL\",\"price\":228.61,\
             \"open\":228.5,\"high\":228.61,\"low\":228.5,\"change\":0.11,\"changePct\":0.05,\
             \"ts\":1763900000050}\n\n"
        );
    }

    #[test]
    fn a_snapshot_carries_the_id_it_continues_from() {
        let snapshot = Snapshot {
            last_event_id: ID,
            time: 1_763_900_000_010,
            quotes: vec![quote()],
        };
        let frame = snapshot_frame(&snapshot);
        assert!(
            frame.starts_with("event: snapshot\nid: 3f9a0c21-42\ndata: {\"lastEventId\":\"3f9a0c21-42\",\"time\":1763900000010,\"quotes\":[{\"symbol\":\"AAPL\""),
            "{frame}"
        );
        assert!(frame.ends_with("}]}\n\n"), "{frame}");
        assert_eq!(frame.matches('\n').count(), 4, "{frame}");
    }

    fn snapshot_frame(value: &Snapshot) -> String {
        text(&snapshot(value).unwrap()).to_owned()
    }

    #[test]
    fn a_heartbeat_says_the_time_position_and_intervals() {
        let frame = heartbeat(&Heartbeat {
            time: 1_763_900_000_012,
            last_event_id: ID,
            interval_ms: 5000,
            retry_ms: 3000,
            feed: None,
        })
        .unwrap();
        assert_eq!(
            text(&frame),
            "event: heartbeat\nid: 3f9a0c21-42\ndata: {\"time\":1763900000012,\
             \"lastEventId\":\"3f9a0c21-42\",\"intervalMs\":5000,\"retryMs\":3000}\n\n"
        );
    }

    #[test]
    fn an_update_relayed_as_json_is_the_same_frame_as_one_encoded_here() {
        let json = serde_json::to_string(&quote()).unwrap();
        assert_eq!(
            price_update_data(ID, &json),
            price_update(ID, &quote()).unwrap()
        );
    }

    #[test]
    fn a_notice_has_one_data_line_per_line_and_no_id() {
        assert_eq!(
            text(&notice(SHUTDOWN_NOTICE)),
            "data: server restarting\ndata: your browser reconnects and catches up by itself\n\n"
        );
    }

    #[tokio::test]
    async fn every_frame_is_byte_for_byte_what_axum_would_write() {
        let heartbeat_value = Heartbeat {
            time: 1,
            last_event_id: ID,
            interval_ms: 5000,
            retry_ms: 3000,
            feed: None,
        };
        let snapshot_value = Snapshot {
            last_event_id: ID,
            time: 2,
            quotes: vec![quote()],
        };
        let cases = [
            (
                retry(Duration::from_millis(3127)),
                Event::default().retry(Duration::from_millis(3127)),
            ),
            (
                retry(Duration::from_millis(250)),
                Event::default().retry(Duration::from_millis(250)),
            ),
            (
                price_update(ID, &quote()).unwrap(),
                Event::default()
                    .event(PRICE_UPDATE_EVENT)
                    .id(ID.to_string())
                    .data(serde_json::to_string(&quote()).unwrap()),
            ),
            (
                snapshot(&snapshot_value).unwrap(),
                Event::default()
                    .event(SNAPSHOT_EVENT)
                    .id(ID.to_string())
                    .data(serde_json::to_string(&snapshot_value).unwrap()),
            ),
            (
                heartbeat(&heartbeat_value).unwrap(),
                Event::default()
                    .event(HEARTBEAT_EVENT)
                    .id(ID.to_string())
                    .data(serde_json::to_string(&heartbeat_value).unwrap()),
            ),
            (
                notice(SHUTDOWN_NOTICE),
                Event::default().data(SHUTDOWN_NOTICE),
            ),
            (
                notice("odd\r\nbreaks\r"),
                Event::default().data("odd\r\nbreaks\r"),
            ),
            (notice(""), Event::default().data("")),
        ];
        for (ours, axums) in cases {
            assert_eq!(ours, axum_bytes(axums).await);
        }
    }

    #[test]
    fn retry_delays_vary_around_the_base() {
        let mut rng = StdRng::seed_from_u64(1);
        let base = Duration::from_millis(3000);
        let delays: HashSet<u128> = (0..100)
            .map(|_| jittered(base, &mut rng).as_millis())
            .collect();
        assert!(delays.len() > 50, "retry delays barely vary: {delays:?}");
        assert!(
            delays.iter().all(|ms| (2250..=3750).contains(ms)),
            "{delays:?}"
        );
    }
}
