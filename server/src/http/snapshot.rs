//! `GET /api/snapshot[?symbols=…]`: the latest prices, JSON.

use crate::http::{
    params::{ParamsError, PricesQuery, symbol_filter},
    state::AppState,
};
use app::model::Snapshot;
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

/// The handler of `GET /api/snapshot[?symbols=…]`: the latest quote of every
/// symbol (or of those listed) and the id of the last update it includes.
pub async fn snapshot(
    State(state): State<AppState>,
    query: Result<Query<PricesQuery>, QueryRejection>,
) -> Result<Json<Snapshot>, ParamsError> {
    let Query(query) = query?;
    let filter = symbol_filter(query.symbols.as_deref(), &state.hub)?;
    Ok(Json(state.hub.snapshot(&filter)))
}
