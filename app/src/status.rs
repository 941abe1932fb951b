//! The connection state machine behind the status indicator.
//!
//! The browser's `EventSource` reports only `open` and `error`; what the viewer needs
//! to know is whether the table is live. This module turns those callbacks, and the
//! silence of a stream that stopped sending, into the states the dashboard
//! names, and counts reconnection attempts and how often the stream came back.
//! It is plain data so it can be tested without a browser.

/// What the price stream is doing, as shown to the viewer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Opening the stream for the first time.
    #[default]
    Connecting,
    /// The stream is open and prices flow.
    Live,
    /// The stream is open but nothing, not even a heartbeat, has arrived for
    /// 2.5 heartbeat intervals: the prices shown may be out of date.
    Stale,
    /// The stream is open, but the server says its feed is interrupted (a
    /// cluster's broker is unreachable): no prices until it is back.
    Interrupted,
    /// The connection dropped and the browser is trying again by itself.
    Reconnecting,
    /// The browser gave up (for example on a non-200 answer); only a manual
    /// reconnect opens the stream again.
    Closed,
    /// The viewer paused the stream; resuming catches up from the last id.
    Paused,
}

impl Phase {
    /// The word the dashboard shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting",
            Self::Live => "Live",
            Self::Stale => "Stale",
            Self::Interrupted => "Feed interrupted",
            Self::Reconnecting => "Reconnecting",
            Self::Closed => "Closed",
            Self::Paused => "Paused",
        }
    }

    /// A lower-case name for CSS classes and test hooks.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Stale => "stale",
            Self::Interrupted => "interrupted",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
            Self::Paused => "paused",
        }
    }

    /// The phase named by `slug` (as [`Phase::slug`] writes it).
    pub fn from_slug(slug: &str) -> Option<Self> {
        [
            Self::Connecting,
            Self::Live,
            Self::Stale,
            Self::Interrupted,
            Self::Reconnecting,
            Self::Closed,
            Self::Paused,
        ]
        .into_iter()
        .find(|phase| phase.slug() == slug)
    }
}

/// Whether the stream a tab shows is shared with the browser's other tabs (one
/// tab leads: it holds the connection and passes every event on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    /// Whether this tab holds the connection.
    pub leading: bool,
    /// How many tabs the connection serves, as far as this tab knows (0: it
    /// does not share a connection).
    pub tabs: u32,
}

impl Shared {
    /// The words after the status, when the connection is shared.
    pub fn describe(self) -> Option<String> {
        (self.tabs > 1).then(|| format!("shared by {} tabs", self.tabs))
    }

    /// `leader` or `follower`, when the stream is shared.
    pub fn slug(self) -> Option<&'static str> {
        match self {
            Self { leading: true, .. } => Some("leader"),
            Self { tabs: 1.., .. } => Some("follower"),
            _ => None,
        }
    }
}

/// The state of the connection over the life of the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// What the stream is doing now.
    pub phase: Phase,
    /// How many times the stream was re-established after the first open.
    pub reconnects: u32,
    /// Failed attempts since the stream last dropped (while reconnecting).
    pub attempts: u32,
    /// Whether the stream has opened at least once.
    has_opened: bool,
    /// Whether the last attempt was refused because the server was busy.
    pub busy: bool,
    /// Whether the connection is shared with the browser's other tabs.
    pub shared: Shared,
    /// Whether the stream being opened is the viewer's own choice (resuming a
    /// paused view), not a reconnection.
    by_choice: bool,
    /// Whether the stream has opened again since its first opening (after a
    /// reconnection or a pause), so how it came back is worth saying.
    pub reopened: bool,
}

impl Connection {
    /// The stream opened (the `open` event).
    pub fn opened(&mut self) {
        if self.has_opened && !std::mem::take(&mut self.by_choice) {
            self.reconnects += 1;
        }
        self.reopened |= self.has_opened;
        self.has_opened = true;
        self.attempts = 0;
        self.busy = false;
        self.phase = Phase::Live;
    }

    /// Nothing has arrived for too long on an open stream.
    pub fn went_quiet(&mut self) {
        if matches!(self.phase, Phase::Live | Phase::Interrupted) {
            self.phase = Phase::Stale;
        }
    }

    /// Whether [`Connection::feed`] would change anything, so that the signal
    /// holding it is notified only then.
    pub fn feed_changes(&self, interrupted: bool) -> bool {
        match self.phase {
            Phase::Live | Phase::Stale => interrupted,
            Phase::Interrupted => !interrupted,
            _ => false,
        }
    }

    /// A heartbeat said whether the server's feed is interrupted.
    pub fn feed(&mut self, interrupted: bool) {
        if self.feed_changes(interrupted) {
            self.phase = if interrupted {
                Phase::Interrupted
            } else {
                Phase::Live
            };
        }
    }

    /// Something arrived on the open stream. Returns whether that changed the
    /// state (only a stale stream comes back to life), so that the signal holding
    /// it is not notified on every event.
    pub fn heard(&mut self) -> bool {
        let stale = self.phase == Phase::Stale;
        if stale {
            self.phase = Phase::Live;
        }
        stale
    }

