//! A cluster's broker: several instances share one feed through Redis Streams.
//!
//! Without `--broker` an instance stands alone and nothing here runs. With it:
//!
//! - **One sequence.** Every update is appended to the stream `PREFIX:stream`
//!   by one Lua script ([`APPEND`]) that checks the cluster's epoch and the
//!   position the batch was computed at, then adds each update with the
//!   explicit id `<seq>-0` (`seq` gap-free across the cluster) and stores the
//!   snapshot state of the symbols it moved (`PREFIX:quotes`, in the order of
//!   `PREFIX:symbols`) and the head (`PREFIX:head`): a batch is all or nothing,
//!   and no other update falls inside it. A batch computed at an older position
//!   than the head is refused by the script and computed again once this
//!   instance has relayed the head (`conflict`).
//! - **Encoded once.** An entry holds the update's JSON, session fields
//!   included, exactly as the publisher encoded it; every instance builds the
//!   same `priceUpdate` frame around it. Ids are `<epoch>-<seq>`: the epoch is
//!   created with the stream (`PREFIX:epoch`) and changes only when the broker
//!   loses its data.
//! - **Relaying.** Each instance loads the snapshot and the history's tail
//!   before it accepts viewers, then reads the stream (`XREAD BLOCK`) into its
//!   own hub, which fans out as on a single instance: a `Last-Event-ID` from
//!   any instance resumes exactly on any other.
//! - **Trouble.** When Redis cannot be reached, streams stay open and their
//!   heartbeats say `"feed":"interrupted"`, publishing answers `503
//!   broker_unavailable`, `/healthz` answers 503; the relay reconnects with
//!   backoff and catches up from the last id it relayed. Redis back without its
//!   data: the first instance to see it starts a new epoch from its prices, and
//!   every viewer resyncs from a snapshot with a notice.
//! - **One simulator.** Instances compete for a lease (`SET NX PX`, renewed);
//!   the holder runs the simulator from the cluster's latest prices.
//!
//! The parts: [`scripts`] (the keys and the Lua scripts over them),
//! [`client`] (the connection and its health), [`state`] (joining: loading
//! the cluster's state), [`relay`] (the stream into this instance's hub),
//! [`append`] (a batch into the stream) and [`lease`] (who simulates).

mod append;
mod client;
mod lease;
mod relay;
mod scripts;
mod state;

pub use client::{Broker, Health};
pub use lease::{LEASE, LEASE_EVERY};
