//! The viewer's watchlist as the browser keeps it: in `localStorage`, and
//! mirrored in the cookie the server renders the page with.
//!
//! Only compiled for the browser (`hydrate`).

use crate::watchlist::{COOKIE, STORAGE_KEY, Watchlist};
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