    /// The stream reported an error (the `error` event). `browser_retries` is true
    /// when the `EventSource` is back in `CONNECTING`, i.e. the browser reconnects
    /// by itself; otherwise it has closed the stream for good.
    pub fn errored(&mut self, browser_retries: bool) {
        self.count_attempt();
        self.busy = false;
        self.phase = if browser_retries {
            Phase::Reconnecting
        } else {
            Phase::Closed
        };
    }

    /// The server refused the stream because it has too many open (503): the
    /// dashboard retries after the delay the server asked for.
    pub fn busy(&mut self) {
        self.count_attempt();
        self.busy = true;
        self.phase = Phase::Reconnecting;
    }

    fn count_attempt(&mut self) {
        if self.phase == Phase::Reconnecting {
            self.attempts += 1;
        } else {
            self.attempts = 1;
        }
    }

    /// The viewer paused the stream.
    pub fn paused(&mut self) {
        self.phase = Phase::Paused;
        self.attempts = 0;
        self.busy = false;
    }

    /// The viewer resumed a paused stream: a new connection is being opened.
    pub fn resumed(&mut self) {
        self.phase = Phase::Connecting;
        self.attempts = 0;
        self.busy = false;
        self.by_choice = true;
    }

    /// A new stream is being opened by hand after the browser gave up.
    pub fn reconnecting_by_hand(&mut self) {
        self.phase = Phase::Reconnecting;
        self.attempts = 1;
        self.busy = false;
    }

    /// This tab follows another tab's connection, which is in `phase` after
    /// `attempts` failed attempts (`busy`: refused by a busy server). Only what
    /// a follower cannot see for itself is taken: the leader opening, losing
    /// or giving up the stream. Staleness and the feed's state each tab reads
    /// from the events; a paused tab stays paused.
    pub fn mirror(&mut self, phase: Phase, attempts: u32, busy: bool) {
        match phase {
            _ if self.phase == Phase::Paused => {}
            Phase::Live | Phase::Interrupted | Phase::Stale => {
                if !matches!(self.phase, Phase::Live | Phase::Interrupted | Phase::Stale) {
                    self.opened();
                }
            }
            Phase::Paused => {}
            phase => {
                self.phase = phase;
                self.attempts = attempts;
                self.busy = busy;
            }
        }
    }

    /// The text of the status indicator: the phase, and with how many tabs
    /// the connection is shared.
    pub fn describe(&self) -> String {
        let phase = self.describe_phase();
        match self.shared.describe() {
            Some(shared) => format!("{phase} · {shared}"),
            None => phase,
        }
    }

    /// The CSS classes of the status indicator: by phase, and `shared-leader`
    /// or `shared-follower` when the connection is shared.
    pub fn classes(&self) -> String {
        let phase = self.phase.slug();
        match self.shared.slug() {
            Some(role) => format!("status status-{phase} shared-{role}"),
            None => format!("status status-{phase}"),
        }
    }

    fn describe_phase(&self) -> String {
        match self.phase {
            Phase::Connecting => "Connecting…".to_owned(),
            Phase::Reconnecting if self.busy => {
                format!("Server busy, retrying… (attempt {})", self.attempts.max(1))
            }
            Phase::Reconnecting => format!("Reconnecting… (attempt {})", self.attempts.max(1)),
            Phase::Stale => "Stale: no data from the server".to_owned(),
            Phase::Interrupted => "Feed interrupted: waiting for prices".to_owned(),
            phase => phase.label().to_owned(),
        }
    }
}

/// The longest wait between two reconnection attempts.
pub const MAX_RETRY_MS: f64 = 30_000.0;

