//! The browser's `EventSource` on `/events`, feeding the table and the status.
//!
//! Only compiled for the browser (`hydrate`). One [`PriceStream`] is one
//! `EventSource`, opened with `?lastEventId=` so it resumes from what the page
//! already shows, and `?symbols=` of the watchlist. When it drops, the stream
//! closes itself and tells the dashboard, which reconnects after a backoff it
//! can count down (the browser's own retry cannot be watched). Dropping a
//! `PriceStream` closes the connection and releases its callbacks.

use crate::{
    decode,
    http::ask_why,
    model::{EventId, HEARTBEAT_EVENT, PRICE_UPDATE_EVENT, SNAPSHOT_EVENT},
    sinks::{Batch, Sinks},
    status::{Connection, Phase},
    sync::Gap,
};
use leptos::{logging, prelude::*};
use std::{cell::Cell, rc::Rc, time::Duration};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{Event, EventSource, MessageEvent};

/// A stream is stale after this many heartbeat intervals without a word.
const STALE_AFTER_HEARTBEATS: f64 = 2.5;

/// A stale stream is reopened (from the last id) after this many intervals.
pub(crate) const REOPEN_AFTER_HEARTBEATS: f64 = 6.0;

/// The heartbeat interval assumed until the first heartbeat says otherwise.
const DEFAULT_HEARTBEAT_MS: f64 = crate::model::DEFAULT_HEARTBEAT_MS as f64;

/// How often the silence is checked.
const STALE_CHECK: Duration = Duration::from_millis(250);

/// Whoever a stream hands each event it applied on to: the leading tab's
/// relay to the browser's other tabs.
pub(crate) trait PassOn {
    /// The event `name` with the browser's own `data` string and its `id`.
    fn event(&self, name: &str, data: &JsValue, id: &str);
    /// The stream opened, of some symbols only when `filtered`.
    fn opened(&self, filtered: bool);
}

/// Applies the stream's events to the page: the same for a tab's own
/// `EventSource` and for the events another tab passes on.
pub(crate) struct Receiver {
    sinks: Sinks,
    heard: Rc<Hearing>,
    beats: Cell<u32>,
    /// Whether the events are another tab's: that stream may replay what this
    /// tab has (a new leader resumes from its own last id) or be behind a
    /// snapshot this tab fetched itself, so what the table has is skipped. A
    /// tab's own stream never repeats: there a repeat is a gap.
    relayed: bool,
}

impl Receiver {
    /// Applies a stream of this tab's own, or, when `relayed`, the events
    /// another tab passes on.
    pub(crate) fn new(sinks: Sinks, relayed: bool) -> Self {
        Self {
            sinks,
            heard: Rc::default(),
            beats: Cell::new(0),
            relayed,
        }
    }

    /// Whether a relayed event at `id` brings nothing new (an update, when
    /// `update`; else a heartbeat).
    fn already_seen(&self, id: EventId, update: bool) -> bool {
        self.relayed
            && self
                .sinks
                .sync
                .with_untracked(|sync| sync.already_seen(id, update))
    }

    /// The stream spoke (whatever it said): it is not stale.
    fn heard(&self) {
        self.heard.now();
        self.sinks.connection.maybe_update(Connection::heard);
    }

    /// A connection opened, of some symbols only when `filtered`. What was said
    /// about the last one (a server notice such as "server restarting", how it
    /// came back) was about that connection: it goes.
    pub(crate) fn opened(&self, filtered: bool) {
        self.heard.now();
        self.sinks.notice.set(None);
        self.sinks.recovery.set(None);
        self.sinks.sync.update(|sync| sync.opened(filtered));
        self.sinks.connection.update(Connection::opened);
    }

