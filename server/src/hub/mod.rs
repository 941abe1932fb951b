//! The fan-out between the price source and the viewers.
//!
//! The hub keeps the latest quote of every symbol and a bounded history of the
//! last published updates, each encoded into its SSE frame exactly once. Every
//! subscriber reads that one history through its own cursor, at its own pace:
//!
//! - the producer never waits for a subscriber, and a subscriber holds no queue
//!   of its own, so memory is bounded by the history's length whatever the
//!   number or speed of subscribers;
//! - resuming from an id is the same operation as reading live: start the cursor
//!   at that id;
//! - a subscriber whose cursor has fallen out of the history (it read too slowly,
//!   or resumes from too long ago) is told so and gets a [`Snapshot`] instead:
//!   never a silent hole. A live subscriber may also say how late an update may
//!   be: past that, the latest prices serve it better than the backlog, and it
//!   gets the snapshot too.
//!
//! New updates are announced on a `watch` channel that carries the latest id,
//! at most once per coalescing window ([`Hub::with_coalescing`]): the first
//! update after a quiet spell is announced at once, the ones that follow within
//! the window together at its end, so at high rates each stream wakes, reads and
//! writes once per window instead of once per update.

mod announce;
mod book;
mod candles;
mod relay;
mod update;
pub mod wire;

pub use update::{
    Discontinuity, Filter, Prepared, PreparedUpdate, PublishError, Published, Read, Tick,
    TooManySymbols,
};

use app::{
    candle::{Candles, Interval},
    model::{EventId, Price, Quote, RunId, Snapshot, Symbol},
};
use book::{State, keeps, push_recent, recent_from};
use bytes::Bytes;
use candles::CandleBook;
use prometheus_client::metrics::counter::Counter;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};
// Tokio's clock, so that tests with paused time see publishing times move with it.
use tokio::{
    sync::{Notify, watch},
    time::Instant,
};

/// How many updates the history keeps by default.
pub const DEFAULT_HISTORY: usize = 10_000;

/// The most updates one [`Hub::read_after`] returns, so a long replay is sent in
/// slices and never holds the lock for long.
const MAX_BATCH: usize = 512;

/// The latest quotes, the history and the announcements. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Hub {
    state: RwLock<State>,
    /// The run (a cluster's epoch) of the head, readable without the lock.
    run: AtomicU32,
    /// The sequence number of the latest update, readable without the lock.
    head_seq: AtomicU64,
    /// What streams wait on: the latest id, as last announced.
    announced: watch::Sender<EventId>,
    /// Updates are announced at most once per window; zero announces each batch.
    window: Duration,
    /// Tells the announcer that there is something to announce.
    due: Notify,
    /// How many unannounced updates are announced at once, whatever the window.
    urgent_after: u64,
    /// The most symbols this hub quotes.
    max_symbols: usize,
    /// Counts every published update, for operators.
    published: Counter,
    /// Relayed entries that were not valid quotes.
    rejected: Counter,
    /// Set once at shutdown: every stream ends.
    closed: AtomicBool,
    /// Set while a cluster's broker is unreachable.
    feed_interrupted: AtomicBool,
}

impl Hub {
    /// A hub for server run `run` whose snapshot starts with `opening` (one quote
    /// per symbol, in display order) and which keeps the last `history` updates.
    /// It announces every batch as it is published until given a coalescing window.
    ///
    /// # Panics
    /// Panics if `history` is zero.
    pub fn new(run: RunId, opening: Vec<Quote>, history: usize) -> Self {
        assert!(history > 0, "the history must hold at least one update");
        let index = opening
            .iter()
            .enumerate()
            .map(|(i, quote)| (quote.symbol.clone(), i))
            .collect();
        let start = EventId::start(run);
        let recent = opening
            .iter()
            .map(|quote| recent_from(quote.price))
            .collect();
        let candles = opening.iter().map(|_| CandleBook::default()).collect();
        Self {
            state: RwLock::new(State {
                head: start,
                quotes: opening,
                index,
                recent,
                history: VecDeque::with_capacity(history),
                capacity: history,
                candles,
            }),
            run: AtomicU32::new(run.0),
            head_seq: AtomicU64::new(start.seq),
            announced: watch::Sender::new(start),
            window: Duration::ZERO,
            due: Notify::new(),
            urgent_after: (history as u64 / 4).max(1),
            max_symbols: usize::MAX,
            published: Counter::default(),
            rejected: Counter::default(),
            closed: AtomicBool::new(false),
            feed_interrupted: AtomicBool::new(false),
        }
    }