/// How long to wait before reconnection attempt `attempt` (1 for the first),
/// given the server's base delay: the base, doubled for each further failed
/// attempt up to [`MAX_RETRY_MS`], times a jitter factor between 0.75 and 1.25
/// from `random` (in `0..1`), so browsers cut off together come back apart.
pub fn backoff(base_ms: f64, attempt: u32, random: f64) -> f64 {
    let doublings = attempt.saturating_sub(1).min(16);
    let delay = (base_ms * f64::from(1u32 << doublings)).min(MAX_RETRY_MS);
    delay * (0.75 + random.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_feed_shows_until_a_heartbeat_says_it_is_back() {
        let mut c = Connection::default();
        c.opened();
        assert!(!c.feed_changes(false));
        c.feed(true);
        assert_eq!(c.phase, Phase::Interrupted);
        assert_eq!(c.describe(), "Feed interrupted: waiting for prices");
        assert!(!c.feed_changes(true));
        c.feed(false);
        assert_eq!(c.phase, Phase::Live);
        // A paused or reconnecting dashboard says so, whatever the feed.
        c.paused();
        c.feed(true);
        assert_eq!(c.phase, Phase::Paused);
    }

    #[test]
    fn first_open_is_live_without_counting_a_reconnect() {
        let mut c = Connection::default();
        assert_eq!(c.phase, Phase::Connecting);
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
    }

    #[test]
    fn resuming_a_paused_view_is_not_a_reconnect_but_a_later_drop_is() {
        let mut c = Connection::default();
        c.opened();
        c.paused();
        c.resumed();
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
        c.errored(true);
        c.opened();
        assert_eq!(c.reconnects, 1);
    }

    #[test]
    fn a_network_error_is_reconnecting_and_the_next_open_counts() {
        let mut c = Connection::default();
        c.opened();
        c.errored(true);
        assert_eq!(c.phase, Phase::Reconnecting);
        assert_eq!(c.describe(), "Reconnecting… (attempt 1)");
        // Failed attempts while the server is down do not count as reconnects.
        c.errored(true);
        c.errored(true);
        assert_eq!(c.describe(), "Reconnecting… (attempt 3)");
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 1));
        c.errored(true);
        assert_eq!(c.describe(), "Reconnecting… (attempt 1)");
    }

    #[test]
    fn an_error_the_browser_gives_up_on_is_closed() {
        let mut c = Connection::default();
        c.opened();
        c.errored(false);
        assert_eq!(c.phase, Phase::Closed);
        c.reconnecting_by_hand();
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 1));
    }

    #[test]
    fn an_error_before_the_first_open_is_not_a_reconnect() {
        let mut c = Connection::default();
        c.errored(true);
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
    }

    #[test]
    fn an_open_stream_that_goes_quiet_is_stale_until_it_speaks() {
        let mut c = Connection::default();
        c.went_quiet();
        assert_eq!(c.phase, Phase::Connecting, "only a live stream goes stale");
        c.opened();
        c.went_quiet();
        assert_eq!(
            (c.phase, c.describe().as_str()),
            (Phase::Stale, "Stale: no data from the server")
        );
        assert!(c.heard(), "coming back to life is a change");
        assert_eq!(c.phase, Phase::Live);
        assert!(!c.heard(), "hearing a live stream changes nothing");
        c.went_quiet();
        c.errored(true);
        assert_eq!(c.phase, Phase::Reconnecting);
        assert!(!c.heard());
        assert_eq!(c.phase, Phase::Reconnecting);
    }

    #[test]
    fn backoff_doubles_from_the_base_with_jitter_and_a_ceiling() {
        assert_eq!(backoff(1000.0, 1, 0.5), 1000.0);
        assert_eq!(backoff(1000.0, 3, 0.5), 4000.0);
        assert_eq!(backoff(1000.0, 1, 0.0), 750.0);
        assert_eq!(backoff(1000.0, 1, 1.0), 1250.0);
        assert_eq!(backoff(1000.0, 40, 0.5), MAX_RETRY_MS);
    }

    #[test]
    fn pausing_and_resuming() {
        let mut c = Connection::default();
        c.opened();
        c.paused();
        assert_eq!(c.describe(), "Paused");
        c.resumed();
        assert_eq!(c.phase, Phase::Connecting);
        c.opened();
        // The viewer's own choice, not a reconnection.
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
    }

    #[test]
    fn a_follower_takes_the_leaders_openings_and_troubles_only() {
        let mut c = Connection::default();
        c.mirror(Phase::Live, 0, false);
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
        c.mirror(Phase::Stale, 0, false);
        assert_eq!(c.phase, Phase::Live, "each tab judges staleness itself");
        c.mirror(Phase::Reconnecting, 2, true);
        assert_eq!(c.describe(), "Server busy, retrying… (attempt 2)");
        c.mirror(Phase::Live, 0, false);
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 1));
        c.paused();
        c.mirror(Phase::Closed, 1, false);
        assert_eq!(c.phase, Phase::Paused);
        for phase in [Phase::Live, Phase::Closed, Phase::Interrupted] {
            assert_eq!(Phase::from_slug(phase.slug()), Some(phase));
        }
        assert_eq!(Phase::from_slug("nonsense"), None);
    }

    #[test]
    fn sharing_is_said_from_two_tabs_on() {
        assert_eq!(Shared::default().describe(), None);
        let leading = Shared {
            leading: true,
            tabs: 1,
        };
        assert_eq!(leading.describe(), None);
        assert_eq!(
            Shared { tabs: 3, ..leading }.describe().as_deref(),
            Some("shared by 3 tabs")
        );
        let mut c = Connection::default();
        c.opened();
        assert_eq!(
            (c.describe(), c.classes()),
            ("Live".into(), "status status-live".into())
        );
        c.shared = Shared { tabs: 3, ..leading };
        assert_eq!(c.describe(), "Live · shared by 3 tabs");
        assert_eq!(c.classes(), "status status-live shared-leader");
    }

    #[test]
    fn a_busy_server_is_retried_and_said_so_until_the_stream_opens() {
        let mut c = Connection::default();
        c.opened();
        c.errored(true);
        c.busy();
        assert_eq!(c.phase, Phase::Reconnecting);
        assert_eq!(c.describe(), "Server busy, retrying… (attempt 2)");
        c.opened();
        assert_eq!((c.phase, c.busy, c.reconnects), (Phase::Live, false, 1));
        assert_eq!(c.describe(), "Live");
    }
}
