//! One stream's engine: what a stream sends, and when, whatever carries it.
//!
//! Every way a stream is delivered drives this one core: the stream writers
//! ([`writer`](crate::delivery::writer)) for a stream on a connection of its own, and
//! the response body hyper polls ([`body`](crate::delivery::body)) for a reused
//! connection, HTTPS and HTTP/2. Each stream guarantee is here, once:
//! - **the catch-up's end**: the first heartbeat goes as soon as the stream
//!   has reached the head;
//! - **heartbeats** every interval, whatever the traffic (up to an eighth of
//!   it early, so that they go out with an update, or with other streams'
//!   heartbeats, rather than on a wake of their own);
//! - **live updates**: everything after the stream's cursor, in one write;
//! - **skip to the latest**: a live stream later than `--max-lag-ms`, or out
//!   of the history, gets a `snapshot` in place of the backlog, and a stream
//!   whose feed started a new sequence gets one with a notice ([`Position::read`]);
//! - **shutdown**: the notice every stream ends with ([`farewell`]).
//!
//! What carries the bytes decides only how they are framed ([`Framing`]) and
//! how a client that stops reading is timed (the writers' sockets, or hyper's
//! polls in [`listener`](crate::delivery::listener)).

use crate::{
    clock,
    hub::wire,
    hub::{Filter, Hub, Published, Read},
    metrics::Metrics,
};
use app::model::{EventId, FeedState, Heartbeat, Snapshot};
use bytes::{BufMut, Bytes, BytesMut};
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

/// How every stream is paced.
#[derive(Clone, Copy, Debug)]
pub struct StreamSettings {
    /// The base of every stream's `retry:` delay (each gets it with jitter).
    pub retry: Duration,
    /// The interval between heartbeats.
    pub heartbeat: Duration,
    /// How late a live update may be before a stream skips to a snapshot
    /// (`--max-lag-ms` beyond the coalescing window).
    pub max_lag: Duration,
}

/// How early a heartbeat may go, as a fraction of the interval.
const HEARTBEAT_SLACK: u32 = 8;

/// How a stream's frames go on the wire.
pub trait Framing {
    /// `frames`, framed for the transport.
    fn frame(&self, frames: Bytes) -> Bytes;
}

/// Frames as they are: hyper frames the body itself.
pub struct Unframed;

impl Framing for Unframed {
    fn frame(&self, frames: Bytes) -> Bytes {
        frames
    }
}

/// The notice every stream ends with at shutdown.
pub fn farewell() -> Bytes {
    wire::notice(wire::SHUTDOWN_NOTICE)
}

/// What a stream reads from: the hub, the counters and the stream settings.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The updates.
    pub hub: &'a Hub,
    /// Where deliveries, resyncs and skips are counted.
    pub metrics: &'a Metrics,
    /// Heartbeats, the lag allowed.
    pub settings: &'a StreamSettings,
}

/// The updates after one cursor, read and framed once for every stream of a
/// sweep that takes every symbol, is live and stands there.
pub struct SharedRead {
    from: EventId,
    /// The framed updates, the cursor after them and how many they are;
    /// `None` when such a stream is too late and gets a snapshot of its own.
    updates: Option<(Bytes, EventId, u64)>,
}

/// One stream: where it is, and when its next heartbeat is due.
#[derive(Debug)]
pub struct Engine {
    position: Position,
    next_heartbeat: Instant,
}

impl Engine {
    /// The engine of a stream whose catch-up brought it to `position`; its
    /// first heartbeat, the one that ends the catch-up, is due at once.
    pub fn new(position: Position) -> Self {
        Self {
            position,
            next_heartbeat: Instant::now(),
        }
    }

    /// Everything the stream has to send at `now`, framed by `framing`, as
    /// one buffer (empty when nothing): a heartbeat when one is due, what
    /// follows the cursor (or a snapshot), and the heartbeat that ends the
    /// catch-up. Reads once: a stream still short of the head
    /// ([`Engine::behind`]) has more to send. Updates read through `shared`
    /// are counted in `delivered`, the others in the metrics.
    pub fn next(
        &mut self,
        source: Source<'_>,
        now: Instant,
        framing: &impl Framing,
        shared: &mut Option<SharedRead>,
        delivered: &mut u64,
    ) -> Bytes {
        let before = self.heartbeat(source, now, framing);
        let mut data = Bytes::new();
        let mut after = Bytes::new();
        if self.position.behind(source.hub) {
            data = self.read(source, framing, shared, delivered);
            // Caught up now: the heartbeat that ends the catch-up goes with it.
            if before.is_empty() && !self.position.behind(source.hub) {
                after = self.heartbeat(source, now, framing);
            }
        }
        concat([before, data, after])
    }

