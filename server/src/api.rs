//! The JSON API: `GET /api/snapshot`.

use crate::startup::AppState;
use app::model::Snapshot;
use axum::{Json, extract::State};

/// The handler of `GET /api/snapshot`: the latest quote of every symbol and the id
/// of the last event published before it was taken.
pub async fn snapshot(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.hub.snapshot())
}
