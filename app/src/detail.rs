//! What loads on first use, as a WASM chunk of its own (split out by `cargo
//! leptos build --split`, entered through [`run`]): a symbol's detail (its
//! candle chart, the session's figures, its latest updates, its price
//! alerts), the fired alerts, the list of keys' styles, the keyboard's moves
//! through the table and the CSV export, with their stylesheet
//! (`style/first-use.css`). The first load carries none of it.
//!
//! Written with the DOM directly (markup strings, one listener per kind of
//! event), not with `view!`: a view's reactive closures cost the first load
//! their generic code (the same dialogs as views added 13 KB gzip'd to the
//! first load, as markup 2 KB; `make weight`). The dialog's skeleton is
//! rendered by the server (`dashboard::DETAIL_HTML`). Everything written into
//! markup is a number, a symbol (validated: letters, digits, `.`, `-`) or a
//! fixed word.
//!
//! Only compiled for the browser (`hydrate`).

use crate::{
    alerts::{self, Alert, Fired, Side},
    candle::{Candles, Interval, Live},
    chart, csv, decode,
    dom::{focus_row, on as listen, row},
    format,
    http::fetch_text,
    model::{Price, Symbol},
    saved,
    screen::{DIALOGS_ID, KEYS_ID, Screen},
    table::{Row, Table},
};
#[cfg(not(debug_assertions))]
use leptos::wasm_split::wasm_split;
use leptos::{prelude::*, wasm_split::SplitLoaderError};
use std::{cell::RefCell, collections::VecDeque, fmt::Write, rc::Rc};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, Event, HtmlDialogElement, HtmlInputElement};

/// How many of the symbol's latest updates the detail lists.
const LATEST: usize = 10;

/// Downloads the table as shown (the filter, the watchlist and the sort
/// applied) as `tickertape.csv`.
fn export_csv(view: Screen) {
    let rows: Vec<Row> = view.shown.with_untracked(|shown| {
        shown
            .iter()
            .filter_map(|symbol| view.table.row(symbol).map(|row| row.get_untracked()))
            .collect()
    });
    let href = format!(
        "data:text/csv;charset=utf-8,{}",
        js_sys::encode_uri_component(&csv::of_rows(&rows))
    );
    let Ok(link) = document().create_element("a") else {
        return;
    };
    let _ = link.set_attribute("href", &href);
    let _ = link.set_attribute("download", "tickertape.csv");
    if let Some(link) = link.dyn_ref::<web_sys::HtmlElement>() {
        link.click();
    }
}

/// The state of what this chunk shows.
struct Ui {
    view: Screen,
    /// The symbol whose detail is open, and the interval its chart shows.
    symbol: Option<Symbol>,
    interval: Interval,
    /// `None` while a fetch is on its way: the stream's updates wait in
    /// `pending` until it answers.
    candles: Option<Candles>,
    pending: Vec<Live>,
    failed: bool,
    /// Each fetch's number: an answer to an older one is dropped.
    fetch: u32,
    /// The detail's latest updates, newest first.
    latest: VecDeque<Live>,
    /// Whether the detail waits to be drawn again (at most once a frame).
    dirty: bool,
    alerts: Vec<Alert>,
    fired: Vec<Fired>,
    next_id: u32,
    problem: &'static str,
}

type Shared = Rc<RefCell<Ui>>;

/// What the page asks of this chunk.
pub(crate) enum Ask {
    /// Take over the detail and the fired alerts (once).
    Mount,
    /// Open the list of keys (the server rendered it: it is styled here).
    Keys,
    /// Download the table as shown.
    ExportCsv,
    /// Move the table's selection by this many rows.
    Step(i32),
    /// Select this symbol's row.
    Select(String),
}

