//! Each symbol's candles, kept by the hub from every update it applies
//! (published here or relayed from a cluster's broker), by the update's `ts`.

use app::{
    candle::{Candle, Interval},
    model::Price,
};
use std::collections::VecDeque;

/// A symbol's candles of every interval, oldest first, each series at most
/// [`Interval::kept`] long.
#[derive(Debug, Default)]
pub(super) struct CandleBook {
    series: [VecDeque<Candle>; Interval::ALL.len()],
}

impl CandleBook {
    /// Adds an update at `price`, published at `ts`, to its candle of every
    /// interval. One later than the last candle starts a new one; one earlier
    /// (a publisher's clock behind another's) goes into its own candle if it
    /// is still kept.
    pub(super) fn record(&mut self, ts: u64, price: Price) {
        for (interval, series) in Interval::ALL.into_iter().zip(&mut self.series) {
            let t = interval.start_of(ts);
            match series.back_mut() {
                Some(last) if last.t == t => last.add(price),
                Some(last) if last.t > t => match series.binary_search_by_key(&t, |c| c.t) {
                    Ok(i) => series[i].add(price),
                    Err(0) if series.len() == interval.kept() => {}
                    Err(i) => series.insert(i, Candle::opening(t, price)),
                },
                _ => series.push_back(Candle::opening(t, price)),
            }
            if series.len() > interval.kept() {
                series.pop_front();
            }
        }
    }

    /// Whether it holds no candle at all.
    pub(super) fn is_empty(&self) -> bool {
        self.series.iter().all(VecDeque::is_empty)
    }

    /// The last `limit` candles of `interval`, oldest first.
    pub(super) fn candles(&self, interval: Interval, limit: usize) -> Vec<Candle> {
        let index = Interval::ALL
            .iter()
            .position(|i| *i == interval)
            .unwrap_or_default();
        let series = &self.series[index];
        series
            .iter()
            .skip(series.len().saturating_sub(limit))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(value: f64) -> Price {
        Price::try_from(value).unwrap()
    }

    #[test]
    fn updates_fall_into_the_candle_of_their_ts() {
        let mut book = CandleBook::default();
        for (ts, value) in [
            (60_000, 10.0),
            (60_500, 12.0),
            (61_200, 9.0),
            (119_999, 11.0),
            (120_000, 8.0),
        ] {
            book.record(ts, price(value));
        }
        let seconds: Vec<(u64, f64, f64, f64, f64, u64)> = book
            .candles(Interval::Second, 10)
            .iter()
            .map(|c| {
                (
                    c.t,
                    c.open.into(),
                    c.high.into(),
                    c.low.into(),
                    c.close.into(),
                    c.count,
                )
            })
            .collect();
        assert_eq!(
            seconds,
            [
                (60_000, 10.0, 12.0, 10.0, 12.0, 2),
                (61_000, 9.0, 9.0, 9.0, 9.0, 1),
                (119_000, 11.0, 11.0, 11.0, 11.0, 1),
                (120_000, 8.0, 8.0, 8.0, 8.0, 1),
            ]
        );
        let minutes = book.candles(Interval::Minute, 10);
        assert_eq!(minutes.len(), 2);
        assert_eq!((minutes[0].t, minutes[0].count), (60_000, 4));
        assert_eq!(f64::from(minutes[0].close), 11.0);
        assert_eq!(book.candles(Interval::FiveMinutes, 10).len(), 1);
        // The last ones only, oldest first.
        assert_eq!(book.candles(Interval::Second, 1)[0].t, 120_000);
    }

    #[test]
    fn a_late_update_joins_its_own_candle_and_the_series_stay_bounded() {
        let mut book = CandleBook::default();
        book.record(5_000, price(1.0));
        book.record(7_000, price(1.0));
        book.record(6_100, price(3.0));
        book.record(5_900, price(2.0));
        let seconds = book.candles(Interval::Second, 10);
        assert_eq!(
            seconds.iter().map(|c| c.t).collect::<Vec<_>>(),
            [5_000, 6_000, 7_000]
        );
        assert_eq!(seconds[0].count, 2);
        for second in 0..2_000u64 {
            book.record(10_000 + second * 1_000, price(1.0));
        }
        assert_eq!(
            book.candles(Interval::Second, usize::MAX).len(),
            Interval::Second.kept()
        );
        // Older than every kept candle: dropped.
        book.record(0, price(5.0));
        assert!(
            book.candles(Interval::Second, usize::MAX)
                .iter()
                .all(|c| c.t > 0)
        );
    }
}
