//! `POST /api/prices`: publishing, for programs with the publish token. The
//! body is read by [`ingest`](crate::intake::ingest), then published all or nothing
//! through the instance's [`Publisher`](crate::intake::publisher::Publisher); every
//! refusal is a [`Refusal`].

use crate::{
    clock,
    http::error::ApiError,
    http::state::AppState,
    hub::{PublishError, Tick, TooManySymbols},
    intake::ingest::{Invalid, parse_updates},
    metrics::RejectReason,
};
use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use std::time::Duration;

/// The answer to an accepted batch.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// How many updates were published.
    pub accepted: usize,
    /// The id of the last one.
    pub last_event_id: String,
}

/// The handler of `POST /api/prices`.
pub async fn publish(State(state): State<AppState>, request: Request) -> Response {
    match accept(&state, request).await {
        Ok(accepted) => {
            state
                .metrics
                .ingest_accepted
                .inc_by(accepted.accepted as u64);
            Json(accepted).into_response()
        }
        Err(refusal) => {
            let reason = refusal.reason();
            state.metrics.rejected(reason);
            let error = ApiError::from(refusal);
            tracing::info!(reason = ?reason, message = %error.message, "publish refused");
            error.into_response()
        }
    }
}

/// Why `POST /api/prices` refused a request. Each refusal is its status, its
/// stable `error` code, its `tickertape_ingest_rejected_total` reason and its
/// JSON answer, here and nowhere else; nothing of a refused request was
/// published.
#[derive(Debug)]
pub enum Refusal {
    /// The server has no publish token.
    Disabled,
    /// No bearer token, or the wrong one.
    Unauthorized,
    /// The body was not whole within this long.
    BodyTimeout(Duration),
    /// The body is over this many bytes.
    TooLarge(usize),
    /// The body could not be read.
    Unreadable(String),
    /// The body is not a valid batch.
    Invalid(Invalid),
    /// The batch would pass `--max-symbols`.
    TooManySymbols(TooManySymbols),
    /// In a cluster, the broker cannot be reached.
    BrokerUnavailable(PublishError),
    /// The batch could not be encoded (a bug).
    Internal(PublishError),
}

impl Refusal {
    /// Its reason in `tickertape_ingest_rejected_total`.
    pub fn reason(&self) -> RejectReason {
        match self {
            Self::Disabled => RejectReason::disabled,
            Self::Unauthorized => RejectReason::unauthorized,
            Self::BodyTimeout(_) => RejectReason::slow_body,
            Self::TooLarge(_) => RejectReason::too_large,
            Self::Unreadable(_) => RejectReason::malformed_json,
            Self::Invalid(invalid) => invalid.reason(),
            Self::TooManySymbols(_) => RejectReason::too_many_symbols,
            Self::BrokerUnavailable(_) => RejectReason::broker_unavailable,
            Self::Internal(_) => RejectReason::invalid_item,
        }
    }

    /// Its `error` code.
    pub fn code(&self) -> &'static str {
        if let Self::Internal(_) = self {
            return "internal";
        }
        match self.reason() {
            RejectReason::disabled => "publishing_disabled",
            RejectReason::unauthorized => "unauthorized",
            RejectReason::malformed_json => "malformed_json",
            RejectReason::too_large => "too_large",
            RejectReason::slow_body => "body_timeout",
            RejectReason::invalid_item => "invalid_item",
            RejectReason::invalid_symbol => "invalid_symbol",
            RejectReason::invalid_price => "invalid_price",
            RejectReason::invalid_ts => "invalid_ts",
            RejectReason::empty_batch => "empty_batch",
            RejectReason::too_many_symbols => "too_many_symbols",
            RejectReason::broker_unavailable => "broker_unavailable",
        }
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Disabled => StatusCode::FORBIDDEN,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) | Self::Invalid(Invalid::Malformed(_)) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) | Self::TooManySymbols(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BrokerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let (status, code) = (refusal.status(), refusal.code());
        match refusal {
            Refusal::Disabled => ApiError::new(
                status,
                code,
                "publishing is disabled on this server: start it with --publish-token \
                 (or TICKERTAPE_PUBLISH_TOKEN) to accept prices",
            ),
            Refusal::Unauthorized => ApiError::unauthorized(
                "tickertape publish",
                "send the publish token as the header Authorization: Bearer <token>",
            ),
            Refusal::BodyTimeout(timeout) => ApiError::new(
                status,
                code,
                format!(
                    "the body did not arrive within {} ms (--header-read-timeout-ms)",
                    timeout.as_millis()
                ),
            ),
            Refusal::TooLarge(limit) => ApiError::new(
                status,
                code,
                format!("the body is over {limit} bytes; send smaller batches"),
            )
            .with("limit", limit),
            Refusal::Unreadable(error) => {
                ApiError::new(status, code, format!("could not read the body: {error}"))
            }
            Refusal::Invalid(invalid) => {
                let error = ApiError::new(status, code, invalid.to_string());
                match invalid {
                    Invalid::Item { index, .. } => error.with("item", index),
                    _ => error,
                }
            }
            Refusal::TooManySymbols(too_many) => {
                ApiError::new(status, code, format!("{too_many}; nothing was published"))
                    .with("limit", too_many.limit)
            }
            Refusal::BrokerUnavailable(error) => ApiError::new(
                status,
                code,
                format!("{error}; nothing was published: retry later"),
            )
            .with("retryAfter", 1)
            .with_header(header::RETRY_AFTER, HeaderValue::from(1)),
            Refusal::Internal(_) => ApiError::new(
                status,
                code,
                "the batch could not be published; nothing was published",
            ),
        }
    }
}

async fn accept(state: &AppState, request: Request) -> Result<Accepted, Refusal> {
    let Some(token) = &state.publish_token else {
        return Err(Refusal::Disabled);
    };
    if !bearer(request.headers()).is_some_and(|offered| token.matches(offered.as_bytes())) {
        return Err(Refusal::Unauthorized);
    }
    let body = read_body(request.into_body(), state.max_body, state.body_timeout).await?;
    let updates =
        parse_updates(&body, clock::now_ms(), state.max_ts_skew).map_err(Refusal::Invalid)?;

    let now = clock::now_ms();
    let accepted = updates.len();
    let batch = updates
        .into_iter()
        .map(|update| Tick {
            symbol: update.symbol,
            price: update.price,
            ts: update.ts.unwrap_or(now),
        })
        .collect();
    let last = state
        .publisher
        .publish(batch)
        .await
        .map_err(|error| match error {
            PublishError::Unavailable(_) => {
                tracing::warn!(%error, "publish refused: the broker is unavailable");
                Refusal::BrokerUnavailable(error)
            }
            PublishError::TooManySymbols(too_many) => Refusal::TooManySymbols(too_many),
            PublishError::Encode(_) => {
                tracing::error!(%error, "could not publish a batch");
                Refusal::Internal(error)
            }
        })?;
    Ok(Accepted {
        accepted,
        last_event_id: last.to_string(),
    })
}

/// Reads the body, refusing it with 413 past `limit` bytes, and with 408
/// when it is not whole within `timeout` (a body sent a byte at a time would
/// hold its connection, busy and so never idle, for as long as it liked).
async fn read_body(
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<axum::body::Bytes, Refusal> {
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| Refusal::BodyTimeout(timeout))?;
    read.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            Refusal::TooLarge(limit)
        } else {
            Refusal::Unreadable(error.to_string())
        }
    })
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
