//! `GET /events`: one viewer's Server-Sent Events stream.
//!
//! A stream sends its `retry:` delay, catches up, sends a heartbeat and goes live:
//!
//! - **fresh** (no id): a `snapshot` of every symbol it asked for;
//! - **resume** (`Last-Event-ID` header, or the `lastEventId` query parameter for
//!   a new `EventSource`): the updates it missed, replayed from the hub's history
//!   in order, when the id is still there;
//! - **resync** (an id from another run, too old, or not an id): a `snapshot`,
//!   and a notice saying why. Always `200`: browsers stop reconnecting otherwise.
//!
//! Then every update, a `heartbeat` each interval (whatever the traffic) and, at
//! shutdown, a notice before the stream ends. A stream that falls out of the
//! history while connected gets a fresh snapshot rather than a hole. When the
//! client goes away, dropping the response body drops everything it held.

use crate::{
    error::ApiError,
    feed,
    hub::{Filter, Hub, Published, Read},
    limits::{StreamPermit, client_ip},
    listener::PeerAddr,
    metrics::RefuseReason,
    params::{FeedQuery, ParamsError, symbol_filter},
    startup::AppState,
    wire,
};
use app::model::{EventId, Heartbeat, Snapshot};
use axum::{
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response, Sse, sse::Event},
};
use futures::{FutureExt, Stream, stream};
use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};
use tokio::{
    sync::watch,
    time::{Interval, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;

/// Tells nginx (and proxies that follow it) not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The header a browser's `EventSource` sends when it reconnects by itself.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// The handler of `GET /events` (and `HEAD /events`, which checks whether a
/// stream would be accepted without opening one: the dashboard asks it why a
/// stream was refused, since `EventSource` cannot read a status).
pub async fn events(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(ParamsError::from)?;
    let filter = symbol_filter(query.symbols.as_deref(), &state.hub)?;
    let ip = client_ip(peer, &headers, state.trust_forwarded_for);
    let permit = state
        .limits
        .acquire(ip)
        .map_err(|reason| busy(&state, reason))?;
    if method == Method::HEAD {
        return Ok(StatusCode::OK.into_response());
    }
    // The browser's header is newer than the id in the URL it keeps reconnecting to.
    let resume_from = headers
        .get(LAST_EVENT_ID)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or(query.last_event_id)
        .filter(|id| !id.is_empty());

    // Subscribe before catching up, so no update falls between the two.
    let head = state.hub.watch_head();
    let mut catch_up = VecDeque::new();
    let cursor = match resume_from {
        None => push_snapshot(&mut catch_up, state.hub.snapshot(&filter)),
        Some(text) => resume(&state.hub, &text, &filter, &mut catch_up),
    };
    let delay = wire::jittered(state.retry, &mut rand::rng());
    catch_up.push_front(wire::retry(delay));
    tracing::info!(
        streams = state.hub.subscriber_count(),
        from = %cursor,
        "stream opened"
    );

    let subscriber = Subscriber {
        hub: state.hub,
        filter,
        cursor,
        head,
        pending: catch_up,
        caught_up: false,
        heartbeat: heartbeat_interval(state.heartbeat),
        retry: state.retry,
        shutdown: state.shutdown,
        ended: false,
        _permit: permit,
        _closed: OnDrop(|| tracing::info!("stream closed")),
    };
    Ok((
        [(X_ACCEL_BUFFERING, HeaderValue::from_static("no"))],
        Sse::new(subscriber.into_stream()),
    )
        .into_response())
}

/// 503 with `Retry-After` (the reconnection delay, jittered, in whole seconds).
fn busy(state: &AppState, reason: RefuseReason) -> ApiError {
    let after = wire::jittered(state.retry, &mut rand::rng())
        .as_secs()
        .max(1);
    let message = match reason {
        RefuseReason::server_busy => {
            "the server has as many streams open as it allows; retry later"
        }
        RefuseReason::client_busy => {
            "your address has as many streams open as the server allows; close a tab or retry later"
        }
    };
    tracing::info!(reason = ?reason, "stream refused: limit reached");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message)
        .with("retryAfter", after)
        .with_header(header::RETRY_AFTER, HeaderValue::from(after))
}

/// Starts a stream from the id `text`: the updates after it when the history
/// still has them, a snapshot and a notice otherwise. Returns the cursor.
fn resume(hub: &Hub, text: &str, filter: &Filter, out: &mut VecDeque<Event>) -> EventId {
    let (snapshot, why) = match text.parse::<EventId>() {
        Ok(id) => match hub.read_after(id, filter) {
            Read::Updates { updates, next } => {
                hub.metrics.replays.inc();
                tracing::info!(from = %id, replayed = updates.len(), "stream resumed");
                push_updates(hub, out, &updates);
                return next;
            }
            Read::Resync(snapshot) => {
                let why = if id.run == snapshot.last_event_id.run {
                    format!("event {id} is not in the server's history")
                } else {
                    format!("event {id} is from another server run")
                };
                (snapshot, why)
            }
        },
        Err(error) => (hub.snapshot(filter), error.to_string()),
    };
    hub.metrics.resyncs.inc();
    tracing::info!(reason = %why, "stream resynced with a snapshot");
    let cursor = push_snapshot(out, snapshot);
    out.push_back(wire::notice(&format!("resynced from a snapshot: {why}")));
    cursor
}

/// Queues the frames of `updates` (shared, not re-encoded) and counts them as
/// delivered.
fn push_updates(hub: &Hub, out: &mut VecDeque<Event>, updates: &[Arc<Published>]) {
    hub.metrics.delivered.inc_by(updates.len() as u64);
    out.extend(updates.iter().map(|published| published.frame.clone()));
}

/// Queues a `snapshot` event and returns the id it continues from.
fn push_snapshot(out: &mut VecDeque<Event>, snapshot: Snapshot) -> EventId {
    match wire::snapshot(&snapshot) {
        Ok(frame) => out.push_back(frame),
        // Quotes are plain data; this cannot fail, but a stream is no place to panic.
        Err(error) => tracing::error!(%error, "could not encode a snapshot"),
    }
    snapshot.last_event_id
}

fn heartbeat_interval(every: Duration) -> Interval {
    // The first tick is immediate: the heartbeat that ends the catch-up.
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// One stream's state: where it is in the hub's history and what it has queued.
struct Subscriber {
    hub: Arc<Hub>,
    filter: Filter,
    /// The id of the last update this stream has looked at.
    cursor: EventId,
    head: watch::Receiver<EventId>,
    /// Frames read but not yet sent: at most one batch from the history.
    pending: VecDeque<Event>,
    /// Whether the stream has reached the head once (its first heartbeat says so).
    caught_up: bool,
    heartbeat: Interval,
    /// The base reconnection delay, which heartbeats tell the client.
    retry: Duration,
    shutdown: CancellationToken,
    ended: bool,
    /// This stream's place under the limits, given back when it ends.
    _permit: StreamPermit,
    _closed: OnDrop<fn()>,
}

impl Subscriber {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut subscriber| async move {
            let frame = subscriber.next_frame().await?;
            Some((Ok(frame), subscriber))
        })
    }

    async fn next_frame(&mut self) -> Option<Event> {
        loop {
            if self.ended {
                return None;
            }
            if self.shutdown.is_cancelled() {
                return Some(self.end());
            }
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            if self.cursor != *self.head.borrow_and_update() {
                // Behind: read on, but keep the heartbeat going for a slow reader.
                if self.caught_up && self.heartbeat.tick().now_or_never().is_some() {
                    return Some(self.heartbeat());
                }
                self.read();
                continue;
            }
            self.caught_up = true;
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return Some(self.end()),
                _ = self.heartbeat.tick() => return Some(self.heartbeat()),
                changed = self.head.changed() => if changed.is_err() {
                    return None;
                },
            }
        }
    }

    /// Reads the next batch after the cursor into `pending`.
    fn read(&mut self) {
        match self.hub.read_after(self.cursor, &self.filter) {
            Read::Updates { updates, next } => {
                push_updates(&self.hub, &mut self.pending, &updates);
                self.cursor = next;
            }
            Read::Resync(snapshot) => {
                self.hub.metrics.slow_snapshots.inc();
                let skipped = snapshot.last_event_id.seq.saturating_sub(self.cursor.seq);
                self.hub.metrics.conflated.inc_by(skipped);
                tracing::warn!(
                    at = %self.cursor,
                    "a slow stream fell out of the history; sending a snapshot"
                );
                self.cursor = push_snapshot(&mut self.pending, snapshot);
            }
        }
    }

    fn heartbeat(&self) -> Event {
        let heartbeat = Heartbeat {
            time: feed::now_ms(),
            last_event_id: self.cursor,
            interval_ms: self
                .heartbeat
                .period()
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX),
            retry_ms: self.retry.as_millis().try_into().unwrap_or(u64::MAX),
        };
        wire::heartbeat(&heartbeat).unwrap_or_else(|error| {
            tracing::error!(%error, "could not encode a heartbeat");
            Event::default().comment("heartbeat")
        })
    }

    /// The shutdown notice; the stream ends after it.
    fn end(&mut self) -> Event {
        self.ended = true;
        wire::notice(wire::SHUTDOWN_NOTICE)
    }
}

/// Runs its function when dropped: here, when the response body is dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
