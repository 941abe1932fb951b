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
    listener::{Backpressure, Connection, Delivery, Handing},
    metrics::{Metrics, RefuseReason},
    params::{FeedQuery, ParamsError, symbol_filter},
    state::{AppState, StreamSettings},
    wire,
};
use app::model::{EventId, FeedState, Heartbeat, Snapshot};
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
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::time::{Instant, Sleep};
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

    if state.broker.is_some()
        && let Some(id) = resume_from.as_deref().and_then(|text| text.parse().ok())
    {
        relayed(&state.hub, id).await;
    }
    let delay = wire::jittered(state.streams.retry, &mut rand::rng());
    let mut catch_up = BytesMut::new();
    catch_up.put(wire::retry(delay));
    let cursor = match resume_from {
        None => push_snapshot(&mut catch_up, state.hub.snapshot(&filter)),
        Some(text) => resume(&state, &text, &filter, &mut catch_up),
    };
    tracing::debug!(streams = state.limits.open(), from = %cursor, "stream opened");
    let opened = Opened {
        position: Position {
            filter,
            cursor,
            caught_up: false,
        },
        catch_up: catch_up.freeze(),
        permit,
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (X_ACCEL_BUFFERING, HeaderValue::from_static("no")),
    ];
    Ok(match connection.delivery {
        Delivery::Writers => {
            let mut response = (headers, Body::empty()).into_response();
            response
                .extensions_mut()
                .insert(Handoff(Arc::new(Mutex::new(Some(opened)))));
            response
        }
        Delivery::Hyper(backpressure) => {
            let subscriber = Subscriber::new(opened, &state, backpressure);
            (headers, Body::from_stream(subscriber)).into_response()
        }
    })
}

/// How long a stream resuming from an id its instance has not relayed yet
/// waits for it.
const RELAY_PATIENCE: Duration = Duration::from_secs(2);

/// In a cluster, a viewer may come from an instance a little ahead of this
/// one: when `id` is in this epoch but past the head, waits (a moment at most)
/// until this instance has relayed it, so that the viewer resumes exactly
/// instead of being resynced.
async fn relayed(hub: &Hub, id: EventId) {
    let mut head = hub.watch_head();
    let _ = tokio::time::timeout(RELAY_PATIENCE, async {
        loop {
            let now = hub.head();
            if now.run != id.run || now.seq >= id.seq {
                return;
            }
            if head.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
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
                    format!(
                        "the updates since event {id} are no longer kept (away too long), \
                         so the table shows the latest prices instead"
                    )
                } else {
                    format!(
                        "the server restarted since event {id}, so the table shows the \
                         latest prices instead"
                    )
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
pub fn push_updates(metrics: &Metrics, out: &mut BytesMut, updates: &[Arc<Published>]) {
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

    /// Moves the cursor to `next`, read for this stream by someone else.
    pub fn advance(&mut self, next: EventId) {
        self.cursor = next;
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

/// A stream the handler has opened: where it starts, what it sends first, and
/// its place under the limits (given back when it is dropped).
#[derive(Debug)]
pub struct Opened {
    /// Where the stream is, after the catch-up.
    pub position: Position,
    /// The `retry:` delay and the catch-up (snapshot or replay), as frames.
    pub catch_up: Bytes,
    /// This stream's place under the limits.
    pub permit: StreamPermit,
}

/// The stream a `/events` response carries when the server's own writers
/// ([`writer`](crate::writer)) send it rather than hyper: [`serve`](crate::serve)
/// takes it out of the response's extensions (which must be `Clone`, hence
/// the shared slot).
#[derive(Debug, Clone)]
pub struct Handoff(Arc<Mutex<Option<Opened>>>);

impl Handoff {
    /// The stream, to the first taker.
    pub fn take(&self) -> Option<Opened> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// One stream that hyper writes, as the body of its response.
///
/// Each time it is polled it sends everything it has in one chunk (one write):
/// the catch-up, or every update published since it last wrote. What wakes it
/// (the head's announcements, which also say when the hub closes at shutdown,
/// and the heartbeat timer) is registered once and polled again, never created
/// anew per frame.
struct Subscriber {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    position: Position,
    /// The hub's announcements of new updates.
    changes: WatchStream<EventId>,
    /// Frames read but not yet sent, in order.
    pending: BytesMut,
    /// When the next heartbeat is due.
    heartbeat: Pin<Box<Sleep>>,
    /// Whether the timer has been polled since its deadline was last set, so
    /// that it will wake this stream.
    heartbeat_armed: bool,
    settings: StreamSettings,
    /// Whether the connection can take more now.
    backpressure: Arc<Backpressure>,
    /// Since when this stream has had something hyper has not taken.
    handing: Arc<Handing>,
    ended: bool,
    /// This stream's place under the limits, given back when it ends.
    _permit: StreamPermit,
}

impl Stream for Subscriber {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.handing.polled();
        let next = this.next(cx);
        if let Poll::Ready(Some(_)) = next {
            // Handed over: until hyper asks again, the stream waits on it (an
            // HTTP/2 window kept shut is never asked again).
            this.handing.waiting();
        }
        next
    }
}

impl Subscriber {
    fn next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self;
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
        if this.backpressure.poll_ready(cx).is_pending() {
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
            let behind = this.position.behind(&this.hub);
            // A reader that is behind still gets its heartbeat.
            if this.position.caught_up() && this.poll_heartbeat(cx).is_ready() {
                return Poll::Ready(Some(Ok(this.position.heartbeat(&this.hub, &this.settings))));
            }
            if !behind {
                return Poll::Pending;
            }
            this.position
                .read(&this.hub, &this.metrics, &this.settings, &mut this.pending);
            if !this.pending.is_empty() {
                return Poll::Ready(Some(Ok(this.take_pending())));
            }
            // Nothing this stream wants in that slice of the history: read on.
        }
    }

    fn new(opened: Opened, state: &AppState, backpressure: Arc<Backpressure>) -> Self {
        let handing = backpressure.handing();
        // The catch-up waits for hyper from the start.
        handing.waiting();
        Self {
            handing,
            hub: state.hub.clone(),
            metrics: state.metrics.clone(),
            position: opened.position,
            changes: WatchStream::from_changes(state.hub.watch_head()),
            pending: BytesMut::from(opened.catch_up),
            // The first heartbeat is due at once: the one that ends the catch-up.
            heartbeat: Box::pin(tokio::time::sleep_until(Instant::now())),
            heartbeat_armed: false,
            settings: state.streams,
            backpressure,
            ended: false,
            _permit: opened.permit,
        }
    }

    /// Ready when a heartbeat is due (then the next one is an interval away).
    ///
    /// Most wakes are for updates, so the timer is looked at only once its
    /// deadline has passed by the clock: once polled, it wakes this stream by
    /// itself (the stream is always polled by its connection's task).
    fn poll_heartbeat(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.heartbeat_armed && Instant::now() < self.heartbeat.deadline() {
            return Poll::Pending;
        }
        self.heartbeat_armed = true;
        ready!(self.heartbeat.as_mut().poll(cx));
        let next = Instant::now() + self.settings.heartbeat;
        self.heartbeat.as_mut().reset(next);
        self.heartbeat_armed = false;
        Poll::Ready(())
    }

    /// Everything pending, as one chunk.
    fn take_pending(&mut self) -> Bytes {
        std::mem::take(&mut self.pending).freeze()
    }
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}
