//! One stream per browser: the tabs of one browser that show the dashboard
//! share one `EventSource`.
//!
//! Only compiled for the browser (`hydrate`). The tab that holds the Web Lock
//! [`NAME`] (`navigator.locks`) leads: it opens the stream and passes every
//! event on over the `BroadcastChannel` [`NAME`] (see
//! [`Relay`]). The others follow: they apply what it
//! passes on with the same [`Receiver`] as a stream of their own, and wait in
//! line for the lock. When the leader closes, crashes or steps down, the
//! browser gives the lock to the next tab, which resumes the stream from its
//! own last id; the followers skip what they already have.
//!
//! A follower that joins (or comes back from a pause, or finds a gap) fetches
//! a snapshot from `/api/snapshot` and holds what the leader passes on until
//! it has it. The leader tells the followers how its connection is doing (the
//! [`STATE`] message, also its answer to a newcomer's [`HELLO`]).
//!
//! Messages are arrays: `[event, data, id, watchlist]` for the stream's events
//! (and [`OPENED`] when it opens), `[STATE, phase, attempts, busy, next try,
//! tabs]` and `[HELLO]`.

use crate::{
    model::SNAPSHOT_EVENT,
    screen::Screen,
    sinks::Sinks,
    status::{Phase, Shared},
    stream::{self, PassOn, REOPEN_AFTER_HEARTBEATS, Receiver, Watchdog},
    sync::StreamSync,
    watchlist::Watchlist,
};
use js_sys::{Array, Function, JSON, Promise, Reflect};
use leptos::{logging, prelude::*, task::spawn_local};
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::Duration,
};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

/// The name of the lock and of the channel.
const NAME: &str = "tickertape.stream";

/// The leader's word on its connection.
const STATE: &str = "state";

/// A newcomer's greeting, answered with [`STATE`].
const HELLO: &str = "hello";

/// The name under which a leader passes on that its stream opened (no SSE
/// event has this name).
const OPENED: &str = "open";

/// A follower that heard nothing for this many heartbeat intervals takes the
/// connection over (later than the leader would reopen its own stream).
const TAKE_OVER_AFTER_HEARTBEATS: f64 = REOPEN_AFTER_HEARTBEATS + 2.0;

/// How long a follower waits before asking again for a snapshot the server
/// did not give.
const SNAPSHOT_RETRY: Duration = Duration::from_secs(1);

/// What this tab does with the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The browser cannot share (no Web Locks or no `BroadcastChannel`): the
    /// tab has a stream of its own.
    Alone,
    /// The tab holds the lock and the stream, and passes the events on.
    Leading,
    /// The tab applies what the leader passes on, and waits for the lock.
    Following,
    /// Neither: paused, or frozen by the browser.
    Idle,
}

/// How a tab that starts following catches up with the shared stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CatchUp {
    /// It has every event up to where the stream is (it led until now).
    Continue,
    /// From a snapshot, with nothing to recover: a page that just loaded, a
    /// new watchlist.
    Join,
    /// From a snapshot, said as a resync: the tab was paused or frozen.
    Resync,
}

/// How a tab asks for the lock.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ask {
    /// Only if no tab holds it.
    IfAvailable,
    /// In line, for when the holder lets go.
    Wait,
    /// At once, taking it from the holder (a leader that went silent).
    Steal,
}

