//! The dashboard page: a header with the connection status and the stream's
//! figures, a toolbar (filter, watchlist) and the ticker table.

use crate::{
    format,
    model::Symbol,
    page::PageData,
    screen::{Controls, Screen},
    sort::{Column, Sort},
    status::{Connection, Phase},
    sync::{Recovery, StreamSync},
    table::{Row, Table},
    watchlist::Watchlist,
};
use leptos::prelude::*;

/// The page data as a JSON `<script>` for the document's head (server only):
/// the browser reads it before hydrating, so both render the same table.
pub fn page_script() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let json = page_data()
        .and_then(|page| serde_json::to_string(&page).ok())
        // Nothing in it may close the script early.
        .map(|json| json.replace('<', "\\u003c"));
    #[cfg(not(feature = "ssr"))]
    let json: Option<String> = None;
    json.map(|json| {
        view! { <script type="application/json" id=PageData::SCRIPT_ID inner_html=json></script> }
    })
}

/// On the server: the full snapshot the server provides as context, cut to
/// the watchlist in the request's cookie.
#[cfg(feature = "ssr")]
fn page_data() -> Option<PageData> {
    let snapshot = use_context::<crate::model::Snapshot>()?;
    let watchlist = use_context::<http::request::Parts>()
        .and_then(|parts| {
            let header = parts.headers.get(http::header::COOKIE)?.to_str().ok()?;
            crate::watchlist::from_cookie_header(header)
        })
        .unwrap_or_default();
    Some(PageData {
        retry_ms: use_context::<crate::page::Pacing>().map(|pacing| pacing.retry_ms),
        ..PageData::new(snapshot, watchlist)
    })
}

/// In the browser: what the server put in the page's script.
#[cfg(feature = "hydrate")]
fn page_data() -> Option<PageData> {
    let text = document()
        .get_element_by_id(PageData::SCRIPT_ID)?
        .text_content()?;
    crate::decode::parse(&text, crate::decode::page)
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn page_data() -> Option<PageData> {
    None
}

/// The dashboard at `/`.
///
/// On the server it renders the current prices of the viewer's watchlist, so the
/// first HTML already holds the table. In the browser it takes the same data
/// from the page and opens the live stream.
#[component]
pub fn Dashboard() -> impl IntoView {
    let page = page_data();
    let (snapshot, symbols, watchlist, retry_ms) = match page {
        Some(page) => (
            Some(page.snapshot),
            page.symbols,
            page.watchlist,
            page.retry_ms,
        ),
        None => (None, Vec::new(), Watchlist::default(), None),
    };
    let (quotes, last_event_id, time) = match snapshot {
        Some(s) => (s.quotes, Some(s.last_event_id), s.time as f64),
        None => Default::default(),
    };
    let connection = RwSignal::new(Connection::default());
    let view = Screen {
        table: Table::new(quotes),
        connection,
        phase: Memo::new(move |_| connection.with(|c| c.phase)),
        // The stream resumes from the snapshot the page was rendered with.
        sync: RwSignal::new(StreamSync::new(last_event_id)),
        recovery: RwSignal::new(None),
        notice: RwSignal::new(None),
        clock: RwSignal::new(time),
        offset: RwSignal::new(None),
        rate: RwSignal::new(None),
        latency: RwSignal::new(None),
        next_try: RwSignal::new(None),
        local_time: RwSignal::new(false),
        sort: RwSignal::new(Sort::default()),
        filter: RwSignal::new(String::new()),
        symbols: RwSignal::new(symbols),
        watchlist: RwSignal::new(watchlist),
        retry_ms: retry_ms.map(|ms| ms as f64),
    };
    // The server cannot know the viewer's time zone, so the first HTML shows UTC and
    // hydration must render the same; effects run once hydration is done, and this
    // one switches every time shown to the viewer's local time.
    Effect::new(move |_| view.local_time.set(true));

    #[cfg(feature = "hydrate")]
    let controls = crate::controller::start(view);
    #[cfg(not(feature = "hydrate"))]
    let controls = Controls {
        reconnect: Callback::new(|()| {}),
        pause: Callback::new(|()| {}),
        resume: Callback::new(|()| {}),
        watch: Callback::new(|_| {}),
    };

    view! {
        <div class="page" data-phase=text(move || view.phase.get().slug().to_owned())>
            <header class="topbar">
                <h1 class="brand">
                    <span class="brand-mark" aria-hidden="true">"▮▮"</span>
                    "tickertape"
                </h1>
                <StatusBar view controls />
                <Stats view />
            </header>
            <NoticeBar notice=view.notice />
            <main>
                <Toolbar view controls />
                <TickerTable view />
            </main>
            <footer class="footnote" data-testid="legend">
                <p>
                    <span class="tick-up" aria-hidden="true">"▲"</span>
                    <span class="tick-down" aria-hidden="true">"▼"</span>
                    " and a lit price: the last move. "
                    <span class="up">"Green"</span>" and "<span class="down">"red"</span>
                    ": the move since the session opened, in Change, Change % and the trend line "
                    "(the last 60 prices). High and low are the session's."
                </p>
                <p>
                    "Latency is from publication on the server to this screen; "
                    "times are your local time."
                </p>
            </footer>
        </div>
    }
}

/// The status pill (announced to screen readers), the countdown to the next
/// reconnection attempt, how the stream came back, and pause / reconnect.
#[component]
fn StatusBar(view: Screen, controls: Controls) -> impl IntoView {
    let Screen {
        connection,
        phase,
        recovery,
        next_try,
        clock,
        ..
    } = view;
    // How the stream came back: after a reconnect or a pause, or whenever it
    // had to resync; only while it is live (beside a Reconnecting pill it
    // would be about an older connection).
    let came_back = move || {
        if phase.get() != Phase::Live {
            return None;
        }
        let reconnected = connection.with(|c| c.reopened);
        recovery
            .get()
            .filter(|r| reconnected || *r == Recovery::Resynced)
            .map(Recovery::describe)
    };
    let countdown = move || {
        let at = next_try.get()?;
        (phase.get() == Phase::Reconnecting)
            .then(|| format!("next try in {}", format::countdown(at - clock.get())))
    };
    let paused = move || phase.get() == Phase::Paused;
    view! {
        // The pause button first and the pill's followers only in trouble, so the
        // pill changing its words (Connecting… to Live) moves nothing else.
        <div class="statusbar">
            <button
                class="button pause"
                type="button"
                data-testid="pause"
                aria-pressed=text(move || paused().to_string())
                on:click=move |_| {
                    if paused() { controls.resume.run(()) } else { controls.pause.run(()) }
                }
            >
                {text(move || if paused() { "Resume" } else { "Pause" }.to_owned())}
            </button>
            <div
                class=text(move || connection.with(Connection::classes))
                data-testid="connection-status"
                data-state=text(move || phase.get().slug().to_owned())
                role="status"
                aria-live="polite"
            >
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-text">{text(move || connection.with(Connection::describe))}</span>
            </div>
            // Outside the live region: a countdown read out every second is noise.
            <Show when=move || countdown().is_some()>
                <span class="next-try" data-testid="next-try">{text(move || countdown().unwrap_or_default())}</span>
            </Show>
            <Show when=move || came_back().is_some()>
                <span class="recovery" data-testid="recovery" aria-live="polite">{text(move || came_back().unwrap_or_default())}</span>
            </Show>
            <Show when=move || phase.get() == Phase::Closed>
                <button class="button reconnect" type="button" on:click=move |_| controls.reconnect.run(())>
                    "Reconnect"
                </button>
            </Show>
        </div>
    }
}

/// The stream's figures.
#[component]
fn Stats(view: Screen) -> impl IntoView {
    let Screen {
        connection,
        sync,
        rate,
        latency,
        offset,
        ..
    } = view;
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "—".to_owned());
    view! {
        <dl class="stats">
            <div>
                <dt>"Updates"</dt>
                <dd data-testid="update-rate">{text(move || or_dash(rate.get().map(format::rate)))}</dd>
            </div>
            <div>
                <dt><abbr title="median time from publication on the server to this screen">"Latency"</abbr></dt>
                <dd data-testid="latency">{text(move || or_dash(latency.get().map(format::millis)))}</dd>
            </div>
            <div>
                <dt><abbr title="how far the server's clock is ahead of this device's">"Clock offset"</abbr></dt>
                <dd data-testid="clock-offset">{text(move || or_dash(offset.get().map(format::signed_millis)))}</dd>
            </div>
            <div>
                <dt>"Reconnects"</dt>
                <dd data-testid="reconnect-count">{text(move || connection.with(|c| c.reconnects.to_string()))}</dd>
            </div>
            <div>
                <dt>"Last event id"</dt>
                <dd data-testid="last-event-id">
                    {text(move || or_dash(sync.with(StreamSync::last).map(|id| id.to_string())))}
                </dd>
            </div>
        </dl>
    }
}

