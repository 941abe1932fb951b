//! The dashboard page: a header with the connection status and the stream's
//! figures, a toolbar (filter, watchlist) and the ticker table.

mod header;
mod ticker;
mod toolbar;

use crate::{
    page::PageData,
    screen::{DIALOGS_ID, KEYS_ID, Screen, server_only, text},
    sort::Sort,
    status::Connection,
    sync::StreamSync,
    table::Table,
    watchlist::Watchlist,
};
use header::{NoticeBar, Stats, StatusBar};
use leptos::prelude::*;
use ticker::TickerTable;
use toolbar::Toolbar;

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
    let table = Table::new(quotes);
    let clock = RwSignal::new(time);
    let sort = RwSignal::new(Sort::default());
    let filter = RwSignal::new(String::new());
    let view = Screen {
        table,
        connection,
        phase: Memo::new(move |_| connection.with(|c| c.phase)),
        // The stream resumes from the snapshot the page was rendered with.
        sync: RwSignal::new(StreamSync::new(last_event_id)),
        recovery: RwSignal::new(None),
        notice: RwSignal::new(None),
        clock,
        offset: RwSignal::new(None),
        rate: RwSignal::new(None),
        latency: RwSignal::new(None),
        next_try: RwSignal::new(None),
        local_time: RwSignal::new(false),
        sort,
        filter,
        symbols: RwSignal::new(symbols),
        watchlist: RwSignal::new(watchlist),
        retry_ms: retry_ms.map(|ms| ms as f64),
        shown: ticker::shown(table, sort, filter, clock),
        selected: RwSignal::new(None),
        detail: RwSignal::new(None),
    };
    // The server cannot know the viewer's time zone, so the first HTML shows UTC and
    // hydration must render the same; effects run once hydration is done, and this
    // one switches every time shown to the viewer's local time.
    Effect::new(move |_| view.local_time.set(true));

    #[cfg(feature = "hydrate")]
    let controls = crate::controller::start(view);
    #[cfg(not(feature = "hydrate"))]
    let controls = crate::screen::Controls {
        reconnect: Callback::new(|()| {}),
        pause: Callback::new(|()| {}),
        resume: Callback::new(|()| {}),
        watch: Callback::new(|_| {}),
    };
    #[cfg(feature = "hydrate")]
    crate::keys::listen(view, controls);

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
            // The fired alerts and a symbol's detail: the server renders
            // them empty, and what loads on first use fills them.
            <div id=DIALOGS_ID class="fired" data-testid="fired-alerts" inner_html=server_only(DETAIL_HTML)></div>
            <main>
                <Toolbar view />
                <TickerTable view />
            </main>
            // Static: one attribute to hydrate, however many keys it lists.
            <dialog class="keys" id=KEYS_ID aria-labelledby="keys-title" data-testid="keys" inner_html=server_only(KEYS_HTML)></dialog>
            <footer class="footnote" data-testid="legend" inner_html=server_only(LEGEND_HTML)></footer>
        </div>
    }
}

/// The legend under the table.
const LEGEND_HTML: &str = r#"<p><span class="tick-up" aria-hidden="true">▲</span><span class="tick-down" aria-hidden="true">▼</span> and a lit price: the last move. <span class="up">Green</span> and <span class="down">red</span>: the move since the session opened, in Change, Change % and the trend line (the last 60 prices). High and low are the session's.</p>
<p>Latency is from publication on the server to this screen; times are your local time.</p>"#;

/// The fired alerts and a symbol's detail, empty: `crate::detail` (loaded on
/// first use) writes what changes into their parts.
const DETAIL_HTML: &str = r#"<div class="fired-list" id="fired-list"></div>
<dialog class="detail" id="detail-dialog" aria-labelledby="detail-title" data-testid="detail">
<header class="detail-head"><h2 id="detail-title"></h2><p class="detail-price" id="detail-price" data-testid="detail-price"></p><button type="button" class="button close" data-do="close">Close</button></header>
<dl class="session" id="detail-session" data-testid="session"></dl>
<div class="intervals" role="group" aria-label="Candle interval"><button type="button" class="button" data-interval="1s" aria-pressed="false">1s</button><button type="button" class="button" data-interval="1m" aria-pressed="true">1m</button><button type="button" class="button" data-interval="5m" aria-pressed="false">5m</button></div>
<figure class="chart"><svg class="candles" id="detail-chart" viewBox="0 0 640 300" role="img" aria-label="Candle chart" data-testid="chart"></svg><figcaption id="detail-caption" class="chart-note"></figcaption></figure>
<section class="latest" aria-labelledby="latest-title"><h3 id="latest-title">Latest updates</h3><ol id="detail-latest" data-testid="latest"></ol></section>
<section class="alerts-form" aria-labelledby="alerts-title"><h3 id="alerts-title">Price alerts</h3>
<form><label>Alert above <input id="alert-above" type="text" inputmode="decimal" autocomplete="off" data-testid="alert-above"></label><label>Alert below <input id="alert-below" type="text" inputmode="decimal" autocomplete="off" data-testid="alert-below"></label><button type="submit" class="button">Set alert</button></form>
<p class="problem" id="alert-problem" role="status"></p>
<button type="button" class="button" id="alert-notify" data-do="notify" hidden>Notify me when this page is hidden</button>
<h4>Your alerts</h4><ul class="alert-list" id="alert-list" data-testid="alert-list"></ul></section>
</dialog>"#;

/// The list of keys (`?`, or the toolbar's Keys button), closed with Esc or
/// its Close button.
const KEYS_HTML: &str = r#"<h2 id="keys-title">Keys</h2><dl>
<div><dt><kbd>↓</kbd> <kbd>↑</kbd> or <kbd>j</kbd> <kbd>k</kbd></dt><dd>select the next or previous row</dd></div>
<div><dt><kbd>Enter</kbd></dt><dd>open the selected row's detail</dd></div>
<div><dt><kbd>/</kbd></dt><dd>filter the symbols</dd></div>
<div><dt><kbd>?</kbd></dt><dd>show these keys</dd></div>
<div><dt><kbd>Esc</kbd></dt><dd>close the detail or this list</dd></div>
</dl><form method="dialog"><button class="button">Close</button></form>"#;
