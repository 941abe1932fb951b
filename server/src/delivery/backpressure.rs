//! Backpressure the streams can see: whether a connection's last write
//! found the kernel's send buffer full, and since when each stream on it has
//! had something hyper has not taken.

use std::{
    io,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

/// Whether a connection's last write found the kernel's send buffer full.
///
/// The connection sets it; the streams on the connection wait for it to clear
/// before taking more frames from the hub, so what a slow client has not taken
/// yet waits in the hub (where it can be replaced by newer prices), not in
/// hyper's buffers.
///
/// It also keeps, for each stream on the connection, since when the stream
/// has had something to send that hyper has not taken ([`Handing`]): an
/// HTTP/2 stream whose client keeps its flow-control window shut is never
/// polled again, and no write of the connection ever stalls, so the stall
/// guard needs that clock ([`Guard::stalled_stream`]).
#[derive(Debug, Default)]
pub struct Backpressure {
    blocked: AtomicBool,
    /// Every stream waiting for the connection (an HTTP/2 connection carries
    /// many).
    waiting: Mutex<Vec<Waker>>,
    /// The streams' clocks.
    handing: Mutex<Vec<Weak<Handing>>>,
}

/// Since when a stream has had something for hyper to take, in milliseconds
/// since the Unix epoch; 0 while hyper is polling it.
#[derive(Debug, Default)]
pub struct Handing(AtomicU64);

impl Handing {
    /// The stream has something to hand over (and hyper may not ask for it).
    pub fn waiting(&self) {
        if self.0.load(Ordering::Relaxed) == 0 {
            self.0.store(crate::clock::now_ms(), Ordering::Relaxed);
        }
    }

    /// Hyper is polling the stream.
    pub fn polled(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl Backpressure {
    /// A clock for a new stream on this connection.
    pub fn handing(&self) -> Arc<Handing> {
        let handing = Arc::new(Handing::default());
        let mut all = self.handing.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|stream| stream.strong_count() > 0);
        all.push(Arc::downgrade(&handing));
        handing
    }

    /// How long the stream waiting the longest has waited for hyper.
    pub(super) fn longest_wait(&self) -> Duration {
        let now = crate::clock::now_ms();
        let all = self.handing.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = all
            .iter()
            .filter_map(Weak::upgrade)
            .map(|handing| handing.0.load(Ordering::Relaxed))
            .filter(|&since| since > 0)
            .min();
        Duration::from_millis(oldest.map_or(0, |since| now.saturating_sub(since)))
    }

    /// Ready when the connection can take more; otherwise wakes `cx` when it can.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.blocked.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if !waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
        }
        // Cleared between the check and the registration: no wake would come.
        if self.blocked.load(Ordering::Acquire) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    pub(super) fn note<T>(&self, result: &Poll<io::Result<T>>) {
        match result {
            Poll::Pending => self.blocked.store(true, Ordering::Release),
            Poll::Ready(_) => {
                if self.blocked.swap(false, Ordering::AcqRel) {
                    let waiting = std::mem::take(
                        &mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner),
                    );
                    for waker in waiting {
                        waker.wake();
                    }
                }
            }
        }
    }
}
