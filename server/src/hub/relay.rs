//! A cluster's side of the hub: batches computed for the broker to number,
//! the entries it numbered relayed in, and the whole state reloaded when the
//! broker's sequence is not this hub's.

use super::{CandleBook, Discontinuity, Hub, Prepared, PublishError, Published, State, Tick, wire};
use app::model::{EventId, Price, Quote, RECENT_PRICES, RunId, Symbol};
use bytes::Bytes;
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, atomic::Ordering},
};
use tokio::time::Instant;

impl Hub {
    /// Computes `batch` against the current state without publishing it: what
    /// a cluster's broker appends (with ids it gives), for every instance to
    /// relay with [`Hub::apply`].
    pub fn prepare(&self, batch: &[Tick]) -> Result<Prepared, PublishError> {
        self.prepare_in(&self.read(), batch)
    }

    /// Whether the update `id` this hub holds is the one `data` encodes (the
    /// broker's entry for it); `None` when the history no longer holds `id`.
    /// How a relay that reconnects tells a broker that kept its updates from
    /// one that lost them and numbered others the same.
    pub fn holds(&self, id: EventId, data: &str) -> Option<bool> {
        let state = self.read();
        let at = state.position_after(EventId {
            run: id.run,
            seq: id.seq.checked_sub(1)?,
        })?;
        let held = state.history.get(at)?;
        // A hole (an entry that was not a quote) holds no frame.
        Some(relayed(id, data).map_or(held.frame.is_empty(), |(_, frame)| frame == held.frame))
    }

