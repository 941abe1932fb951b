//! One stream per browser: the tabs of one browser that show the dashboard
//! share one `EventSource`.
//!
//! Only compiled for the browser (`hydrate`). The tab that holds the Web Lock
//! `tickertape.stream` (`navigator.locks`) leads: it opens the stream and
//! passes every event on over the `BroadcastChannel` of the same name. The
//! others follow: they apply what it passes on with the same `Receiver` as a
//! stream of their own, and wait in line for the lock. When the leader closes, crashes or steps down, the
//! browser gives the lock to the next tab, which resumes the stream from its
//! own last id; the followers skip what they already have.
//!
//! A follower that joins (or comes back from a pause, or finds a gap) fetches
//! a snapshot from `/api/snapshot` and holds what the leader passes on until
//! it has it. The leader tells the followers how its connection is doing (the
//! `state` message, also its answer to a newcomer's `hello`).
//!
//! Messages are arrays: `[event, data, id, watchlist]` for the stream's events
//! (and `open` when it opens), `[state, phase, attempts, busy, next try,
//! tabs]` and `[hello]`.
//!
//! The parts: `role` (what a tab does), `message` (what the tabs say to each
//! other), `follow` (a follower catching up) and `tab` (the lock and the
//! channel, which the controller drives).

mod follow;
mod message;
mod role;
mod tab;

pub(crate) use message::let_go;
pub(crate) use role::{Ask, CatchUp, Role};
pub(crate) use tab::Tab;
