//! The tickertape dashboard, shared by the server (which renders it to HTML) and the
//! browser (which hydrates it and keeps it live).
//!
//! # Layout
//! - [`model`]: the wire types (`Quote`, `Snapshot`, `Heartbeat`, `EventId`), with
//!   validated `Symbol` and `Price`.
//! - [`table`]: the ticker table's state, one signal per row.
//! - [`sort`]: the viewer's sort column and filter.
//! - [`watchlist`]: the symbols the viewer chose to stream.
//! - [`meter`]: updates per second, latency and the server's clock offset (and,
//!   in the browser, the stream's `Meters` that hold them).
//! - [`sync`]: following event ids across reconnections: resumed, resynced or a gap.
//! - [`status`]: the connection state machine behind the status indicator.
//! - [`format`]: how prices, changes and times read.
//! - [`page`]: the page data the server renders from and the browser hydrates with.
//! - [`screen`]: the signals the page is drawn from, and the viewer's controls.
//! - [`dashboard`]: the views (the header, the toolbar, the table).
//! - `controller` (browser only): opens and reopens the stream, ticks the clocks,
//!   carries out the viewer's controls.
//! - `stream` (browser only): the connection: the `EventSource` that feeds the
//!   table and the status, and why it dropped; it hands what it applied to
//!   whoever passes it on (`PassOn`), without knowing the tabs.
//! - `share` (browser only): one stream per browser: the tab holding a Web Lock
//!   leads and passes the events on to the others over a `BroadcastChannel`.
//! - `sinks` (browser only): what a stream writes to; render batching and the
//!   rows' flashes.
//! - `decode` (browser only): reading the stream's JSON with the browser's parser.
//! - `keys`, `dom` (browser only): the keyboard, the page's clicks and the
//!   watchlist's boxes, with the elements directly.
//! - [`csv`]: the table as CSV.
//! - [`candle`], [`chart`], [`alerts`]: a symbol's candles, their chart as
//!   SVG, and the price alerts: what the detail shows, without the DOM.
//! - `detail` (browser only): what loads on first use, as a WASM chunk of its
//!   own: the detail dialog, the fired alerts, the CSV export.
//!
//! Data flows one way, from `model` up: model → decode → sinks → http →
//! stream → share → controller → dashboard (`server/tests/layout.rs` checks it).
//!
//! Build it with the `ssr` feature for the server and `hydrate` for the browser.

// The dashboard's view types nest deeply.
#![recursion_limit = "256"]

pub mod alerts;
pub mod candle;
pub mod chart;
#[cfg(feature = "hydrate")]
mod controller;
pub mod csv;
pub mod dashboard;
#[cfg(feature = "hydrate")]
pub mod decode;
#[cfg(feature = "hydrate")]
mod detail;
#[cfg(feature = "hydrate")]
mod dom;
pub mod format;
#[cfg(feature = "hydrate")]
mod http;
#[cfg(feature = "hydrate")]
mod keys;
pub mod meter;
pub mod model;
pub mod page;
#[cfg(feature = "hydrate")]
mod saved;
pub mod screen;
#[cfg(feature = "hydrate")]
mod share;
#[cfg(feature = "hydrate")]
mod sinks;
pub mod sort;
pub mod status;
#[cfg(feature = "hydrate")]
mod stream;
pub mod sync;
pub mod table;
#[cfg(feature = "hydrate")]
mod taps;
pub mod watchlist;

use leptos::prelude::*;

/// Logs `what` with the browser's own `error` object beside it, which the
/// console shows whole (with its stack). Formatting it with `{:?}` would put
/// wasm-bindgen's value printer in the bundle instead.
#[cfg(feature = "hydrate")]
pub(crate) fn warn_js(what: &str, error: &wasm_bindgen::JsValue) {
    web_sys::console::warn_2(&what.into(), error);
}

/// The HTML document around the app, rendered on the server only: the head is
/// static, so the browser bundle carries no router or head manager (one page, no
/// client-side navigation).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Live market prices, streamed." />
                <meta name="color-scheme" content="light dark" />
                <title>"tickertape"</title>
                <link rel="stylesheet" href="/pkg/tickertape.css" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                {dashboard::page_script()}
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: the dashboard (hydrated in the browser).
#[component]
pub fn App() -> impl IntoView {
    view! { <dashboard::Dashboard /> }
}
