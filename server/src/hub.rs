//! The fan-out between the price source and the viewers.
//!
//! The hub keeps the latest quote of every symbol, gives each update the next
//! [`EventId`] and encodes it into an SSE frame exactly once. The frame goes into a
//! bounded broadcast channel that every subscriber reads at its own pace: the
//! producer never waits for a subscriber, a subscriber that falls more than the
//! channel's capacity behind skips ahead instead of holding memory, and a dropped
//! subscriber frees its place at once.

use crate::wire;
use app::model::{EventId, Quote, Snapshot, Symbol};
use axum::response::sse::Event;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};
use tokio::sync::broadcast;

/// How many published events a subscriber may fall behind before it skips ahead.
pub const DEFAULT_CAPACITY: usize = 1024;

/// One published update, shared by every subscriber.
#[derive(Debug)]
pub struct Published {
    /// The update's id on the stream.
    pub id: EventId,
    /// The encoded `priceUpdate` frame.
    pub frame: Event,
}

/// The latest quotes and the broadcast channel. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<State>,
    sender: broadcast::Sender<Arc<Published>>,
}

#[derive(Debug)]
struct State {
    last_id: Option<EventId>,
    /// Quotes in display order, with an index by symbol.
    quotes: Vec<Quote>,
    index: HashMap<Symbol, usize>,
}

impl Hub {
    /// A hub whose snapshot starts with `opening` (one quote per symbol, in display
    /// order) and whose subscribers may lag `capacity` events behind.
    ///
    /// # Panics
    /// Panics if `capacity` is zero.
    pub fn new(opening: Vec<Quote>, capacity: usize) -> Self {
        let index = opening
            .iter()
            .enumerate()
            .map(|(i, quote)| (quote.symbol.clone(), i))
            .collect();
        let (sender, _) = broadcast::channel(capacity);
        Self {
            state: Mutex::new(State {
                last_id: None,
                quotes: opening,
                index,
            }),
            sender,
        }
    }

    /// Publishes `quote` to every subscriber and returns its id.
    ///
    /// Numbering, recording and sending happen under one lock, so subscribers see
    /// ids in order and a snapshot's `last_event_id` always matches its quotes.
    pub fn publish(&self, quote: Quote) -> Result<EventId, serde_json::Error> {
        let mut state = self.lock();
        let id = state.last_id.unwrap_or_default().next();
        let frame = wire::price_update(id, &quote)?;
        state.last_id = Some(id);
        match state.index.get(&quote.symbol) {
            Some(&i) => state.quotes[i] = quote,
            None => {
                let i = state.quotes.len();
                state.index.insert(quote.symbol.clone(), i);
                state.quotes.push(quote);
            }
        }
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(Arc::new(Published { id, frame }));
        Ok(id)
    }

    /// The latest quote of every symbol and the id of the last event.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            last_event_id: state.last_id,
            quotes: state.quotes.clone(),
        }
    }

    /// A new subscriber, which receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.sender.subscribe()
    }

    /// How many subscribers are connected.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A std mutex: the critical sections are short and never await. A panic
        // while holding it cannot leave the state half-written (every write is a
        // single assignment), so a poisoned lock is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::Price;

    fn quote(symbol: &str, price: f64) -> Quote {
        Quote {
            symbol: symbol.parse().unwrap(),
            price: Price::new(price).unwrap(),
            change: 0.0,
            change_pct: 0.0,
            ts: 1,
        }
    }

    #[test]
    fn ids_increase_by_one_and_the_snapshot_follows_the_stream() {
        let hub = Hub::new(vec![quote("AAPL", 1.0), quote("MSFT", 2.0)], 8);
        assert_eq!(hub.snapshot().last_event_id, None);
        assert_eq!(hub.publish(quote("MSFT", 3.0)).unwrap(), EventId(1));
        assert_eq!(hub.publish(quote("NVDA", 4.0)).unwrap(), EventId(2));
        let snapshot = hub.snapshot();
        assert_eq!(snapshot.last_event_id, Some(EventId(2)));
        let prices: Vec<_> = snapshot
            .quotes
            .iter()
            .map(|q| (q.symbol.to_string(), q.price.get()))
            .collect();
        assert_eq!(
            prices,
            [
                ("AAPL".into(), 1.0),
                ("MSFT".into(), 3.0),
                ("NVDA".into(), 4.0)
            ]
        );
    }

    #[test]
    fn every_subscriber_gets_the_same_frame() {
        let hub = Hub::new(vec![quote("AAPL", 1.0)], 8);
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        hub.publish(quote("AAPL", 1.5)).unwrap();
        let (a, b) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&a, &b), "the frame was encoded twice");
        assert_eq!(a.id, EventId(1));
    }

    #[test]
    fn a_subscriber_that_falls_behind_skips_ahead_without_blocking_the_producer() {
        let hub = Hub::new(vec![quote("AAPL", 1.0)], 4);
        let mut slow = hub.subscribe();
        for i in 0..10 {
            hub.publish(quote("AAPL", 1.0 + f64::from(i))).unwrap();
        }
        assert!(matches!(
            slow.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(6))
        ));
        assert_eq!(slow.try_recv().unwrap().id, EventId(7));
        drop(slow);
        assert_eq!(hub.subscriber_count(), 0);
    }
}
