//! The messages the tabs exchange over the `BroadcastChannel`, and the
//! JavaScript calls they take.

use crate::{screen::Screen, status::Phase, stream::PassOn};
use js_sys::{Array, Function, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::BroadcastChannel;

/// The name of the lock and of the channel.
pub(super) const NAME: &str = "tickertape.stream";

/// The leader's word on its connection.
pub(super) const STATE: &str = "state";

/// A newcomer's greeting, answered with [`STATE`].
pub(super) const HELLO: &str = "hello";

/// The name under which a leader passes on that its stream opened (no SSE
/// event has this name).
pub(super) const OPENED: &str = "open";

/// Where a leading tab passes its stream's events on to the other tabs.
pub(crate) struct Relay {
    pub(super) channel: BroadcastChannel,
    /// The watchlist the stream was opened with, in its stored form: a tab
    /// watching another list takes none of it. Made a JavaScript string once,
    /// not once per event.
    pub(super) list: JsValue,
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

/// A follower takes the leader's word on its connection.
pub(super) fn mirror(view: Screen, message: &Array) {
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

pub(super) fn post_state(channel: &BroadcastChannel, view: Screen) {
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
pub(super) fn array(items: &[&JsValue]) -> Array {
    let array = Array::new();
    for item in items {
        array.push(item);
    }
    array
}

/// Calls `object.method(...args)`.
pub(super) fn call(object: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let method: Function = Reflect::get(object, &method.into())?.unchecked_into();
    Reflect::apply(&method, object, args)
}

/// Posts `message` to the other tabs.
pub(super) fn post(channel: &BroadcastChannel, message: &Array) {
    if let Err(error) = channel.post_message(message) {
        crate::warn_js("could not tell the other tabs:", &error);
    }
}
