//! The data tickertape moves around: symbols, prices, quotes and snapshots.
//!
//! These types are shared by the server (which produces them) and the browser (which
//! shows them), so both sides agree on the wire format: camelCase JSON, as carried by
//! `priceUpdate` events and `GET /api/snapshot`. Values are checked when they are
//! parsed or deserialized, so code holding a [`Symbol`] or a [`Price`] can trust it.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr, sync::Arc};

/// The longest symbol accepted, in characters.
pub const MAX_SYMBOL_LEN: usize = 12;

/// The heartbeat interval, in milliseconds, unless the server is told
/// otherwise (`--heartbeat-ms`); the dashboard assumes it until the first
/// heartbeat says.
pub const DEFAULT_HEARTBEAT_MS: u64 = 5000;

/// The server's routes: served by the server, called by the browser.
pub mod route {
    /// The price stream, Server-Sent Events.
    pub const EVENTS: &str = "/events";
    /// The current prices, JSON.
    pub const SNAPSHOT: &str = "/api/snapshot";
    /// A symbol's candles, JSON.
    pub const CANDLES: &str = "/api/candles";
    /// What operators watch, JSON.
    pub const STATS: &str = "/api/stats";
    /// Publishing prices.
    pub const PRICES: &str = "/api/prices";
    /// The counters, OpenMetrics text.
    pub const METRICS: &str = "/metrics";
    /// Whether the instance serves.
    pub const HEALTHZ: &str = "/healthz";
}

/// A ticker symbol such as `AAPL` or `BRK.B`: 1 to 12 of `A-Z`, `0-9`, `.` and `-`.
///
/// Cheap to clone (the text is shared).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(Arc<str>);

/// Why a text is not a [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// The text was empty.
    #[error("a symbol cannot be empty")]
    Empty,
    /// The text was longer than [`MAX_SYMBOL_LEN`].
    #[error("symbol {0:?} is longer than {MAX_SYMBOL_LEN} characters")]
    TooLong(String),
    /// The text held a character outside `A-Z`, `0-9`, `.` and `-`.
    #[error("symbol {0:?} may only contain A-Z, 0-9, '.' and '-'")]
    BadCharacter(String),
}

impl Symbol {
    /// The symbol's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;

    /// Parses a symbol exactly as given: lower-case letters are rejected, not folded,
    /// so that one symbol has one spelling everywhere.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(SymbolError::Empty);
        }
        if text.chars().count() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(text.to_owned()));
        }
        let allowed =
            |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-';
        if !text.chars().all(allowed) {
            return Err(SymbolError::BadCharacter(text.to_owned()));
        }
        Ok(Self(text.into()))
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0.as_ref().to_owned()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A price: a number from [`Price::MIN`] to [`Price::MAX`]. The range keeps
/// every derived number finite: `change` and `changePct` of any two prices in
/// it (at most 10^23) never overflow, so no `null` is ever written for them.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Price(f64);

/// Why a number is not a [`Price`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("a price must be a number from 0.000000001 to 1000000000000 (1e-9 to 1e12), not {0}")]
pub struct PriceError(pub f64);

impl Price {
    /// One cent, the smallest price the simulator quotes.
    pub const MIN_TICK: Self = Self(0.01);

    /// The smallest price accepted.
    pub const MIN: f64 = 1e-9;

    /// The largest price accepted.
    pub const MAX: f64 = 1e12;

    /// Checks that `value` is within [`Price::MIN`]..=[`Price::MAX`] (so finite).
    pub fn new(value: f64) -> Result<Self, PriceError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(PriceError(value))
        }
    }

    /// The price as a number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Price {
    type Error = PriceError;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Price> for f64 {
    fn from(price: Price) -> Self {
        price.0
    }
}

/// The server run an [`EventId`] belongs to: chosen at random each time the
/// server starts, so an id from an earlier run (or another server) is never
/// mistaken for a position in this one. Written as 8 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunId(pub u32);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The id of an event on the price stream: the server run and the position in it,
/// written `<run>-<seq>` such as `3f9a0c21-42` (in `id:` fields and in JSON).
///
/// Positions count published price updates from 0 (nothing published yet) and
/// increase by one per update within a run. A client hands the id back to resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId {
    /// The server run.
    pub run: RunId,
    /// The position within the run.
    pub seq: u64,
}

/// Why a text is not an [`EventId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an event id (expected <8 hex digits>-<number>, such as 3f9a0c21-42)")]
pub struct EventIdError(pub String);

impl EventId {
    /// The start of run `run`, before its first update.
    pub fn start(run: RunId) -> Self {
        Self { run, seq: 0 }
    }

