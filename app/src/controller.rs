//! The dashboard's controller, in the browser: opens the price stream and
//! reopens it (after a backoff it counts down), ticks the clocks and the
//! header's figures, and carries out the viewer's controls (pause, resume,
//! reconnect, the watchlist). The views are in [`dashboard`](crate::dashboard);
//! the connection in [`stream`](crate::stream), the tabs' sharing in
//! [`share`](crate::share).

use crate::{
    dom::on,
    meter::Meters,
    saved,
    screen::{Controls, Screen},
    share::{self, Ask, CatchUp, Role, Tab},
    sinks::{Batch, Sinks},
    status::{self, Connection, Phase},
    stream::{PassOn, PriceStream},
    sync::StreamSync,
    watchlist::Watchlist,
};
use js_sys::Function;
use leptos::prelude::*;
use std::time::Duration;

/// How often the clock (ages, countdown) ticks.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// How often the header's figures (and how many tabs share the stream) are
/// refreshed.
const STATS_TICK: Duration = Duration::from_secs(1);

/// The base reconnection delay when the page did not say the server's
/// (a heartbeat says it too).
const DEFAULT_RETRY_MS: f64 = 1000.0;

/// Opens the stream (or joins the one another tab shares), wires up the
/// clocks and the browser's events, and gives the viewer's controls.
pub(crate) fn start(view: Screen) -> Controls {
    let controller = Controller::new(view);
    controller.react();
    controller.listen_to_the_browser();
    controller.tick();
    Controls {
        reconnect: Callback::new(move |()| controller.reconnect()),
        pause: Callback::new(move |()| controller.pause()),
        resume: Callback::new(move |()| controller.resume()),
        watch: Callback::new(move |next: Watchlist| {
            saved::save(&next);
            controller.adopt(next);
        }),
    }
}

/// The page's stream: the signals it writes to, the connection, the pending
/// retry and this tab's part in the browser's one shared stream. Cheap to
/// copy: every part is a handle.
#[derive(Clone, Copy)]
struct Controller {
    view: Screen,
    sinks: Sinks,
    stream: StoredValue<Option<PriceStream>, LocalStorage>,
    retry_timer: StoredValue<Option<TimeoutHandle>, LocalStorage>,
    tab: StoredValue<Option<Tab>, LocalStorage>,
}

