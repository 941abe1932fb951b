//! What watches the stream's updates besides the table: the price alerts and
//! an open chart, hooked in by what loads on first use (`crate::detail`).
//!
//! Plain thread-locals, not signals: the first load carries only these
//! hooks, and a signal or a stored value of a type of its own would cost it
//! its generic code.
//!
//! Only compiled for the browser (`hydrate`).

use crate::model::{EventId, Quote};
use std::cell::{Cell, RefCell};

/// A hook called with each update, as it is put on screen.
pub(crate) type UpdateTap = Box<dyn Fn(EventId, &Quote)>;

/// A hook called with a snapshot's quotes, as they are put on screen.
pub(crate) type SnapshotTap = Box<dyn Fn(&[Quote])>;

thread_local! {
    static UPDATE: RefCell<Option<UpdateTap>> = const { RefCell::new(None) };
    static SNAPSHOT: RefCell<Option<SnapshotTap>> = const { RefCell::new(None) };
    /// Whether this tab holds the browser's stream (or is alone).
    static LEADS: Cell<bool> = const { Cell::new(true) };
}

/// Hooks `update` and `snapshot` to the stream, in place of any before.
pub(crate) fn hook(update: UpdateTap, snapshot: SnapshotTap) {
    UPDATE.replace(Some(update));
    SNAPSHOT.replace(Some(snapshot));
}

/// Tells the hook about update `id`.
pub(crate) fn update(id: EventId, quote: &Quote) {
    UPDATE.with_borrow(|tap| {
        if let Some(tap) = tap {
            tap(id, quote);
        }
    });
}

/// Tells the hook about a snapshot.
pub(crate) fn snapshot(quotes: &[Quote]) {
    SNAPSHOT.with_borrow(|tap| {
        if let Some(tap) = tap {
            tap(quotes);
        }
    });
}

/// Whether this tab holds the browser's stream, or is alone: it is the one
/// that shows system notifications, once for the browser.
pub(crate) fn leads() -> bool {
    LEADS.get()
}

/// Says whether this tab holds the browser's stream.
pub(crate) fn set_leads(leads: bool) {
    LEADS.set(leads);
}
