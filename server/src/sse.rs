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
//! shutdown, a notice before the stream ends. The updates published since a
//! stream last wrote go out together, in one write (the hub announces them at
//! most once per coalescing window).
//!
//! **Falling behind.** A live stream whose next update is older than
//! `--max-lag-ms` (a slow network, or a server out of CPU), or that fell out of
//! the history, skips to the latest prices: one `snapshot` in place of the
//! backlog, with the id it continues from, counted in
//! `tickertape_conflated_events_total`. While the client's kernel buffer is full
//! the stream sends nothing more ([`Backpressure`]), so the backlog waits in the
//! hub, where it can be skipped, and never in hyper's buffers. When the client
//! goes away, dropping the response body drops everything it held.

use crate::{
    clock,
    error::ApiError,
    hub::{Filter, Hub, Published, Read},
    limits::{StreamPermit, client_ip},
    listener::{Backpressure, Connection},
    metrics::{Metrics, RefuseReason},
    params::{FeedQuery, ParamsError, symbol_filter},
    state::{AppState, StreamSettings},
    wire,
};
use app::model::{EventId, Heartbeat, Snapshot};
use axum::{
    body::Body,
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_stream::wrappers::WatchStream;

/// Tells nginx (and proxies that follow it) not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The header a browser's `EventSource` sends when it reconnects by itself.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// The handler of `GET /events` (and `HEAD /events`, which checks whether a
/// stream would be accepted without opening one: the dashboard asks it why a
/// stream was refused, since `EventSource` cannot read a status).
pub async fn events(
    State(state): State<AppState>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(ParamsError::from)?;
    let filter = symbol_filter(query.symbols.as_deref(), &state.hub)?;
    let ip = client_ip(connection.peer, &headers, state.trust_forwarded_for);
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
    let changes = WatchStream::from_changes(state.hub.watch_head());
    let delay = wire::jittered(state.streams.retry, &mut rand::rng());
    let mut catch_up = BytesMut::new();
    catch_up.put(wire::retry(delay));
    let cursor = match resume_from {
        None => push_snapshot(&mut catch_up, state.hub.snapshot(&filter)),
        Some(text) => resume(&state, &text, &filter, &mut catch_up),
    };
    tracing::debug!(streams = state.limits.open(), from = %cursor, "stream opened");

    let subscriber = Subscriber {
        hub: state.hub,
        metrics: state.metrics,
        filter,
        cursor,
        changes,
        pending: catch_up,
        caught_up: false,
        heartbeat: heartbeat_interval(state.streams.heartbeat),
        settings: state.streams,
        backpressure: connection.backpressure,
        ended: false,
        _permit: permit,
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (X_ACCEL_BUFFERING, HeaderValue::from_static("no")),
        ],
        Body::from_stream(subscriber),
    )
        .into_response())
}