/// The tab's part in sharing: the lock manager, the channel, what the tab
/// does and, while following, what it follows with.
pub(crate) struct Tab {
    locks: JsValue,
    channel: BroadcastChannel,
    view: Screen,
    sinks: Sinks,
    role: Rc<Cell<Role>>,
    /// The lock, while this tab leads: calling it lets go.
    held: RefCell<Option<Function>>,
    /// Which claim on the lock is current: a later one voids the earlier ones.
    claims: Cell<u32>,
    /// Set when another tab stole the lock from this one (and the stream's
    /// `restart` notified).
    taken: Rc<Cell<bool>>,
    /// Whether the browser froze the tab while it shared the stream.
    frozen: Cell<bool>,
    following: Rc<RefCell<Option<Following>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Tab {
    /// The tab's part, or `None` when the browser has no Web Locks or no
    /// `BroadcastChannel` (each tab then has a stream of its own).
    pub(crate) fn new(view: Screen, sinks: Sinks) -> Option<Self> {
        let locks = Reflect::get(&window().navigator(), &"locks".into()).ok()?;
        if !Reflect::get(&locks, &"request".into()).ok()?.is_function() {
            return None;
        }
        let channel = BroadcastChannel::new(NAME).ok()?;
        let role = Rc::new(Cell::new(Role::Idle));
        let following = Rc::new(RefCell::new(None::<Following>));
        let on_message = {
            let channel = channel.clone();
            let role = role.clone();
            let following = following.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let message = event.data();
                if !Array::is_array(&message) {
                    return;
                }
                let message: Array = message.unchecked_into();
                match role.get() {
                    Role::Following => receive(&following, sinks, view, &message),
                    Role::Leading if message.get(0) == HELLO => post_state(&channel, view),
                    _ => {}
                }
            })
        };
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Self {
            locks,
            channel,
            view,
            sinks,
            role,
            held: RefCell::default(),
            claims: Cell::new(0),
            taken: Rc::default(),
            frozen: Cell::new(false),
            following,
            _on_message: on_message,
        })
    }

    /// What the tab does with the stream.
    pub(crate) fn role(&self) -> Role {
        self.role.get()
    }

    /// A new claim on the lock, which voids the earlier ones.
    pub(crate) fn new_claim(&self) -> u32 {
        self.claims.set(self.claims.get() + 1);
        self.claims.get()
    }

    /// Whether `claim` is the current claim.
    pub(crate) fn is_current(&self, claim: u32) -> bool {
        self.claims.get() == claim
    }

    /// Leads, holding the lock `release` lets go of.
    pub(crate) fn lead(&self, release: Function) {
        self.unfollow();
        self.held.replace(Some(release));
        self.role.set(Role::Leading);
        self.view.connection.update(|c| {
            c.shared = Shared {
                leading: true,
                tabs: 1,
            }
        });
    }

    /// Leaves the shared stream (the controller closes a leader's stream):
    /// lets go of the lock, so the next tab in line takes over, or stops
    /// following. `frozen` when the browser is freezing the tab.
    pub(crate) fn leave(&self, frozen: bool) {
        self.new_claim();
        if let Some(release) = self.held.take() {
            let_go(&release);
        }
        self.unfollow();
        self.role.set(Role::Idle);
        self.frozen.set(frozen);
        self.view
            .connection
            .update(|c| c.shared = Shared::default());
    }

    /// Whether the tab left the stream because the browser froze it (asking
    /// forgets it).
    pub(crate) fn thawed(&self) -> bool {
        self.frozen.replace(false)
    }

    /// Whether another tab stole the lock this tab led with (asking forgets it).
    pub(crate) fn stolen(&self) -> bool {
        self.taken.replace(false) && self.held.take().is_some()
    }

    /// Asks the browser for the lock, as `ask` says. `granted` runs with the
    /// function that releases it once this tab holds it, or with `None` when
    /// another tab holds it ([`Ask::IfAvailable`] only). If another tab steals
    /// it while this one holds it, the stream's `restart` is notified, and
    /// [`Tab::stolen`] says so.
    pub(crate) fn claim(&self, ask: Ask, granted: Box<dyn FnOnce(Option<Function>)>) {
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if lock.is_null() {
                granted(None);
                return JsValue::UNDEFINED;
            }
            // The lock is held until the promise the callback returns settles.
            let mut release = None;
            let held = Promise::new(&mut |resolve, _| release = Some(resolve));
            granted(release);
            held.into()
        });
        let options = JSON::parse(match ask {
            Ask::IfAvailable => r#"{"ifAvailable":true}"#,
            Ask::Steal => r#"{"steal":true}"#,
            Ask::Wait => "{}",
        })
        .unwrap_or_default();
        // The request's promise fails when the lock is stolen from this tab.
        // (A closure handed to JavaScript once is freed when called: this one
        // stays, a few bytes, when the lock is let go of instead.)
        let (taken, restart) = (self.taken.clone(), self.sinks.restart);
        let on_stolen = Closure::once_into_js(move || {
            taken.set(true);
            restart.notify();
        });
        let asked = call(
            &self.locks,
            "request",
            &array(&[&NAME.into(), &options, &callback]),
        )
        .and_then(|promise| call(&promise, "catch", &array(&[&on_stolen])));
        if let Err(error) = asked {
            crate::warn_js("could not ask for the stream's lock:", &error);
        }
    }

    /// Counts the tabs that share the stream (this one and those waiting for
    /// the lock), for the status to say.
    pub(crate) fn count(&self) {
        let view = self.view;
        let role = self.role.clone();
        let counted = Closure::once_into_js(move |state: JsValue| {
            // Every request waiting in this origin is a tab waiting for this
            // lock (the dashboard asks for no other).
            let pending = Reflect::get(&state, &"pending".into()).unwrap_or_default();
            let tabs = 1 + pending.unchecked_into::<Array>().length();
            if role.get() == Role::Leading {
                view.connection
                    .maybe_update(|c| std::mem::replace(&mut c.shared.tabs, tabs) != tabs);
            }
        });
        _ = call(&self.locks, "query", &array(&[]))
            .and_then(|promise| call(&promise, "then", &array(&[&counted])));
    }

    /// What a leader's stream passes its events on with, for `watchlist`.
    pub(crate) fn relay(&self, watchlist: &Watchlist) -> Relay {
        Relay {
            channel: self.channel.clone(),
            list: watchlist.stored().into(),
        }
    }

    /// Tells the followers how the leader's connection is doing.
    pub(crate) fn post_state(&self) {
        post_state(&self.channel, self.view);
    }

    /// Starts following the leader's stream, catching up as `how` says.
    pub(crate) fn follow(&self, how: CatchUp) {
        self.role.set(Role::Following);
        let receiver = Receiver::new(self.sinks, true);
        let watchdog = receiver.watch(TAKE_OVER_AFTER_HEARTBEATS, Rc::new(Cell::new(false)));
        *self.following.borrow_mut() = Some(Following {
            receiver,
            list: self.view.watchlist.with_untracked(Watchlist::stored).into(),
            _watchdog: watchdog,
            held: None,
            round: 0,
        });
        // Itself and a leader, until the leader says how many.
        self.view.connection.update(|c| {
            c.shared = Shared {
                leading: false,
                tabs: 2,
            }
        });
        if how != CatchUp::Continue {
            self.resync(how);
        }
        post(&self.channel, &array(&[&HELLO.into()]));
    }

    /// Catches up with the shared stream from a snapshot (a new watchlist: `how`
    /// is [`CatchUp::Join`]).
    pub(crate) fn resync(&self, how: CatchUp) {
        resync(&self.following, self.sinks, self.view, how);
    }

    /// Stops following.
    pub(crate) fn unfollow(&self) {
        self.following.borrow_mut().take();
    }
}

