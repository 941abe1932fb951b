//! `POST /api/prices`: real prices in.
//!
//! The body is one update or an array of them:
//!
//! ```json
//! [{"symbol": "AAPL", "price": 228.61}, {"symbol": "BRK.B", "price": 441.2, "ts": 1763900000000}]
//! ```
//!
//! `ts` (milliseconds since the Unix epoch) is optional and defaults to the
//! server's clock. A batch is all-or-nothing: every item is checked before any is
//! published, and the accepted ones are published under one lock, with
//! consecutive ids. Refusals are JSON errors that name the offending item.

use crate::{
    clock,
    error::{ApiError, clip},
    hub::{PublishError, Tick, TooManySymbols},
    metrics::RejectReason,
    state::AppState,
};
use app::model::{MAX_SYMBOL_LEN, Price, Symbol, SymbolError};
use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// The fields an update may have.
const FIELDS: [&str; 3] = ["symbol", "price", "ts"];

/// One checked update.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// What it prices.
    pub symbol: Symbol,
    /// The price.
    pub price: Price,
    /// When it was priced, in milliseconds since the Unix epoch, if given.
    pub ts: Option<u64>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// Not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    /// JSON, but neither an update nor an array of them.
    #[error(
        "the body must be an update such as {{\"symbol\":\"AAPL\",\"price\":228.5}} or an array of them"
    )]
    NotUpdates,
    /// An empty array.
    #[error("the batch is empty")]
    EmptyBatch,
    /// One item is wrong; the batch was not applied.
    #[error("item {index}: {message}; nothing was published")]
    Item {
        /// The item's position in the batch (0 for a single update).
        index: usize,
        /// Which rule it broke.
        reason: RejectReason,
        /// What was wrong with it.
        message: String,
    },
}

impl Invalid {
    /// The rule broken, for the metrics and the body's `error` code.
    pub fn reason(&self) -> RejectReason {
        match self {
            Self::Malformed(_) => RejectReason::malformed_json,
            Self::NotUpdates => RejectReason::invalid_item,
            Self::EmptyBatch => RejectReason::empty_batch,
            Self::Item { reason, .. } => *reason,
        }
    }
}

/// Reads `body` into checked updates: every symbol in `[A-Z0-9.-]{1,12}`, every
/// price within [`Price::MIN`]..=[`Price::MAX`], every `ts` whole milliseconds within
/// `max_skew` of `now_ms`, no other fields. Stops at the first wrong item.
pub fn parse_updates(body: &[u8], now_ms: u64, max_skew: Duration) -> Result<Vec<Update>, Invalid> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| Invalid::Malformed(error.to_string()))?;
    let items = match value {
        Value::Array(items) if items.is_empty() => return Err(Invalid::EmptyBatch),
        Value::Array(items) => items,
        item @ Value::Object(_) => vec![item],
        _ => return Err(Invalid::NotUpdates),
    };
    let max_skew = u64::try_from(max_skew.as_millis()).unwrap_or(u64::MAX);
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            check_item(item, now_ms, max_skew).map_err(|(reason, message)| Invalid::Item {
                index,
                reason,
                message,
            })
        })
        .collect()
}