/// The chunk's one way in (each way in costs the first load its own loader,
/// about 0.25 KB gzip'd, `make weight`). It is `fallible`: a chunk the server
/// did not give (it is down, or a proxy refuses) is an `Err` the page shows,
/// and the next use tries again; leptos's `#[lazy]` would panic, which stops
/// the whole page.
///
/// Only a release build is split (`make build` runs `cargo leptos build
/// --release --split`; a release build without `--split` cannot load). A
/// debug build (`cargo leptos watch`, the tests) keeps it all in one WASM,
/// and this is an ordinary function that never fails.
#[cfg(not(debug_assertions))]
#[wasm_split(tickertape_detail, wasm_split_path = ::leptos::wasm_split, fallible)]
pub(crate) fn run(view: Screen, ask: Ask) -> Result<(), SplitLoaderError> {
    serve(view, ask);
    Ok(())
}

/// [`run`] in a debug build: all in the one WASM.
#[cfg(debug_assertions)]
pub(crate) async fn run(view: Screen, ask: Ask) -> Result<(), SplitLoaderError> {
    serve(view, ask);
    Ok(())
}

/// What [`run`] does.
fn serve(view: Screen, ask: Ask) {
    match ask {
        Ask::Mount => leptos::task::spawn_local(async move {
            styled().await;
            mount(view);
        }),
        Ask::Keys => leptos::task::spawn_local(async {
            styled().await;
            show(&element(KEYS_ID), true);
        }),
        Ask::ExportCsv => export_csv(view),
        Ask::Step(by) => step(view, by),
        Ask::Select(symbol) => select(view, &symbol),
    }
}

/// Takes over the fired alerts and the detail the server rendered (once:
/// `dashboard::DETAIL_HTML`), hooks the alerts and the chart to the stream,
/// and follows `view.detail` from then on.
fn mount(view: Screen) {
    let Some(root) = document().get_element_by_id(DIALOGS_ID) else {
        return;
    };
    let ui: Shared = Rc::new(RefCell::new(Ui {
        view,
        symbol: None,
        interval: Interval::Minute,
        candles: None,
        pending: Vec::new(),
        failed: false,
        fetch: 0,
        latest: VecDeque::new(),
        dirty: false,
        alerts: saved::load_alerts(view.table),
        fired: Vec::new(),
        next_id: 0,
        problem: "",
    }));
    hook_the_stream(&ui);
    let on_click = ui.clone();
    listen(&root, "click", move |event| click(&on_click, &event));
    let on_submit = ui.clone();
    listen(&root, "submit", move |event| {
        event.prevent_default();
        set_alerts(&on_submit);
    });
    // Esc closes a modal dialog by itself: the page follows.
    listen(&element("detail-dialog"), "close", move |_| {
        if let Some(symbol) = view.detail.get_untracked() {
            view.detail.set(None);
            focus_row(&symbol);
        }
    });
    let on_storage = ui.clone();
    listen(&window(), "storage", move |_| {
        let mut ui = on_storage.borrow_mut();
        let loaded = saved::load_alerts(ui.view.table);
        ui.alerts = alerts::merged(&ui.alerts, loaded);
        draw_alerts(&ui);
    });
    let on_open = ui.clone();
    Effect::new(move |_| {
        let symbol = view.detail.get().and_then(|s| s.parse::<Symbol>().ok());
        open(&on_open, symbol);
    });
    // Rows come and go with the filter and the sort: marks go back on.
    let on_rows = ui;
    Effect::new(move |_| {
        view.shown.track();
        mark_rows(&on_rows.borrow());
    });
}

/// Where the stylesheet of what loads on first use is served
/// (`style/first-use.css`, copied to the site's root): it loads with this
/// chunk, not with the page.
const STYLESHEET: &str = "/first-use.css";

