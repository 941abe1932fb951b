//! The dashboard reads the stream's JSON with the browser's `JSON.parse`
//! (`app::decode`), not serde, to keep the WASM small. This ties that reader to
//! the wire types: every message type, as the server encodes it (serde, the
//! same `Serialize` impls `server/src/wire.rs` writes), read back into the
//! value it came from. Runs in Node: `cargo test -p frontend --target
//! wasm32-unknown-unknown` (the runner is set in `.cargo/config.toml`).

use app::{
    candle::{Candle, Candles, Interval},
    decode,
    model::{EventId, FeedState, Heartbeat, Price, Quote, RunId, Snapshot},
    page::PageData,
    watchlist::Watchlist,
};
use wasm_bindgen_test::wasm_bindgen_test;

const ID: EventId = EventId {
    run: RunId(0x3f9a_0c21),
    seq: 42,
};

fn price(value: f64) -> Price {
    Price::new(value).unwrap()
}

/// A quote that moved: every field set, and awkward numbers.
fn quote(symbol: &str, recent: Vec<Price>) -> Quote {
    Quote {
        symbol: symbol.parse().unwrap(),
        price: price(189.53),
        open: price(190.0),
        high: price(190.12),
        low: price(0.01),
        change: -0.47,
        change_pct: -0.247_368_421_052_631_6,
        ts: 1_763_900_000_000,
        recent,
    }
}

/// `value` encoded by serde, then read by `read`, is `value` again.
fn round_trips<T>(value: &T, read: fn(&wasm_bindgen::JsValue) -> Option<T>)
where
    T: serde::Serialize + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    let decoded = decode::parse(&json, read).unwrap_or_else(|| panic!("not read: {json}"));
    assert_eq!(&decoded, value, "{json}");
}

#[wasm_bindgen_test]
fn a_price_update_reads_back_as_the_server_wrote_it() {
    round_trips(&quote("BRK.B", Vec::new()), decode::quote);
}

#[wasm_bindgen_test]
fn a_snapshot_reads_back_with_its_recent_prices() {
    let snapshot = Snapshot {
        last_event_id: ID,
        time: 1_763_900_000_010,
        quotes: vec![
            quote("AAPL", vec![price(190.0), price(189.53)]),
            quote("MSFT", vec![price(189.53)]),
        ],
    };
    round_trips(&snapshot, decode::snapshot);
    round_trips(
        &Snapshot {
            quotes: Vec::new(),
            ..snapshot
        },
        decode::snapshot,
    );
}

#[wasm_bindgen_test]
fn a_heartbeat_reads_back_with_and_without_the_feed_state() {
    let heartbeat = Heartbeat {
        time: 1_763_900_000_012,
        last_event_id: ID,
        interval_ms: 5000,
        retry_ms: 3000,
        feed: None,
    };
    round_trips(&heartbeat, decode::heartbeat);
    round_trips(
        &Heartbeat {
            feed: Some(FeedState::Interrupted),
            ..heartbeat
        },
        decode::heartbeat,
    );
}

#[wasm_bindgen_test]
fn the_page_data_reads_back_with_and_without_a_watchlist() {
    let snapshot = Snapshot {
        last_event_id: ID,
        time: 1,
        quotes: vec![quote("AAPL", vec![price(189.53)])],
    };
    let page = PageData {
        retry_ms: Some(3000),
        ..PageData::new(snapshot.clone(), Watchlist::default())
    };
    round_trips(&page, decode::page);
    let watching = PageData::new(snapshot, Watchlist::only(vec!["AAPL".parse().unwrap()]));
    round_trips(&watching, decode::page);
}

#[wasm_bindgen_test]
fn candles_read_back_as_the_server_wrote_them() {
    let candles = Candles {
        symbol: "EURUSD".parse().unwrap(),
        interval: Interval::FiveMinutes,
        candles: vec![
            Candle {
                t: 1_763_899_800_000,
                open: price(1.0834),
                high: price(1.08412),
                low: price(0.00001234),
                close: price(1.08),
                count: 42,
            },
            Candle::opening(1_763_900_100_000, price(1.0801)),
        ],
        last_event_id: ID,
    };
    round_trips(&candles, decode::candles);
    round_trips(
        &Candles {
            candles: Vec::new(),
            ..candles
        },
        decode::candles,
    );
}

/// `json` with its field at `path` (object keys, `/`-separated) set to `value`,
/// or removed when `value` is `None`.
fn spoiled(json: &serde_json::Value, path: &str, value: Option<serde_json::Value>) -> String {
    let mut json = json.clone();
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    let mut at = &mut json;
    for step in parent.split('/').filter(|step| !step.is_empty()) {
        at = match step.parse::<usize>() {
            Ok(index) => &mut at[index],
            Err(_) => &mut at[step],
        };
    }
    let object = at.as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    json.to_string()
}

#[wasm_bindgen_test]
fn anything_malformed_reads_as_none_never_as_a_wrong_value() {
    use serde_json::json;
    let snapshot = serde_json::to_value(Snapshot {
        last_event_id: ID,
        time: 1_763_900_000_010,
        quotes: vec![quote("AAPL", vec![price(190.0)])],
    })
    .unwrap();
    // Each required field missing, of the wrong type, or out of its range.
    let spoils = [
        ("lastEventId", None),
        ("lastEventId", Some(json!("42"))),
        ("lastEventId", Some(json!(42))),
        ("time", None),
        ("time", Some(json!(-1))),
        ("time", Some(json!(1.5))),
        ("time", Some(json!("1"))),
        ("quotes", None),
        ("quotes", Some(json!({}))),
        ("quotes/0/symbol", None),
        ("quotes/0/symbol", Some(json!("aapl"))),
        ("quotes/0/symbol", Some(json!("THIRTEENCHARS"))),
        ("quotes/0/price", None),
        ("quotes/0/price", Some(json!(0))),
        ("quotes/0/price", Some(json!(-1))),
        ("quotes/0/price", Some(json!(1e13))),
        ("quotes/0/price", Some(json!("1"))),
        ("quotes/0/open", None),
        ("quotes/0/high", Some(json!(null))),
        ("quotes/0/low", Some(json!(true))),
        ("quotes/0/change", None),
        ("quotes/0/changePct", Some(json!("0"))),
        ("quotes/0/ts", Some(json!(-5))),
        ("quotes/0/recent", Some(json!([1, "2"]))),
        ("quotes/0/recent", Some(json!({}))),
    ];
    for (path, value) in spoils {
        let text = spoiled(&snapshot, path, value);
        assert_eq!(decode::parse(&text, decode::snapshot), None, "{text}");
    }
    // Not JSON, or not an object, at all.
    for text in ["", "{", "null", "[]", "\"snapshot\"", "42"] {
        assert_eq!(decode::parse(text, decode::snapshot), None, "{text:?}");
        assert_eq!(decode::parse(text, decode::quote), None, "{text:?}");
        assert_eq!(decode::parse(text, decode::heartbeat), None, "{text:?}");
    }
    let heartbeat = serde_json::to_value(Heartbeat {
        time: 1,
        last_event_id: ID,
        interval_ms: 5000,
        retry_ms: 3000,
        feed: None,
    })
    .unwrap();
    for (path, value) in [
        ("intervalMs", None),
        ("retryMs", Some(json!(-1))),
        ("lastEventId", Some(json!("3f9a0c21"))),
    ] {
        let text = spoiled(&heartbeat, path, value);
        assert_eq!(decode::parse(&text, decode::heartbeat), None, "{text}");
    }
}
