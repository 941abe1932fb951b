//! Announcing what was published: at once after a quiet spell, then at most
//! once per coalescing window; and closing the hub at shutdown.

use super::Hub;
use app::model::EventId;
use std::sync::{Arc, atomic::Ordering};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl Hub {
    /// Announces `head` at once or, within a coalescing window, at its end.
    pub(super) fn announce_now_or_later(&self, head: EventId) {
        // A window's worth of updates must never push a reader out of the
        // history: past a quarter of it, announce at once.
        let unannounced = head.seq.saturating_sub(self.announced.borrow().seq);
        if self.window.is_zero() || unannounced >= self.urgent_after {
            self.announced.send_replace(head);
        } else {
            self.due.notify_one();
        }
    }

    /// Announces what was published, until `shutdown`; then closes the hub.
    ///
    /// Windows are measured on the publishing timeline: an update published a
    /// window or more after the last one announced goes at once; one published
    /// sooner waits for that window to end, with whatever else comes meanwhile.
    /// A quarter of a window early counts as on time, so a feed as regular as
    /// the window is never held back by the jitter of its own timer.
    pub async fn announce(self: Arc<Self>, shutdown: CancellationToken) {
        // When the newest update announced so far was published.
        let mut last: Option<Instant> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.due.notified() => {}
            }
            let announced = *self.announced.borrow();
            let first = self.published_at(announced.next());
            if let Some((last, first)) = last.zip(first) {
                let due = last + self.window;
                if first + self.window / 4 < due {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep_until(due) => {}
                    }
                }
            }
            let head = self.head();
            last = self.published_at(head).or(last);
            self.announced.send_replace(head);
        }
        self.close();
    }

    /// When update `id` was published, while the history holds it.
    fn published_at(&self, id: EventId) -> Option<Instant> {
        let before = EventId {
            seq: id.seq.checked_sub(1)?,
            ..id
        };
        let state = self.read();
        state
            .history
            .get(state.position_after(before)?)
            .map(|published| published.at)
    }

    /// Ends every stream: they see [`Hub::is_closed`] when woken, which this does.
    ///
    /// Streams learn of shutdown here rather than each from the cancellation
    /// token, whose every poll takes one lock shared by all of them.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.announced.send_replace(self.head());
    }

    /// Whether the hub is closed (the server is shutting down).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