impl Controller {
    fn new(view: Screen) -> Self {
        let sinks = Sinks {
            table: view.table,
            connection: view.connection,
            sync: view.sync,
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
        Self {
            view,
            sinks,
            stream: StoredValue::new_local(None),
            retry_timer: StoredValue::new_local(None),
            tab: StoredValue::new_local(Tab::new(view, sinks)),
        }
    }

    /// Calls `f` with this tab's part, when the browser shares streams (the
    /// one way in: each closure handed to the store directly would be
    /// compiled into a copy of the store's code of its own).
    fn with_tab(self, f: &mut dyn FnMut(&Tab)) {
        _ = self.tab.try_with_value(|tab| {
            if let Some(tab) = tab {
                f(tab);
            }
        });
    }

    fn role(self) -> Role {
        let mut role = Role::Alone;
        self.with_tab(&mut |tab| role = tab.role());
        role
    }

    /// Clears the retry still scheduled, if any.
    fn cancel_retry(self) {
        if let Some(timer) = self.retry_timer.try_update_value(Option::take).flatten() {
            timer.clear();
        }
    }

    /// Opens this tab's stream, from the last id it has; a leading tab passes
    /// what it applies on to the others.
    fn open(self) {
        // A stream opened now, by whatever path (a retry, the lock granted, a
        // reconnect), supersedes any retry still scheduled: one loop of tries.
        self.cancel_retry();
        let from = self.sinks.sync.with_untracked(StreamSync::last);
        let list = self.view.watchlist.get_untracked();
        let mut relay: Option<Box<dyn PassOn>> = None;
        self.with_tab(&mut |tab| {
            if tab.role() == Role::Leading {
                relay = Some(Box::new(tab.relay(&list)));
            }
        });
        match PriceStream::open(self.sinks, from, list.query().as_deref(), relay) {
            Ok(opened) => self.stream.set_value(Some(opened)),
            Err(error) => {
                crate::warn_js("could not open the price stream:", &error);
                self.sinks.connection.update(|c| c.errored(false));
            }
        }
    }

    /// Closes the stream and any pending retry.
    fn stop(self) {
        self.stream.set_value(None);
        self.cancel_retry();
        self.view.next_try.set(None);
    }

    /// Leaves the shared stream: closes this tab's connection, so that the
    /// next tab in line takes over, or stops following.
    fn leave(self, frozen: bool) {
        self.stop();
        self.with_tab(&mut |tab| tab.leave(frozen));
    }

    /// Given the lock for `claim`: leads, unless the claim was voided
    /// meanwhile (then lets the next tab have it).
    fn granted(self, claim: u32, lock: Option<Function>) {
        let Some(lock) = lock else { return };
        let mut led = false;
        self.with_tab(&mut |tab| {
            if tab.is_current(claim) {
                tab.lead(lock.clone());
                led = true;
            }
        });
        if led {
            self.open();
        } else {
            share::let_go(&lock);
        }
    }

    /// Joins the shared stream: leads it when no tab does; otherwise follows
    /// it, catching up as `how` says, and waits in line to lead. Without
    /// sharing, opens a stream of its own.
    fn join(self, how: CatchUp) {
        let mut claim = None;
        self.with_tab(&mut |tab| claim = Some(tab.new_claim()));
        let Some(claim) = claim else {
            self.open();
            return;
        };
        let first = move |lock: Option<Function>| {
            if lock.is_some() {
                return self.granted(claim, lock);
            }
            self.with_tab(&mut |tab| {
                if tab.is_current(claim) {
                    tab.follow(how);
                    tab.claim(Ask::Wait, Box::new(move |lock| self.granted(claim, lock)));
                }
            });
        };
        self.with_tab(&mut |tab| tab.claim(Ask::IfAvailable, Box::new(first)));
    }

    /// Closes the stream (and any pending retry), notes why, opens a new one.
    fn reopen(self, why: fn(&mut Connection)) {
        self.stop();
        self.sinks.connection.update(why);
        self.open();
    }

    /// By hand (Closed), or after a lost update or a long silence: a follower
    /// takes the connection over from a leader that went silent or gave up.
    fn reconnect(self) {
        let mut stolen = false;
        self.with_tab(&mut |tab| stolen = tab.stolen());
        match self.role() {
            // Another tab stole the lock (this one had gone silent): it leads
            // now, and this one follows with every event up to there.
            Role::Leading if stolen => {
                self.stop();
                self.join(CatchUp::Continue);
            }
            Role::Following => {
                self.sinks
                    .connection
                    .update(Connection::reconnecting_by_hand);
                self.with_tab(&mut |tab| {
                    let claim = tab.new_claim();
                    tab.claim(Ask::Steal, Box::new(move |lock| self.granted(claim, lock)));
                });
            }
            Role::Idle => {}
            Role::Alone | Role::Leading => self.reopen(Connection::reconnecting_by_hand),
        }
    }

    /// A dropped connection: tries again after a backoff, counted down on
    /// screen; a busy server's `Retry-After` is a floor, not a replacement.
    fn retry_later(self) {
        self.stop();
        let attempt = self.sinks.connection.with_untracked(|c| c.attempts);
        let base = self
            .sinks
            .meters
            .with_value(|m| m.retry_ms)
            .unwrap_or(DEFAULT_RETRY_MS);
        let backoff = status::backoff(base, attempt, js_sys::Math::random());
        let asked = self.sinks.hold_off.try_update_value(Option::take).flatten();
        let delay = asked.map_or(backoff, |asked| asked.max(backoff));
        self.view.next_try.set(Some(js_sys::Date::now() + delay));
        let timer = set_timeout_with_handle(
            move || {
                self.retry_timer.set_value(None);
                self.view.next_try.set(None);
                self.open();
            },
            Duration::from_millis(delay as u64),
        )
        .map_err(|error| crate::warn_js("could not schedule a reconnection:", &error))
        .ok();
        self.retry_timer.set_value(timer);
    }

    /// Pausing this tab pauses its view only: a leader hands the stream over.
    fn pause(self) {
        self.leave(false);
        // What arrived before the pause is shown now, not after it.
        Batch::flush(self.sinks);
        self.sinks.connection.update(Connection::paused);
    }

    fn resume(self) {
        self.sinks.connection.update(Connection::resumed);
        Meters::resumed(self.sinks.meters);
        self.join(CatchUp::Resync);
    }

    /// A new list is a new stream, from a snapshot that holds the newly
    /// watched rows (resuming from the last id would replay the old list's
    /// updates only).
    fn adopt(self, next: Watchlist) {
        let view = self.view;
        if view.watchlist.with_untracked(|current| *current == next) {
            return;
        }
        view.watchlist.set(next);
        view.sync.set(StreamSync::new(None));
        view.recovery.set(None);
        match self.role() {
            // A paused stream opens with the new list when resumed.
            _ if view.connection.with_untracked(|c| c.phase) == Phase::Paused => {}
            Role::Idle => {}
            Role::Following => self.with_tab(&mut |tab| tab.resync(CatchUp::Join)),
            Role::Alone | Role::Leading => self.reopen(Connection::resumed),
        }
    }

    /// What the controller does when a signal says so.
    fn react(self) {
        let Self { view, sinks, .. } = self;
        on_cleanup(move || self.leave(false));
        // A lost update: reopen from the last good id (after the callback returns).
        Effect::new(move |first: Option<()>| {
            sinks.restart.track();
            if first.is_some() {
                self.reconnect();
            }
        });
        // A dropped connection: try again later.
        Effect::new(move |first: Option<()>| {
            sinks.lost.track();
            if first.is_some() {
                self.retry_later();
            }
        });
        // A leader tells the followers how its connection is doing.
        Effect::new(move |_| {
            view.connection.track();
            view.next_try.track();
            if self.role() == Role::Leading {
                self.with_tab(&mut Tab::post_state);
            }
        });
        // Once hydrated (an effect runs after it): the viewer's stored
        // watchlist wins over the cookie the page was rendered with, which only
        // mirrors it; then the stream opens, or the tab joins the one its
        // browser shares.
        Effect::new(move |_| {
            let stored = saved::load();
            saved::save(&stored);
            if view.watchlist.with_untracked(|w| *w != stored) {
                view.watchlist.set(stored);
                view.sync.set(StreamSync::new(None));
            }
            self.join(CatchUp::Join);
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
    }

    /// The browser's events: another tab's watchlist, and a tab frozen (to
    /// save power) or thawed.
    fn listen_to_the_browser(self) {
        // Another tab changed the watchlist they share.
        on(&window(), "storage", move |_| self.adopt(saved::load()));
        // A frozen leader would hold the stream for nobody: it hands it over
        // first, and joins again when it thaws.
        on(&document(), "freeze", move |_| {
            if matches!(self.role(), Role::Leading | Role::Following) {
                self.leave(true);
            }
        });
        on(&document(), "resume", move |_| {
            let mut thawed = false;
            self.with_tab(&mut |tab| thawed = tab.thawed());
            if thawed {
                self.join(CatchUp::Resync);
            }
        });
    }

    /// The clocks: ages and the countdown each second, and the header's
    /// figures (a leader also counts the tabs it serves).
    fn tick(self) {
        let Self { view, sinks, .. } = self;
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
            if self.role() == Role::Leading {
                self.with_tab(&mut Tab::count);
            }
        });
    }
}

/// Calls `f` every `period` for as long as the page lives.
fn tick(period: Duration, f: impl Fn() + 'static) {
    match set_interval_with_handle(f, period) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(error) => crate::warn_js("no timer:", &error),
    }
}
