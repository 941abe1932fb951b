//! `GET /api/stats`: what operators watch, JSON.

use crate::http::state::AppState;
use app::model::EventId;
use axum::{Json, extract::State};
use serde::Serialize;

/// The body of `GET /api/stats`: what operators watch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Streams open now.
    pub streams: usize,
    /// The id of the latest update.
    pub last_event_id: EventId,
    /// Updates held for resuming clients now.
    pub history_len: usize,
    /// Streams that resumed from an id and were replayed what they missed.
    pub resumed: u64,
    /// Streams that asked to resume from an unusable id and got a snapshot.
    pub resynced: u64,
    /// Snapshots sent to connected streams that fell out of the history.
    pub slow_snapshots: u64,
    /// Connections closed because their client stopped reading.
    pub stalled_disconnects: u64,
}

/// The handler of `GET /api/stats`.
pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    let (hub, metrics) = (&state.hub, &state.metrics);
    Json(Stats {
        streams: state.limits.open(),
        last_event_id: hub.head(),
        history_len: hub.history_len(),
        resumed: metrics.replays.get(),
        resynced: metrics.resyncs.get(),
        slow_snapshots: metrics.slow_snapshots.get(),
        stalled_disconnects: metrics.slow_disconnects.get(),
    })
}