    /// Whether the hub has updates after the stream's cursor.
    pub fn behind(&mut self, hub: &Hub) -> bool {
        self.position.behind(hub)
    }

    /// Whether the stream is short of `head` (in the same run): a long replay
    /// goes on in slices.
    pub fn short_of(&self, head: EventId) -> bool {
        let cursor = self.position.cursor();
        cursor.run == head.run && cursor.seq < head.seq
    }

    /// When the next heartbeat is due: a stream with nothing else to send
    /// wakes then (one that wakes for an update a little earlier sends it
    /// along).
    pub fn next_heartbeat(&self) -> Instant {
        self.next_heartbeat
    }

    /// A heartbeat when one is due (or nearly); empty otherwise.
    fn heartbeat(&mut self, source: Source<'_>, now: Instant, framing: &impl Framing) -> Bytes {
        let settings = source.settings;
        let slack = settings.heartbeat / HEARTBEAT_SLACK;
        if !self.position.caught_up() || now + slack < self.next_heartbeat {
            return Bytes::new();
        }
        self.next_heartbeat = now + settings.heartbeat;
        framing.frame(self.position.heartbeat(source.hub, settings))
    }

    /// The updates after the cursor, framed (empty when the stream wants none
    /// of them); shared by the streams that can share them.
    fn read(
        &mut self,
        source: Source<'_>,
        framing: &impl Framing,
        shared: &mut Option<SharedRead>,
        delivered: &mut u64,
    ) -> Bytes {
        let Source {
            hub,
            metrics,
            settings,
        } = source;
        let cursor = self.position.cursor();
        if self.position.takes_all() && self.position.caught_up() {
            if shared.as_ref().is_none_or(|read| read.from != cursor) {
                let updates = match hub.read_after(cursor, &None, Some(settings.max_lag)) {
                    Read::Updates { updates, next } => {
                        let mut frames = BytesMut::new();
                        for published in &updates {
                            frames.extend_from_slice(&published.frame);
                        }
                        Some((framing.frame(frames.freeze()), next, updates.len() as u64))
                    }
                    // Too late: each such stream gets its snapshot below.
                    Read::Resync(_) => None,
                };
                *shared = Some(SharedRead {
                    from: cursor,
                    updates,
                });
            }
            if let Some(SharedRead {
                updates: Some((chunk, next, count)),
                ..
            }) = shared
            {
                self.position.cursor = *next;
                *delivered += *count;
                return chunk.clone();
            }
        }
        let mut frames = BytesMut::new();
        self.position.read(hub, metrics, settings, &mut frames);
        if frames.is_empty() {
            Bytes::new()
        } else {
            framing.frame(frames.freeze())
        }
    }
}

/// The non-empty parts as one buffer (copied only when there are several).
fn concat<const N: usize>(parts: [Bytes; N]) -> Bytes {
    let mut parts = parts.into_iter().filter(|part| !part.is_empty());
    let Some(first) = parts.next() else {
        return Bytes::new();
    };
    let Some(second) = parts.next() else {
        return first;
    };
    let mut joined = BytesMut::from(&first[..]);
    joined.extend_from_slice(&second);
    for part in parts {
        joined.extend_from_slice(&part);
    }
    joined.freeze()
}

/// Appends the frames of `updates` (encoded once by the hub) and counts them as
/// delivered.
pub(crate) fn push_updates(metrics: &Metrics, out: &mut BytesMut, updates: &[Arc<Published>]) {
    metrics.delivered.inc_by(updates.len() as u64);
    out.reserve(updates.iter().map(|published| published.frame.len()).sum());
    for published in updates {
        out.put_slice(&published.frame);
    }
}

/// Appends a `snapshot` event and returns the id it continues from.
pub(crate) fn push_snapshot(out: &mut BytesMut, snapshot: Snapshot) -> EventId {
    match wire::snapshot(&snapshot) {
        Ok(frame) => out.put(frame),
        // Quotes are plain data; this cannot fail, but a stream is no place to panic.
        Err(error) => tracing::error!(%error, "could not encode a snapshot"),
    }
    snapshot.last_event_id
}

