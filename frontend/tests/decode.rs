//! The dashboard reads the stream's JSON with the browser's `JSON.parse`
//! (`app::decode`), not serde, to keep the WASM small. This ties that reader to
//! the wire types: every message type, as the server encodes it (serde, the
//! same `Serialize` impls `server/src/wire.rs` writes), read back into the
//! value it came from. Runs in Node: `cargo test -p frontend --target
//! wasm32-unknown-unknown` (the runner is set in `.cargo/config.toml`).

use app::{
    dashboard::PageData,
    decode,
    model::{EventId, FeedState, Heartbeat, Price, Quote, RunId, Snapshot},
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
