//! A follower: the tab that applies what the leader passes on, catching up
//! from a snapshot when it joins, comes back or finds a gap.

use super::{
    message::{OPENED, STATE, mirror},
    role::CatchUp,
};
use crate::{
    http::fetch_text,
    model::SNAPSHOT_EVENT,
    screen::Screen,
    sinks::Sinks,
    stream::{Receiver, Watchdog},
    sync::StreamSync,
    watchlist::Watchlist,
};
use js_sys::Array;
#[cfg(not(debug_assertions))]
use leptos::wasm_split::wasm_split;
use leptos::{logging, prelude::*, task::spawn_local, wasm_split::SplitLoaderError};
use std::{cell::RefCell, rc::Rc, time::Duration};
use wasm_bindgen::JsValue;

/// How long a follower waits before asking again for a snapshot the server
/// did not give.
const SNAPSHOT_RETRY: Duration = Duration::from_secs(1);

/// What a follower follows with.
pub(super) struct Following {
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
    /// A follower that applies with `receiver` what the leader passes on for
    /// the watchlist `list` (in its stored form).
    pub(super) fn new(receiver: Receiver, list: JsValue, watchdog: Option<Watchdog>) -> Self {
        Self {
            receiver,
            list,
            _watchdog: watchdog,
            held: None,
            round: 0,
        }
    }

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
pub(super) fn receive(
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
pub(super) fn resync(
    following: &Rc<RefCell<Option<Following>>>,
    sinks: Sinks,
    view: Screen,
    how: CatchUp,
) {
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
    spawn_local(async move {
        // A chunk the server did not give is tried again, as a snapshot it
        // did not give is.
        if catch_up(following.clone(), sinks, view, round)
            .await
            .is_err()
        {
            set_timeout(
                move || fetch_snapshot(following, sinks, view, round),
                SNAPSHOT_RETRY,
            );
        }
    });
}

/// [`fetch_snapshot`]'s work, loaded on first use as a WASM chunk of its
/// own in a release build (a tab alone never follows; `fallible` and
/// release-only, as `crate::detail::run`).
#[cfg(not(debug_assertions))]
#[wasm_split(tickertape_catch_up, wasm_split_path = ::leptos::wasm_split, fallible)]
fn catch_up(
    following: Rc<RefCell<Option<Following>>>,
    sinks: Sinks,
    view: Screen,
    round: u32,
) -> Result<(), SplitLoaderError> {
    fetch_and_apply(following, sinks, view, round);
    Ok(())
}

/// [`catch_up`] in a debug build: all in the one WASM.
#[cfg(debug_assertions)]
async fn catch_up(
    following: Rc<RefCell<Option<Following>>>,
    sinks: Sinks,
    view: Screen,
    round: u32,
) -> Result<(), SplitLoaderError> {
    fetch_and_apply(following, sinks, view, round);
    Ok(())
}

/// Fetches the snapshot and starts from it, then applies the messages held
/// meanwhile.
fn fetch_and_apply(
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
        let text = fetch_text(url).await;
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
