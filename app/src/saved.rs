//! What the browser keeps for the viewer: the watchlist (in `localStorage`,
//! mirrored in the cookie the server renders the page with) and the price
//! alerts (in `localStorage`).
//!
//! Only compiled for the browser (`hydrate`).

use crate::{
    alerts::{self, Alert},
    table::Table,
    watchlist::{COOKIE, STORAGE_KEY, Watchlist},
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The watchlist kept in `localStorage` (every symbol when there is none).
pub(crate) fn load() -> Watchlist {
    storage()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .map(|text| Watchlist::parse(&text))
        .unwrap_or_default()
}

/// Keeps `list` in `localStorage` and mirrors it in the cookie the server
/// renders the page with.
pub(crate) fn save(list: &Watchlist) {
    let stored = list.stored();
    if let Some(storage) = storage() {
        let saved = if list.is_all() {
            storage.remove_item(STORAGE_KEY)
        } else {
            storage.set_item(STORAGE_KEY, &stored)
        };
        if let Err(error) = saved {
            crate::warn_js("could not save the watchlist:", &error);
        }
    }
    // Over HTTPS every cookie is Secure, the server's and this one.
    let secure = if window().location().protocol().is_ok_and(|p| p == "https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = if list.is_all() {
        format!("{}=; Path=/; Max-Age=0; SameSite=Lax{secure}", COOKIE)
    } else {
        format!(
            "{}={stored}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
            COOKIE
        )
    };
    let document: web_sys::HtmlDocument = document().unchecked_into();
    if let Err(error) = document.set_cookie(&cookie) {
        crate::warn_js("could not set the watchlist cookie:", &error);
    }
}

/// Where the alerts are kept.
const ALERTS_KEY: &str = "tickertape.alerts";

/// The alerts kept in `localStorage`, armed by the prices in `table`.
pub(crate) fn load_alerts(table: Table) -> Vec<Alert> {
    let Some(text) = storage().and_then(|s| s.get_item(ALERTS_KEY).ok().flatten()) else {
        return Vec::new();
    };
    alerts::parse(
        &text,
        |number| Some(js_sys::Number::parse_float(number)),
        |symbol| {
            table
                .row(symbol)
                .map(|row| row.with_untracked(|r| r.quote.price.get()))
        },
    )
}

/// Keeps `list` in `localStorage`.
pub(crate) fn save_alerts(list: &[Alert]) {
    let text = alerts::stored(list, |level| {
        js_sys::Number::from(level)
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_default()
    });
    if let Some(storage) = storage() {
        let saved = if list.is_empty() {
            storage.remove_item(ALERTS_KEY)
        } else {
            storage.set_item(ALERTS_KEY, &text)
        };
        if let Err(error) = saved {
            crate::warn_js("could not save the alerts:", &error);
        }
    }
}

/// Whether alerts are kept.
pub(crate) fn has_alerts() -> bool {
    storage().is_some_and(|s| s.get_item(ALERTS_KEY).ok().flatten().is_some())
}
