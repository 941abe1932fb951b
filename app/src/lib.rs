//! The tickertape dashboard, shared by the server (which renders it to HTML) and the
//! browser (which hydrates it and keeps it live).
//!
//! # Layout
//! - [`model`]: the wire types (`Quote`, `Snapshot`, `Heartbeat`, `EventId`), with
//!   validated `Symbol` and `Price`.
//! - [`table`]: the ticker table's state, one signal per row.
//! - [`sort`]: the viewer's sort column and filter.
//! - [`watchlist`]: the symbols the viewer chose to stream.
//! - [`meter`]: updates per second, latency and the server's clock offset.
//! - [`sync`]: following event ids across reconnections: resumed, resynced or a gap.
//! - [`status`]: the connection state machine behind the status indicator.
//! - [`format`]: how prices, changes and times read.
//! - [`dashboard`]: the components.
//! - `stream` (browser only): the `EventSource` that feeds the table.
//!
//! Build it with the `ssr` feature for the server and `hydrate` for the browser.

pub mod dashboard;
pub mod format;
pub mod meter;
pub mod model;
pub mod sort;
pub mod status;
#[cfg(feature = "hydrate")]
mod stream;
pub mod sync;
pub mod table;
pub mod watchlist;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    StaticSegment,
    components::{Route, Router, Routes},
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: the dashboard at `/`.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/tickertape.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Live market prices, streamed." />
        <Title text="tickertape" />
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=dashboard::Dashboard />
            </Routes>
        </Router>
    }
}
