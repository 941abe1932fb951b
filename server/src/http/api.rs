//! The JSON API: `GET /api/snapshot` and `GET /api/stats`.

use crate::{
    http::params::{FeedQuery, ParamsError, symbol_filter},
    http::state::AppState,
};
use app::model::{EventId, Snapshot};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use serde::Serialize;

/// The handler of `GET /api/snapshot[?symbols=…]`: the latest quote of every
/// symbol (or of those listed) and the id of the last update it includes.
pub async fn snapshot(
    State(state): State<AppState>,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Snapshot>, ParamsError> {
    let Query(query) = query?;
    let filter = symbol_filter(query.symbols.as_deref(), &state.hub)?;
    Ok(Json(state.hub.snapshot(&filter)))
}

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
