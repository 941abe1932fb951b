//! The connection state machine behind the status indicator.
//!
//! The browser's `EventSource` reports only `open` and `error`; what the viewer needs
//! to know is whether the table is live. This module turns those callbacks into the
//! four states the dashboard names, and counts how often the stream came back.
//! It is plain data so it can be tested without a browser.

/// What the price stream is doing, as shown to the viewer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Opening the stream for the first time.
    #[default]
    Connecting,
    /// The stream is open and prices flow.
    Live,
    /// The connection dropped and the browser is trying again by itself.
    Reconnecting,
    /// The browser gave up (for example on a non-200 answer); only a manual
    /// reconnect opens the stream again.
    Closed,
}

impl Phase {
    /// The word the dashboard shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting",
            Self::Live => "Live",
            Self::Reconnecting => "Reconnecting",
            Self::Closed => "Closed",
        }
    }

    /// A lower-case name for CSS classes and test hooks.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
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
    /// Whether the stream has opened at least once.
    has_opened: bool,
}

impl Connection {
    /// The stream opened (the `open` event).
    pub fn opened(&mut self) {
        if self.has_opened {
            self.reconnects += 1;
        }
        self.has_opened = true;
        self.phase = Phase::Live;
    }

    /// The stream reported an error (the `error` event). `browser_retries` is true
    /// when the `EventSource` is back in `CONNECTING`, i.e. the browser reconnects
    /// by itself; otherwise it has closed the stream for good.
    pub fn errored(&mut self, browser_retries: bool) {
        self.phase = if browser_retries {
            Phase::Reconnecting
        } else {
            Phase::Closed
        };
    }

    /// A new stream is being opened by hand after the browser gave up.
    pub fn reconnecting_by_hand(&mut self) {
        self.phase = Phase::Reconnecting;
    }

    /// The text of the status indicator.
    pub fn describe(&self) -> String {
        match (self.phase, self.reconnects) {
            (Phase::Reconnecting, 0) => "Reconnecting…".to_owned(),
            (Phase::Reconnecting, n) => format!("Reconnecting… (reconnected {n}× so far)"),
            (phase, _) => phase.label().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_open_is_live_without_counting_a_reconnect() {
        let mut c = Connection::default();
        assert_eq!(c.phase, Phase::Connecting);
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 0));
    }

    #[test]
    fn a_network_error_is_reconnecting_and_the_next_open_counts() {
        let mut c = Connection::default();
        c.opened();
        c.errored(true);
        assert_eq!(c.phase, Phase::Reconnecting);
        assert_eq!(c.describe(), "Reconnecting…");
        // Failed attempts while the server is down do not count as reconnects.
        c.errored(true);
        c.errored(true);
        c.opened();
        assert_eq!((c.phase, c.reconnects), (Phase::Live, 1));
        c.errored(true);
        assert_eq!(c.describe(), "Reconnecting… (reconnected 1× so far)");
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
}
