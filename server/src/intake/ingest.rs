//! Real prices in: the body of a `POST /api/prices` (see
//! [`prices`](crate::http::prices)) read into checked updates.
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

use crate::{metrics::RejectReason, text::clip};
use app::model::{MAX_SYMBOL_LEN, Price, Symbol, SymbolError};
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
