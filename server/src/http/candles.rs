//! `GET /api/candles?symbol=AAPL&interval=1s|1m|5m[&limit=N]`: a symbol's
//! candles, JSON (see [`app::candle`]).

use crate::http::{error::ApiError, state::AppState};
use app::{
    candle::{Candles, Interval},
    model::Symbol,
};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

/// The interval when none is asked for.
const DEFAULT_INTERVAL: Interval = Interval::Minute;

/// The query string of `/api/candles`, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct CandlesQuery {
    /// `symbol=AAPL`.
    pub symbol: Option<String>,
    /// `interval=1s`, `1m` (the default) or `5m`.
    pub interval: Option<String>,
    /// `limit=N`: the last `N` candles (default: all kept).
    pub limit: Option<String>,
}

/// Why `/api/candles` refused a request.
#[derive(Debug, thiserror::Error)]
pub enum CandlesError {
    /// The query string could not be read.
    #[error("malformed query string: {0}")]
    Query(String),
    /// No `symbol=`.
    #[error("which symbol? add symbol=, such as /api/candles?symbol=AAPL&interval=1m")]
    NoSymbol,
    /// `symbol=` is not a symbol.
    #[error("{0}")]
    MalformedSymbol(String),
    /// `interval=` is not one of the intervals.
    #[error("unknown interval {0:?}: use 1s, 1m or 5m")]
    Interval(String),
    /// `limit=` is not a number of candles kept for the interval.
    #[error("limit must be a whole number from 1 to {max} for interval {interval}, not {given:?}")]
    Limit {
        /// As sent (cut to 40 characters).
        given: String,
        /// The interval asked for.
        interval: &'static str,
        /// How many candles of it are kept.
        max: usize,
    },
    /// The server does not quote the symbol.
    #[error("unknown symbol {0}: the server has no prices for it")]
    UnknownSymbol(Symbol),
}

impl From<CandlesError> for ApiError {
    fn from(error: CandlesError) -> Self {
        let (status, code) = match &error {
            CandlesError::Query(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
            CandlesError::NoSymbol | CandlesError::MalformedSymbol(_) => {
                (StatusCode::BAD_REQUEST, "malformed_symbol")
            }
            CandlesError::Interval(_) => (StatusCode::BAD_REQUEST, "invalid_interval"),
            CandlesError::Limit { .. } => (StatusCode::BAD_REQUEST, "invalid_limit"),
            CandlesError::UnknownSymbol(_) => (StatusCode::NOT_FOUND, "unknown_symbol"),
        };
        let api = ApiError::new(status, code, error.to_string());
        match error {
            CandlesError::UnknownSymbol(symbol) => api.with("symbol", symbol),
            _ => api,
        }
    }
}

impl IntoResponse for CandlesError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// The handler of `GET /api/candles`: the symbol's last candles of the
/// interval, oldest first, the last one still forming.
pub async fn candles(
    State(state): State<AppState>,
    query: Result<Query<CandlesQuery>, QueryRejection>,
) -> Result<Json<Candles>, CandlesError> {
    let Query(query) = query.map_err(|rejection| CandlesError::Query(rejection.body_text()))?;
    let symbol: Symbol = query
        .symbol
        .as_deref()
        .ok_or(CandlesError::NoSymbol)?
        .trim()
        .parse()
        .map_err(|error: app::model::SymbolError| {
            CandlesError::MalformedSymbol(error.to_string())
        })?;
    let interval = match query.interval.as_deref() {
        None => DEFAULT_INTERVAL,
        Some(text) => Interval::parse(text)
            .ok_or_else(|| CandlesError::Interval(text.chars().take(40).collect()))?,
    };
    let limit = match query.limit.as_deref() {
        None => interval.kept(),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=interval.kept()).contains(limit))
            .ok_or_else(|| CandlesError::Limit {
                given: text.chars().take(40).collect(),
                interval: interval.as_str(),
                max: interval.kept(),
            })?,
    };
    state
        .hub
        .candles(&symbol, interval, limit)
        .map(Json)
        .ok_or(CandlesError::UnknownSymbol(symbol))
}
