//! Reading the stream's JSON in the browser, with the browser's own `JSON.parse`.
//!
//! The server writes this JSON with serde; reading it with serde in the browser
//! would put a JSON parser, a float printer and a deserializer per type into the
//! bundle (about 12 KB of its gzip'd weight). Values are checked exactly as
//! serde checks them on the server: a [`Symbol`], a [`Price`] and an [`EventId`]
//! are parsed by their own constructors, and anything missing or malformed makes
//! the whole value `None`.

use crate::{
    candle::{Candle, Candles, Interval},
    model::{EventId, FeedState, Heartbeat, Price, Quote, Snapshot, Symbol},
    page::PageData,
    watchlist::Watchlist,
};
use js_sys::{Array, JSON, Reflect};
use wasm_bindgen::JsValue;

/// Parses `text` and reads it with `read`.
pub fn parse<T>(text: &str, read: fn(&JsValue) -> Option<T>) -> Option<T> {
    JSON::parse(text).ok().as_ref().and_then(read)
}

fn field(object: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined())
}

fn number(object: &JsValue, name: &str) -> Option<f64> {
    field(object, name)?.as_f64()
}

fn whole(object: &JsValue, name: &str) -> Option<u64> {
    number(object, name)
        .filter(|n| n.fract() == 0.0 && *n >= 0.0)
        .map(|n| n as u64)
}

fn string(object: &JsValue, name: &str) -> Option<String> {
    field(object, name)?.as_string()
}

fn price(value: &JsValue) -> Option<Price> {
    Price::new(value.as_f64()?).ok()
}

fn symbol(value: &JsValue) -> Option<Symbol> {
    value.as_string()?.parse().ok()
}

fn event_id(object: &JsValue, name: &str) -> Option<EventId> {
    string(object, name)?.parse().ok()
}

/// Every element of the array `value` read with `read`; `None` if one fails.
fn list<T>(value: &JsValue, read: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    if !Array::is_array(value) {
        return None;
    }
    Array::from(value).iter().map(|item| read(&item)).collect()
}

/// A `priceUpdate`'s data, or a quote of a snapshot.
pub fn quote(value: &JsValue) -> Option<Quote> {
    let recent = match field(value, "recent") {
        Some(recent) => list(&recent, price)?,
        None => Vec::new(),
    };
    Some(Quote {
        symbol: symbol(&field(value, "symbol")?)?,
        price: price(&field(value, "price")?)?,
        open: price(&field(value, "open")?)?,
        high: price(&field(value, "high")?)?,
        low: price(&field(value, "low")?)?,
        change: number(value, "change")?,
        change_pct: number(value, "changePct")?,
        ts: whole(value, "ts")?,
        recent,
    })
}

/// A `snapshot`'s data.
pub fn snapshot(value: &JsValue) -> Option<Snapshot> {
    Some(Snapshot {
        last_event_id: event_id(value, "lastEventId")?,
        time: whole(value, "time")?,
        quotes: list(&field(value, "quotes")?, quote)?,
    })
}

/// A `heartbeat`'s data.
pub fn heartbeat(value: &JsValue) -> Option<Heartbeat> {
    Some(Heartbeat {
        time: whole(value, "time")?,
        last_event_id: event_id(value, "lastEventId")?,
        interval_ms: whole(value, "intervalMs")?,
        retry_ms: whole(value, "retryMs")?,
        // Absent while the feed is fine; an unknown state reads as fine.
        feed: string(value, "feed")
            .filter(|state| state == "interrupted")
            .map(|_| FeedState::Interrupted),
    })
}

/// The data the server rendered the page from.
pub fn page(value: &JsValue) -> Option<PageData> {
    let watchlist = match field(value, "watchlist") {
        Some(list) if !list.is_null() => Watchlist::only(self::list(&list, symbol)?),
        _ => Watchlist::default(),
    };
    Some(PageData {
        snapshot: snapshot(&field(value, "snapshot")?)?,
        symbols: list(&field(value, "symbols")?, symbol)?,
        watchlist,
        retry_ms: whole(value, "retryMs"),
    })
}

/// One candle of `/api/candles`.
fn candle(value: &JsValue) -> Option<Candle> {
    Some(Candle {
        t: whole(value, "t")?,
        open: price(&field(value, "open")?)?,
        high: price(&field(value, "high")?)?,
        low: price(&field(value, "low")?)?,
        close: price(&field(value, "close")?)?,
        count: whole(value, "count")?,
    })
}

/// The answer of `/api/candles`.
pub fn candles(value: &JsValue) -> Option<Candles> {
    Some(Candles {
        symbol: symbol(&field(value, "symbol")?)?,
        interval: Interval::parse(&string(value, "interval")?)?,
        candles: list(&field(value, "candles")?, candle)?,
        last_event_id: event_id(value, "lastEventId")?,
    })
}
