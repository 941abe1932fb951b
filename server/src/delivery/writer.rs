//! The stream writers: a few tasks, each writing the sockets of many streams.
//!
//! A stream on a connection of its own ([`serve`](crate::delivery::serve)) is handed to a
//! writer once the handler has opened it. When the hub announces updates, each
//! writer sweeps its streams in one pass: streams that take every symbol and
//! stand at the same place share one chunk, read and framed once, and each
//! socket gets it in one non-blocking `send`. That is the shape of the
//! machine's floor (one buffer per tick, one write per client), without a task
//! to wake, a timer to poll and a waiter to register per stream and per update.
//! Measured with `make bench` at 10 000 viewers × 5 updates/s: a task per
//! stream spent ×1.26–1.35 the floor's CPU per delivery; see the README.
//!
//! What each stream sends, and when, is its [`Engine`]'s, as for a stream
//! hyper writes ([`body`](crate::delivery::body)); a writer adds the socket's side:
//! - **slow clients**: what the kernel does not take waits in the stream (one
//!   chunk at most) while the stream reads nothing more; when the client takes
//!   it, the stream reads on (and the engine skips to a snapshot of the latest
//!   prices if it is later than `--max-lag-ms`). A client that takes nothing for
//!   the stall timeout is disconnected, logged and counted, as by
//!   [`listener`](crate::delivery::listener);
//! - a client that closes its side is seen at once (its socket's readiness
//!   wakes the writer), and its place under the limits is given back;
//! - at shutdown every stream gets the notice and its end.

use crate::{
    delivery::body::Opened,
    delivery::chunked::{END_OF_CHUNKS, chunk},
    delivery::engine::{self, Engine, Framing, SharedRead, Source, StreamSettings},
    hub::Hub,
    metrics::Metrics,
};
use app::model::EventId;
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use std::{
    future::{Future, poll_fn},
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    net::TcpStream,
    sync::mpsc,
    time::{Instant, Sleep},
};
use tokio_stream::wrappers::WatchStream;
use tokio_util::task::TaskTracker;

/// How many streams one writer serves. A sweep of them all costs about this
/// many times one `send` (≈ 10 µs here): a few milliseconds, short enough not
/// to hold up the other tasks of its thread, and many writers share the cores.
const STREAMS_PER_WRITER: usize = 256;

/// The most reads of stray client bytes per sweep, per stream.
const MAX_DRAINS: usize = 16;

/// The writers of a server, and where a new stream goes.
#[derive(Debug)]
pub struct Writers {
    shared: Arc<Shared>,
    writers: Mutex<Vec<Handle>>,
    tracker: TaskTracker,
}

/// What every writer reads.
#[derive(Debug)]
struct Shared {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    settings: StreamSettings,
    /// A client that takes nothing for this long is disconnected.
    stall_timeout: Duration,
}

/// A running writer.
#[derive(Debug)]
struct Handle {
    joins: mpsc::UnboundedSender<Member>,
    streams: Arc<AtomicUsize>,
}

impl Writers {
    /// Writers for the streams of `hub`, spawned on `tracker` as they are needed
    /// (they end when the hub closes).
    pub fn new(
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        settings: StreamSettings,
        stall_timeout: Duration,
        tracker: TaskTracker,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                hub,
                metrics,
                settings,
                stall_timeout,
            }),
            writers: Mutex::new(Vec::new()),
            tracker,
        }
    }

    /// Takes over the stream `opened` on `socket`, whose response `head` is
    /// not sent yet.
    pub fn add(&self, socket: TcpStream, peer: SocketAddr, head: &[u8], opened: Opened) {
        let mut first = BytesMut::with_capacity(head.len() + opened.catch_up.len() + 32);
        first.extend_from_slice(head);
        first.extend_from_slice(&chunk(&opened.catch_up));
        let member = Member {
            socket,
            peer,
            engine: Engine::new(opened.position),
            pending: first.freeze(),
            blocked_since: None,
            _permit: opened.permit,
        };
        let mut writers = self.writers.lock().unwrap_or_else(PoisonError::into_inner);
        let open = writers.iter().position(|writer| {
            writer.streams.load(Ordering::Relaxed) < STREAMS_PER_WRITER && !writer.joins.is_closed()
        });
        let writer = match open {
            Some(i) => &writers[i],
            None => {
                writers.push(self.spawn());
                &writers[writers.len() - 1]
            }
        };
        writer.streams.fetch_add(1, Ordering::Relaxed);
        // A writer stops only when the hub closes: the stream is dropped, closed.
        let _ = writer.joins.send(member);
    }

    fn spawn(&self) -> Handle {
        let (joins, receiver) = mpsc::unbounded_channel();
        let streams = Arc::new(AtomicUsize::new(0));
        let mut writer = Writer {
            shared: self.shared.clone(),
            changes: WatchStream::from_changes(self.shared.hub.watch_head()),
            joins: receiver,
            members: Vec::new(),
            streams: streams.clone(),
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        };
        // A sweep does many socket operations in one poll; tokio's cooperative
        // budget (128 per poll) would make the rest fail to register for wakes.
        // Each sweep is bounded by `STREAMS_PER_WRITER` instead.
        self.tracker
            .spawn(tokio::task::unconstrained(poll_fn(move |cx| {
                writer.poll(cx)
            })));
        Handle { joins, streams }
    }
}