/// 503 with `Retry-After` (the reconnection delay, jittered, in whole seconds).
fn busy(state: &AppState, reason: RefuseReason) -> ApiError {
    let after = wire::jittered(state.streams.retry, &mut rand::rng())
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
fn resume(state: &AppState, text: &str, filter: &Filter, out: &mut BytesMut) -> EventId {
    let (hub, metrics) = (&state.hub, &state.metrics);
    let (snapshot, why) = match text.parse::<EventId>() {
        // A resuming client gets exactly what it missed, however old.
        Ok(id) => match hub.read_after(id, filter, None) {
            Read::Updates { updates, next } => {
                metrics.replays.inc();
                tracing::debug!(from = %id, replayed = updates.len(), "stream resumed");
                push_updates(metrics, out, &updates);
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
    metrics.resyncs.inc();
    tracing::debug!(reason = %why, "stream resynced with a snapshot");
    let cursor = push_snapshot(out, snapshot);
    out.put(wire::notice(&format!("resynced from a snapshot: {why}")));
    cursor
}

/// Appends the frames of `updates` (encoded once by the hub) and counts them as
/// delivered.
fn push_updates(metrics: &Metrics, out: &mut BytesMut, updates: &[Arc<Published>]) {
    metrics.delivered.inc_by(updates.len() as u64);
    out.reserve(updates.iter().map(|published| published.frame.len()).sum());
    for published in updates {
        out.put_slice(&published.frame);
    }
}

/// Appends a `snapshot` event and returns the id it continues from.
fn push_snapshot(out: &mut BytesMut, snapshot: Snapshot) -> EventId {
    match wire::snapshot(&snapshot) {
        Ok(frame) => out.put(frame),
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

/// One stream: where it is in the hub's history and what it has to send.
///
/// Each time it is polled it sends everything it has in one chunk (one write):
/// the catch-up, or every update published since it last wrote. What wakes it
/// (the head's announcements, which also say when the hub closes at shutdown,
/// and the heartbeat timer) is registered once and polled again, never created
/// anew per frame.
struct Subscriber {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    filter: Filter,
    /// The id of the last update this stream has looked at.
    cursor: EventId,
    /// The hub's announcements of new updates.
    changes: WatchStream<EventId>,
    /// Frames read but not yet sent, in order.
    pending: BytesMut,
    /// Whether the stream has reached the head once (its first heartbeat says so).
    caught_up: bool,
    heartbeat: Interval,
    settings: StreamSettings,
    /// Whether the connection can take more now, where hyper buffers for it.
    backpressure: Option<Arc<Backpressure>>,
    ended: bool,
    /// This stream's place under the limits, given back when it ends.
    _permit: StreamPermit,
}

impl Stream for Subscriber {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if this.hub.is_closed() {
            this.ended = true;
            return Poll::Ready(Some(Ok(wire::notice(wire::SHUTDOWN_NOTICE))));
        }
        if !this.pending.is_empty() {
            return Poll::Ready(Some(Ok(this.take_pending())));
        }
        // The client has not taken what it was sent: hold back, so that what it
        // has yet to get stays in the hub, where newer prices can replace it.
        if let Some(backpressure) = &this.backpressure
            && backpressure.poll_ready(cx).is_pending()
        {
            return Poll::Pending;
        }
        // Take every announcement so far; the next one wakes this stream.
        loop {
            match this.changes.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        loop {
            let behind = this.hub.has_after(this.cursor);
            this.caught_up |= !behind;
            // A reader that is behind still gets its heartbeat.
            if this.caught_up && this.heartbeat.poll_tick(cx).is_ready() {
                return Poll::Ready(Some(Ok(this.heartbeat())));
            }
            if !behind {
                return Poll::Pending;
            }
            this.read();
            if !this.pending.is_empty() {
                return Poll::Ready(Some(Ok(this.take_pending())));
            }
            // Nothing this stream wants in that slice of the history: read on.
        }
    }
}

impl Subscriber {
    /// Everything pending, as one chunk.
    fn take_pending(&mut self) -> Bytes {
        std::mem::take(&mut self.pending).freeze()
    }

    /// Reads what follows the cursor into `pending`; or, when the stream has
    /// fallen behind (out of the history, or, once live, later than the lag it
    /// allows), the latest prices instead.
    fn read(&mut self) {
        let max_lag = self.caught_up.then_some(self.settings.max_lag);
        match self.hub.read_after(self.cursor, &self.filter, max_lag) {
            Read::Updates { updates, next } => {
                push_updates(&self.metrics, &mut self.pending, &updates);
                self.cursor = next;
            }
            Read::Resync(snapshot) => self.skip_to(snapshot),
        }
    }

    /// Sends `snapshot` in place of the updates between the cursor and it.
    fn skip_to(&mut self, snapshot: Snapshot) {
        let skipped = snapshot.last_event_id.seq.saturating_sub(self.cursor.seq);
        self.metrics.slow_snapshots.inc();
        self.metrics.conflated.inc_by(skipped);
        tracing::debug!(at = %self.cursor, skipped, "a stream fell behind; sending a snapshot");
        self.cursor = push_snapshot(&mut self.pending, snapshot);
    }

    fn heartbeat(&self) -> Bytes {
        let heartbeat = Heartbeat {
            time: clock::now_ms(),
            last_event_id: self.cursor,
            interval_ms: millis(self.settings.heartbeat),
            retry_ms: millis(self.settings.retry),
        };
        wire::heartbeat(&heartbeat).unwrap_or_else(|error| {
            tracing::error!(%error, "could not encode a heartbeat");
            Bytes::from_static(b": heartbeat\n\n")
        })
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        tracing::debug!(at = %self.cursor, "stream closed");
    }
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}