    /// Applies the event `name` with its `data` and `id`; a [`Gap`] means an
    /// update was lost and nothing more may be applied before a catch-up.
    pub(crate) fn event(&self, name: &str, data: &str, id: &str) -> Result<(), Gap> {
        self.heard();
        let sinks = self.sinks;
        match name {
            SNAPSHOT_EVENT => {
                if let Some(snapshot) = parse(name, data, decode::snapshot) {
                    let recovery = sinks
                        .sync
                        .try_update(|sync| sync.snapshot(snapshot.last_event_id));
                    Batch::clear(sinks);
                    crate::taps::snapshot(&snapshot.quotes);
                    let lit = sinks.table.reset(snapshot.quotes);
                    Batch::light(sinks, lit);
                    if let Some(recovery) = recovery.flatten() {
                        sinks.recovery.set(Some(recovery));
                    }
                }
            }
            PRICE_UPDATE_EVENT => {
                let Ok(id) = id.parse::<EventId>() else {
                    logging::warn!("bad id in {name}: \"{id}\"");
                    return Ok(());
                };
                if self.already_seen(id, true) {
                    return Ok(());
                }
                let Some(quote) = parse(name, data, decode::quote) else {
                    return Ok(());
                };
                // Prices flow again: the feed is back, before its heartbeat says so.
                if sinks.connection.with_untracked(|c| c.feed_changes(false)) {
                    sinks.connection.update(|c| c.feed(false));
                }
                // The id is checked now; the position shown moves with the flush.
                sinks
                    .sync
                    .try_update_untracked(|sync| sync.update(id))
                    .unwrap_or(Ok(()))?;
                Batch::queue(sinks, id, quote);
            }
            HEARTBEAT_EVENT => {
                let Some(heartbeat) = parse(name, data, decode::heartbeat) else {
                    return Ok(());
                };
                if self.already_seen(heartbeat.last_event_id, false) {
                    return Ok(());
                }
                self.heard.interval_ms.set(heartbeat.interval_ms as f64);
                let interrupted = heartbeat.feed.is_some();
                if sinks
                    .connection
                    .with_untracked(|c| c.feed_changes(interrupted))
                {
                    sinks.connection.update(|c| c.feed(interrupted));
                }
                let beats = self.beats.get() + 1;
                self.beats.set(beats);
                sinks.meters.update_value(|m| {
                    // The first heartbeat ends the catch-up and is read while the
                    // page is busy with it: its arrival time says little.
                    if beats > 1 {
                        m.offset.record(heartbeat.time as f64, js_sys::Date::now());
                    }
                    m.retry_ms = Some(heartbeat.retry_ms as f64);
                });
                let recovery = sinks
                    .sync
                    .try_update(|sync| sync.heartbeat(heartbeat.last_event_id))
                    .unwrap_or(Ok(None))?;
                if recovery.is_some() {
                    sinks.recovery.set(recovery);
                }
            }
            _ => sinks.notice.set(Some(data.to_owned())),
        }
        Ok(())
    }

    /// Watches the stream's silence: stale after 2.5 heartbeat intervals, and
    /// `sinks.restart` after `reopen_after` intervals (unless `broken` already
    /// asked for it).
    pub(crate) fn watch(&self, reopen_after: f64, broken: Rc<Cell<bool>>) -> Option<Watchdog> {
        let sinks = self.sinks;
        let heard = self.heard.clone();
        set_interval_with_handle(
            move || {
                let phase = sinks.connection.with_untracked(|c| c.phase);
                let silent = heard.silent_for() / heard.interval_ms.get();
                if matches!(phase, Phase::Live | Phase::Interrupted)
                    && silent > STALE_AFTER_HEARTBEATS
                {
                    sinks.connection.update(Connection::went_quiet);
                } else if phase == Phase::Stale && silent > reopen_after && !broken.get() {
                    // Heartbeats promise traffic: this long a silence is a dead connection
                    // (a sleeping laptop, a dropped NAT entry) that the browser has not noticed.
                    logging::warn!("silent for {} heartbeats; reopening", silent as u64);
                    broken.set(true);
                    sinks.restart.notify();
                }
            },
            STALE_CHECK,
        )
        .map_err(|error| crate::warn_js("could not start the staleness check:", &error))
        .ok()
        .map(Watchdog)
    }
}

/// The staleness check of a stream; stops when dropped.
pub(crate) struct Watchdog(IntervalHandle);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// An open `EventSource`, the callbacks it calls and the staleness check.
pub(crate) struct PriceStream {
    source: EventSource,
    _listeners: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _watchdog: Option<Watchdog>,
    /// False once dropped: a late answer about this stream changes nothing.
    alive: Rc<Cell<bool>>,
}