/// One writer: its streams, and what wakes it.
struct Writer {
    shared: Arc<Shared>,
    /// The hub's announcements of new updates (and of its closing).
    changes: WatchStream<EventId>,
    joins: mpsc::UnboundedReceiver<Member>,
    members: Vec<Member>,
    /// How many streams it serves, for [`Writers::add`] to choose a writer.
    streams: Arc<AtomicUsize>,
    /// The next heartbeat or stall deadline of any stream.
    timer: Pin<Box<Sleep>>,
}

impl Writer {
    /// Sweeps whenever anything may have changed: an announcement, a new
    /// stream, a socket that can take more or that the client closed, a
    /// deadline. Ends when the hub closes.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            while let Poll::Ready(Some(member)) = self.joins.poll_recv(cx) {
                self.members.push(member);
            }
            while let Poll::Ready(Some(_)) = self.changes.poll_next_unpin(cx) {}
            if self.shared.hub.is_closed() {
                self.close();
                return Poll::Ready(());
            }
            let sweep = self.sweep(cx);
            if sweep.more {
                // Streams replaying a long history: on with the next slice
                // once the other tasks have had their turn.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(deadline) = sweep.deadline else {
                return Poll::Pending;
            };
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Gives every stream what it has to send, as far as its socket takes it.
    fn sweep(&mut self, cx: &mut Context<'_>) -> Sweep {
        let shared = &*self.shared;
        let mut sweep = Sweep {
            now: Instant::now(),
            head: shared.hub.head(),
            read: None,
            delivered: 0,
            more: false,
            deadline: None,
        };
        let mut i = 0;
        while i < self.members.len() {
            if self.members[i].visit(shared, cx, &mut sweep) {
                i += 1;
            } else {
                self.members.swap_remove(i);
                self.streams.fetch_sub(1, Ordering::Relaxed);
            }
        }
        shared.metrics.delivered.inc_by(sweep.delivered);
        sweep
    }

    /// Shutdown: each stream gets the notice and its end, as far as its socket
    /// takes them now, and is closed.
    fn close(&mut self) {
        // Streams handed over meanwhile end here too, told like the others.
        self.joins.close();
        while let Ok(member) = self.joins.try_recv() {
            self.members.push(member);
        }
        let mut farewell = BytesMut::from(&chunk(&engine::farewell())[..]);
        farewell.extend_from_slice(END_OF_CHUNKS);
        for mut member in self.members.drain(..) {
            while !member.pending.is_empty() {
                match member.socket.try_write(&member.pending) {
                    Ok(n) => member.pending.advance(n),
                    Err(_) => break,
                }
            }
            if member.pending.is_empty() {
                let _ = member.socket.try_write(&farewell);
            }
        }
        self.streams.store(0, Ordering::Relaxed);
    }
}

/// One sweep's shared state.
struct Sweep {
    now: Instant,
    /// The hub's head when the sweep began.
    head: EventId,
    /// The chunk read for streams that take every symbol, and where it starts.
    read: Option<SharedRead>,
    /// Updates delivered, counted once per sweep.
    delivered: u64,
    /// Whether a stream is still short of `head` (a long replay).
    more: bool,
    /// The earliest deadline of any stream.
    deadline: Option<Instant>,
}

impl Sweep {
    fn wake_at(&mut self, at: Instant) {
        self.deadline = Some(self.deadline.map_or(at, |deadline| deadline.min(at)));
    }
}

/// HTTP/1.1 chunks: the writers frame their streams' bodies themselves.
struct Chunked;

impl Framing for Chunked {
    fn frame(&self, frames: Bytes) -> Bytes {
        chunk(&frames)
    }
}

