//! The hub's book, kept under its lock: the latest quote of every symbol in
//! display order, their recent prices, and the history of published updates.

use super::{
    candles::CandleBook,
    update::{Filter, Published},
};
use crate::clock;
use app::model::{EventId, Price, Quote, RECENT_PRICES, Snapshot, Symbol};
use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

#[derive(Debug)]
pub(super) struct State {
    pub(super) head: EventId,
    /// Quotes in display order, with an index by symbol.
    pub(super) quotes: Vec<Quote>,
    pub(super) index: HashMap<Symbol, usize>,
    /// The last [`RECENT_PRICES`] prices of each quote, oldest first, same order.
    pub(super) recent: Vec<VecDeque<Price>>,
    /// The last `capacity` updates, oldest first, ending at `head`.
    pub(super) history: VecDeque<Arc<Published>>,
    pub(super) capacity: usize,
    /// The candles of each quote, same order.
    pub(super) candles: Vec<CandleBook>,
}

impl State {
    /// Where in the history the update after `cursor` is (the history's length
    /// when `cursor` is the head), or `None` when `cursor` is not a position the
    /// history covers.
    pub(super) fn position_after(&self, cursor: EventId) -> Option<usize> {
        let oldest = self.head.seq - self.history.len() as u64;
        if cursor.run != self.head.run || cursor.seq < oldest || cursor.seq > self.head.seq {
            return None;
        }
        usize::try_from(cursor.seq - oldest).ok()
    }

    pub(super) fn snapshot(&self, filter: &Filter) -> Snapshot {
        let kept = || {
            self.quotes
                .iter()
                .zip(&self.recent)
                .filter(|(quote, _)| wanted(filter, &quote.symbol))
        };
        Snapshot {
            last_event_id: self.head,
            time: clock::now_ms(),
            quotes: kept()
                .map(|(quote, recent)| Quote {
                    recent: recent.iter().copied().collect(),
                    ..quote.clone()
                })
                .collect(),
        }
    }
}

/// Adds `price` to a symbol's recent prices, dropping the oldest past
/// [`RECENT_PRICES`].
pub(super) fn push_recent(recent: &mut VecDeque<Price>, price: Price) {
    if recent.len() == RECENT_PRICES {
        recent.pop_front();
    }
    recent.push_back(price);
}

/// The recent prices of a symbol that has just opened at `price`.
pub(super) fn recent_from(price: Price) -> VecDeque<Price> {
    let mut recent = VecDeque::with_capacity(RECENT_PRICES);
    recent.push_back(price);
    recent
}

/// Whether a stream with `filter` sends `symbol`'s update (never a hole's).
pub(super) fn keeps(filter: &Filter, symbol: &Option<Symbol>) -> bool {
    symbol.as_ref().is_some_and(|symbol| wanted(filter, symbol))
}

pub(super) fn wanted(filter: &Filter, symbol: &Symbol) -> bool {
    filter
        .as_ref()
        .is_none_or(|symbols| symbols.contains(symbol))
}
