//! The ticker table: one keyed row per symbol, in the viewer's order, each
//! re-rendering only its own cells.

// `#[component]` makes its props `pub`, whatever the function's visibility.
#![allow(unreachable_pub)]

use crate::{
    format,
    model::Symbol,
    screen::{Screen, server_only, text},
    sort::{Column, Sort},
    table::{Row, Table},
};
use leptos::prelude::*;

/// The table of quotes, one keyed row per symbol, in the viewer's order.
#[component]
pub(super) fn TickerTable(view: Screen) -> impl IntoView {
    let Screen {
        table,
        sort,
        shown: order,
        ..
    } = view;
    let heading = move |column: Column| {
        let class = match column {
            Column::Symbol => "symbol",
            Column::Price => "num price",
            Column::Change => "num change wide-only",
            Column::ChangePct => "num pct",
            Column::High | Column::Low => "num wide-only",
            Column::Updated => "age",
        };
        view! {
            <th scope="col" class=class title=server_only(column.hint()) aria-sort=text(move || sort.get().aria(column).to_owned())>
                <button type="button" class="sort" on:click=move |_| sort.update(|s| *s = s.toggled(column))>
                    {column.label()}
                    <span class="sort-mark" aria-hidden="true">
                        {text(move || match sort.get().aria(column) {
                            "ascending" => "↑",
                            "descending" => "↓",
                            _ => "",
                        }.to_owned())}
                    </span>
                </button>
            </th>
        }
    };
    view! {
        <div class="table-wrap">
            <table class="tickers" data-testid="ticker-table">
                <caption class="visually-hidden" inner_html=server_only("Latest prices; the column headings sort the table")></caption>
                <thead>
                    <tr>
                        {heading(Column::Symbol)}
                        {heading(Column::Price)}
                        <th scope="col" class="tick" title=server_only("The last move") inner_html=server_only(r#"<span class="visually-hidden">Last move</span>"#)></th>
                        {heading(Column::Change)}
                        {heading(Column::ChangePct)}
                        {heading(Column::High)}
                        {heading(Column::Low)}
                        <th scope="col" class="spark" title=server_only("The last 60 prices, coloured as Change is") inner_html=server_only("Trend")></th>
                        {heading(Column::Updated)}
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || order.get()
                        key=Symbol::clone
                        children=move |symbol| {
                            table.row(&symbol).map(|row| view! { <QuoteRow symbol row view /> })
                        }
                    />
                </tbody>
            </table>
            <Show when=move || order.with(Vec::is_empty) && !table.symbols().is_empty()>
                <p class="empty">"No symbol matches the filter."</p>
            </Show>
            <Show when=move || table.symbols().is_empty()>
                <p class="empty" data-testid="no-prices">
                    "No prices yet: rows appear as the first prices are published."
                </p>
            </Show>
        </div>
    }
}

/// The rows shown, in the order shown: `table`'s symbols, `filter`ed and in
/// the viewer's `sort`.
pub(crate) fn shown(
    table: Table,
    sort: RwSignal<Sort>,
    filter: RwSignal<String>,
    clock: RwSignal<f64>,
) -> Memo<Vec<Symbol>> {
    // A live column re-sorts every few seconds, not on every update: rows that
    // jump every second are hard to follow, and each re-sort moves rows.
    let resort = Memo::new(move |_| (clock.get() / RESORT_EVERY_MS).floor() as u64);
    Memo::new(move |_| {
        let sort = sort.get();
        if sort.column().is_some_and(Column::is_live) {
            resort.get();
        }
        let symbols = table.symbols();
        filter.with(|filter| {
            let rows = symbols.iter().filter_map(|symbol| {
                let quote = table.row(symbol)?.with_untracked(|r| r.quote.clone());
                Some((symbol, quote))
            });
            sort.apply(rows, filter)
        })
    })
}

/// How often a table sorted by a live column is sorted again, in milliseconds.
const RESORT_EVERY_MS: f64 = 2000.0;

/// The sparkline's drawing box (and its `viewBox`, written out: formatting the
/// numbers would cost the bundle a float printer).
const SPARK_WIDTH: f64 = 60.0;
const SPARK_HEIGHT: f64 = 18.0;
const SPARK_VIEW_BOX: &str = "0 0 60 18";

/// One row: re-renders its own cells when its signal changes, and its age as
/// the clock ticks; nothing else.
#[component]
pub(super) fn QuoteRow(symbol: Symbol, row: RwSignal<Row>, view: Screen) -> impl IntoView {
    let Screen {
        clock,
        offset,
        local_time,
        ..
    } = view;
    let cell = move |f: fn(&Row) -> String| text(move || row.with(f));
    // Coloured as Change is: green and red always mean the move since the open.
    let spark_class =
        cell(|r| format!("sparkline {}", format::trend_class(r.change(), r.decimals)));
    let age = text(move || {
        let now = clock.get() + offset.get().unwrap_or_default();
        format::age(now - row.with(|r| r.quote.ts) as f64)
    });
    let at = text(move || row.with(|r| format::time_of_day(r.quote.ts, local_time.get())));
    view! {
        <tr class=cell(Row::flash_class) data-testid="quote-row" data-symbol=symbol.to_string()>
            <th scope="row" class="symbol">{symbol.to_string()}</th>
            <td class="num price" data-testid="price">{cell(|r| format::price(r.quote.price.get(), r.decimals))}</td>
            // The last move has a column of its own, after the price, so the prices line up.
            <td class=cell(|r| r.tick.class().to_owned()) data-testid="tick">
                <span aria-hidden="true">{cell(|r| r.tick.arrow().to_owned())}</span>
                <span class="visually-hidden">{cell(|r| r.tick.word().to_owned())}</span>
            </td>
            <td class=cell(|r| format!("num change wide-only {}", format::trend_class(r.change(), r.decimals))) data-testid="change">
                {cell(|r| format::change(r.change(), r.decimals))}
            </td>
            <td class=cell(|r| format!("num pct {}", format::trend_class(r.quote.change_pct, 2))) data-testid="change-pct">
                {cell(|r| format::percent(r.quote.change_pct))}
            </td>
            <td class="num wide-only" data-testid="high">{cell(|r| format::price(r.quote.high.get(), r.decimals))}</td>
            <td class="num wide-only" data-testid="low">{cell(|r| format::price(r.quote.low.get(), r.decimals))}</td>
            <td class="spark">
                <svg
                    class=spark_class
                    viewBox=SPARK_VIEW_BOX
                    preserveAspectRatio="none"
                    aria-hidden="true"
                    data-testid="sparkline"
                >
                    <polyline points=cell(|r| {
                        format::sparkline_points(r.recent.iter().copied(), SPARK_WIDTH, SPARK_HEIGHT)
                    }) />
                </svg>
            </td>
            <td class="age" data-testid="updated" title=at>{age}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_view_box_is_its_drawing_box() {
        assert_eq!(SPARK_VIEW_BOX, format!("0 0 {SPARK_WIDTH} {SPARK_HEIGHT}"));
    }

    #[test]
    fn the_legend_and_the_trend_tooltip_count_the_prices_a_sparkline_draws() {
        // Both say "the last 60 prices".
        assert_eq!(crate::model::RECENT_PRICES, 60);
    }
}
