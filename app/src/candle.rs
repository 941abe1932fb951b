//! Candles: a symbol's prices over time, in intervals of 1 s, 1 min or 5 min,
//! as `GET /api/candles` answers them and the detail view draws them.
//!
//! A candle starts at a multiple of its interval (in ms since the Unix
//! epoch), and holds the first, highest, lowest and last price of the updates
//! whose `ts` falls in it, and how many there were. Built from the update
//! times the stream carries, not from a server's clock, so every instance of
//! a cluster builds the same candles from the same updates.

use crate::model::{EventId, Price, Symbol};
use serde::{Deserialize, Serialize};

/// How long a candle lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Interval {
    /// One second: the last 10 minutes are kept.
    #[serde(rename = "1s")]
    Second,
    /// One minute: the last 24 hours are kept.
    #[serde(rename = "1m")]
    Minute,
    /// Five minutes: the last 24 hours are kept.
    #[serde(rename = "5m")]
    FiveMinutes,
}

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Self; 3] = [Self::Second, Self::Minute, Self::FiveMinutes];

    /// Its length in milliseconds.
    pub const fn millis(self) -> u64 {
        match self {
            Self::Second => 1_000,
            Self::Minute => 60_000,
            Self::FiveMinutes => 300_000,
        }
    }

    /// How many candles of it a server keeps per symbol.
    pub const fn kept(self) -> usize {
        match self {
            Self::Second => 600,
            Self::Minute => 1_440,
            Self::FiveMinutes => 288,
        }
    }

    /// Its name on the wire: `1s`, `1m` or `5m`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Second => "1s",
            Self::Minute => "1m",
            Self::FiveMinutes => "5m",
        }
    }

    /// The interval named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|interval| interval.as_str() == text)
    }

    /// The start of the candle that `ts` falls in.
    pub const fn start_of(self, ts: u64) -> u64 {
        ts - ts % self.millis()
    }
}

/// One candle.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    /// Its start, in milliseconds since the Unix epoch.
    pub t: u64,
    /// The first price in it.
    pub open: Price,
    /// The highest.
    pub high: Price,
    /// The lowest.
    pub low: Price,
    /// The last.
    pub close: Price,
    /// How many updates it holds.
    pub count: u64,
}

impl Candle {
    /// A candle starting at `t` with one update at `price`.
    pub fn opening(t: u64, price: Price) -> Self {
        Self {
            t,
            open: price,
            high: price,
            low: price,
            close: price,
            count: 1,
        }
    }

    /// Adds an update at `price` that came after those it holds.
    pub fn add(&mut self, price: Price) {
        if price > self.high {
            self.high = price;
        }
        if price < self.low {
            self.low = price;
        }
        self.close = price;
        self.count += 1;
    }
}

/// The answer of `GET /api/candles`: a symbol's candles of one interval,
/// oldest first, the last the one still forming.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candles {
    /// The symbol.
    pub symbol: Symbol,
    /// The candles' interval.
    pub interval: Interval,
    /// The candles, oldest first.
    pub candles: Vec<Candle>,
    /// The last update they hold: a client that also follows the stream adds
    /// the updates after it, and only those.
    #[serde(rename = "lastEventId")]
    pub last_event_id: EventId,
}

/// An update as a chart takes it from the stream: its id, time and price.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Live {
    /// Its id in the stream.
    pub id: EventId,
    /// Its time, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Its price.
    pub price: Price,
}

impl Candles {
    /// Adds `live`, an update the stream brought, unless the candles already
    /// hold it (its id is not after their `last_event_id`, or of another run):
    /// the forming candle moves with the stream, and a fetch that raced the
    /// stream counts no update twice. Returns whether it was added.
    pub fn add(&mut self, live: Live) -> bool {
        let last = self.last_event_id;
        if live.id.run != last.run || live.id.seq <= last.seq {
            return false;
        }
        self.last_event_id = live.id;
        let t = self.interval.start_of(live.ts);
        match self.candles.binary_search_by_key(&t, |candle| candle.t) {
            Ok(i) => self.candles[i].add(live.price),
            Err(i) => {
                self.candles.insert(i, Candle::opening(t, live.price));
                if self.candles.len() > self.interval.kept() {
                    self.candles.remove(0);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(value: f64) -> Price {
        Price::try_from(value).unwrap()
    }

    #[test]
    fn intervals_read_and_write_their_names_and_start_on_their_multiples() {
        for interval in Interval::ALL {
            assert_eq!(Interval::parse(interval.as_str()), Some(interval));
            assert_eq!(
                serde_json::to_string(&interval).unwrap(),
                format!("\"{}\"", interval.as_str())
            );
        }
        assert_eq!(Interval::parse("1h"), None);
        assert_eq!(
            Interval::Minute.start_of(1_700_000_059_999),
            1_700_000_040_000
        );
        assert_eq!(Interval::Second.start_of(1_000), 1_000);
    }

    #[test]
    fn a_candle_keeps_open_high_low_close_and_count() {
        let mut candle = Candle::opening(60_000, price(10.0));
        for value in [12.0, 9.0, 11.0] {
            candle.add(price(value));
        }
        assert_eq!(
            serde_json::to_string(&candle).unwrap(),
            r#"{"t":60000,"open":10.0,"high":12.0,"low":9.0,"close":11.0,"count":4}"#
        );
    }

    #[test]
    fn live_updates_after_the_candles_move_them_and_earlier_ones_are_left_out() {
        let run = crate::model::RunId(7);
        let at = |seq| EventId { run, seq };
        let mut candles = Candles {
            symbol: "AAPL".parse().unwrap(),
            interval: Interval::Second,
            candles: vec![Candle::opening(1_000, price(10.0))],
            last_event_id: at(5),
        };
        let live = |seq, ts, value| Live {
            id: at(seq),
            ts,
            price: price(value),
        };
        assert!(!candles.add(live(5, 1_500, 99.0)), "already held");
        assert!(candles.add(live(6, 1_500, 12.0)));
        assert!(candles.add(live(8, 2_100, 11.0)));
        assert!(
            candles.add(live(9, 900, 9.0)),
            "an older ts: its own candle"
        );
        let other_run = Live {
            id: EventId {
                run: crate::model::RunId(8),
                seq: 99,
            },
            ..live(0, 2_200, 1.0)
        };
        assert!(!candles.add(other_run));
        let summary: Vec<(u64, f64, f64, f64, f64, u64)> = candles
            .candles
            .iter()
            .map(|c| {
                let p = |p: Price| p.get();
                (c.t, p(c.open), p(c.high), p(c.low), p(c.close), c.count)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, 9.0, 9.0, 9.0, 9.0, 1),
                (1_000, 10.0, 12.0, 10.0, 12.0, 2),
                (2_000, 11.0, 11.0, 11.0, 11.0, 1)
            ]
        );
        assert_eq!(candles.last_event_id, at(9));
    }
}
