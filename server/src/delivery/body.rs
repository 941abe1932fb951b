//! A stream's response: what the `/events` handler opened ([`Opened`]), and
//! how it is carried: handed to a writer ([`Handoff`]), or as the body hyper
//! polls ([`Subscriber`]), both driven by the stream's [`Engine`].

use crate::{
    delivery::backpressure::{Backpressure, Handing},
    delivery::engine::{self, Engine, Position, Source, StreamSettings, Unframed},
    delivery::limits::StreamPermit,
    hub::Hub,
    metrics::Metrics,
};
use app::model::EventId;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::WatchStream;

/// A stream the handler has opened: where it starts, what it sends first, and
/// its place under the limits (given back when it is dropped).
#[derive(Debug)]
pub struct Opened {
    /// Where the stream is, after the catch-up.
    pub position: Position,
    /// The `retry:` delay and the catch-up (snapshot or replay), as frames.
    pub catch_up: Bytes,
    /// This stream's place under the limits.
    pub permit: StreamPermit,
}

/// The stream a `/events` response carries when the server's own writers
/// ([`writer`](crate::delivery::writer)) send it rather than hyper: [`serve`](crate::delivery::serve)
/// takes it out of the response's extensions (which must be `Clone`, hence
/// the shared slot).
#[derive(Debug, Clone)]
pub struct Handoff(Arc<Mutex<Option<Opened>>>);

impl Handoff {
    /// `opened`, for a writer to take.
    pub fn new(opened: Opened) -> Self {
        Self(Arc::new(Mutex::new(Some(opened))))
    }

    /// The stream, to the first taker.
    pub fn take(&self) -> Option<Opened> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// One stream that hyper writes, as the body of its response, driven by its
/// [`Engine`].
///
/// Each time it is polled it sends everything it has in one chunk (one write):
/// the catch-up, or every update published since it last wrote. What wakes it
/// (the head's announcements, which also say when the hub closes at shutdown,
/// and the heartbeat timer) is registered once and polled again, never created
/// anew per frame.
pub struct Subscriber {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    engine: Engine,
    /// The hub's announcements of new updates.
    changes: WatchStream<EventId>,
    /// The catch-up, until it is sent.
    catch_up: Bytes,
    /// When the next heartbeat is due.
    heartbeat: Pin<Box<Sleep>>,
    /// Whether the timer has been polled since its deadline was last set, so
    /// that it will wake this stream.
    heartbeat_armed: bool,
    settings: StreamSettings,
    /// Whether the connection can take more now.
    backpressure: Arc<Backpressure>,
    /// Since when this stream has had something hyper has not taken.
    handing: Arc<Handing>,
    ended: bool,
    /// This stream's place under the limits, given back when it ends.
    _permit: StreamPermit,
}

impl Stream for Subscriber {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.handing.polled();
        let next = this.next(cx);
        if let Poll::Ready(Some(_)) = next {
            // Handed over: until hyper asks again, the stream waits on it (an
            // HTTP/2 window kept shut is never asked again).
            this.handing.waiting();
        }
        next
    }
}

impl Subscriber {
    fn next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Infallible>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.hub.is_closed() {
            self.ended = true;
            return Poll::Ready(Some(Ok(engine::farewell())));
        }
        if !self.catch_up.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.catch_up))));
        }
        // The client has not taken what it was sent: hold back, so that what it
        // has yet to get stays in the hub, where newer prices can replace it.
        if self.backpressure.poll_ready(cx).is_pending() {
            return Poll::Pending;
        }
        // Take every announcement so far; the next one wakes this stream.
        loop {
            match self.changes.poll_next_unpin(cx) {
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        let source = Source {
            hub: &self.hub,
            metrics: &self.metrics,
            settings: &self.settings,
        };
        loop {
            let mut delivered = 0;
            let sent =
                self.engine
                    .next(source, Instant::now(), &Unframed, &mut None, &mut delivered);
            if !sent.is_empty() {
                return Poll::Ready(Some(Ok(sent)));
            }
            // Nothing this stream wants in that slice of the history: read on.
            if self.engine.behind(source.hub) {
                continue;
            }
            if Self::poll_heartbeat(
                &mut self.heartbeat,
                &mut self.heartbeat_armed,
                self.engine.next_heartbeat(),
                cx,
            )
            .is_pending()
            {
                return Poll::Pending;
            }
        }
    }

    /// The body of the stream `opened`, reading `hub`, on a connection whose
    /// `backpressure` it heeds.
    pub fn new(
        opened: Opened,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        settings: StreamSettings,
        backpressure: Arc<Backpressure>,
    ) -> Self {
        let handing = backpressure.handing();
        // The catch-up waits for hyper from the start.
        handing.waiting();
        Self {
            handing,
            changes: WatchStream::from_changes(hub.watch_head()),
            hub,
            metrics,
            engine: Engine::new(opened.position),
            catch_up: opened.catch_up,
            heartbeat: Box::pin(tokio::time::sleep_until(Instant::now())),
            heartbeat_armed: false,
            settings,
            backpressure,
            ended: false,
            _permit: opened.permit,
        }
    }

    /// Ready once `due` has come (the engine then has a heartbeat to send).
    ///
    /// Most wakes are for updates, so the timer is looked at only once its
    /// deadline has passed by the clock: once polled, it wakes this stream by
    /// itself (the stream is always polled by its connection's task).
    fn poll_heartbeat(
        timer: &mut Pin<Box<Sleep>>,
        armed: &mut bool,
        due: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if timer.deadline() != due {
            timer.as_mut().reset(due);
            *armed = false;
        }
        if *armed && Instant::now() < due {
            return Poll::Pending;
        }
        *armed = true;
        timer.as_mut().poll(cx)
    }
}
