//! The query parameters of `GET /events` and `GET /api/snapshot`, checked at the
//! edge, and the `400` JSON errors they give.

use crate::{
    http::error::ApiError,
    hub::{Filter, Hub},
};
use app::model::Symbol;
use axum::{
    extract::rejection::QueryRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use std::{collections::HashSet, sync::Arc};

/// The most unknown symbols an error names (it counts them all).
pub const MAX_NAMED: usize = 20;

/// The query string of `/events` and `/api/snapshot`, as sent: which
/// symbols, and the id to resume after.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricesQuery {
    /// `symbols=AAPL,MSFT`: only these symbols.
    pub symbols: Option<String>,
    /// `lastEventId=…`: resume after this id (the `Last-Event-ID` header wins).
    pub last_event_id: Option<String>,
}

/// Why a request's parameters were refused.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// The query string could not be read.
    #[error("malformed query string: {0}")]
    Query(String),
    /// `symbols` was not a comma-separated list of symbols.
    #[error("malformed symbols list {list:?}: {reason}")]
    MalformedSymbols {
        /// The list as sent (cut to 100 characters).
        list: String,
        /// What was wrong with it.
        reason: String,
    },
    /// `symbols` named symbols the server does not quote.
    #[error("unknown symbols: {}{}", named.join(", "), more(named.len(), *count))]
    UnknownSymbols {
        /// The first of them (at most [`MAX_NAMED`]), in the order asked.
        named: Vec<String>,
        /// How many there were.
        count: usize,
    },
}

/// How many more there were than named, said when there were.
fn more(named: usize, count: usize) -> String {
    if count > named {
        format!(" and {} more", count - named)
    } else {
        String::new()
    }
}

impl From<ParamsError> for ApiError {
    fn from(error: ParamsError) -> Self {
        let code = match &error {
            ParamsError::Query(_) => "malformed_query",
            ParamsError::MalformedSymbols { .. } => "malformed_symbols",
            ParamsError::UnknownSymbols { .. } => "unknown_symbols",
        };
        let api = ApiError::new(StatusCode::BAD_REQUEST, code, error.to_string());
        match error {
            ParamsError::UnknownSymbols { named, count } => {
                api.with("symbols", named).with("unknownCount", count)
            }
            _ => api,
        }
    }
}

impl IntoResponse for ParamsError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl From<QueryRejection> for ParamsError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Query(rejection.body_text())
    }
}

/// Reads `symbols=AAPL,MSFT` into a filter of symbols `hub` quotes; no parameter
/// means every symbol. Repeated symbols are kept once.
pub fn symbol_filter(list: Option<&str>, hub: &Hub) -> Result<Filter, ParamsError> {
    let Some(list) = list else {
        return Ok(None);
    };
    let malformed = |reason: String| ParamsError::MalformedSymbols {
        list: list.chars().take(100).collect(),
        reason,
    };
    if list.trim().is_empty() {
        return Err(malformed(
            "it is empty; list symbols separated by commas, such as AAPL,MSFT".into(),
        ));
    }
    // Linear in the list, whatever it holds (a list of thousands of distinct
    // unknown symbols once cost a quarter of a second).
    let mut symbols = HashSet::new();
    let mut unknown = HashSet::new();
    let mut named = Vec::new();
    for item in list.split(',') {
        let symbol: Symbol = item.trim().parse().map_err(|e| malformed(format!("{e}")))?;
        if !hub.knows(&symbol) {
            if named.len() < MAX_NAMED && !unknown.contains(&symbol) {
                named.push(symbol.to_string());
            }
            unknown.insert(symbol);
        } else {
            symbols.insert(symbol);
        }
    }
    if unknown.is_empty() {
        Ok(Some(Arc::new(symbols)))
    } else {
        Err(ParamsError::UnknownSymbols {
            named,
            count: unknown.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{Price, Quote, RunId};

    fn hub() -> Hub {
        let quotes = ["AAPL", "MSFT"]
            .map(|symbol| Quote::opening(symbol.parse().unwrap(), Price::new(1.0).unwrap(), 0));
        Hub::new(RunId(1), quotes.into(), 10)
    }

    #[test]
    fn a_list_of_known_symbols_is_a_filter() {
        let hub = hub();
        assert!(symbol_filter(None, &hub).unwrap().is_none());
        let filter = symbol_filter(Some("MSFT, AAPL,MSFT"), &hub)
            .unwrap()
            .unwrap();
        assert_eq!(filter.len(), 2);
    }

    #[test]
    fn bad_lists_say_what_was_wrong() {
        let hub = hub();
        for (list, says) in [
            ("", "empty"),
            ("AAPL,,MSFT", "cannot be empty"),
            ("aapl", "A-Z"),
            ("AAPL,NOPE,ZZZ", "NOPE, ZZZ"),
        ] {
            let error = symbol_filter(Some(list), &hub).unwrap_err();
            assert!(error.to_string().contains(says), "{list:?}: {error}");
        }
    }

    #[test]
    fn thousands_of_unknown_symbols_cost_linear_time_and_a_short_answer() {
        let hub = hub();
        let list: Vec<String> = (0..13_000).map(|n| format!("U{n}")).collect();
        let started = std::time::Instant::now();
        let error = symbol_filter(Some(&list.join(",")), &hub).unwrap_err();
        // Once 205-268 ms (release); linear now, well under this in debug.
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let ParamsError::UnknownSymbols { named, count } = &error else {
            panic!("{error}");
        };
        assert_eq!((named.len(), *count), (MAX_NAMED, 13_000));
        assert_eq!(named[..2], ["U0", "U1"]);
        assert!(error.to_string().ends_with("U19 and 12980 more"), "{error}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever `symbols=` holds, the answer is a filter of exactly the
            /// listed symbols when every item is a known symbol, and an error
            /// otherwise; never a panic.
            #[test]
            fn any_symbols_list_gets_an_answer(list in prop_oneof![
                any::<String>(),
                "((AAPL|MSFT|NOPE|aapl| MSFT |)(,|, )){0,4}(AAPL|MSFT|X.Y|)",
            ]) {
                let hub = hub();
                let items: Vec<&str> = list.split(',').map(str::trim).collect();
                let known = |item: &&str| *item == "AAPL" || *item == "MSFT";
                match symbol_filter(Some(&list), &hub) {
                    Ok(Some(filter)) => {
                        prop_assert!(items.iter().all(known));
                        let expected: HashSet<&str> = items.iter().copied().collect();
                        let got: HashSet<&str> = filter.iter().map(Symbol::as_str).collect();
                        prop_assert_eq!(got, expected);
                    }
                    Ok(None) => prop_assert!(false, "a list is never no filter"),
                    Err(ParamsError::UnknownSymbols { named: unknown, count }) => {
                        prop_assert!(!unknown.is_empty() && count >= unknown.len());
                        prop_assert!(unknown.iter().all(|u| items.contains(&u.as_str()) && !known(&u.as_str())));
                    }
                    Err(ParamsError::MalformedSymbols { list: quoted, .. }) => {
                        prop_assert!(quoted.chars().count() <= 100);
                        prop_assert!(items.iter().any(|item| item.parse::<Symbol>().is_err()));
                    }
                    Err(other) => prop_assert!(false, "unexpected {other}"),
                }
            }
        }
    }
}