/// The latest notice from the server, such as "server restarting".
#[component]
fn NoticeBar(notice: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || notice.with(Option::is_some)>
            <p class="notice" data-testid="notice" role="status">
                <span class="notice-label">"Server notice: "</span>
                <span class="notice-text">{text(move || notice.get().unwrap_or_default())}</span>
                <button class="notice-dismiss" type="button" aria-label="Dismiss notice"
                    on:click=move |_| notice.set(None)>"×"</button>
            </p>
        </Show>
    }
}

/// The filter box and the watchlist.
#[component]
fn Toolbar(view: Screen, controls: Controls) -> impl IntoView {
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
            format!("Watching {watched} of {all} symbols")
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

/// The table of quotes, one keyed row per symbol, in the viewer's order.
#[component]
fn TickerTable(view: Screen) -> impl IntoView {
    let Screen {
        table,
        sort,
        filter,
        clock,
        ..
    } = view;
    // A live column re-sorts every few seconds, not on every update: rows that
    // jump every second are hard to follow, and each re-sort moves rows.
    let resort = Memo::new(move |_| (clock.get() / RESORT_EVERY_MS).floor() as u64);
    let order = Memo::new(move |_| {
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
    });
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
            <th scope="col" class=class title=column.hint() aria-sort=text(move || sort.get().aria(column).to_owned())>
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
                <caption class="visually-hidden">
                    "Latest prices; the column headings sort the table"
                </caption>
                <thead>
                    <tr>
                        {heading(Column::Symbol)}
                        {heading(Column::Price)}
                        <th scope="col" class="tick" title="The last move">
                            <span class="visually-hidden">"Last move"</span>
                        </th>
                        {heading(Column::Change)}
                        {heading(Column::ChangePct)}
                        {heading(Column::High)}
                        {heading(Column::Low)}
                        <th scope="col" class="spark" title="The last 60 prices, coloured as Change is">"Trend"</th>
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
fn QuoteRow(symbol: Symbol, row: RwSignal<Row>, view: Screen) -> impl IntoView {
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

/// Reactive text: every piece of text the page updates has this one type, so the
/// bundle carries one copy of the code that renders and updates it (a closure per
/// cell would each bring their own).
fn text(f: impl Fn() -> String + Send + Sync + 'static) -> Signal<String> {
    Signal::derive(f)
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
