//! What a tab does with the shared stream, how it catches up and how it asks
//! for the lock.

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
