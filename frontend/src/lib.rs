//! The browser entry point: hydrates the server-rendered dashboard.
//!
//! cargo-leptos builds this crate to WASM and the page's hydration script calls
//! [`hydrate`] once the bundle has loaded.

#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Takes over the server-rendered HTML and makes it live.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
