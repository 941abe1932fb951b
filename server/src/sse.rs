//! `GET /events`: one viewer's Server-Sent Events stream.
//!
//! The stream sends the `retry:` delay, then every price the hub publishes from
//! the moment of connection, and keep-alive comments while it is quiet. It ends
//! when the server shuts down; when the client goes away, dropping the response
//! body drops the subscription and everything it held.

use crate::startup::AppState;
use axum::{
    extract::State,
    http::{HeaderName, HeaderValue},
    response::{IntoResponse, Sse, sse::Event},
};
use futures::{StreamExt, stream};
use std::convert::Infallible;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

/// Tells nginx (and proxies that follow it) not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The handler of `GET /events`.
pub async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let subscription = BroadcastStream::new(state.hub.subscribe());
    tracing::info!(streams = state.hub.subscriber_count(), "stream opened");
    let closed = OnDrop(|| tracing::info!("stream closed"));

    let updates = subscription.filter_map(move |received| {
        let _closed = &closed;
        async move {
            match received {
                Ok(published) => Some(Ok::<Event, Infallible>(published.frame.clone())),
                Err(BroadcastStreamRecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "a slow stream skipped ahead");
                    None
                }
            }
        }
    });
    let frames = stream::once(async move { Ok(state.retry) })
        .chain(updates)
        .take_until(state.shutdown.cancelled_owned());

    (
        [(X_ACCEL_BUFFERING, HeaderValue::from_static("no"))],
        Sse::new(frames).keep_alive(state.keep_alive),
    )
}

/// Runs its function when dropped: here, when the response body is dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
