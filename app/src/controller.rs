//! The dashboard's controller, in the browser: opens the price stream and
//! reopens it (after a backoff it counts down), ticks the clocks and the
//! header's figures, and carries out the viewer's controls (pause, resume,
//! reconnect, the watchlist). The views are in [`dashboard`](crate::dashboard);
//! the connection in [`stream`](crate::stream).

use crate::{
    meter::Meters,
    screen::{Controls, Screen},
    share::{self, Ask, CatchUp, Role, Tab},
    sinks::{Batch, Sinks},
    status::{self, Connection, Phase},
    stream::{PassOn, PriceStream},
    sync::StreamSync,
    watchlist::{self, Watchlist},
};
use js_sys::Function;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::{JsCast, closure::Closure};

/// How often the clock (ages, countdown) ticks.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// How often the header's figures (and how many tabs share the stream) are
/// refreshed.
const STATS_TICK: Duration = Duration::from_secs(1);

/// The base reconnection delay when the page did not say the server's
/// (a heartbeat says it too).
const DEFAULT_RETRY_MS: f64 = 1000.0;

/// Opens the stream (or joins the one another tab shares) and wires up the
/// clocks and controls.
pub(crate) fn start(view: Screen) -> Controls {
    let Screen {
        connection, sync, ..
    } = view;
    let sinks = Sinks {
        table: view.table,
        connection,
        sync,
        recovery: view.recovery,
        notice: view.notice,
        restart: Trigger::new(),
        lost: Trigger::new(),
        hold_off: StoredValue::new(None),
        meters: StoredValue::new({
            let mut meters = Meters::default();
            meters.retry_ms = view.retry_ms;
            meters
        }),
        batch: StoredValue::new(Batch::default()),
    };
    let stream = StoredValue::new_local(None::<PriceStream>);
    let retry_timer = StoredValue::new_local(None::<TimeoutHandle>);
    let tab = StoredValue::new_local(Tab::new(view, sinks));
    // The one way in to the tab's part (each closure handed to the store
    // directly would be compiled into a copy of the store's code of its own).
    let with_tab = move |f: &mut dyn FnMut(&Tab)| {
        _ = tab.try_with_value(|tab| {
            if let Some(tab) = tab {
                f(tab);
            }
        });
    };
    let role = move || {
        let mut role = Role::Alone;
        with_tab(&mut |tab| role = tab.role());
        role
    };

    // Clears the retry still scheduled, if any.
    let cancel_retry = move || {
        if let Some(timer) = retry_timer.try_update_value(Option::take).flatten() {
            timer.clear();
        }
    };
    let open = move || {
        // A stream opened now, by whatever path (a retry, the lock granted, a
        // reconnect), supersedes any retry still scheduled: one loop of tries.
        cancel_retry();
        let from = sync.with_untracked(StreamSync::last);
        let list = view.watchlist.get_untracked();
        let mut relay: Option<Box<dyn PassOn>> = None;
        with_tab(&mut |tab| {
            if tab.role() == Role::Leading {
                relay = Some(Box::new(tab.relay(&list)));
            }
        });
        match PriceStream::open(sinks, from, list.query().as_deref(), relay) {
            Ok(opened) => stream.set_value(Some(opened)),
            Err(error) => {
                crate::warn_js("could not open the price stream:", &error);
                connection.update(|c| c.errored(false));
            }
        }
    };
    let stop = move || {
        stream.set_value(None);
        cancel_retry();
        view.next_try.set(None);
    };
    // Leaves the shared stream: closes this tab's connection, so that the next
    // tab in line takes over, or stops following.
    let leave = move |frozen: bool| {
        stop();
        with_tab(&mut |tab| tab.leave(frozen));
    };
    on_cleanup(move || leave(false));

    // Given the lock for `claim`: leads, unless the claim was voided meanwhile
    // (then lets the next tab have it).
    let granted = move |claim: u32| {
        move |lock: Option<Function>| {
            let Some(lock) = lock else { return };
            let mut led = false;
            with_tab(&mut |tab| {
                if tab.is_current(claim) {
                    tab.lead(lock.clone());
                    led = true;
                }
            });
            if led {
                open();
            } else {
                share::let_go(&lock);
            }
        }
    };
    // Joins the shared stream: leads it when no tab does; otherwise follows it,
    // catching up as `how` says, and waits in line to lead. Without sharing,
    // opens a stream of its own.
    let join = move |how: CatchUp| {
        let mut claim = None;
        with_tab(&mut |tab| claim = Some(tab.new_claim()));
        let Some(claim) = claim else {
            open();
            return;
        };
        let first = move |lock: Option<Function>| {
            if lock.is_some() {
                return granted(claim)(lock);
            }
            with_tab(&mut |tab| {
                if tab.is_current(claim) {
                    tab.follow(how);
                    tab.claim(Ask::Wait, Box::new(granted(claim)));
                }
            });
        };
        with_tab(&mut |tab| tab.claim(Ask::IfAvailable, Box::new(first)));
    };
    // Closes the stream (and any pending retry), notes why, opens a new one.
    let reopen = move |why: fn(&mut Connection)| {
        stop();
        connection.update(why);
        open();
    };
    // By hand (Closed), or after a lost update or a long silence: a follower
    // takes the connection over from a leader that went silent or gave up.
    let reconnect = Callback::new(move |()| {
        let mut stolen = false;
        with_tab(&mut |tab| stolen = tab.stolen());
        match role() {
            // Another tab stole the lock (this one had gone silent): it leads
            // now, and this one follows with every event up to there.
            Role::Leading if stolen => {
                stop();
                join(CatchUp::Continue);
            }
            Role::Following => {
                connection.update(Connection::reconnecting_by_hand);
                with_tab(&mut |tab| tab.claim(Ask::Steal, Box::new(granted(tab.new_claim()))));
            }
            Role::Idle => {}
            Role::Alone | Role::Leading => reopen(Connection::reconnecting_by_hand),
        }
    });
    // A lost update: reopen from the last good id (after the callback returns).
    Effect::new(move |first: Option<()>| {
        sinks.restart.track();
        if first.is_some() {
            reconnect.run(());
        }
    });
    // A dropped connection: try again after a backoff, counted down on screen.
    Effect::new(move |first: Option<()>| {
        sinks.lost.track();
        if first.is_none() {
            return;
        }
        stop();
        let attempt = connection.with_untracked(|c| c.attempts);
        let base = sinks
            .meters
            .with_value(|m| m.retry_ms)
            .unwrap_or(DEFAULT_RETRY_MS);
        let backoff = status::backoff(base, attempt, js_sys::Math::random());
        // A busy server's Retry-After is a floor, not a replacement.
        let asked = sinks.hold_off.try_update_value(Option::take).flatten();
        let delay = asked.map_or(backoff, |asked| asked.max(backoff));
        view.next_try.set(Some(js_sys::Date::now() + delay));
        let timer = set_timeout_with_handle(
            move || {
                retry_timer.set_value(None);
                view.next_try.set(None);
                open();
            },
            Duration::from_millis(delay as u64),
        )
        .map_err(|error| crate::warn_js("could not schedule a reconnection:", &error))
        .ok();
        retry_timer.set_value(timer);
    });
    // A leader tells the followers how its connection is doing.
    Effect::new(move |_| {
        connection.track();
        view.next_try.track();
        if role() == Role::Leading {
            with_tab(&mut Tab::post_state);
        }
    });

    // Pausing this tab pauses its view only: a leader hands the stream over.
    let pause = Callback::new(move |()| {
        leave(false);
        // What arrived before the pause is shown now, not after it.
        Batch::flush(sinks);
        connection.update(Connection::paused);
    });
    let resume = Callback::new(move |()| {
        connection.update(Connection::resumed);
        Meters::resumed(sinks.meters);
        join(CatchUp::Resync);
    });
    // A new list is a new stream, from a snapshot that holds the newly watched
    // rows (resuming from the last id would replay the old list's updates only).
    let adopt = move |next: Watchlist| {
        if view.watchlist.with_untracked(|current| *current == next) {
            return;
        }
        view.watchlist.set(next);
        sync.set(StreamSync::new(None));
        view.recovery.set(None);
        match role() {
            // A paused stream opens with the new list when resumed.
            _ if connection.with_untracked(|c| c.phase) == Phase::Paused => {}
            Role::Idle => {}
            Role::Following => {
                with_tab(&mut |tab| tab.resync(CatchUp::Join));
            }
            Role::Alone | Role::Leading => reopen(Connection::resumed),
        }
    };
    let watch = Callback::new(move |next: Watchlist| {
        save(&next);
        adopt(next);
    });
    // Another tab changed the watchlist they share.
    listen(&window(), "storage", move || adopt(load()));
    // The browser freezes a hidden tab to save power: a frozen leader would
    // hold the stream for nobody, so it hands it over first, and joins again
    // when it thaws.
    listen(&document(), "freeze", move || {
        if matches!(role(), Role::Leading | Role::Following) {
            leave(true);
        }
    });
    listen(&document(), "resume", move || {
        let mut thawed = false;
        with_tab(&mut |tab| thawed = tab.thawed());
        if thawed {
            join(CatchUp::Resync);
        }
    });

    // Once hydrated (an effect runs after it): the viewer's stored watchlist
    // wins over the cookie the page was rendered with, which only mirrors it;
    // then the stream opens, or the tab joins the one its browser shares.
    Effect::new(move |_| {
        let stored = load();
        save(&stored);
        if view.watchlist.with_untracked(|w| *w != stored) {
            view.watchlist.set(stored);
            sync.set(StreamSync::new(None));
        }
        join(CatchUp::Join);
    });

    // A symbol published for the first time joins the watchlist's choices
    // (an unfiltered stream brings every symbol).
    Effect::new(move |_| {
        let shown = view.table.symbols();
        if view.watchlist.with_untracked(Watchlist::is_all) {
            view.symbols.maybe_update(|all| {
                let new: Vec<_> = shown.into_iter().filter(|s| !all.contains(s)).collect();
                let changed = !new.is_empty();
                all.extend(new);
                changed
            });
        }
    });

    tick(CLOCK_TICK, move || view.clock.set(js_sys::Date::now()));
    tick(STATS_TICK, move || {
        let now = js_sys::Date::now();
        let Some((per_second, latency, offset)) = sinks.meters.try_update_value(|m| {
            (
                m.throughput.sample(now),
                m.latency.median(),
                m.offset.estimate(),
            )
        }) else {
            return;
        };
        view.rate.set(per_second);
        view.latency.set(latency);
        view.offset.set(offset);
        // A leader counts the tabs it serves (the followers hear it from it).
        if role() == Role::Leading {
            with_tab(&mut Tab::count);
        }
    });

    Controls {
        reconnect,
        pause,
        resume,
        watch,
    }
}