    /// Announces updates at most once per `window`; [`Hub::announce`] must run
    /// for them to be announced at all.
    pub fn with_coalescing(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Counts every published update in `counter`.
    pub fn with_published_counter(mut self, counter: Counter) -> Self {
        self.published = counter;
        self
    }

    /// Counts relayed entries that were not valid quotes in `counter`.
    pub fn with_rejected_counter(mut self, counter: Counter) -> Self {
        self.rejected = counter;
        self
    }

    /// Limits the symbols this hub quotes to `limit`: a batch that would add
    /// more is refused.
    pub fn with_max_symbols(mut self, limit: usize) -> Self {
        self.max_symbols = limit;
        self
    }

    /// Publishes `symbol` at `price` (published at `ts`, in milliseconds since the
    /// Unix epoch) to every subscriber and returns its id. The quote's session
    /// open, high, low and change follow from the symbol's earlier prices; a new
    /// symbol opens at `price` and is appended to the snapshot.
    pub fn publish(&self, symbol: Symbol, price: Price, ts: u64) -> Result<EventId, PublishError> {
        self.publish_batch(vec![Tick { symbol, price, ts }])
    }

    /// Publishes every update of `batch`, in order and with consecutive ids, or
    /// none of them; returns the id of the last one (the head when `batch` is empty).
    ///
    /// Everything is computed and encoded before the state changes, then
    /// numbering, recording and announcing happen under one lock: a snapshot's
    /// `last_event_id` always matches its quotes, the history has no holes, and
    /// no other update falls between two of a batch.
    pub fn publish_batch(&self, batch: Vec<Tick>) -> Result<EventId, PublishError> {
        let mut state = self.write();
        let prepared = self.prepare_in(&state, &batch)?;
        let mut id = prepared.base;
        let mut updates = Vec::with_capacity(prepared.updates.len());
        for update in prepared.updates {
            id = id.next();
            let frame = wire::price_update_data(id, &update.data);
            updates.push((id, Some(update.quote), frame));
        }
        self.commit(&mut state, updates, Instant::now());
        drop(state);
        self.announce_now_or_later(id);
        Ok(id)
    }

    fn prepare_in(&self, state: &State, batch: &[Tick]) -> Result<Prepared, PublishError> {
        let new: HashSet<&Symbol> = batch
            .iter()
            .map(|tick| &tick.symbol)
            .filter(|symbol| !state.index.contains_key(*symbol))
            .collect();
        if state.quotes.len() + new.len() > self.max_symbols {
            return Err(TooManySymbols {
                quoted: state.quotes.len(),
                new: new.len(),
                limit: self.max_symbols,
            }
            .into());
        }
        // Each update's quote follows the one before it in the batch.
        let mut latest: HashMap<&Symbol, (Quote, VecDeque<Price>)> = HashMap::new();
        let mut touched = Vec::new();
        let mut updates = Vec::with_capacity(batch.len());
        for Tick { symbol, price, ts } in batch {
            let (quote, mut recent) = match latest.remove(symbol) {
                Some((quote, recent)) => (quote.moved_to(*price, *ts), recent),
                None => {
                    touched.push(symbol);
                    match state.index.get(symbol) {
                        Some(&i) => (
                            state.quotes[i].moved_to(*price, *ts),
                            state.recent[i].clone(),
                        ),
                        None => (Quote::opening(symbol.clone(), *price, *ts), VecDeque::new()),
                    }
                }
            };
            push_recent(&mut recent, *price);
            let data = serde_json::to_string(&quote)?;
            latest.insert(symbol, (quote.clone(), recent));
            updates.push(PreparedUpdate { quote, data });
        }
        let states = touched
            .into_iter()
            .filter_map(|symbol| {
                let (quote, recent) = latest.get(symbol)?;
                Some(Quote {
                    recent: recent.iter().copied().collect(),
                    ..quote.clone()
                })
            })
            .collect();
        Ok(Prepared {
            base: state.head,
            updates,
            states,
        })
    }

    /// Records `updates` (numbered and encoded) as published at `at`.
    fn commit(
        &self,
        state: &mut State,
        updates: Vec<(EventId, Option<Quote>, Bytes)>,
        at: Instant,
    ) {
        let mut count = 0;
        for (id, quote, frame) in updates {
            let symbol = quote.map(|quote| {
                count += 1;
                let symbol = quote.symbol.clone();
                let (price, ts) = (quote.price, quote.ts);
                let i = match state.index.get(&symbol).copied() {
                    Some(i) => {
                        state.quotes[i] = quote;
                        push_recent(&mut state.recent[i], price);
                        i
                    }
                    None => {
                        let i = state.quotes.len();
                        state.index.insert(symbol.clone(), i);
                        state.quotes.push(quote);
                        state.recent.push(recent_from(price));
                        state.candles.push(CandleBook::default());
                        i
                    }
                };
                state.candles[i].record(ts, price);
                symbol
            });
            if state.history.len() == state.capacity {
                state.history.pop_front();
            }
            state.history.push_back(Arc::new(Published {
                id,
                symbol,
                frame,
                at,
            }));
            state.head = id;
        }
        self.head_seq.store(state.head.seq, Ordering::Release);
        self.published.inc_by(count);
    }

    /// Says whether the feed is interrupted (a cluster's broker is
    /// unreachable); heartbeats tell the viewers.
    pub fn set_feed_interrupted(&self, interrupted: bool) {
        self.feed_interrupted.store(interrupted, Ordering::Release);
    }

    /// Whether the feed is interrupted.
    pub fn feed_interrupted(&self) -> bool {
        self.feed_interrupted.load(Ordering::Acquire)
    }

    /// The latest quote of every symbol (or of those `filter` keeps) and the id
    /// of the last update.
    pub fn snapshot(&self, filter: &Filter) -> Snapshot {
        self.read().snapshot(filter)
    }

    /// The updates after `cursor` that `filter` keeps, at most [`MAX_BATCH`] of
    /// them; or a snapshot when `cursor` is not a position in this run's history,
    /// or, given `max_lag`, when the first update after it was published longer
    /// ago than that (the reader has fallen behind).
    pub fn read_after(&self, cursor: EventId, filter: &Filter, max_lag: Option<Duration>) -> Read {
        let state = self.read();
        let Some(start) = state.position_after(cursor) else {
            return Read::Resync(state.snapshot(filter));
        };
        let unread = state.history.range(start..);
        let late =
            |published: &Arc<Published>| max_lag.is_some_and(|lag| published.at.elapsed() > lag);
        if unread.clone().next().is_some_and(late) {
            return Read::Resync(state.snapshot(filter));
        }
        let mut next = cursor;
        let mut updates = Vec::new();
        for published in unread.take(MAX_BATCH) {
            next = published.id;
            if keeps(filter, &published.symbol) {
                updates.push(published.clone());
            }
        }
        Read::Updates { updates, next }
    }

    /// Whether an update after `cursor` has been published (cursor in this run).
    pub fn has_after(&self, cursor: EventId) -> bool {
        cursor.run.0 != self.run.load(Ordering::Acquire)
            || self.head_seq.load(Ordering::Acquire) != cursor.seq
    }

    /// The id of the latest update, announced (at most once per coalescing
    /// window) whenever it changes.
    pub fn watch_head(&self) -> watch::Receiver<EventId> {
        self.announced.subscribe()
    }

    /// The id of the latest update.
    pub fn head(&self) -> EventId {
        EventId {
            run: RunId(self.run.load(Ordering::Acquire)),
            seq: self.head_seq.load(Ordering::Acquire),
        }
    }

    /// The last `limit` candles of `symbol` in `interval`, oldest first (the
    /// last one still forming), or `None` when the hub does not quote it.
    pub fn candles(&self, symbol: &Symbol, interval: Interval, limit: usize) -> Option<Candles> {
        let state = self.read();
        let i = *state.index.get(symbol)?;
        Some(Candles {
            symbol: symbol.clone(),
            interval,
            candles: state.candles[i].candles(interval, limit),
            last_event_id: state.head,
        })
    }

    /// Whether `symbol` has a quote.
    pub fn knows(&self, symbol: &Symbol) -> bool {
        self.read().index.contains_key(symbol)
    }

    /// How many updates the history holds now.
    pub fn history_len(&self) -> usize {
        self.read().history.len()
    }

    // Std locks: the critical sections are short and never await. A panic while
    // holding one cannot leave the state half-written (every write is a single
    // assignment), so a poisoned lock is safe to keep using. Readers (every
    // stream) share it; only publishing takes it alone.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::RECENT_PRICES;
    use tokio_util::sync::CancellationToken;

    pub(super) const RUN: RunId = RunId(7);

    pub(super) fn quote(symbol: &str, price: f64) -> Quote {
        Quote::opening(symbol.parse().unwrap(), Price::new(price).unwrap(), 1)
    }

    /// Publishes `symbol` at `price`.
    fn publish(hub: &Hub, symbol: &str, price: f64) -> EventId {
        hub.publish(symbol.parse().unwrap(), Price::new(price).unwrap(), 1)
            .unwrap()
    }

    pub(super) fn id(seq: u64) -> EventId {
        EventId { run: RUN, seq }
    }

    pub(super) fn seqs(read: Read) -> (Vec<u64>, u64) {
        match read {
            Read::Updates { updates, next } => {
                (updates.iter().map(|p| p.id.seq).collect(), next.seq)
            }
            Read::Resync(snapshot) => panic!("resync at {}", snapshot.last_event_id),
        }
    }

    #[test]
    fn ids_increase_by_one_and_the_snapshot_follows_the_stream() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0), quote("MSFT", 2.0)], 8);
        assert_eq!(hub.snapshot(&None).last_event_id, id(0));
        assert_eq!(publish(&hub, "MSFT", 3.0), id(1));
        assert_eq!(publish(&hub, "NVDA", 4.0), id(2));
        let snapshot = hub.snapshot(&None);
        assert_eq!(snapshot.last_event_id, id(2));
        assert_eq!(hub.head(), id(2));
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
    fn quotes_keep_the_session_open_high_low_and_recent_prices() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 10.0)], 8);
        for price in [11.0, 9.5, 10.25] {
            publish(&hub, "AAPL", price);
        }
        for i in 0..RECENT_PRICES {
            publish(&hub, "MSFT", 100.0 + i as f64);
        }
        let snapshot = hub.snapshot(&None);
        let aapl = &snapshot.quotes[0];
        let get = Price::get;
        assert_eq!(
            (
                get(aapl.open),
                get(aapl.high),
                get(aapl.low),
                get(aapl.price)
            ),
            (10.0, 11.0, 9.5, 10.25)
        );
        assert_eq!((aapl.change, aapl.change_pct), (0.25, 2.5));
        let recent =
            |i: usize| -> Vec<f64> { snapshot.quotes[i].recent.iter().map(|p| p.get()).collect() };
        assert_eq!(recent(0), [10.0, 11.0, 9.5, 10.25]);
        // A new symbol opens at its first price; the window keeps the latest prices.
        let msft = recent(1);
        assert_eq!(msft.len(), RECENT_PRICES);
        assert_eq!(msft.last(), Some(&(100.0 + (RECENT_PRICES - 1) as f64)));
        assert_eq!(get(snapshot.quotes[1].open), 100.0);
    }

    #[test]
    fn reading_after_a_cursor_replays_exactly_what_followed_it() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], 4);
        for i in 0..6 {
            publish(&hub, "AAPL", 1.0 + f64::from(i));
        }
        // History holds 3..=6: a cursor at 2 still has everything after it.
        assert_eq!(
            seqs(hub.read_after(id(2), &None, None)),
            (vec![3, 4, 5, 6], 6)
        );
        assert_eq!(seqs(hub.read_after(id(5), &None, None)), (vec![6], 6));
        assert_eq!(seqs(hub.read_after(id(6), &None, None)), (vec![], 6));
        assert_eq!(hub.history_len(), 4);
    }

    #[test]
    fn every_reader_gets_the_same_frame() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], 8);
        publish(&hub, "AAPL", 1.5);
        let first = |read: Read| match read {
            Read::Updates { mut updates, .. } => updates.remove(0),
            Read::Resync(_) => panic!("resync"),
        };
        let (a, b) = (
            first(hub.read_after(id(0), &None, None)),
            first(hub.read_after(id(0), &None, None)),
        );
        assert!(Arc::ptr_eq(&a, &b), "the frame was encoded twice");
        assert_eq!(a.id, id(1));
    }

    #[test]
    fn cursors_outside_the_history_get_a_snapshot() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], 4);
        for i in 0..6 {
            publish(&hub, "AAPL", 1.0 + f64::from(i));
        }
        let too_old = id(1);
        let other_run = EventId {
            run: RunId(8),
            seq: 5,
        };
        let ahead = id(7);
        for cursor in [too_old, other_run, ahead] {
            match hub.read_after(cursor, &None, None) {
                Read::Resync(snapshot) => assert_eq!(snapshot.last_event_id, id(6)),
                Read::Updates { .. } => panic!("{cursor} was replayed"),
            }
        }
    }

    #[test]
    fn a_filter_keeps_its_symbols_and_still_moves_the_cursor() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0), quote("MSFT", 2.0)], 8);
        publish(&hub, "AAPL", 1.5);
        publish(&hub, "MSFT", 2.5);
        publish(&hub, "MSFT", 2.6);
        let msft: Filter = Some(Arc::new(["MSFT".parse().unwrap()].into()));
        assert_eq!(seqs(hub.read_after(id(0), &msft, None)), (vec![2, 3], 3));
        let snapshot = hub.snapshot(&msft);
        assert_eq!(snapshot.quotes.len(), 1);
        assert_eq!(snapshot.quotes[0].price.get(), 2.6);
    }

    #[test]
    fn a_batch_is_published_whole_or_not_at_all() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], 8).with_max_symbols(2);
        let update = |symbol: &str, price: f64| Tick {
            symbol: symbol.parse().unwrap(),
            price: Price::new(price).unwrap(),
            ts: 1,
        };
        let last = hub
            .publish_batch(vec![
                update("AAPL", 2.0),
                update("MSFT", 5.0),
                update("AAPL", 3.0),
            ])
            .unwrap();
        assert_eq!(last, id(3));
        assert_eq!(seqs(hub.read_after(id(0), &None, None)), (vec![1, 2, 3], 3));
        let snapshot = hub.snapshot(&None);
        let aapl = &snapshot.quotes[0];
        assert_eq!(
            (aapl.price.get(), aapl.high.get(), aapl.open.get()),
            (3.0, 3.0, 1.0)
        );

        // A third symbol passes the limit: nothing of the batch is applied.
        let refused = hub.publish_batch(vec![update("AAPL", 9.0), update("NVDA", 1.0)]);
        assert!(matches!(refused, Err(PublishError::TooManySymbols(_))));
        assert_eq!(hub.head(), id(3));
        assert_eq!(hub.snapshot(&None).quotes[0].price.get(), 3.0);
        assert_eq!(hub.published.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn updates_within_the_window_are_announced_together_after_the_first() {
        let window = Duration::from_millis(10);
        let hub = Arc::new(Hub::new(RUN, vec![quote("AAPL", 1.0)], 100).with_coalescing(window));
        let shutdown = CancellationToken::new();
        tokio::spawn(hub.clone().announce(shutdown.clone()));
        let mut head = hub.watch_head();

        publish(&hub, "AAPL", 2.0);
        let quiet = tokio::time::Instant::now();
        head.changed().await.unwrap();
        assert_eq!(*head.borrow_and_update(), id(1));
        assert_eq!(quiet.elapsed(), Duration::ZERO, "the first waited");

        publish(&hub, "AAPL", 3.0);
        publish(&hub, "AAPL", 4.0);
        head.changed().await.unwrap();
        assert_eq!(*head.borrow_and_update(), id(3));
        assert_eq!(quiet.elapsed(), window);
        assert!(!head.has_changed().unwrap(), "announced twice");
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_window_every_batch_is_announced_as_it_is_published() {
        // `--coalesce-ms 0`.
        let hub =
            Arc::new(Hub::new(RUN, vec![quote("AAPL", 1.0)], 100).with_coalescing(Duration::ZERO));
        let shutdown = CancellationToken::new();
        tokio::spawn(hub.clone().announce(shutdown.clone()));
        let mut head = hub.watch_head();

        publish(&hub, "AAPL", 2.0);
        assert_eq!(*head.borrow_and_update(), id(1));
        // Right after the first, where a window would hold it to its end: at
        // once, with the clock standing still.
        publish(&hub, "AAPL", 3.0);
        assert!(head.has_changed().unwrap(), "the second waited");
        assert_eq!(*head.borrow_and_update(), id(2));
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_later_than_it_allows_gets_the_latest_prices_instead() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], 8);
        publish(&hub, "AAPL", 2.0);
        publish(&hub, "AAPL", 3.0);
        let lag = Some(Duration::from_millis(100));
        assert_eq!(seqs(hub.read_after(id(0), &None, lag)), (vec![1, 2], 2));

        tokio::time::advance(Duration::from_millis(101)).await;
        match hub.read_after(id(0), &None, lag) {
            Read::Resync(snapshot) => {
                assert_eq!(snapshot.last_event_id, id(2));
                assert_eq!(snapshot.quotes[0].price.get(), 3.0);
            }
            Read::Updates { .. } => panic!("a late reader got the backlog"),
        }
        // Without a limit (a client resuming), the replay is exact however old.
        assert_eq!(seqs(hub.read_after(id(0), &None, None)), (vec![1, 2], 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quarter_of_the_history_unannounced_is_announced_at_once() {
        let hub = Arc::new(
            Hub::new(RUN, vec![quote("AAPL", 1.0)], 8).with_coalescing(Duration::from_secs(60)),
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(hub.clone().announce(shutdown.clone()));
        let mut head = hub.watch_head();
        publish(&hub, "AAPL", 2.0);
        head.changed().await.unwrap();
        head.borrow_and_update();
        // Within the window, but two more (a quarter of 8) would risk the history.
        publish(&hub, "AAPL", 3.0);
        publish(&hub, "AAPL", 4.0);
        assert!(head.has_changed().unwrap());
        assert_eq!(*head.borrow_and_update(), id(3));
        shutdown.cancel();
    }

    #[test]
    fn a_long_replay_comes_in_slices() {
        let hub = Hub::new(RUN, vec![quote("AAPL", 1.0)], MAX_BATCH * 2);
        for _ in 0..MAX_BATCH + 10 {
            publish(&hub, "AAPL", 1.0);
        }
        let (first, next) = seqs(hub.read_after(id(0), &None, None));
        assert_eq!((first.len(), next), (MAX_BATCH, MAX_BATCH as u64));
        let (rest, next) = seqs(hub.read_after(id(next), &None, None));
        assert_eq!((rest.len(), next), (10, MAX_BATCH as u64 + 10));
    }
}