    /// The id that follows this one.
    #[must_use]
    pub fn next(self) -> Self {
        Self {
            run: self.run,
            seq: self.seq + 1,
        }
    }

    /// Whether `self` comes right after `previous` on an unfiltered stream.
    pub fn follows(self, previous: Self) -> bool {
        self == previous.next()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.run, self.seq)
    }
}

impl FromStr for EventId {
    type Err = EventIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || EventIdError(text.chars().take(64).collect());
        let (run, seq) = text.split_once('-').ok_or_else(invalid)?;
        let hex =
            |s: &str| s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !hex(run) || !digits(seq) {
            return Err(invalid());
        }
        Ok(Self {
            run: RunId(u32::from_str_radix(run, 16).map_err(|_| invalid())?),
            seq: seq.parse().map_err(|_| invalid())?,
        })
    }
}

impl TryFrom<String> for EventId {
    type Error = EventIdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> Self {
        id.to_string()
    }
}

/// The name of the SSE event that carries the full state: a [`Snapshot`].
pub const SNAPSHOT_EVENT: &str = "snapshot";

/// The name of the SSE event that carries one [`Quote`].
pub const PRICE_UPDATE_EVENT: &str = "priceUpdate";

/// The name of the SSE event that carries a [`Heartbeat`].
pub const HEARTBEAT_EVENT: &str = "heartbeat";

/// The latest price of one symbol, with the session's open, high and low and its
/// change against the open.
///
/// This is the `data:` of a `priceUpdate` event and an element of [`Snapshot::quotes`]:
///
/// ```json
/// {"symbol":"AAPL","price":189.53,"open":190.0,"high":190.12,"low":189.4,
///  "change":-0.47,"changePct":-0.25,"ts":1763900000000}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// The ticker symbol.
    pub symbol: Symbol,
    /// The latest price.
    pub price: Price,
    /// The session's first price.
    pub open: Price,
    /// The session's highest price.
    pub high: Price,
    /// The session's lowest price.
    pub low: Price,
    /// `price` minus `open`.
    pub change: f64,
    /// `change` as a percentage of `open`.
    pub change_pct: f64,
    /// When the price was published, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// In a [`Snapshot`] only: the symbol's last prices (at most
    /// [`RECENT_PRICES`]), oldest first, ending with `price`. Empty (and left out
    /// of the JSON) in a `priceUpdate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Price>,
}

impl Quote {
    /// The first quote of `symbol` in a session: it opens at `price`.
    pub fn opening(symbol: Symbol, price: Price, ts: u64) -> Self {
        Self {
            symbol,
            price,
            open: price,
            high: price,
            low: price,
            change: 0.0,
            change_pct: 0.0,
            ts,
            recent: Vec::new(),
        }
    }

    /// The same symbol moved to `price` at `ts`, in the same session.
    #[must_use]
    pub fn moved_to(&self, price: Price, ts: u64) -> Self {
        let open = self.open.get();
        // To the most decimals a price is shown with: a change of 0.00045
        // in 1.08345 is not 0.00.
        let change = round_to(price.get() - open, 8);
        Self {
            symbol: self.symbol.clone(),
            price,
            open: self.open,
            high: if price > self.high { price } else { self.high },
            low: if price < self.low { price } else { self.low },
            change,
            change_pct: round_cents(change / open * 100.0),
            ts,
            recent: Vec::new(),
        }
    }
}

fn round_cents(value: f64) -> f64 {
    round_to(value, 2)
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// How many recent prices per symbol a [`Snapshot`] carries (for sparklines).
pub const RECENT_PRICES: usize = 60;

/// The current price of every symbol: the `data:` of a `snapshot` event, the body
/// of `GET /api/snapshot`, and what the server renders into the first HTML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The id of the last update the snapshot includes; the stream continues
    /// with the update after it.
    pub last_event_id: EventId,
    /// When the snapshot was taken: the server's clock, in milliseconds since the
    /// Unix epoch.
    pub time: u64,
    /// One quote per symbol, in the configured order, each with its `recent`
    /// prices.
    pub quotes: Vec<Quote>,
}

/// The `data:` of a `heartbeat` event, sent every few seconds whatever the traffic.
///
/// ```json
/// {"time":1763900000000,"lastEventId":"3f9a0c21-42","intervalMs":5000,"retryMs":1000}
/// ```
///
/// With `"feed":"interrupted"` added while a cluster's broker is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// The server's clock, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The id this stream has delivered everything up to (also the event's `id:`).
    pub last_event_id: EventId,
    /// How often heartbeats come, in milliseconds.
    pub interval_ms: u64,
    /// The base reconnection delay, in milliseconds (the `retry:` field jitters
    /// around it): how long a client waits before its first reconnection attempt.
    pub retry_ms: u64,
    /// Set only when the server has lost its feed (a cluster's broker is
    /// unreachable): the stream is open, but no prices can come until it is back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<FeedState>,
}

