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
    engine::{self, Engine, Position, Source, Unframed, push_snapshot, push_updates},
    error::ApiError,
    hub::{Filter, Hub, Read},
    limits::{StreamPermit, client_ip},
    listener::{Backpressure, Connection, Delivery, Handing},
    metrics::{Metrics, RefuseReason},
    params::{FeedQuery, ParamsError, symbol_filter},
    state::{AppState, StreamSettings},
    wire,
};
use app::model::EventId;
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
    task::{Context, Poll},
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
        position: Position::new(filter, cursor),
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

/// One stream that hyper writes, as the body of its response, driven by its
/// [`Engine`].
///
/// Each time it is polled it sends everything it has in one chunk (one write):
/// the catch-up, or every update published since it last wrote. What wakes it
/// (the head's announcements, which also say when the hub closes at shutdown,
/// and the heartbeat timer) is registered once and polled again, never created
/// anew per frame.
struct Subscriber {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    engine: Engine,
    /// The hub's announcements of new updates.
    changes: WatchStream<EventId>,
    /// The catch-up, until it is sent.
    catch_up: Bytes,
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
        if self.ended {
            return Poll::Ready(None);
        }
        if self.hub.is_closed() {
            self.ended = true;
            return Poll::Ready(Some(Ok(engine::farewell())));
        }
        if !self.catch_up.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.catch_up))));
        }
        // The client has not taken what it was sent: hold back, so that what it
        // has yet to get stays in the hub, where newer prices can replace it.
        if self.backpressure.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        // Take every announcement so far; the next one wakes this stream.
        loop {
            match self.changes.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        let source = Source {
            hub: &self.hub,
            metrics: &self.metrics,
            settings: &self.settings,
        };
        loop {
            let mut delivered = 0;
            let sent =
                self.engine
                    .next(source, Instant::now(), &Unframed, &mut None, &mut delivered);
            if !sent.is_empty() {
                return Poll::Ready(Some(Ok(sent)));
            }
            // Nothing this stream wants in that slice of the history: read on.
            if self.engine.behind(source.hub) {
                continue;
            }
            if Self::poll_heartbeat(
                &mut self.heartbeat,
                &mut self.heartbeat_armed,
                self.engine.next_heartbeat(),
                cx,
            )
            .is_pending()
            {
                return Poll::Pending;
            }
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
            engine: Engine::new(opened.position),
            changes: WatchStream::from_changes(state.hub.watch_head()),
            catch_up: opened.catch_up,
            heartbeat: Box::pin(tokio::time::sleep_until(Instant::now())),
            heartbeat_armed: false,
            settings: state.streams,
            backpressure,
            ended: false,
            _permit: opened.permit,
        }
    }

    /// Ready once `due` has come (the engine then has a heartbeat to send).
    ///
    /// Most wakes are for updates, so the timer is looked at only once its
    /// deadline has passed by the clock: once polled, it wakes this stream by
    /// itself (the stream is always polled by its connection's task).
    fn poll_heartbeat(
        timer: &mut Pin<Box<Sleep>>,
        armed: &mut bool,
        due: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if timer.deadline() != due {
            timer.as_mut().reset(due);
            *armed = false;
        }
        if *armed && Instant::now() < due {
            return Poll::Pending;
        }
        *armed = true;
        timer.as_mut().poll(cx)
    }
}
