//! The browser's HTTP calls besides the stream itself: asking why a stream
//! was refused, and the `fetch` the followers' snapshots and the candles use.
//!
//! Both load on first use, as a WASM chunk of their own (`#[lazy]`): a page
//! that never follows another tab, never opens a detail and is never refused
//! needs neither, and they carry gloo-net (2.4 KB gzip'd, `make weight`).
//!
//! Only compiled for the browser (`hydrate`).

use crate::{sinks::Sinks, status::Connection};
use gloo_net::http::{Method, Request, RequestBuilder};
use leptos::{lazy, prelude::*};
use std::{cell::Cell, rc::Rc};

/// What the dashboard says when the server wants a viewer token it lacks.
const TOKEN_NEEDED: &str = "This dashboard needs an access token: open the link you were given \
    (it ends in ?token=…) again.";

/// The server refused the stream `url`, and `EventSource` cannot read the status:
/// ask again with `HEAD` (which opens nothing) and act on the answer. Busy (503):
/// retry after the server's `Retry-After`. No token (401): say so. No answer at
/// all (the server is down), or a yes (2xx: a place freed up between the refusal
/// and the question): retry as for a dropped connection. Anything else (a
/// watchlist the server no longer knows): closed, with the Reconnect button.
pub(crate) fn ask_why(sinks: Sinks, url: String, alive: Rc<Cell<bool>>) {
    leptos::task::spawn_local(ask(sinks, url, alive));
}

/// [`ask_why`]'s work, loaded on first use.
#[lazy]
async fn ask(sinks: Sinks, url: String, alive: Rc<Cell<bool>>) {
    {
        let answer = head(&url).await;
        if !alive.get() {
            return;
        }
        match answer {
            Some((503, retry_after)) => {
                sinks.hold_off.set_value(retry_after);
                sinks.connection.update(Connection::busy);
                sinks.lost.notify();
            }
            None | Some((200..=299, _)) => {
                sinks.connection.update(|c| c.errored(true));
                sinks.lost.notify();
            }
            Some((status, _)) => {
                if status == 401 {
                    sinks.notice.set(Some(TOKEN_NEEDED.to_owned()));
                }
                sinks.connection.update(|c| c.errored(false));
            }
        }
    }
}

/// The status of `HEAD url` and its `Retry-After` in milliseconds, or `None` when
/// the server did not answer.
async fn head(url: &str) -> Option<(u16, Option<f64>)> {
    let response = RequestBuilder::new(url)
        .method(Method::HEAD)
        .send()
        .await
        .ok()?;
    let retry_after = response
        .headers()
        .get("retry-after")
        // Whole seconds (integer parsing: a float parser would weigh ~10 KB).
        .and_then(|seconds| seconds.trim().parse::<u32>().ok())
        .map(|seconds| f64::from(seconds) * 1000.0);
    Some((response.status(), retry_after))
}

/// The body of `GET url`, or `None` when the server did not answer 2xx
/// (gloo-net: 2.4 KB of the first load, 146.1 → 148.5 KB gzip'd, `make weight`).
pub(crate) async fn fetch_text(url: String) -> Option<String> {
    let response = Request::get(&url).send().await.ok()?;
    if !response.ok() {
        return None;
    }
    response.text().await.ok()
}
