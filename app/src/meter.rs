//! What the header measures about the stream: updates per second, the median
//! publish-to-screen latency and the server's clock offset. Plain data, fed with
//! times in milliseconds, tested without a browser.

use std::collections::VecDeque;

/// How many seconds the update rate is averaged over.
const RATE_WINDOW: usize = 5;

/// How many recent updates the latency median is taken over.
const LATENCY_SAMPLES: usize = 200;

/// How many recent heartbeats the clock offset is estimated from.
const OFFSET_SAMPLES: usize = 8;

/// Updates received per second, averaged over the last few seconds.
#[derive(Clone, Debug, Default)]
pub struct Throughput {
    /// Updates counted since the last sample.
    counting: u64,
    /// `(when the sample's interval began, updates in it)`, oldest first.
    samples: VecDeque<(f64, u64)>,
    last_sample: Option<f64>,
}

impl Throughput {
    /// Counts `n` received updates.
    pub fn add(&mut self, n: u64) {
        self.counting += n;
    }

    /// Closes the current sample at `now` and returns the rate, per second,
    /// once the samples fill the window: until then no rate is known (the
    /// dashboard shows "—"), rather than one that the first seconds' catch-up
    /// would inflate (43/s on a 20/s feed).
    pub fn sample(&mut self, now: f64) -> Option<f64> {
        let Some(began) = self.last_sample.replace(now) else {
            // What came before the first sample (the catch-up among it) came
            // over no known time: it is not counted.
            self.counting = 0;
            return None;
        };
        if self.samples.len() == RATE_WINDOW {
            self.samples.pop_front();
        }
        self.samples
            .push_back((began, std::mem::take(&mut self.counting)));
        let count: u64 = self.samples.iter().map(|(_, n)| n).sum();
        let span = (now - self.samples[0].0) / 1000.0;
        (self.samples.len() == RATE_WINDOW && span > 0.0).then(|| count as f64 / span)
    }
}

/// The latency of the last updates from publication to the screen.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    samples: VecDeque<f64>,
}

impl Latency {
    /// Records one update's latency.
    pub fn record(&mut self, ms: f64) {
        if self.samples.len() == LATENCY_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(ms.max(0.0));
    }

    /// The median of the recorded latencies.
    pub fn median(&self) -> Option<f64> {
        // Sorted by insertion: 200 samples once a second cost nothing, and the
        // standard library's sort for one more type would add ~1.5 KB to the
        // front end's gzip'd weight (`make weight`).
        let mut sorted: Vec<f64> = Vec::with_capacity(self.samples.len());
        for &ms in &self.samples {
            let at = sorted.partition_point(|&other| other <= ms);
            sorted.insert(at, ms);
        }
        let n = sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(sorted[n / 2]),
            _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        }
    }
}

/// How far the server's clock is ahead of the viewer's, from heartbeats.
///
/// Each heartbeat gives `server time − local arrival time`, which is the true
/// offset minus the heartbeat's transit time; the largest of the last few is
/// the one that travelled fastest, so it is the estimate.
#[derive(Clone, Debug, Default)]
pub struct ClockOffset {
    samples: VecDeque<f64>,
}

impl ClockOffset {
    /// Records a heartbeat stamped `server_ms` that arrived at `local_ms`.
    pub fn record(&mut self, server_ms: f64, local_ms: f64) {
        if self.samples.len() == OFFSET_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(server_ms - local_ms);
    }

    /// The estimated offset in milliseconds (server minus viewer), once a
    /// heartbeat has arrived.
    pub fn estimate(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::max)
    }
}

/// The stream's measurements, read by the header once a second (browser only).
#[cfg(feature = "hydrate")]
mod live {
    use super::{ClockOffset, Latency, Throughput};
    use leptos::prelude::*;

    /// The stream's measurements, read by the header once a second.
    #[derive(Debug, Default)]
    pub(crate) struct Meters {
        pub(crate) throughput: Throughput,
        pub(crate) latency: Latency,
        pub(crate) offset: ClockOffset,
        /// The server's base reconnection delay, from heartbeats.
        pub(crate) retry_ms: Option<f64>,
        /// Publication times of the updates not yet on screen.
        pending: Vec<u64>,
        /// After a pause: updates published before the viewer resumed (server
        /// time) are a catch-up, not latency.
        resumed_at: Option<f64>,
    }

    impl Meters {
        /// The viewer resumed a paused view: what was measured before, and
        /// what the catch-up brings, is not measured.
        pub(crate) fn resumed(meters: StoredValue<Meters>) {
            meters.update_value(|m| {
                m.throughput = Throughput::default();
                m.latency = Latency::default();
                m.pending.clear();
                // The viewer's clock: a clock offset is milliseconds, a pause seconds.
                m.resumed_at = Some(js_sys::Date::now());
            });
        }

        /// Notes an update published at `ts`; the next animation frame puts it on screen.
        pub(crate) fn received(meters: StoredValue<Meters>, ts: u64) {
            let first = meters
                .try_update_value(|m| {
                    if m.resumed_at.is_some_and(|at| (ts as f64) < at) {
                        return false;
                    }
                    m.throughput.add(1);
                    m.pending.push(ts);
                    m.pending.len() == 1
                })
                .unwrap_or(false);
            if first {
                request_animation_frame(move || {
                    let now = js_sys::Date::now();
                    meters.update_value(|m| {
                        let server_now = now + m.offset.estimate().unwrap_or(0.0);
                        for ts in std::mem::take(&mut m.pending) {
                            m.latency.record(server_now - ts as f64);
                        }
                    });
                });
            }
        }
    }
}

#[cfg(feature = "hydrate")]
pub(crate) use live::Meters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_shows_once_its_window_is_full_and_averages_over_it() {
        let mut rate = Throughput::default();
        // A catch-up's burst before the first sample is not a rate.
        rate.add(500);
        assert_eq!(rate.sample(0.0), None);
        for second in 1..=4 {
            rate.add(20);
            assert_eq!(rate.sample(f64::from(second) * 1000.0), None, "{second}");
        }
        rate.add(20);
        assert_eq!(rate.sample(5000.0), Some(20.0));
        for second in 6..=10 {
            rate.add(if second % 2 == 0 { 40 } else { 60 });
            rate.sample(f64::from(second) * 1000.0);
        }
        rate.add(10);
        // The last five one-second samples: 60, 40, 60, 40 and 10.
        let now = rate.sample(11_000.0);
        assert_eq!(now, Some((60.0 + 40.0 + 60.0 + 40.0 + 10.0) / 5.0));
    }

    #[test]
    fn latency_is_the_median_of_the_last_samples() {
        let mut latency = Latency::default();
        assert_eq!(latency.median(), None);
        for ms in [5.0, 1.0, 100.0] {
            latency.record(ms);
        }
        assert_eq!(latency.median(), Some(5.0));
        latency.record(7.0);
        assert_eq!(latency.median(), Some(6.0));
        for _ in 0..LATENCY_SAMPLES {
            latency.record(2.0);
        }
        assert_eq!(latency.median(), Some(2.0), "old samples age out");
    }

    #[test]
    fn the_offset_is_the_fastest_heartbeat_s() {
        let mut offset = ClockOffset::default();
        assert_eq!(offset.estimate(), None);
        // The server is 100 ms ahead; heartbeats took 30, 5 and 12 ms to arrive.
        for transit in [30.0, 5.0, 12.0] {
            offset.record(1000.0, 1000.0 - 100.0 + transit);
        }
        assert_eq!(offset.estimate(), Some(95.0));
    }
}