impl PriceStream {
    /// Opens the stream of `symbols` (comma-separated; all when `None`),
    /// resuming after `from` when given; hands every event it applies to
    /// `pass_on`, when given (the leading tab's relay to the others).
    pub(crate) fn open(
        sinks: Sinks,
        from: Option<EventId>,
        symbols: Option<&str>,
        pass_on: Option<Box<dyn PassOn>>,
    ) -> Result<Self, JsValue> {
        let mut url = crate::model::route::EVENTS.to_owned();
        let params = from
            .map(|id| format!("lastEventId={id}"))
            .into_iter()
            .chain(symbols.map(|symbols| format!("symbols={symbols}")));
        for (i, param) in params.enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&param);
        }
        let filtered = symbols.is_some();
        let source = EventSource::new(&url)?;
        let alive = Rc::new(Cell::new(true));
        let receiver = Rc::new(Receiver::new(sinks, false));
        let pass_on: Rc<Option<Box<dyn PassOn>>> = Rc::new(pass_on);
        // Once an update went missing, nothing more from this source is applied.
        let broken = Rc::new(Cell::new(false));

        let mut listeners = Vec::new();
        for name in [
            SNAPSHOT_EVENT,
            PRICE_UPDATE_EVENT,
            HEARTBEAT_EVENT,
            "message",
        ] {
            let receiver = receiver.clone();
            let pass_on = pass_on.clone();
            let broken = broken.clone();
            let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if broken.get() {
                    return;
                }
                let raw = event.data();
                let data = raw.as_string().unwrap_or_default();
                let id = event.last_event_id();
                match receiver.event(name, &data, &id) {
                    Ok(()) => {
                        if let Some(pass_on) = pass_on.as_ref() {
                            pass_on.event(name, &raw, &id);
                        }
                    }
                    Err(gap) => {
                        logging::warn!("gap: {} missing, got {}; reopening", gap.expected, gap.got);
                        broken.set(true);
                        sinks.restart.notify();
                    }
                }
            });
            source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())?;
            listeners.push(listener);
        }

        let on_open = {
            let receiver = receiver.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                receiver.opened(filtered);
                if let Some(pass_on) = pass_on.as_ref() {
                    pass_on.opened(filtered);
                }
            })
        };
        let on_error = {
            let source = source.clone();
            let alive = alive.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                // CONNECTING: the connection dropped and the browser would retry on
                // its own schedule; the dashboard retries on one it can show instead.
                // CLOSED: the browser gave up: the server refused the stream, and
                // only the server can say why.
                if source.ready_state() == EventSource::CONNECTING {
                    source.close();
                    sinks.connection.update(|c| c.errored(true));
                    sinks.lost.notify();
                } else {
                    ask_why(sinks, url.clone(), alive.clone());
                }
            })
        };
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(Self {
            source,
            _listeners: listeners,
            _on_open: on_open,
            _on_error: on_error,
            _watchdog: receiver.watch(REOPEN_AFTER_HEARTBEATS, broken),
            alive,
        })
    }
}

impl Drop for PriceStream {
    fn drop(&mut self) {
        self.alive.set(false);
        self.source.close();
        self.source.set_onopen(None);
        self.source.set_onerror(None);
    }
}

/// When the stream last spoke, and how often it promised to.
struct Hearing {
    last: Cell<f64>,
    interval_ms: Cell<f64>,
}

impl Default for Hearing {
    fn default() -> Self {
        Self {
            last: Cell::new(js_sys::Date::now()),
            interval_ms: Cell::new(DEFAULT_HEARTBEAT_MS),
        }
    }
}

impl Hearing {
    fn now(&self) {
        self.last.set(js_sys::Date::now());
    }

    fn silent_for(&self) -> f64 {
        js_sys::Date::now() - self.last.get()
    }
}

fn parse<T>(name: &str, data: &str, read: fn(&wasm_bindgen::JsValue) -> Option<T>) -> Option<T> {
    let value = decode::parse(data, read);
    if value.is_none() {
        logging::warn!("bad {name}: {data}");
    }
    value
}