thread_local! {
    /// The stylesheet, loading or loaded: every use waits for it.
    static STYLE: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Waits until the stylesheet has loaded (or failed: what it styles works
/// unstyled), adding it to the page the first time: nothing this chunk shows
/// shows unstyled.
async fn styled() {
    let loaded = STYLE.with_borrow_mut(|style| style.get_or_insert_with(add_stylesheet).clone());
    let _ = wasm_bindgen_futures::JsFuture::from(loaded).await;
}

/// Adds the stylesheet to the page: resolves when it has loaded or failed.
fn add_stylesheet() -> js_sys::Promise {
    let link = document().create_element("link");
    let added = link.as_ref().is_ok_and(|link| {
        let _ = link.set_attribute("rel", "stylesheet");
        let _ = link.set_attribute("href", STYLESHEET);
        document()
            .head()
            .is_some_and(|head| head.append_child(link).is_ok())
    });
    match link {
        Ok(link) if added => js_sys::Promise::new(&mut |done, _| {
            for name in ["load", "error"] {
                let _ = link.add_event_listener_with_callback(name, &done);
            }
        }),
        _ => js_sys::Promise::resolve(&JsValue::UNDEFINED),
    }
}

fn element(id: &str) -> Element {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| document().create_element("div").expect("a div"))
}

/// Opens `dialog` as a modal (the browser keeps the focus in it and closes
/// it on Esc), or closes it.
fn show(dialog: &Element, open: bool) {
    let Some(dialog) = dialog.dyn_ref::<HtmlDialogElement>() else {
        return;
    };
    if open && !dialog.open() {
        if let Err(error) = dialog.show_modal() {
            crate::warn_js("could not open a dialog:", &error);
        }
    } else if !open && dialog.open() {
        dialog.close();
    }
}

/// The alerts and the open chart watch every update put on screen.
fn hook_the_stream(ui: &Shared) {
    let on_update = ui.clone();
    let on_snapshot = ui.clone();
    crate::taps::hook(
        Box::new(move |id, quote| {
            let mut ui = on_update.borrow_mut();
            check_alerts(&mut ui, &quote.symbol, quote.price);
            if ui.symbol.as_ref() == Some(&quote.symbol) {
                let live = Live {
                    id,
                    ts: quote.ts,
                    price: quote.price,
                };
                match &mut ui.candles {
                    Some(candles) => {
                        candles.add(live);
                        remember(&mut ui.latest, live);
                    }
                    None => ui.pending.push(live),
                }
                schedule_draw(&on_update, &mut ui);
            }
        }),
        // A price that crossed a level while updates were missed crossed it
        // all the same; the chart is fetched again.
        Box::new(move |quotes| {
            let symbol = {
                let mut ui = on_snapshot.borrow_mut();
                for quote in quotes {
                    check_alerts(&mut ui, &quote.symbol, quote.price);
                }
                ui.symbol.clone()
            };
            if symbol.is_some() {
                fetch_candles(&on_snapshot);
            }
        }),
    );
}

/// Draws the detail at the next frame (the stream may bring many updates
/// in one go).
fn schedule_draw(shared: &Shared, ui: &mut Ui) {
    if std::mem::replace(&mut ui.dirty, true) {
        return;
    }
    let shared = shared.clone();
    request_animation_frame(move || {
        let mut ui = shared.borrow_mut();
        ui.dirty = false;
        draw_detail(&ui);
    });
}

/// Opens the detail of `symbol`, or closes it.
fn open(shared: &Shared, symbol: Option<Symbol>) {
    {
        let mut ui = shared.borrow_mut();
        ui.latest.clear();
        ui.pending.clear();
        ui.candles = None;
        ui.problem = "";
        ui.symbol = symbol.clone();
        draw_detail(&ui);
        draw_alerts(&ui);
    }
    show(&element("detail-dialog"), symbol.is_some());
    if symbol.is_some() {
        fetch_candles(shared);
    }
}

/// Fetches the open symbol's candles; the updates that come meanwhile are
/// added to them when they come (those after their `lastEventId`).
fn fetch_candles(shared: &Shared) {
    let (url, fetch) = {
        let mut ui = shared.borrow_mut();
        let Some(symbol) = &ui.symbol else {
            return;
        };
        let url = format!(
            "/api/candles?symbol={}&interval={}",
            js_sys::encode_uri_component(symbol.as_str()),
            ui.interval.as_str()
        );
        ui.fetch = ui.fetch.wrapping_add(1);
        ui.candles = None;
        ui.failed = false;
        draw_detail(&ui);
        (url, ui.fetch)
    };
    let shared = shared.clone();
    leptos::task::spawn_local(async move {
        let fetched = fetch_text(url)
            .await
            .and_then(|text| decode::parse(&text, decode::candles));
        let mut ui = shared.borrow_mut();
        if ui.fetch != fetch {
            return;
        }
        match fetched {
            Some(mut candles) => {
                for live in std::mem::take(&mut ui.pending) {
                    if candles.add(live) {
                        remember(&mut ui.latest, live);
                    }
                }
                ui.candles = Some(candles);
            }
            None => ui.failed = true,
        }
        draw_detail(&ui);
    });
}

/// Keeps `live` among the latest updates, newest first.
fn remember(latest: &mut VecDeque<Live>, live: Live) {
    latest.push_front(live);
    latest.truncate(LATEST);
}

fn write(id: &str, markup: &str) {
    element(id).set_inner_html(markup);
}

/// Writes the detail: its title, price, session, chart and latest updates.
fn draw_detail(ui: &Ui) {
    let Some(symbol) = &ui.symbol else {
        return;
    };
    let row = ui.view.table.row(symbol).map(|row| row.get_untracked());
    let decimals = row.as_ref().map_or(format::MIN_DECIMALS, |r| r.decimals);
    write("detail-title", symbol.as_str());
    if let Some(row) = &row {
        let q = &row.quote;
        let price = |p: Price| format::price(p.get(), decimals);
        write("detail-price", &price(q.price));
        write(
            "detail-session",
            &format!(
                "<div><dt>Open</dt><dd>{}</dd></div><div><dt>High</dt><dd>{}</dd></div>\
                 <div><dt>Low</dt><dd>{}</dd></div><div><dt>Change</dt><dd class=\"{}\">{} ({})</dd></div>",
                price(q.open),
                price(q.high),
                price(q.low),
                format::trend_class(row.change(), decimals),
                format::change(row.change(), decimals),
                format::percent(q.change_pct)
            ),
        );
    }
    let root = element(DIALOGS_ID);
    if let Ok(buttons) = root.query_selector_all("[data-interval]") {
        for i in 0..buttons.length() {
            if let Some(button) = buttons.get(i).and_then(|b| b.dyn_into::<Element>().ok()) {
                let pressed =
                    button.get_attribute("data-interval").as_deref() == Some(ui.interval.as_str());
                let _ =
                    button.set_attribute("aria-pressed", if pressed { "true" } else { "false" });
            }
        }
    }
    let seconds = ui.interval == Interval::Second;
    let (chart, note) = match &ui.candles {
        Some(candles) if !candles.candles.is_empty() => {
            let layout = chart::layout(&candles.candles);
            let markup = chart::svg(&layout, decimals, |t| {
                let time = format::time_of_day(t, true);
                if seconds { time } else { time[..5].to_owned() }
            });
            (
                markup,
                format!(
                    "{} candles of {symbol}, the last one still forming",
                    ui.interval.as_str()
                ),
            )
        }
        Some(_) => (
            String::new(),
            format!("No {} candles of {symbol} yet", ui.interval.as_str()),
        ),
        None if ui.failed => (String::new(), "The candles could not be loaded.".to_owned()),
        None => (String::new(), "Loading the candles…".to_owned()),
    };
    write("detail-chart", &chart);
    write("detail-caption", &note);
    let mut latest = String::new();
    for live in &ui.latest {
        let _ = write!(
            latest,
            "<li><time>{}</time> <span class=\"num\">{}</span></li>",
            format::time_of_day(live.ts, true),
            format::price(live.price.get(), decimals)
        );
    }
    if latest.is_empty() {
        latest.push_str("<li class=\"empty\">Updates appear here as they arrive.</li>");
    }
    write("detail-latest", &latest);
}

/// Writes the alerts set, the problem with the last entry, and whether the
/// viewer may be asked to allow notifications.
fn draw_alerts(ui: &Ui) {
    let mut list = String::new();
    for (i, alert) in ui.alerts.iter().enumerate() {
        let name = format!(
            "{} {} {}",
            alert.symbol,
            alert.side.word(),
            format::price(alert.level, format::decimals_of(alert.level))
        );
        let state = if alert.armed {
            "armed"
        } else {
            "waiting for the price to come back"
        };
        let _ = write!(
            list,
            "<li><span>{name}</span> <span class=\"alert-state\">{state}</span> \
             <button type=\"button\" class=\"button\" data-remove=\"{i}\" aria-label=\"Remove alert {name}\">Remove</button></li>"
        );
    }
    if list.is_empty() {
        list.push_str("<li class=\"empty\">No alerts set.</li>");
    }
    write("alert-list", &list);
    write("alert-problem", ui.problem);
    let ask = notification_permission() == "default";
    let _ = if ask {
        element("alert-notify").remove_attribute("hidden")
    } else {
        element("alert-notify").set_attribute("hidden", "")
    };
}

/// Writes the fired alerts, each with its dismiss button, and marks the rows.
fn draw_fired(ui: &Ui) {
    let mut list = String::new();
    for fired in &ui.fired {
        let message = fired.message();
        let _ = write!(
            list,
            "<p class=\"notice alert-fired\" role=\"alert\" data-testid=\"fired-alert\" data-symbol=\"{}\">\
             <span class=\"notice-label\">Price alert: </span><span class=\"notice-text\">{message}</span>\
             <button class=\"notice-dismiss\" type=\"button\" data-dismiss=\"{}\" aria-label=\"Dismiss alert: {message}\">×</button></p>",
            fired.symbol, fired.id
        );
    }
    write("fired-list", &list);
    mark_rows(ui);
}

/// Marks the rows of symbols with a fired alert (`data-alert`), and only
/// those: it runs each time the rows shown change (a live sort, every 2 s),
/// so it looks at the marked rows and the fired alerts' rows, not at all.
fn mark_rows(ui: &Ui) {
    let fired = |symbol: &str| ui.fired.iter().any(|f| f.symbol.as_str() == symbol);
    if let Ok(marked) = document().query_selector_all("tbody tr[data-alert]") {
        for i in 0..marked.length() {
            let Some(row) = marked.get(i).and_then(|r| r.dyn_into::<Element>().ok()) else {
                continue;
            };
            if !fired(&row.get_attribute("data-symbol").unwrap_or_default()) {
                let _ = row.remove_attribute("data-alert");
            }
        }
    }
    for alert in &ui.fired {
        if let Some(row) = row(alert.symbol.as_str()) {
            let _ = row.set_attribute("data-alert", "fired");
        }
    }
}

/// Moves the alerts of `symbol` with its new `price`.
fn check_alerts(ui: &mut Ui, symbol: &Symbol, price: Price) {
    let value = price.get();
    let mut crossed = Vec::new();
    let mut moved = false;
    for alert in ui.alerts.iter_mut().filter(|a| a.symbol == *symbol) {
        let armed = alert.armed;
        if alert.check(value) {
            crossed.push((alert.side, alert.level));
        }
        moved |= alert.armed != armed;
    }
    if moved {
        draw_alerts(ui);
    }
    if crossed.is_empty() {
        return;
    }
    let decimals = decimals_of(ui.view.table, symbol);
    let leads = crate::taps::leads();
    for (side, level) in crossed {
        let fired = Fired {
            id: ui.next_id,
            symbol: symbol.clone(),
            side,
            level: format::price(level, decimals.max(format::decimals_of(level))),
            price: format::price(value, decimals),
        };
        ui.next_id = ui.next_id.wrapping_add(1);
        if leads {
            notify(&fired);
        }
        ui.fired.push(fired);
    }
    draw_fired(ui);
}

fn decimals_of(table: Table, symbol: &Symbol) -> u32 {
    table.row(symbol).map_or(format::MIN_DECIMALS, |row| {
        row.with_untracked(|r| r.decimals)
    })
}

/// The clicks in what this chunk shows.
fn click(shared: &Shared, event: &Event) {
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    let attribute = |name: &str| {
        target
            .closest(&format!("[{name}]"))
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute(name))
    };
    if let Some(action) = attribute("data-do") {
        match action.as_str() {
            "close" => show(&element("detail-dialog"), false),
            "notify" => request_notifications(shared.clone()),
            _ => {}
        }
    } else if let Some(interval) = attribute("data-interval").and_then(|i| Interval::parse(&i)) {
        shared.borrow_mut().interval = interval;
        fetch_candles(shared);
    } else if let Some(i) = attribute("data-remove").and_then(|i| i.parse::<usize>().ok()) {
        let mut ui = shared.borrow_mut();
        if i < ui.alerts.len() {
            ui.alerts.remove(i);
        }
        saved::save_alerts(&ui.alerts);
        draw_alerts(&ui);
    } else if let Some(id) = attribute("data-dismiss").and_then(|i| i.parse::<u32>().ok()) {
        let mut ui = shared.borrow_mut();
        ui.fired.retain(|fired| fired.id != id);
        draw_fired(&ui);
    }
}

