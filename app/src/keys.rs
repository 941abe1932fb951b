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
    detail,
    dom::{element, on, row},
    model::Symbol,
    screen::{Controls, FILTER_ID, KEYS_ID, Screen},
};
use leptos::{lazy, prelude::*};
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
        leptos::task::spawn_local(ticked(view, controls, event));
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
    // Alerts kept from an earlier visit are checked from the start.
    if crate::saved::has_alerts() {
        first_use(view);
    }
}

/// A box of the watchlist ticked or unticked: loaded on first use, as a
/// WASM chunk of its own (0.17 KB of the first load less, `make weight`).
#[lazy]
fn ticked(view: Screen, controls: Controls, event: Event) {
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
        "?" if !in_filter => show_keys(),
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
            Some("export") => {
                leptos::task::spawn_local(detail::run(view, detail::Ask::ExportCsv));
            }
            Some("keys") => {
                show_keys();
            }
            _ => {}
        }
        return;
    }
    if let Some(symbol) =
        closest("tbody tr[data-symbol]").and_then(|row| row.get_attribute("data-symbol"))
    {
        select(view, &symbol);
        open(view, symbol);
    }
}

/// Opens `symbol`'s detail.
fn open(view: Screen, symbol: String) {
    first_use(view);
    view.detail.set(Some(symbol));
}

thread_local! {
    static LOADING: Cell<bool> = const { Cell::new(false) };
}

/// Loads what the page shows on first use (`crate::detail`, a WASM chunk of
/// its own), once: it takes over the detail and the fired alerts, and
/// follows the page's signals.
fn first_use(view: Screen) {
    if !LOADING.replace(true) {
        leptos::task::spawn_local(detail::run(view, detail::Ask::Mount));
    }
}

/// Opens the list of keys (a modal `<dialog>` the server rendered).
fn show_keys() -> bool {
    let dialog = element(&format!("#{KEYS_ID}"))
        .and_then(|d| d.dyn_into::<web_sys::HtmlDialogElement>().ok());
    dialog.is_some_and(|d| d.open() || d.show_modal().is_ok())
}

/// Moves the selection `by` rows (from the first or last when none is
/// selected).
fn step(view: Screen, by: i32) -> bool {
    let next = view.shown.with_untracked(|shown| {
        let at = view.selected.with_untracked(|s| {
            s.as_deref()
                .and_then(|s| shown.iter().position(|x| x.as_str() == s))
        });
        let last = shown.len().checked_sub(1)?;
        let index = match (at, by > 0) {
            (None, true) => 0,
            (None, false) => last,
            (Some(at), true) => (at + 1).min(last),
            (Some(at), false) => at.saturating_sub(1),
        };
        shown.get(index).map(ToString::to_string)
    });
    let Some(next) = next else {
        return false;
    };
    select(view, &next);
    true
}

/// Selects `symbol`'s row (`aria-selected`, the one row in the tab order)
/// and puts the focus on it, which scrolls it into view.
fn select(view: Screen, symbol: &str) {
    if let Some(old) = view.selected.get_untracked().and_then(|old| row(&old)) {
        let _ = old.remove_attribute("aria-selected");
        let _ = old.set_attribute("tabindex", "-1");
    }
    if let Some(new) = row(symbol) {
        let _ = new.set_attribute("aria-selected", "true");
        let _ = new.set_attribute("tabindex", "0");
        let _ = new.focus();
    }
    view.selected.set(Some(symbol.to_owned()));
}
