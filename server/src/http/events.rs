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
    delivery::body::{Handoff, Opened, Subscriber},
    delivery::engine::{Position, push_snapshot, push_updates},
    delivery::limits::client_ip,
    delivery::listener::{Connection, Delivery},
    http::error::ApiError,
    http::params::{ParamsError, PricesQuery, symbol_filter},
    http::state::AppState,
    hub::wire,
    hub::{Filter, Hub, Read},
    metrics::RefuseReason,
};
use app::model::EventId;
use axum::{
    body::Body,
    extract::{ConnectInfo, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::{BufMut, BytesMut};
use std::time::Duration;

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
    query: Result<Query<PricesQuery>, QueryRejection>,
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
            response.extensions_mut().insert(Handoff::new(opened));
            response
        }
        Delivery::Hyper(backpressure) => {
            let subscriber = Subscriber::new(
                opened,
                state.hub.clone(),
                state.metrics.clone(),
                state.streams,
                backpressure,
            );
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