/// Sets the alerts entered for the open symbol.
fn set_alerts(shared: &Shared) {
    let mut ui = shared.borrow_mut();
    let Some(symbol) = ui.symbol.clone() else {
        return;
    };
    let price = ui
        .view
        .table
        .row(&symbol)
        .map(|row| row.with_untracked(|r| r.quote.price.get()));
    let mut added = Vec::new();
    for (id, side) in [("alert-above", Side::Above), ("alert-below", Side::Below)] {
        let Some(input) = element(id).dyn_into::<HtmlInputElement>().ok() else {
            continue;
        };
        let value = input.value();
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let level = js_sys::Number::parse_float(value);
        if !(level.is_finite() && level > 0.0) {
            ui.problem = "A level is a price above zero, such as 105.50.";
            draw_alerts(&ui);
            return;
        }
        added.push((input, Alert::new(symbol.clone(), side, level, price)));
    }
    ui.problem = if added.is_empty() {
        "Enter a level above, below, or both."
    } else {
        ""
    };
    for (input, alert) in added {
        input.set_value("");
        ui.alerts
            .retain(|a| (&a.symbol, a.side, a.level) != (&alert.symbol, alert.side, alert.level));
        ui.alerts.push(alert);
    }
    saved::save_alerts(&ui.alerts);
    draw_alerts(&ui);
}