/// Calls `f` on every `name` event of `target`. The dashboard is the whole
/// page and lives as long as it: so does the listener.
fn listen(target: &web_sys::EventTarget, name: &str, f: impl Fn() + 'static) {
    let listener = Closure::<dyn Fn()>::new(f);
    match target.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref()) {
        Ok(()) => listener.forget(),
        Err(error) => crate::warn_js(&format!("no {name} listener:"), &error),
    }
}

/// Calls `f` every `period` for as long as the page lives.
fn tick(period: Duration, f: impl Fn() + 'static) {
    match set_interval_with_handle(f, period) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(error) => crate::warn_js("no timer:", &error),
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The watchlist kept in `localStorage` (every symbol when there is none).
fn load() -> Watchlist {
    storage()
        .and_then(|s| s.get_item(watchlist::STORAGE_KEY).ok().flatten())
        .map(|text| Watchlist::parse(&text))
        .unwrap_or_default()
}

/// Keeps `list` in `localStorage` and mirrors it in the cookie the server
/// renders the page with.
fn save(list: &Watchlist) {
    let stored = list.stored();
    if let Some(storage) = storage() {
        let saved = if list.is_all() {
            storage.remove_item(watchlist::STORAGE_KEY)
        } else {
            storage.set_item(watchlist::STORAGE_KEY, &stored)
        };
        if let Err(error) = saved {
            crate::warn_js("could not save the watchlist:", &error);
        }
    }
    // Over HTTPS every cookie is Secure, the server's and this one.
    let secure = if window().location().protocol().is_ok_and(|p| p == "https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = if list.is_all() {
        format!(
            "{}=; Path=/; Max-Age=0; SameSite=Lax{secure}",
            watchlist::COOKIE
        )
    } else {
        format!(
            "{}={stored}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
            watchlist::COOKIE
        )
    };
    let document: web_sys::HtmlDocument = document().unchecked_into();
    if let Err(error) = document.set_cookie(&cookie) {
        crate::warn_js("could not set the watchlist cookie:", &error);
    }
}
