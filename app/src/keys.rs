//! What the viewer does with the keyboard, the mouse and the watchlist's
//! boxes: ↑/↓ (and k/j) move the selection through the rows shown, Enter (or
//! a click on a row) opens the row's detail, `/` goes to the filter, `?`
//! lists the keys (Esc closes the list or the detail: the browser does it,
//! they are modal `<dialog>`s), the toolbar's Export CSV, and a box of the
//! watchlist ticked or unticked.
//!
//! One listener for each kind of event, on the whole page, and the rows' and
//! the boxes' state written on their elements directly: they carry no
//! handler, signal or attribute of their own for it (each would cost the
//! first load its generic view code).
//!
//! Only compiled for the browser (`hydrate`).

use crate::{
    detail::{self, Ask},
    dom::{element, on},
    model::Symbol,
    screen::{Controls, FILTER_ID, Screen},
};
use leptos::prelude::*;
use std::cell::Cell;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, HtmlInputElement, KeyboardEvent};

/// Listens to the page's keys, clicks and boxes for as long as it lives.
pub(crate) fn listen(view: Screen, controls: Controls) {
    on(&document(), "keydown", move |event| {
        if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
            key(view, event);
        }
    });
    on(&document(), "click", move |event| click(view, &event));
    on(&document(), "change", move |event| {
        let symbol = event
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .filter(|t| t.closest(".watch-boxes").ok().flatten().is_some())
            .and_then(|t| t.get_attribute("data-symbol"))
            .and_then(|s| s.parse::<Symbol>().ok());
        if let Some(symbol) = symbol {
            let next = view
                .symbols
                .with_untracked(|all| view.watchlist.with_untracked(|w| w.toggled(&symbol, all)));
            controls.watch.run(next);
        }
    });
    // The boxes follow the watchlist (this tab's choice, or another tab's).
    Effect::new(move |_| {
        view.watchlist.with(|watchlist| {
            let Ok(boxes) = document().query_selector_all(".watch-boxes input[data-symbol]") else {
                return;
            };
            for i in 0..boxes.length() {
                let Some(input) = boxes
                    .get(i)
                    .and_then(|b| b.dyn_into::<HtmlInputElement>().ok())
                else {
                    continue;
                };
                let Some(symbol) = input
                    .get_attribute("data-symbol")
                    .and_then(|s| s.parse::<Symbol>().ok())
                else {
                    continue;
                };
                input.set_checked(watchlist.watches(&symbol));
                input.set_disabled(watchlist.is_last(&symbol));
            }
        });
    });
    // Alerts kept from an earlier visit are checked from the start, and
    // alerts set in another tab from then on.
    if crate::saved::has_alerts() {
        first_use(view, Ask::Mount);
    }
    on(&window(), "storage", move |_| {
        if crate::saved::has_alerts() {
            first_use(view, Ask::Mount);
        }
    });
}

fn key(view: Screen, event: &KeyboardEvent) {
    if event.default_prevented() || event.ctrl_key() || event.meta_key() || event.alt_key() {
        return;
    }
    let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
    let tag = target.as_ref().map(Element::tag_name).unwrap_or_default();
    let in_filter = target.as_ref().is_some_and(|t| t.id() == FILTER_ID);
    // Typing, and the dialogs, keep their keys; the filter lets the arrows
    // and Enter through to the rows below it.
    let editable = matches!(tag.as_str(), "INPUT" | "SELECT" | "TEXTAREA") && !in_filter;
    let in_dialog = target
        .as_ref()
        .is_some_and(|t| t.closest("dialog").ok().flatten().is_some());
    if editable || in_dialog || view.detail.with_untracked(Option::is_some) {
        return;
    }
    // Enter on a button or a link is theirs.
    let on_row = matches!(tag.as_str(), "TR" | "BODY" | "HTML") || in_filter;
    let handled = match event.key().as_str() {
        "ArrowDown" => step(view, 1),
        "ArrowUp" => step(view, -1),
        "j" if !in_filter => step(view, 1),
        "k" if !in_filter => step(view, -1),
        "Enter" if on_row => match view.selected.get_untracked() {
            Some(symbol) => {
                open(view, symbol);
                true
            }
            None => false,
        },
        "/" if !in_filter => element(&format!("#{FILTER_ID}")).is_some_and(|f| f.focus().is_ok()),
        "?" if !in_filter => {
            first_use(view, Ask::Keys);
            true
        }
        _ => false,
    };
    if handled {
        event.prevent_default();
    }
}

fn click(view: Screen, event: &Event) {
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    let closest = |selector: &str| target.closest(selector).ok().flatten();
    if let Some(action) = closest("[data-action]") {
        match action.get_attribute("data-action").as_deref() {
            Some("export") => first_use(view, Ask::ExportCsv),
            Some("keys") => first_use(view, Ask::Keys),
            _ => {}
        }
        return;
    }
    if let Some(symbol) =
        closest("tbody tr[data-symbol]").and_then(|row| row.get_attribute("data-symbol"))
    {
        open(view, symbol);
    }
}

/// Selects `symbol`'s row and opens its detail.
fn open(view: Screen, symbol: String) {
    first_use(view, Ask::Mount);
    first_use(view, Ask::Select(symbol.clone()));
    view.detail.set(Some(symbol));
}

thread_local! {
    /// Whether what loads on first use took over the detail (or is on its
    /// way to).
    static MOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Asks what loads on first use (`crate::detail`, a WASM chunk of its own)
/// for `what`; it takes over the detail and the fired alerts once. A chunk
/// the server did not give is said on the page, and the next use tries
/// again. (One call of the chunk for all: each costs the first load.)
fn first_use(view: Screen, what: Ask) {
    let mount = matches!(what, Ask::Mount);
    if mount && MOUNTED.replace(true) {
        return;
    }
    leptos::task::spawn_local(async move {
        if detail::run(view, what).await.is_err() {
            if mount {
                MOUNTED.set(false);
                view.detail.set(None);
            }
            view.notice.set(Some(NOT_LOADED.to_owned()));
        }
    });
}

const NOT_LOADED: &str =
    "This part of the dashboard could not be loaded from the server: try again in a moment.";

/// Moves the selection `by` rows (from the first or last when none is
/// selected), when there are rows: the moving itself loads on first use.
fn step(view: Screen, by: i32) -> bool {
    let any = view.shown.with_untracked(|shown| !shown.is_empty());
    if any {
        first_use(view, Ask::Step(by));
    }
    any
}
