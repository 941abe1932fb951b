//! The dashboard page: a header with the connection status and the ticker table.

use crate::{
    format,
    model::{Snapshot, Symbol},
    status::{Connection, Phase},
    sync::{Recovery, StreamSync},
    table::{Row, Table},
};
use leptos::prelude::*;

/// The dashboard at `/`.
///
/// On the server it renders the current prices, which the server provides as a
/// [`Snapshot`] context, so the first HTML already holds the table. In the browser
/// it takes the same snapshot from the page and opens the live stream.
#[component]
pub fn Dashboard() -> impl IntoView {
    let initial = SharedValue::new(use_context::<Snapshot>).into_inner();
    let (quotes, last_event_id) = initial.map_or((Vec::new(), None), |snapshot| {
        (snapshot.quotes, Some(snapshot.last_event_id))
    });
    let table = Table::new(quotes);
    let connection = RwSignal::new(Connection::default());
    // The stream resumes from the snapshot the page was rendered with.
    let sync = RwSignal::new(StreamSync::new(last_event_id));
    let recovery = RwSignal::new(None::<Recovery>);
    let notice = RwSignal::new(None::<String>);
    // The server cannot know the viewer's time zone, so the first HTML shows UTC and
    // hydration must render the same; effects run once hydration is done, and this
    // one switches every time shown to the viewer's local time.
    let local_time = RwSignal::new(false);
    Effect::new(move |_| local_time.set(true));

    #[cfg(feature = "hydrate")]
    let reconnect = {
        use crate::stream::{PriceStream, Sinks};

        let restart = Trigger::new();
        let sinks = Sinks {
            table,
            connection,
            sync,
            recovery,
            notice,
            restart,
        };
        let stream = StoredValue::new_local(None::<PriceStream>);
        let open = move || {
            let from = sync.with_untracked(StreamSync::last);
            match PriceStream::open(sinks, from) {
                Ok(opened) => stream.set_value(Some(opened)),
                Err(error) => {
                    leptos::logging::error!("could not open the price stream: {error:?}");
                    connection.update(|c| c.errored(false));
                }
            }
        };
        open();
        on_cleanup(move || _ = stream.try_update_value(Option::take));
        let reopen = move || {
            stream.set_value(None);
            connection.update(Connection::reconnecting_by_hand);
            open();
        };
        // A lost update: reopen from the last good id (after the callback returns).
        Effect::new(move |first: Option<()>| {
            restart.track();
            if first.is_some() {
                reopen();
            }
        });
        reopen
    };
    #[cfg(not(feature = "hydrate"))]
    let reconnect = || {};

    let phase = Memo::new(move |_| connection.with(|c| c.phase));
    view! {
        <div class="page" data-phase=move || phase.get().slug()>
            <header class="topbar">
                <h1 class="brand">
                    <span class="brand-mark" aria-hidden="true">"▮▮"</span>
                    "tickertape"
                </h1>
                <StatusBar connection phase sync recovery reconnect />
            </header>
            <NoticeBar notice />
            <main>
                <TickerTable table local_time />
            </main>
            <footer class="footnote">
                "Change is measured against the session's opening price. "
                "Times are your local time."
            </footer>
        </div>
    }
}

/// The connection indicator, how the stream came back, the reconnect count and
/// the last event id.
#[component]
fn StatusBar(
    connection: RwSignal<Connection>,
    phase: Memo<Phase>,
    sync: RwSignal<StreamSync>,
    recovery: RwSignal<Option<Recovery>>,
    reconnect: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    // How the stream came back: after a reconnect, or whenever it had to resync.
    let came_back = move || {
        let reconnected = connection.with(|c| c.reconnects > 0);
        recovery
            .get()
            .filter(|r| reconnected || *r == Recovery::Resynced)
            .map(Recovery::describe)
    };
    view! {
        <div class="statusbar">
            <div
                class=move || format!("status status-{}", phase.get().slug())
                data-testid="connection-status"
                data-state=move || phase.get().slug()
                role="status"
                aria-live="polite"
            >
                <span class="status-dot" aria-hidden="true"></span>
                <span class="status-text">{move || connection.with(Connection::describe)}</span>
            </div>
            <Show when=move || came_back().is_some()>
                <span class="recovery" data-testid="recovery">{came_back}</span>
            </Show>
            <Show when=move || phase.get() == Phase::Closed>
                <button class="reconnect" type="button" on:click={
                    let reconnect = reconnect.clone();
                    move |_| reconnect()
                }>"Reconnect"</button>
            </Show>
            <dl class="stats">
                <div>
                    <dt>"Reconnects"</dt>
                    <dd data-testid="reconnect-count">
                        {move || connection.with(|c| c.reconnects)}
                    </dd>
                </div>
                <div>
                    <dt>"Last event id"</dt>
                    <dd data-testid="last-event-id">
                        {move || sync.with(StreamSync::last).map_or("—".to_owned(), |id| id.to_string())}
                    </dd>
                </div>
            </dl>
        </div>
    }
}

/// The latest notice from the server, such as "server restarting".
#[component]
fn NoticeBar(notice: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || notice.with(Option::is_some)>
            <p class="notice" data-testid="notice" role="status">
                <span class="notice-label">"Server notice: "</span>
                <span class="notice-text">{move || notice.get().unwrap_or_default()}</span>
                <button class="notice-dismiss" type="button" aria-label="Dismiss notice"
                    on:click=move |_| notice.set(None)>"×"</button>
            </p>
        </Show>
    }
}

/// The table of quotes, one keyed row per symbol.
#[component]
fn TickerTable(table: Table, local_time: RwSignal<bool>) -> impl IntoView {
    view! {
        <table class="tickers" data-testid="ticker-table">
            <caption class="visually-hidden">"Latest prices"</caption>
            <thead>
                <tr>
                    <th scope="col" class="symbol">"Symbol"</th>
                    <th scope="col" class="num">"Price"</th>
                    <th scope="col" class="num">"Change"</th>
                    <th scope="col" class="num">"Change %"</th>
                    <th scope="col" class="num time">"Updated"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || table.symbols()
                    key=Symbol::clone
                    children=move |symbol| {
                        table.row(&symbol).map(|row| view! { <QuoteRow symbol row local_time /> })
                    }
                />
            </tbody>
        </table>
    }
}

/// One row: re-renders its own cells when its signal changes, nothing else.
#[component]
fn QuoteRow(symbol: Symbol, row: RwSignal<Row>, local_time: RwSignal<bool>) -> impl IntoView {
    let price = move || row.with(|r| format::price(r.quote.price.get()));
    let change = move || row.with(|r| r.quote.change);
    let change_pct = move || row.with(|r| r.quote.change_pct);
    let trend = |value: f64| format!("num {}", format::trend_class(value));
    let tick = move || row.with(|r| r.tick);
    view! {
        <tr class=move || row.with(Row::flash_class) data-testid="quote-row" data-symbol=symbol.to_string()>
            <th scope="row" class="symbol">{symbol.to_string()}</th>
            <td class="num price" data-testid="price">
                <span class="tick" aria-hidden="true">{move || tick().arrow()}</span>
                <span class="visually-hidden">{move || tick().word()}</span>
                {price}
            </td>
            <td class=move || trend(change()) data-testid="change">{move || format::change(change())}</td>
            <td class=move || trend(change_pct()) data-testid="change-pct">{move || format::percent(change_pct())}</td>
            <td class="num time" data-testid="updated">
                {move || row.with(|r| format::time_of_day(r.quote.ts, local_time.get()))}
            </td>
        </tr>
    }
}
