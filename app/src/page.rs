//! The page's data: what the server renders the dashboard from, carried into
//! the browser for hydration unchanged.

use crate::{
    model::{Snapshot, Symbol},
    watchlist::Watchlist,
};
use serde::{Deserialize, Serialize};

/// What the server renders the page from, carried into hydration unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageData {
    /// The watched symbols' quotes.
    pub snapshot: Snapshot,
    /// Every symbol the server quotes, for the watchlist.
    pub symbols: Vec<Symbol>,
    /// The watchlist the page was rendered with (from the viewer's cookie).
    pub watchlist: Watchlist,
    /// The server's base reconnection delay, so that the dashboard waits as
    /// long as the server asks from its first connection on, not only once a
    /// heartbeat has said it.
    #[serde(rename = "retryMs", default, skip_serializing_if = "Option::is_none")]
    pub retry_ms: Option<u64>,
}

/// What the server tells the page of its pacing (provided as context while
/// rendering).
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// The base reconnection delay, in milliseconds (`--retry-ms`).
    pub retry_ms: u64,
}

impl PageData {
    /// The page for `watchlist` out of the full `snapshot`.
    pub fn new(mut snapshot: Snapshot, watchlist: Watchlist) -> Self {
        let symbols = snapshot.quotes.iter().map(|q| q.symbol.clone()).collect();
        snapshot
            .quotes
            .retain(|quote| watchlist.watches(&quote.symbol));
        Self {
            snapshot,
            symbols,
            watchlist,
            retry_ms: None,
        }
    }

    /// The id of the `<script>` that carries the page data into the browser.
    pub const SCRIPT_ID: &str = "page-data";
}