/// One stream a writer serves.
struct Member {
    socket: TcpStream,
    peer: SocketAddr,
    engine: Engine,
    /// What the kernel has not taken yet, sent before anything else.
    pending: Bytes,
    /// Since when the kernel has taken nothing of `pending`.
    blocked_since: Option<Instant>,
    /// This stream's place under the limits, given back when it is dropped.
    _permit: crate::delivery::limits::StreamPermit,
}

impl Member {
    /// Sends what the stream has to send; `false` when the stream is over.
    fn visit(&mut self, shared: &Shared, cx: &mut Context<'_>, sweep: &mut Sweep) -> bool {
        if self.client_left(cx) {
            return false;
        }
        // What the kernel did not take last time goes first; until it has,
        // the stream reads nothing more (newer prices wait in the hub).
        if let Some(keep) = self.flush(shared, cx, sweep) {
            return keep;
        }
        let source = Source {
            hub: &shared.hub,
            metrics: &shared.metrics,
            settings: &shared.settings,
        };
        self.pending = self.engine.next(
            source,
            sweep.now,
            &Chunked,
            &mut sweep.read,
            &mut sweep.delivered,
        );
        sweep.more |= self.engine.short_of(sweep.head);
        if let Some(keep) = self.flush(shared, cx, sweep) {
            return keep;
        }
        if self.blocked_since.is_none() {
            sweep.wake_at(self.engine.next_heartbeat());
        }
        true
    }

    /// Writes what is pending. `None` when all of it went; otherwise whether
    /// to keep the stream: a client that has not taken it is kept until the
    /// stall timeout, a connection that failed is over.
    fn flush(&mut self, shared: &Shared, cx: &mut Context<'_>, sweep: &mut Sweep) -> Option<bool> {
        match self.send(cx, sweep.now) {
            Ok(true) => None,
            Ok(false) => Some(self.keep_waiting(shared, sweep)),
            Err(error) => {
                tracing::debug!(%error, "stream connection ended");
                Some(false)
            }
        }
    }

    /// Writes what is pending; `Ok(false)` when the kernel will not take it
    /// all now (the socket wakes the writer when it can take more).
    fn send(&mut self, cx: &mut Context<'_>, now: Instant) -> io::Result<bool> {
        while !self.pending.is_empty() {
            match self.socket.try_write(&self.pending) {
                Ok(n) => {
                    self.pending.advance(n);
                    self.blocked_since = None;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    match self.socket.poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(error)) => return Err(error),
                        Poll::Pending => {
                            self.blocked_since.get_or_insert(now);
                            return Ok(false);
                        }
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    }

    /// A stream whose client has not taken what it was sent: kept until the
    /// stall timeout, then disconnected (logged and counted); `false` when it
    /// is over.
    fn keep_waiting(&self, shared: &Shared, sweep: &mut Sweep) -> bool {
        let give_up = self.blocked_since.unwrap_or(sweep.now) + shared.stall_timeout;
        if sweep.now >= give_up {
            shared.metrics.stalled_client(self.peer);
            return false;
        }
        sweep.wake_at(give_up);
        true
    }

    /// Whether the client has closed its side (bytes it sends are ignored).
    /// Leaves the socket registered to wake the writer when it next can tell.
    fn client_left(&self, cx: &mut Context<'_>) -> bool {
        let mut scratch = [0u8; 256];
        for _ in 0..MAX_DRAINS {
            match self.socket.poll_read_ready(cx) {
                Poll::Pending => return false,
                Poll::Ready(Err(_)) => return true,
                Poll::Ready(Ok(())) => {}
            }
            match self.socket.try_read(&mut scratch) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return true,
            }
        }
        // A client that keeps sending: the rest is read on the next sweep.
        false
    }
}

#[cfg(test)]
mod tests {
    // Behaviour is tested end to end over real sockets (tests/events.rs,
    // tests/fanout.rs, tests/resume.rs); the sweep's arithmetic here.
    use super::*;

    #[test]
    fn the_earliest_deadline_wins() {
        let now = Instant::now();
        let mut sweep = Sweep {
            now,
            head: EventId::start(app::model::RunId(1)),
            read: None,
            delivered: 0,
            more: false,
            deadline: None,
        };
        sweep.wake_at(now + Duration::from_secs(2));
        sweep.wake_at(now + Duration::from_secs(1));
        sweep.wake_at(now + Duration::from_secs(3));
        assert_eq!(sweep.deadline, Some(now + Duration::from_secs(1)));
    }
}
