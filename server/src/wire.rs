//! How tickertape's events look on the wire, built with axum's SSE [`Event`].
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
//! data: {"lastEventId":"3f9a0c21-41","quotes":[{"symbol":"AAPL","price":228.5,...}]}
//!
//! event: heartbeat
//! id: 3f9a0c21-41
//! data: {"time":1763900000000,"lastEventId":"3f9a0c21-41","intervalMs":5000}
//!
//! event: priceUpdate
//! id: 3f9a0c21-42
//! data: {"symbol":"AAPL","price":228.61,"change":0.11,"changePct":0.05,"ts":1763900000000}
//!
//! data: server restarting
//! data: your browser reconnects and catches up by itself
//!
//! ```

use app::model::{
    EventId, HEARTBEAT_EVENT, Heartbeat, PRICE_UPDATE_EVENT, Quote, SNAPSHOT_EVENT, Snapshot,
};
use axum::response::sse::Event;
use rand::Rng;
use std::time::Duration;

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
/// reconnecting (axum writes it in whole milliseconds).
pub fn retry(delay: Duration) -> Event {
    Event::default().retry(delay)
}

/// A `priceUpdate` event carrying `quote` as camelCase JSON.
pub fn price_update(id: EventId, quote: &Quote) -> Result<Event, serde_json::Error> {
    Ok(Event::default()
        .event(PRICE_UPDATE_EVENT)
        .id(id.to_string())
        .data(serde_json::to_string(quote)?))
}

/// A `snapshot` event: the full state, with the id the stream continues from.
pub fn snapshot(snapshot: &Snapshot) -> Result<Event, serde_json::Error> {
    Ok(Event::default()
        .event(SNAPSHOT_EVENT)
        .id(snapshot.last_event_id.to_string())
        .data(serde_json::to_string(snapshot)?))
}

/// A `heartbeat` event. Its `id:` is the stream's position, so a client that
/// reconnects after it resumes from there.
pub fn heartbeat(heartbeat: &Heartbeat) -> Result<Event, serde_json::Error> {
    Ok(Event::default()
        .event(HEARTBEAT_EVENT)
        .id(heartbeat.last_event_id.to_string())
        .data(serde_json::to_string(heartbeat)?))
}

/// A notice for people: an unnamed event (type `message`) with no id, one
/// `data:` line per line of `text`.
pub fn notice(text: &str) -> Event {
    Event::default().data(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};
    use std::collections::HashSet;

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