/// The browser's `Notification.permission`: "granted", "denied", "default",
/// or "" without notifications.
fn notification_permission() -> String {
    js_sys::Reflect::get(&window(), &"Notification".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"permission".into()))
        .ok()
        .and_then(|p| p.as_string())
        .unwrap_or_default()
}

/// Asks the viewer to allow notifications, and shows the answer.
fn request_notifications(shared: Shared) {
    let Ok(notification) = js_sys::Reflect::get(&window(), &"Notification".into()) else {
        return;
    };
    let request = js_sys::Reflect::get(&notification, &"requestPermission".into())
        .ok()
        .and_then(|r| r.dyn_into::<js_sys::Function>().ok());
    let Some(asked) = request.and_then(|r| r.call0(&notification).ok()) else {
        return;
    };
    let asked = js_sys::Promise::resolve(&asked);
    leptos::task::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(asked).await;
        draw_alerts(&shared.borrow());
    });
}

/// A system notification for `fired`, when the page is hidden and the viewer
/// allowed them.
fn notify(fired: &Fired) {
    if !document().hidden() || notification_permission() != "granted" {
        return;
    }
    let Ok(constructor) = js_sys::Reflect::get(&window(), &"Notification".into()) else {
        return;
    };
    let Some(constructor) = constructor.dyn_ref::<js_sys::Function>() else {
        return;
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"tag".into(), &fired.symbol.to_string().into());
    let args = js_sys::Array::of2(&JsValue::from_str(&fired.message()), &options);
    if let Err(error) = js_sys::Reflect::construct(constructor, &args) {
        crate::warn_js("no notification:", &error);
    }
}

/// Moves the table's selection `by` rows (from the first or last when none
/// is selected), as `crate::keys` asks.
fn step(view: Screen, by: i32) {
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
    if let Some(next) = next {
        select(view, &next);
    }
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
