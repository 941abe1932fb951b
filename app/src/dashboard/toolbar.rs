//! The toolbar: the filter box and the watchlist.

// `#[component]` makes its props `pub`, whatever the function's visibility.
#![allow(unreachable_pub)]

use crate::{
    model::Symbol,
    screen::{Controls, Screen},
    watchlist::Watchlist,
};
use leptos::prelude::*;

/// The filter box and the watchlist.
#[component]
pub(super) fn Toolbar(view: Screen, controls: Controls) -> impl IntoView {
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
                    <For
                        each=move || symbols.get()
                        key=Symbol::clone
                        children=move |symbol| {
                            let name = symbol.to_string();
                            let checked = {
                                let symbol = symbol.clone();
                                move || watchlist.with(|w| w.watches(&symbol))
                            };
                            let last = {
                                let symbol = symbol.clone();
                                move || watchlist.with(|w| w.is_last(&symbol))
                            };
                            view! {
                                <label class="watch">
                                    <input
                                        type="checkbox"
                                        data-symbol=name.clone()
                                        prop:checked=checked.clone()
                                        checked=checked
                                        disabled=last
                                        on:change=move |_| {
                                            let next = symbols.with(|all| {
                                                watchlist.with(|w| w.toggled(&symbol, all))
                                            });
                                            controls.watch.run(next);
                                        }
                                    />
                                    {name}
                                </label>
                            }
                        }
                    />
                </fieldset>
            </details>
            <span class="shown" data-testid="watching">{shown}</span>
        </div>
    }
}