/// What a heartbeat says of the server's feed when something is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FeedState {
    /// The broker cannot be reached: prices published meanwhile come when it is back.
    Interrupted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_accept_tickers_and_reject_everything_else() {
        for ok in ["AAPL", "BRK.B", "BF-B", "X", "ABCDEFGHIJKL", "7203"] {
            assert_eq!(
                ok.parse::<Symbol>().map(|s| s.to_string()),
                Ok(ok.to_owned())
            );
        }
        assert_eq!("".parse::<Symbol>(), Err(SymbolError::Empty));
        assert!(matches!(
            "ABCDEFGHIJKLM".parse::<Symbol>(),
            Err(SymbolError::TooLong(_))
        ));
        for bad in ["aapl", "AA PL", "AAPL,", "ÄPFEL", "A/B"] {
            assert!(
                matches!(bad.parse::<Symbol>(), Err(SymbolError::BadCharacter(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn prices_must_be_finite_and_positive() {
        assert_eq!(Price::new(0.01).map(Price::get), Ok(0.01));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Price::new(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn quotes_use_camel_case_json_and_validate_on_the_way_in() {
        let price = |value| Price::new(value).unwrap();
        let quote = Quote::opening("AAPL".parse().unwrap(), price(190.0), 1_763_899_000_000)
            .moved_to(price(190.12), 1_763_899_500_000)
            .moved_to(price(189.4), 1_763_899_800_000)
            .moved_to(price(189.53), 1_763_900_000_000);
        let json = serde_json::to_string(&quote).unwrap();
        assert_eq!(
            json,
            r#"{"symbol":"AAPL","price":189.53,"open":190.0,"high":190.12,"low":189.4,"change":-0.47,"changePct":-0.25,"ts":1763900000000}"#
        );
        assert_eq!(serde_json::from_str::<Quote>(&json).unwrap(), quote);

        let bad = json.replace("AAPL", "aapl");
        assert!(serde_json::from_str::<Quote>(&bad).is_err());
        let bad = json.replace("189.53", "-1");
        assert!(serde_json::from_str::<Quote>(&bad).is_err());
    }

    #[test]
    fn event_ids_name_the_run_and_the_position() {
        let id = EventId {
            run: RunId(0x3f9a_0c21),
            seq: 42,
        };
        assert_eq!(id.to_string(), "3f9a0c21-42");
        assert_eq!("3f9a0c21-42".parse(), Ok(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""3f9a0c21-42""#);
        assert!(id.next().follows(id));
        assert!(!id.follows(id));
        let other_run = EventId {
            run: RunId(1),
            ..id.next()
        };
        assert!(!other_run.follows(id));
        for bad in [
            "",
            "42",
            "3f9a0c21-",
            "3F9A0C21-42",
            "3f9a0c2-42",
            "3f9a0c21-4x",
            "3f9a0c21--1",
            "3f9a0c21-99999999999999999999",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} was accepted");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Every id reads back as itself.
            #[test]
            fn ids_round_trip(run in any::<u32>(), seq in any::<u64>()) {
                let id = EventId { run: RunId(run), seq };
                prop_assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
            }

            /// Whatever a `Last-Event-ID` header holds, parsing answers without
            /// panicking, and what it accepts is a well-formed id.
            #[test]
            fn any_last_event_id_gets_an_answer(text in prop_oneof![
                any::<String>(),
                "[0-9a-f]{8}-[0-9]{1,22}",
                "[0-9a-fA-F]{0,9}-?[0-9+-]{0,5}",
            ]) {
                match text.parse::<EventId>() {
                    Ok(id) => {
                        prop_assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
                        let prefix = format!("{}-", id.run);
                        prop_assert!(text.starts_with(&prefix));
                    }
                    Err(error) => prop_assert!(error.0.chars().count() <= 64),
                }
            }

            /// A symbol is accepted exactly when it is 1 to 12 of A-Z 0-9 . -
            #[test]
            fn symbols_follow_their_rule(text in prop_oneof![any::<String>(), "[A-Z0-9.-]{0,14}", "[A-Za-z0-9._ -]{1,12}"]) {
                let valid = (1..=MAX_SYMBOL_LEN).contains(&text.chars().count())
                    && text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-');
                prop_assert_eq!(text.parse::<Symbol>().is_ok(), valid);
            }
        }
    }
}