/// Where a leading tab passes its stream's events on to the other tabs.
pub(crate) struct Relay {
    channel: BroadcastChannel,
    /// The watchlist the stream was opened with, in its stored form: a tab
    /// watching another list takes none of it. Made a JavaScript string once,
    /// not once per event.
    list: JsValue,
}

impl PassOn for Relay {
    /// Passes on the event `name` with the browser's own `data` string (not
    /// one copied back) and its `id`.
    fn event(&self, name: &str, data: &JsValue, id: &str) {
        post(
            &self.channel,
            &array(&[&name.into(), data, &id.into(), &self.list]),
        );
    }

    /// Passes on that the stream opened, of some symbols only when `filtered`.
    fn opened(&self, filtered: bool) {
        self.event(
            OPENED,
            &JsValue::from_str(if filtered { "1" } else { "" }),
            "",
        );
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// What a follower follows with.
struct Following {
    receiver: Receiver,
    /// This tab's watchlist in its stored form: the leader's events for
    /// another list are not this tab's.
    list: JsValue,
    _watchdog: Option<Watchdog>,
    /// While a snapshot is fetched, the messages that came meanwhile.
    held: Option<Vec<Array>>,
    /// Which fetch is current: a later one voids an earlier.
    round: u32,
}

impl Following {
    /// Applies one of the leader's events (what this tab has is skipped);
    /// `false` on a gap.
    fn deliver(&self, name: &str, message: &Array) -> bool {
        let data = message.get(1).as_string().unwrap_or_default();
        let id = message.get(2).as_string().unwrap_or_default();
        if name == OPENED {
            self.receiver.opened(!data.is_empty());
            return true;
        }
        match self.receiver.event(name, &data, &id) {
            Ok(()) => true,
            Err(gap) => {
                logging::warn!("gap: {} missing, got {}; resyncing", gap.expected, gap.got);
                false
            }
        }
    }
}

/// A follower's handling of the leader's `message`.
fn receive(
    following: &Rc<RefCell<Option<Following>>>,
    sinks: Sinks,
    view: Screen,
    message: &Array,
) {
    let name = message.get(0).as_string().unwrap_or_default();
    if name == STATE {
        mirror(view, message);
        return;
    }
    let delivered = {
        let mut following = following.borrow_mut();
        let Some(following) = following.as_mut() else {
            return;
        };
        // Another list's events are not this tab's (nor is a newcomer's hello,
        // which carries no list).
        if message.get(3) != following.list {
            return;
        }
        if let Some(held) = &mut following.held {
            held.push(message.clone());
            return;
        }
        following.deliver(&name, message)
    };
    if !delivered {
        resync(following, sinks, view, CatchUp::Resync);
    }
}

/// Holds the leader's messages and fetches a snapshot to start from.
fn resync(following: &Rc<RefCell<Option<Following>>>, sinks: Sinks, view: Screen, how: CatchUp) {
    let round = {
        let mut following = following.borrow_mut();
        let Some(following) = following.as_mut() else {
            return;
        };
        following.round += 1;
        following.held.get_or_insert_with(Vec::new);
        // A resync follows a new watchlist too.
        following.list = view.watchlist.with_untracked(Watchlist::stored).into();
        following.round
    };
    if how == CatchUp::Join {
        view.sync.set(StreamSync::new(None));
    }
    fetch_snapshot(following.clone(), sinks, view, round);
}

fn fetch_snapshot(
    following: Rc<RefCell<Option<Following>>>,
    sinks: Sinks,
    view: Screen,
    round: u32,
) {
    let mut url = crate::model::route::SNAPSHOT.to_owned();
    if let Some(symbols) = view.watchlist.with_untracked(Watchlist::query) {
        url.push_str("?symbols=");
        url.push_str(&symbols);
    }
    spawn_local(async move {
        let text = fetch_text(&url).await;
        if following
            .borrow()
            .as_ref()
            .is_none_or(|following| following.round != round)
        {
            return;
        }
        let Some(text) = text else {
            // The leader's stream says what is wrong with the server meanwhile.
            set_timeout(
                move || fetch_snapshot(following, sinks, view, round),
                SNAPSHOT_RETRY,
            );
            return;
        };
        let held = {
            let mut following = following.borrow_mut();
            let Some(following) = following.as_mut() else {
                return;
            };
            let filtered = !view.watchlist.with_untracked(Watchlist::is_all);
            // A catch-up: the first heartbeat past the snapshot ends it and says
            // how it went (a resync, for a tab that had prices to resume).
            view.sync.update(|sync| sync.opened(filtered));
            _ = following.receiver.event(SNAPSHOT_EVENT, &text, "");
            following.held.take().unwrap_or_default()
        };
        for message in held {
            receive(&following, sinks, view, &message);
        }
    });
}

/// The body of `GET url`, or `None` when the server did not answer 2xx.
async fn fetch_text(url: &str) -> Option<String> {
    let response = stream::fetch(url, "GET")
        .await
        .filter(web_sys::Response::ok)?;
    JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
}

/// A follower takes the leader's word on its connection.
fn mirror(view: Screen, message: &Array) {
    let Some(phase) = message
        .get(1)
        .as_string()
        .and_then(|slug| Phase::from_slug(&slug))
    else {
        return;
    };
    let attempts = message.get(2).as_f64().unwrap_or(0.0) as u32;
    let busy = message.get(3).is_truthy();
    let tabs = message.get(5).as_f64().unwrap_or(0.0).max(2.0) as u32;
    view.connection.update(|connection| {
        connection.mirror(phase, attempts, busy);
        connection.shared.tabs = tabs;
    });
    view.next_try.set(message.get(4).as_f64());
}

fn post_state(channel: &BroadcastChannel, view: Screen) {
    let connection = view.connection.get_untracked();
    let message = array(&[
        &STATE.into(),
        &connection.phase.slug().into(),
        &connection.attempts.into(),
        &connection.busy.into(),
        &view
            .next_try
            .get_untracked()
            .map_or(JsValue::NULL, JsValue::from),
        &connection.shared.tabs.into(),
    ]);
    post(channel, &message);
}

/// Lets go of the lock `release` holds.
pub(crate) fn let_go(release: &Function) {
    _ = Reflect::apply(release, &JsValue::NULL, &array(&[]));
}

/// A JavaScript array of `items`.
fn array(items: &[&JsValue]) -> Array {
    let array = Array::new();
    for item in items {
        array.push(item);
    }
    array
}

/// Calls `object.method(...args)`.
fn call(object: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let method: Function = Reflect::get(object, &method.into())?.unchecked_into();
    Reflect::apply(&method, object, args)
}

/// Posts `message` to the other tabs.
fn post(channel: &BroadcastChannel, message: &Array) {
    if let Err(error) = channel.post_message(message) {
        crate::warn_js("could not tell the other tabs:", &error);
    }
}
