//! The tab's part in sharing: the lock, the channel and the tab's role.

use super::{
    follow::{Following, receive, resync},
    message::{HELLO, NAME, Relay, array, call, let_go, post, post_state},
    role::{Ask, CatchUp, Role},
};
use crate::{
    screen::Screen,
    sinks::Sinks,
    status::Shared,
    stream::{REOPEN_AFTER_HEARTBEATS, Receiver},
    watchlist::Watchlist,
};
use js_sys::{Array, Function, JSON, Promise, Reflect};
use leptos::prelude::*;
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{BroadcastChannel, MessageEvent};

/// A follower that heard nothing for this many heartbeat intervals takes the
/// connection over (later than the leader would reopen its own stream).
const TAKE_OVER_AFTER_HEARTBEATS: f64 = REOPEN_AFTER_HEARTBEATS + 2.0;

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
        crate::taps::set_leads(true);
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
        // The leader notifies for the browser.
        crate::taps::set_leads(false);
        let receiver = Receiver::new(self.sinks, true);
        let watchdog = receiver.watch(TAKE_OVER_AFTER_HEARTBEATS, Rc::new(Cell::new(false)));
        let list = self.view.watchlist.with_untracked(Watchlist::stored).into();
        *self.following.borrow_mut() = Some(Following::new(receiver, list, watchdog));
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

impl Drop for Tab {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
