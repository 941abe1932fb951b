//! The browser's HTTP calls besides the stream itself: asking why a stream
//! was refused, and the `fetch` the followers' snapshots and the candles use.
//!
//! The snapshot and the candles go through gloo-net, and are only called
//! from what loads on first use (a follower's catch-up, the detail): gloo-net
//! (2.4 KB gzip'd, `make weight`) is not in the first load.
//!
//! Only compiled for the browser (`hydrate`).

use crate::{sinks::Sinks, status::Connection};
use gloo_net::http::Request;
use leptos::prelude::*;
use std::{cell::Cell, rc::Rc};
use wasm_bindgen::JsCast;

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
    leptos::task::spawn_local(async move {
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
    });
}

/// The status of `HEAD url` and its `Retry-After` in milliseconds, or `None` when
/// the server did not answer.
///
/// The browser's `fetch` through web-sys, not gloo-net: this is the page's
/// error path, in the first load (it must work when the server refuses, so
/// it cannot wait for a chunk from it), and gloo-net there would cost the
/// first load 2.4 KB gzip'd (`make weight`).
async fn head(url: &str) -> Option<(u16, Option<f64>)> {
    let init = web_sys::RequestInit::new();
    init.set_method("HEAD");
    let promise = window().fetch_with_str_and_init(url, &init);
    let response: web_sys::Response = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let retry_after = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
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