/// Where one stream is in the hub's history, and what it reads there.
#[derive(Debug)]
pub struct Position {
    filter: Filter,
    /// The id of the last update this stream has looked at.
    cursor: EventId,
    /// Whether the stream has reached the head once (its first heartbeat says so).
    caught_up: bool,
}

impl Position {
    /// A stream of `filter` whose catch-up ended at `cursor`.
    pub fn new(filter: Filter, cursor: EventId) -> Self {
        Self {
            filter,
            cursor,
            caught_up: false,
        }
    }

    /// The id of the last update this stream has looked at.
    pub fn cursor(&self) -> EventId {
        self.cursor
    }

    /// Whether the stream takes every symbol.
    pub fn takes_all(&self) -> bool {
        self.filter.is_none()
    }

    /// Whether the stream has reached the head once.
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Notes whether the hub has updates after the cursor; returns it.
    pub fn behind(&mut self, hub: &Hub) -> bool {
        let behind = hub.has_after(self.cursor);
        self.caught_up |= !behind;
        behind
    }

    /// How late a live update may be before the stream skips to a snapshot:
    /// only once it has caught up (a replay is exact, however old).
    pub fn max_lag(&self, settings: &StreamSettings) -> Option<Duration> {
        self.caught_up.then_some(settings.max_lag)
    }

    /// Appends what follows the cursor to `out`; or, when the stream has fallen
    /// behind (out of the history, or, once live, later than the lag it
    /// allows), the latest prices instead.
    pub fn read(
        &mut self,
        hub: &Hub,
        metrics: &Metrics,
        settings: &StreamSettings,
        out: &mut BytesMut,
    ) {
        match hub.read_after(self.cursor, &self.filter, self.max_lag(settings)) {
            Read::Updates { updates, next } => {
                push_updates(metrics, out, &updates);
                self.cursor = next;
            }
            // The feed started a new sequence (a cluster's broker lost its data).
            Read::Resync(snapshot) if snapshot.last_event_id.run != self.cursor.run => {
                metrics.resyncs.inc();
                let (from, to) = (self.cursor, snapshot.last_event_id);
                tracing::debug!(%from, %to, "the feed restarted; resyncing a stream");
                self.cursor = push_snapshot(out, snapshot);
                out.put(wire::notice(&format!(
                    "resynced from a snapshot: the price feed restarted (its store lost \
                     its data) after event {from}, so the table shows the latest prices \
                     instead of what was missed"
                )));
            }
            Read::Resync(snapshot) => {
                let skipped = snapshot.last_event_id.seq.saturating_sub(self.cursor.seq);
                metrics.slow_snapshots.inc();
                metrics.conflated.inc_by(skipped);
                tracing::debug!(at = %self.cursor, skipped, "a stream fell behind; sending a snapshot");
                self.cursor = push_snapshot(out, snapshot);
            }
        }
    }

    /// A heartbeat saying where the stream is (and whether the feed is interrupted).
    pub fn heartbeat(&self, hub: &Hub, settings: &StreamSettings) -> Bytes {
        let heartbeat = Heartbeat {
            time: clock::now_ms(),
            last_event_id: self.cursor,
            interval_ms: millis(settings.heartbeat),
            retry_ms: millis(settings.retry),
            feed: hub.feed_interrupted().then_some(FeedState::Interrupted),
        };
        wire::heartbeat(&heartbeat).unwrap_or_else(|error| {
            tracing::error!(%error, "could not encode a heartbeat");
            Bytes::from_static(b": heartbeat\n\n")
        })
    }
}

impl Drop for Position {
    fn drop(&mut self) {
        tracing::debug!(at = %self.cursor, "stream closed");
    }
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_joined_in_order_and_copied_only_when_several() {
        let one = Bytes::from_static(b"one");
        assert_eq!(
            concat([Bytes::new(), one.clone(), Bytes::new()]).as_ptr(),
            one.as_ptr()
        );
        assert_eq!(
            concat([
                Bytes::from_static(b"a"),
                Bytes::new(),
                Bytes::from_static(b"bc")
            ]),
            "abc"
        );
        assert!(concat([Bytes::new(), Bytes::new()]).is_empty());
    }
}
