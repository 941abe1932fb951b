//! What goes through the hub: a price to publish ([`Tick`]), a batch
//! computed for a cluster's broker ([`Prepared`]), an update as every stream
//! reads it ([`Published`], [`Read`]), and why a batch was refused.

use app::model::{EventId, Price, Quote, Snapshot, Symbol};
use bytes::Bytes;
use std::{collections::HashSet, sync::Arc};
use tokio::time::Instant;

/// One published update, shared by every subscriber.
#[derive(Debug)]
pub struct Published {
    /// The update's id on the stream.
    pub id: EventId,
    /// The symbol it updates, for filtered streams; `None` for a hole (an
    /// entry relayed from a cluster's broker that was not a valid quote: its
    /// id is taken, and nothing is sent for it).
    pub symbol: Option<Symbol>,
    /// The encoded `priceUpdate` frame.
    pub frame: Bytes,
    /// When it was published, to tell how far behind a reader is.
    pub at: Instant,
}

/// Which symbols a subscriber wants: all, or a set.
pub type Filter = Option<Arc<HashSet<Symbol>>>;

/// What a subscriber reads after its cursor.
#[derive(Debug)]
pub enum Read {
    /// The updates after the cursor (filtered), up to `next`; there may be more.
    Updates {
        /// The matching updates, oldest first.
        updates: Vec<Arc<Published>>,
        /// The new cursor: the id of the last update looked at.
        next: EventId,
    },
    /// The cursor is not in this run's history (too old, from another run, or
    /// ahead of it), or the reader is later than it allows: here is the current
    /// state instead.
    Resync(Snapshot),
}

/// A batch computed against the hub's state ([`Hub::prepare`]), not yet numbered.
#[derive(Debug)]
pub struct Prepared {
    /// The position it was computed at: it must follow this id.
    pub base: EventId,
    /// Each update, in order.
    pub updates: Vec<PreparedUpdate>,
    /// The state of each symbol the batch moves, after it, as a snapshot has it
    /// (with its recent prices), in the order they first appear.
    pub states: Vec<Quote>,
}

/// One price to publish: a symbol's new price, and when it was priced (in
/// milliseconds since the Unix epoch). The hub makes it a [`Quote`], with the
/// session's open, high, low and change.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// What it prices.
    pub symbol: Symbol,
    /// The price.
    pub price: Price,
    /// When it was priced.
    pub ts: u64,
}

/// One update of a [`Prepared`] batch.
#[derive(Debug)]
pub struct PreparedUpdate {
    /// The new quote.
    pub quote: Quote,
    /// Its JSON, the `data` of its `priceUpdate` event.
    pub data: String,
}

/// Updates that do not continue the hub's sequence: the state must be reloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the updates do not continue the hub's sequence at {head}")]
pub struct Discontinuity {
    /// The hub's head.
    pub head: EventId,
}

/// A batch of updates that would take the hub past its limit of symbols.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server quotes {quoted} symbols, at most {limit}: {new} more would pass the limit")]
pub struct TooManySymbols {
    /// Symbols quoted now.
    pub quoted: usize,
    /// New symbols the batch brings.
    pub new: usize,
    /// The most symbols the hub quotes.
    pub limit: usize,
}

/// Why a batch was not published; nothing of it was.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The batch would add symbols past the limit.
    #[error(transparent)]
    TooManySymbols(#[from] TooManySymbols),
    /// An update could not be encoded.
    #[error("could not encode an update: {0}")]
    Encode(#[from] serde_json::Error),
    /// A cluster's broker could not take the batch.
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
}
