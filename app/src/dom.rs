//! Small helpers over the page's elements and events, for the code that works
//! with the DOM directly (`keys`, and the controller's browser events).
//!
//! Only compiled for the browser (`hydrate`).

use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{Event, EventTarget, HtmlElement};

/// Calls `f` on every `name` event of `target`, for as long as the page lives.
pub(crate) fn on(target: &EventTarget, name: &str, f: impl Fn(Event) + 'static) {
    listen(target, name, Box::new(f));
}

/// [`on`]'s work, with `f` boxed: one copy of it in the bundle, not one per
/// listener.
fn listen(target: &EventTarget, name: &str, f: Box<dyn Fn(Event)>) {
    let listener = Closure::wrap(f);
    match target.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref()) {
        Ok(()) => listener.forget(),
        Err(error) => crate::warn_js(&format!("no {name} listener:"), &error),
    }
}

/// The first element `selector` matches.
pub(crate) fn element(selector: &str) -> Option<HtmlElement> {
    document()
        .query_selector(selector)
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<HtmlElement>().ok())
}

/// `symbol`'s row in the table.
pub(crate) fn row(symbol: &str) -> Option<HtmlElement> {
    element(&format!("tbody tr[data-symbol=\"{symbol}\"]"))
}

/// Puts the focus on `symbol`'s row (which scrolls it into view).
pub(crate) fn focus_row(symbol: &str) {
    if let Some(row) = row(symbol) {
        if !row.has_attribute("tabindex") {
            let _ = row.set_attribute("tabindex", "-1");
        }
        let _ = row.focus();
    }
}