fn check_item(item: &Value, now_ms: u64, max_skew: u64) -> Result<Update, (RejectReason, String)> {
    use RejectReason::{invalid_item, invalid_price, invalid_symbol, invalid_ts};
    let Value::Object(fields) = item else {
        return Err((invalid_item, "not an object with symbol and price".into()));
    };
    if let Some(unknown) = fields.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err((
            invalid_item,
            format!(
                "unknown field {:?}; an update has symbol, price and ts",
                clip(unknown, 40)
            ),
        ));
    }
    let symbol = match fields.get("symbol") {
        Some(Value::String(text)) => text.parse::<Symbol>().map_err(|error| {
            let message = match error {
                SymbolError::Empty => "the symbol is empty".to_owned(),
                SymbolError::TooLong(_) | SymbolError::BadCharacter(_) => {
                    format!(
                        "symbol {:?} is not 1 to {MAX_SYMBOL_LEN} of A-Z 0-9 . -",
                        clip(text, 40)
                    )
                }
            };
            (invalid_symbol, message)
        })?,
        Some(_) => return Err((invalid_symbol, "symbol must be a string".into())),
        None => return Err((invalid_symbol, "symbol is missing".into())),
    };
    let price = match fields.get("price") {
        Some(Value::Number(number)) => number
            .as_f64()
            .and_then(|price| Price::new(price).ok())
            .ok_or_else(|| {
                (
                    invalid_price,
                    format!(
                        "{symbol}: price {number} is out of range (from 0.000000001 to \
                         1000000000000, so that change and changePct stay finite)"
                    ),
                )
            })?,
        Some(other) => {
            return Err((
                invalid_price,
                format!(
                    "{symbol}: price must be a number, not {}",
                    clip(&other.to_string(), 40)
                ),
            ));
        }
        None => return Err((invalid_price, format!("{symbol}: price is missing"))),
    };
    let ts = match fields.get("ts") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => {
            let ts = number.as_u64().ok_or_else(|| {
                (
                    invalid_ts,
                    format!("{symbol}: ts {number} is not whole milliseconds since the Unix epoch"),
                )
            })?;
            if ts.abs_diff(now_ms) > max_skew {
                let (amount, side) = if ts < now_ms {
                    (now_ms - ts, "behind")
                } else {
                    (ts - now_ms, "ahead of")
                };
                return Err((
                    invalid_ts,
                    format!(
                        "{symbol}: ts {ts} is {} s {side} the server's clock (at most {} s allowed)",
                        amount / 1000,
                        max_skew / 1000
                    ),
                ));
            }
            Some(ts)
        }
        Some(other) => {
            return Err((
                invalid_ts,
                format!(
                    "{symbol}: ts must be milliseconds since the Unix epoch, not {}",
                    clip(&other.to_string(), 40)
                ),
            ));
        }
    };
    Ok(Update { symbol, price, ts })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_763_900_000_000;
    const SKEW: Duration = Duration::from_secs(300);

    fn parse(body: &str) -> Result<Vec<Update>, Invalid> {
        parse_updates(body.as_bytes(), NOW, SKEW)
    }

    fn refused(body: &str) -> (RejectReason, Option<usize>, String) {
        let error = parse(body).unwrap_err();
        let index = match &error {
            Invalid::Item { index, .. } => Some(*index),
            _ => None,
        };
        (error.reason(), index, error.to_string())
    }

    #[test]
    fn one_update_or_a_batch_is_read() {
        let one = parse(r#"{"symbol":"AAPL","price":228.5}"#).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].symbol.as_str(), one[0].price.get(), one[0].ts),
            ("AAPL", 228.5, None)
        );
        let batch = parse(&format!(
            r#"[{{"symbol":"BRK.B","price":1,"ts":{NOW}}},{{"symbol":"X-1","price":2e3}}]"#
        ))
        .unwrap();
        assert_eq!(batch[0].ts, Some(NOW));
        assert_eq!(batch[1].price.get(), 2000.0);
    }

    #[test]
    fn every_rule_names_the_item_that_broke_it() {
        use RejectReason::*;
        let ts = |ts: u64| {
            format!(r#"[{{"symbol":"A","price":1}},{{"symbol":"B","price":1,"ts":{ts}}}]"#)
        };
        for (body, reason, index, says) in [
            ("{", malformed_json, None, "not valid JSON"),
            ("[]", empty_batch, None, "empty"),
            ("42", invalid_item, None, "must be an update"),
            (
                r#"[{"symbol":"A","price":1},7]"#,
                invalid_item,
                Some(1),
                "item 1: not an object",
            ),
            (
                r#"{"symbol":"A","price":1,"size":3}"#,
                invalid_item,
                Some(0),
                "\"size\"",
            ),
            (
                r#"{"symbol":"aapl","price":1}"#,
                invalid_symbol,
                Some(0),
                "\"aapl\"",
            ),
            (
                r#"{"symbol":"ABCDEFGHIJKLM","price":1}"#,
                invalid_symbol,
                Some(0),
                "1 to 12",
            ),
            (
                r#"{"symbol":"","price":1}"#,
                invalid_symbol,
                Some(0),
                "empty",
            ),
            (
                r#"{"symbol":5,"price":1}"#,
                invalid_symbol,
                Some(0),
                "string",
            ),
            (r#"{"price":1}"#, invalid_symbol, Some(0), "missing"),
            (
                r#"[{"symbol":"A","price":1},{"symbol":"B","price":-2}]"#,
                invalid_price,
                Some(1),
                "B: price -2",
            ),
            (
                r#"{"symbol":"A","price":0}"#,
                invalid_price,
                Some(0),
                "out of range",
            ),
            (
                r#"[{"symbol":"A","price":1e307},{"symbol":"A","price":1.5e307}]"#,
                invalid_price,
                Some(0),
                "A: price 1e+307 is out of range (from 0.000000001 to 1000000000000",
            ),
            (
                r#"{"symbol":"A","price":1e-10}"#,
                invalid_price,
                Some(0),
                "out of range",
            ),
            (
                r#"{"symbol":"A","price":"1.5"}"#,
                invalid_price,
                Some(0),
                "must be a number",
            ),
            (r#"{"symbol":"A"}"#, invalid_price, Some(0), "missing"),
            (&ts(NOW - 301_000), invalid_ts, Some(1), "301 s behind"),
            (&ts(NOW + 400_000), invalid_ts, Some(1), "400 s ahead of"),
            (
                r#"{"symbol":"A","price":1,"ts":1.5}"#,
                invalid_ts,
                Some(0),
                "whole milliseconds",
            ),
            (
                r#"{"symbol":"A","price":1,"ts":"now"}"#,
                invalid_ts,
                Some(0),
                "milliseconds",
            ),
        ] {
            let (got, at, message) = refused(body);
            assert_eq!((got, at), (reason, index), "{body}: {message}");
            assert!(message.contains(says), "{body}: {message:?} lacks {says:?}");
        }
        assert!(parse(&ts(NOW - 299_000)).is_ok());
    }

    #[test]
    fn a_long_symbol_is_quoted_short() {
        let body = format!(r#"{{"symbol":"{}","price":1}}"#, "A".repeat(10_000));
        let (_, _, message) = refused(&body);
        assert!(message.len() < 200, "{message}");
    }

    fn symbol_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z0-9.-]{1,12}",
            "[A-Za-z0-9.\\- _é]{0,16}",
            any::<String>()
        ]
    }

    fn item() -> impl Strategy<Value = Value> {
        let price = prop_oneof![
            any::<f64>().prop_map(|p| serde_json::json!(p)),
            any::<i64>().prop_map(|p| serde_json::json!(p)),
            Just(serde_json::json!("1")),
            Just(Value::Null),
        ];
        let ts = prop_oneof![
            Just(None),
            (NOW - 600_000..NOW + 600_000).prop_map(|ts| Some(serde_json::json!(ts))),
            any::<i64>().prop_map(|ts| Some(serde_json::json!(ts))),
        ];
        (symbol_text(), price, ts).prop_map(|(symbol, price, ts)| {
            let mut item = serde_json::json!({ "symbol": symbol, "price": price });
            if let Some(ts) = ts {
                item["ts"] = ts;
            }
            item
        })
    }

    proptest! {
        /// Whatever the bytes, the validator answers without panicking.
        #[test]
        fn any_bytes_get_an_answer(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_updates(&body, NOW, SKEW);
        }

        /// An accepted batch keeps every item, in order, and every item obeys the
        /// rules; a refused one names an item that breaks them.
        #[test]
        fn accepted_items_obey_every_rule(items in proptest::collection::vec(item(), 1..8)) {
            let body = serde_json::to_vec(&items).unwrap();
            let valid = |item: &Value| {
                let symbol_ok = item["symbol"].as_str().is_some_and(|s| {
                    (1..=12).contains(&s.len())
                        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-')
                });
                let price_ok = item["price"].as_f64().is_some_and(|p| (1e-9..=1e12).contains(&p));
                let ts_ok = match item.get("ts") {
                    None => true,
                    Some(ts) => ts.as_u64().is_some_and(|ts| ts.abs_diff(NOW) <= 300_000),
                };
                symbol_ok && price_ok && ts_ok
            };
            match parse_updates(&body, NOW, SKEW) {
                Ok(updates) => {
                    prop_assert_eq!(updates.len(), items.len());
                    for (update, item) in updates.iter().zip(&items) {
                        prop_assert!(valid(item));
                        prop_assert_eq!(update.symbol.as_str(), item["symbol"].as_str().unwrap());
                    }
                }
                Err(Invalid::Item { index, .. }) => {
                    prop_assert!(!valid(&items[index]));
                    prop_assert!(items[..index].iter().all(valid));
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