    /// Records updates a cluster's broker numbered, each `(seq, data)` with
    /// `data` its quote's JSON as published. They must continue this hub's
    /// sequence in `run`; otherwise nothing is recorded and the caller reloads
    /// the state ([`Hub::reset`]). Each is decoded and encoded again (never
    /// relayed byte for byte, so no entry can break a frame); one that is not
    /// a valid quote is a hole: its id is taken, nothing is sent for it, and
    /// it is logged and counted.
    pub fn apply(&self, run: RunId, entries: &[(u64, String)]) -> Result<(), Discontinuity> {
        let mut state = self.write();
        let mut expected = state.head;
        if expected.run != run {
            return Err(Discontinuity { head: expected });
        }
        let mut updates = Vec::with_capacity(entries.len());
        for (seq, data) in entries {
            expected = expected.next();
            if *seq != expected.seq {
                return Err(Discontinuity { head: state.head });
            }
            match relayed(expected, data) {
                Ok((quote, frame)) => updates.push((expected, Some(quote), frame)),
                Err(error) => {
                    tracing::error!(%error, id = %expected, "an entry from the broker is not a valid quote; skipped");
                    self.rejected.inc();
                    updates.push((expected, None, Bytes::new()));
                }
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        self.commit(&mut state, updates, Instant::now());
        drop(state);
        self.announce_now_or_later(expected);
        Ok(())
    }

    /// Replaces the whole state: run `run` at position `head`, `quotes` (each
    /// with its recent prices) in display order, and the updates before it
    /// that the history keeps, `(seq, data)` as in [`Hub::apply`], ending at
    /// `head`. Streams elsewhere in the old history resync from a snapshot.
    pub fn reset(&self, run: RunId, head: u64, quotes: Vec<Quote>, history: &[(u64, String)]) {
        let head = EventId { run, seq: head };
        let index: HashMap<Symbol, usize> = quotes
            .iter()
            .enumerate()
            .map(|(i, quote)| (quote.symbol.clone(), i))
            .collect();
        let recent = quotes
            .iter()
            .map(|quote| {
                let mut recent: VecDeque<Price> = quote.recent.iter().copied().collect();
                if recent.is_empty() {
                    recent.push_back(quote.price);
                }
                while recent.len() > RECENT_PRICES {
                    recent.pop_front();
                }
                recent
            })
            .collect();
        let quotes: Vec<Quote> = quotes
            .into_iter()
            .map(|quote| Quote {
                recent: Vec::new(),
                ..quote
            })
            .collect();
        let at = Instant::now();
        let mut state = self.write();
        let capacity = state.capacity;
        let contiguous = history
            .iter()
            .rev()
            .zip((0..=head.seq).rev())
            .take_while(|((seq, _), expected)| seq == expected)
            .count();
        let kept = &history[history.len() - contiguous.min(capacity)..];
        // Candles outlive a reload: they are built by time, not by position,
        // and follow their symbols into the new order. An instance that has
        // none yet (it is joining) builds them from the history it loads.
        let mut old = std::mem::take(&mut state.candles);
        let joining = old.iter().all(CandleBook::is_empty);
        let mut candles: Vec<CandleBook> = quotes
            .iter()
            .map(|quote| {
                state
                    .index
                    .get(&quote.symbol)
                    .map(|&i| std::mem::take(&mut old[i]))
                    .unwrap_or_default()
            })
            .collect();
        // Every id kept, holes included: the history stays contiguous, so a
        // resume reads each id once.
        let history = kept
            .iter()
            .map(|(seq, data)| {
                let id = EventId { run, seq: *seq };
                let (symbol, frame) = match relayed(id, data) {
                    Ok((quote, frame)) => {
                        if let Some(&i) = index.get(&quote.symbol).filter(|_| joining) {
                            candles[i].record(quote.ts, quote.price);
                        }
                        (Some(quote.symbol), frame)
                    }
                    Err(_) => (None, Bytes::new()),
                };
                Arc::new(Published {
                    id,
                    symbol,
                    frame,
                    at,
                })
            })
            .collect();
        *state = State {
            head,
            quotes,
            index,
            recent,
            history,
            capacity,
            candles,
        };
        self.run.store(run.0, Ordering::Release);
        self.head_seq.store(head.seq, Ordering::Release);
        drop(state);
        self.announced.send_replace(head);
    }
}

/// A quote relayed from a cluster's broker, decoded (prices in range, so
/// every number finite) and its frame encoded anew.
fn relayed(id: EventId, data: &str) -> Result<(Quote, Bytes), serde_json::Error> {
    let mut quote: Quote = serde_json::from_str(data)?;
    // An update carries no recent prices (a snapshot does).
    quote.recent.clear();
    let frame = wire::price_update(id, &quote)?;
    Ok((quote, frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{
        Read,
        tests::{RUN, id, quote, seqs},
    };
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn relayed_entries_are_encoded_anew_and_invalid_ones_are_holes() {
        let counter = Counter::default();
        let hub =
            Hub::new(RUN, vec![quote("AAPL", 1.0)], 16).with_rejected_counter(counter.clone());
        let entries = [
            // JSON whitespace holding line breaks: valid JSON, a broken frame
            // if relayed byte for byte.
            (
                1,
                "{\"symbol\":\"AAPL\",\r\n\"price\":2.0,\"open\":1.0,\"high\":2.0,\n\"low\":1.0,\
                 \"change\":1.0,\"changePct\":100.0,\"ts\":5}"
                    .to_owned(),
            ),
            // A number no price may be, and `null` where a number must be.
            (
                2,
                serde_json::to_string(&quote("AAPL", 1.0))
                    .unwrap()
                    .replace("1.0", "1e300"),
            ),
            (
                3,
                serde_json::to_string(&quote("AAPL", 1.0))
                    .unwrap()
                    .replace("\"change\":0.0", "\"change\":null"),
            ),
            (4, serde_json::to_string(&quote("AAPL", 3.0)).unwrap()),
        ];
        hub.apply(RUN, &entries).unwrap();
        assert_eq!(hub.head(), id(4));
        assert_eq!(counter.get(), 2);
        // A resume from before reads every valid id once, in order; the holes'
        // ids are passed over.
        let Read::Updates { updates, next } = hub.read_after(id(0), &None, None) else {
            panic!("resync");
        };
        assert_eq!(next, id(4));
        assert_eq!(updates.iter().map(|u| u.id.seq).collect::<Vec<_>>(), [1, 4]);
        for update in &updates {
            let text = std::str::from_utf8(&update.frame).unwrap();
            assert!(
                !text.contains('\r') && text.matches('\n').count() == 4,
                "{text:?}"
            );
        }
        assert_eq!(hub.snapshot(&None).quotes[0].price.get(), 3.0);

        // Reloaded from the same history, the hub keeps it contiguous.
        hub.reset(RUN, 4, vec![quote("AAPL", 3.0)], &entries);
        let (seqs_read, next) = seqs(hub.read_after(id(2), &None, None));
        assert_eq!((seqs_read, next), (vec![4], 4));
    }
}
