//! The browser entry point: hydrates the server-rendered dashboard.
//!
//! cargo-leptos builds this crate to WASM and the page's hydration script calls
//! [`hydrate`] once the bundle has loaded.

#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Takes over the server-rendered HTML and makes it live.
#[wasm_bindgen]
pub fn hydrate() {
    // In a debug build (`cargo leptos watch`), a panic's message, with its
    // file and line, on the console. A release build leaves it out: 0.5 KB
    // of the first load (`make weight`), which paid, with the HTTP calls
    // loaded on first use, for the detail's stub; its panics show on the
    // console as "RuntimeError: unreachable", with the JavaScript stack.
    #[cfg(debug_assertions)]
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    leptos::mount::hydrate_body(app::App);
}
