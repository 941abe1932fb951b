//! How tickertape's events look on the wire, built with axum's SSE [`Event`].
//!
//! A stream starts with a `retry:` field and continues with one `priceUpdate` event
//! per price, interleaved with `: keep-alive` comments while it is quiet:
//!
//! ```text
//! retry: 3000
//!
//! event: priceUpdate
//! id: 42
//! data: {"symbol":"AAPL","price":228.61,"change":0.11,"changePct":0.05,"ts":1763900000000}
//!
//! : keep-alive
//!
//! ```

use app::model::{EventId, PRICE_UPDATE_EVENT, Quote};
use axum::response::sse::{Event, KeepAlive};
use std::time::Duration;

/// The text of the keep-alive comment.
pub const KEEP_ALIVE_TEXT: &str = "keep-alive";

/// The first frame of every stream: how long the browser waits before reconnecting.
pub fn retry(delay: Duration) -> Event {
    Event::default().retry(delay)
}

/// A `priceUpdate` event carrying `quote` as camelCase JSON.
pub fn price_update(id: EventId, quote: &Quote) -> Result<Event, serde_json::Error> {
    let json = serde_json::to_string(quote)?;
    Ok(Event::default()
        .event(PRICE_UPDATE_EVENT)
        .id(id.to_string())
        .data(json))
}

/// Keep-alive comments every `interval` while no event is sent, so proxies and
/// browsers do not time the connection out.
pub fn keep_alive(interval: Duration) -> KeepAlive {
    KeepAlive::new().interval(interval).text(KEEP_ALIVE_TEXT)
}
