//! The toolbar: the filter box and the watchlist.

// `#[component]` makes its props `pub`, whatever the function's visibility.
#![allow(unreachable_pub)]

use crate::{
    screen::{FILTER_ID, Screen},
    watchlist::Watchlist,
};
use leptos::prelude::*;

/// The filter box and the watchlist.
#[component]
pub(super) fn Toolbar(view: Screen) -> impl IntoView {
    let Screen {
        filter,
        symbols,
        watchlist,
        ..
    } = view;
    let shown = move || {
        let all = symbols.with(Vec::len);
        let watched =
            symbols.with(|all| watchlist.with(|w| all.iter().filter(|s| w.watches(s)).count()));
        if watchlist.with(Watchlist::is_all) {
            match all {
                0 => "No symbols yet".to_owned(),
                1 => "Watching 1 symbol".to_owned(),
                _ => format!("Watching all {all} symbols"),
            }
        } else {
            let noun = if all == 1 { "symbol" } else { "symbols" };
            format!("Watching {watched} of {all} {noun}")
        }
    };
    view! {
        <div class="toolbar">
            <label class="filter">
                <span class="visually-hidden">"Filter symbols"</span>
                <input
                    id=FILTER_ID
                    type="search"
                    placeholder="Filter symbols"
                    data-testid="filter"
                    autocomplete="off"
                    spellcheck="false"
                    bind:value=filter
                />
            </label>
            <details class="watchlist" data-testid="watchlist">
                <summary class="button">"Watchlist"</summary>
                <fieldset>
                    <legend>"Symbols to stream"</legend>
                    // Markup, rewritten when a symbol is added; the boxes'
                    // state follows the watchlist, and their changes are read,
                    // by `keys` (as views they took 5.5 KB of the first load, as markup
                    // 2.2 KB; `make weight`).
                    <div class="watch-boxes" inner_html=move || {
                        symbols.with(|all| watchlist.with_untracked(|w| w.checkboxes(all)))
                    }></div>
                </fieldset>
            </details>
            <span class="shown" data-testid="watching">{shown}</span>
            // Both handled by `keys` (one listener for the page's clicks).
            <span class="actions">
                <button type="button" class="button" data-action="export" data-testid="export-csv">
                    "Export CSV"
                </button>
                <button type="button" class="button" data-action="keys" aria-keyshortcuts="?">
                    "Keys"
                </button>
            </span>
        </div>
    }
}
