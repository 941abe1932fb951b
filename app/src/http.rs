//! The browser's HTTP calls besides the stream itself: asking why a stream
//! was refused, and the `fetch` the followers' snapshots use.
//!
//! Only compiled for the browser (`hydrate`).

use crate::{sinks::Sinks, status::Connection};
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
async fn head(url: &str) -> Option<(u16, Option<f64>)> {
    let response = fetch(url, "HEAD").await?;
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

/// The server's answer to `method url`, or `None` when it did not answer.
///
/// The browser's `fetch` through web-sys, not gloo-net: gloo-net's `Request`
/// for this and the follower's snapshot puts the front end at 151.2 KB gzip'd,
/// over its 150 KB budget (149.2 KB this way; `make weight`, 2026-12-02).
pub(crate) async fn fetch(url: &str, method: &str) -> Option<web_sys::Response> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let promise = web_sys::window()?.fetch_with_str_and_init(url, &init);
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// The body of `GET url`, or `None` when the server did not answer 2xx.
pub(crate) async fn fetch_text(url: &str) -> Option<String> {
    let response = fetch(url, "GET").await.filter(web_sys::Response::ok)?;
    wasm_bindgen_futures::JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
}
