//! Where a stream's events go: the signals it writes to ([`Sinks`]), and
//! render batching: updates received are put on screen at most once per
//! [`FLUSH_EVERY`] (each flush renders the table once, however many updates it
//! brings), and the rows they lit are unlit after [`FLASH_MS`].

use crate::{
    meter::Meters,
    model::{EventId, Quote},
    status::Connection,
    sync::{Recovery, StreamSync},
    table::{Row, Table},
    taps,
};
use leptos::prelude::*;
use std::{collections::VecDeque, time::Duration};

/// The signals a stream writes to.
#[derive(Clone, Copy)]
pub(crate) struct Sinks {
    pub(crate) table: Table,
    pub(crate) connection: RwSignal<Connection>,
    pub(crate) sync: RwSignal<StreamSync>,
    pub(crate) recovery: RwSignal<Option<Recovery>>,
    pub(crate) notice: RwSignal<Option<String>>,
    /// Notified when the stream lost an update or went silent for too long and
    /// must be reopened from the last good id (a stream cannot close itself from
    /// inside its own callback).
    pub(crate) restart: Trigger,
    /// Notified when the connection dropped: the dashboard schedules the next try.
    pub(crate) lost: Trigger,
    /// How long the server asked to wait before the next try (`Retry-After`), in
    /// milliseconds; taken by the next scheduling.
    pub(crate) hold_off: StoredValue<Option<f64>>,
    /// What the header measures.
    pub(crate) meters: StoredValue<Meters>,
    /// Updates received but not yet on screen.
    pub(crate) batch: StoredValue<Batch>,
}

/// The shortest time between two flushes of received updates to the screen. One
/// update at a time would render (style, lay out and paint the table) once per
/// update; at tens of updates per second that alone keeps the main thread busy.
/// A flush comes at once when the last one is older than this, so a quiet feed
/// is shown without delay.
const FLUSH_EVERY: f64 = 200.0;

/// How long a row stays lit after an update (until the first flush after it).
const FLASH_MS: f64 = 400.0;

/// Updates waiting for the next flush, and the rows lit by earlier ones.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    quotes: Vec<(EventId, Quote)>,
    scheduled: bool,
    last_flush: f64,
    /// `(when, which update, row)`, oldest first.
    lit: VecDeque<(f64, u64, RwSignal<Row>)>,
}

impl Batch {
    /// Queues `quote`, the update `id`, for the next flush.
    pub(crate) fn queue(sinks: Sinks, id: EventId, quote: Quote) {
        sinks
            .batch
            .update_value(|batch| batch.quotes.push((id, quote)));
        Batch::schedule(sinks);
    }

    /// Schedules a flush unless one is: at once if the last one is old enough.
    fn schedule(sinks: Sinks) {
        let last = sinks
            .batch
            .try_update_value(|batch| {
                (!std::mem::replace(&mut batch.scheduled, true)).then_some(batch.last_flush)
            })
            .flatten();
        if let Some(last) = last {
            let wait = (last + FLUSH_EVERY - js_sys::Date::now()).max(0.0);
            set_timeout(
                move || Batch::flush(sinks),
                Duration::from_millis(wait as u64),
            );
        }
    }

    /// Notes rows lit now, so a later flush fades them.
    pub(crate) fn light(sinks: Sinks, rows: impl IntoIterator<Item = RwSignal<Row>>) {
        let now = js_sys::Date::now();
        let rows: Vec<_> = rows
            .into_iter()
            .map(|row| (now, row.with_untracked(|r| r.updates), row))
            .collect();
        if rows.is_empty() {
            return;
        }
        sinks.batch.update_value(|batch| batch.lit.extend(rows));
        Batch::schedule(sinks);
    }

    /// Puts the queued updates on screen, with the position they reach, and
    /// fades the rows lit long enough.
    pub(crate) fn flush(sinks: Sinks) {
        let now = js_sys::Date::now();
        let Some((quotes, mut lit)) = sinks.batch.try_update_value(|batch| {
            batch.scheduled = false;
            batch.last_flush = now;
            (
                std::mem::take(&mut batch.quotes),
                std::mem::take(&mut batch.lit),
            )
        }) else {
            return;
        };
        while let Some(&(at, update, row)) = lit.front() {
            if at > now - FLASH_MS {
                break;
            }
            lit.pop_front();
            // Re-renders the row only if this fade changes it (and not at all once
            // a snapshot has removed it).
            row.maybe_update(|r| r.fade(update));
        }
        sinks.batch.update_value(|batch| batch.lit.extend(lit));
        if !quotes.is_empty() {
            let mut lit = Vec::with_capacity(quotes.len());
            for (id, quote) in quotes {
                Meters::received(sinks.meters, quote.ts);
                taps::update(id, &quote);
                lit.extend(sinks.table.apply(quote));
            }
            sinks.sync.notify();
            Batch::light(sinks, lit);
        }
        if sinks.batch.with_value(|batch| !batch.lit.is_empty()) {
            Batch::schedule(sinks);
        }
    }

    /// Forgets the queued updates (a snapshot replaces them).
    pub(crate) fn clear(sinks: Sinks) {
        sinks.batch.update_value(|batch| batch.quotes.clear());
    }
}
