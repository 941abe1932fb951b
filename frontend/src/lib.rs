//! The browser entry point: hydrates the server-rendered dashboard.
//!
//! cargo-leptos builds this crate to WASM and the page's hydration script calls
//! [`hydrate`] once the bundle has loaded.

#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Takes over the server-rendered HTML and makes it live.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic's message (with its file and line) on the console.
    // console_error_panic_hook adds a JavaScript stack to it, for 1.0 KB of
    // the first load against this hook's 0.5 KB (`make weight`): the
    // difference paid for part of the keyboard and the CSV export.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    leptos::mount::hydrate_body(app::App);
}
