//! A candle chart's geometry: where each candle, each price on the price axis
//! and each time on the time axis goes, in whole units of the chart's
//! `viewBox` (so the SVG is written with integers, and the bundle needs no
//! float printer). The detail view draws it.

use crate::candle::Candle;

/// The chart's drawing box's width.
pub const WIDTH: i32 = 640;
/// The chart's drawing box's height.
pub const HEIGHT: i32 = 300;
/// The `viewBox`, `0 0 WIDTH HEIGHT`, written out.
pub const VIEW_BOX: &str = "0 0 640 300";

/// Where the candles end on the right: the price axis is beyond.
pub const PLOT_RIGHT: i32 = 560;
/// Where the candles end below: the time axis is beyond.
pub const PLOT_BOTTOM: i32 = 272;
const PLOT_TOP: i32 = 10;
const PLOT_LEFT: i32 = 4;

/// The least room between two times on the time axis.
const MIN_LABEL_GAP: i32 = 110;

/// The fewest slots the plot is divided into.
const MIN_SLOTS: usize = 24;

/// How many candles the chart shows at most (the latest).
pub const MAX_CANDLES: usize = 60;

/// One candle as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The candle drawn.
    pub candle: Candle,
    /// Its centre.
    pub x: i32,
    /// The width of its body.
    pub width: i32,
    /// The top of its wick: the high.
    pub top: i32,
    /// The bottom of its wick: the low.
    pub bottom: i32,
    /// The top of its body: the higher of open and close.
    pub body_top: i32,
    /// The height of its body (at least 1).
    pub body_height: i32,
    /// Whether it closed at or above its open.
    pub up: bool,
}

/// The whole chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// The candles, oldest first.
    pub bars: Vec<Bar>,
    /// `(y, price)` for the price axis, bottom to top.
    pub prices: Vec<(i32, f64)>,
    /// `(x, candle start)` for the time axis, left to right.
    pub times: Vec<(i32, u64)>,
}

/// Lays out the last [`MAX_CANDLES`] of `candles` (oldest first).
pub fn layout(candles: &[Candle]) -> Chart {
    let candles = &candles[candles.len().saturating_sub(MAX_CANDLES)..];
    let Some(first) = candles.first() else {
        return Chart::default();
    };
    let mut low = first.low.get();
    let mut high = first.high.get();
    for candle in candles {
        low = low.min(candle.low.get());
        high = high.max(candle.high.get());
    }
    let step = nice_step((high - low).max(high.abs() * 1e-4).max(1e-8) / 4.0);
    // The axis runs over whole steps around the prices.
    let axis_low = (low / step).floor() * step;
    let mut axis_high = (high / step).ceil() * step;
    if axis_high <= axis_low {
        axis_high = axis_low + step;
    }
    let plot_height = f64::from(PLOT_BOTTOM - PLOT_TOP);
    let y = |price: f64| {
        PLOT_BOTTOM - ((price - axis_low) / (axis_high - axis_low) * plot_height).round() as i32
    };
    // A slot per candle, at least MIN_SLOTS: a few candles are drawn wide,
    // at the right, and each new one moves the others left.
    let slot = (PLOT_RIGHT - PLOT_LEFT) / candles.len().clamp(MIN_SLOTS, MAX_CANDLES) as i32;
    let width = (slot * 2 / 3).max(1);
    // The latest candle at the right edge.
    let x_of = |i: usize| PLOT_RIGHT - slot * (candles.len() - i) as i32 + slot / 2;
    let bars = candles
        .iter()
        .enumerate()
        .map(|(i, candle)| {
            let (open, close) = (candle.open.get(), candle.close.get());
            let body_top = y(open.max(close));
            Bar {
                candle: *candle,
                x: x_of(i),
                width,
                top: y(candle.high.get()),
                bottom: y(candle.low.get()),
                body_top,
                body_height: (y(open.min(close)) - body_top).max(1),
                up: close >= open,
            }
        })
        .collect();
    let mut prices = Vec::new();
    let mut level = axis_low;
    while level <= axis_high + step / 2.0 && prices.len() < 12 {
        prices.push((y(level), level));
        level += step;
    }
    // At most four times, and never closer than a time's width (8
    // characters of 11 px: about ten slots).
    let every = candles
        .len()
        .div_ceil(4)
        .max((MIN_LABEL_GAP + slot - 1) as usize / slot as usize);
    let times = (0..candles.len())
        .rev()
        .step_by(every)
        .map(|i| (x_of(i), candles[i].t))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Chart {
        bars,
        prices,
        times,
    }
}

/// The chart as SVG markup, for the inside of an `<svg viewBox=VIEW_BOX>`:
/// the price axis (grid lines and prices at `decimals`), the time axis
/// (`time` writes a candle's start), and each candle as a `<g>` whose data
/// attributes hold its figures as plain numbers (for tests and tools).
/// Everything in it is a number or a fixed word: nothing to escape.
pub fn svg(chart: &Chart, decimals: u32, time: impl Fn(u64) -> String) -> String {
    let mut out = String::with_capacity(256 + chart.bars.len() * 220);
    let (right, bottom) = (PLOT_RIGHT, PLOT_BOTTOM);
    out.push_str(&format!(
        "<line class=\"axis\" x1=\"{right}\" y1=\"0\" x2=\"{right}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"0\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/>"
    ));
    for (y, price) in &chart.prices {
        out.push_str(&format!(
            "<line class=\"grid\" x1=\"0\" y1=\"{y}\" x2=\"{right}\" y2=\"{y}\"/>\
             <text class=\"axis-label\" x=\"{}\" y=\"{}\">{}</text>",
            right + 6,
            y + 4,
            crate::format::price(*price, decimals)
        ));
    }
    for (x, t) in &chart.times {
        out.push_str(&format!(
            "<text class=\"axis-label\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            HEIGHT - 8,
            time(*t)
        ));
    }
    for bar in &chart.bars {
        let c = &bar.candle;
        let plain = |price: crate::model::Price| crate::format::plain(price.get(), decimals);
        out.push_str(&format!(
            "<g class=\"candle {}\" data-testid=\"candle\" data-t=\"{}\" data-open=\"{}\" \
             data-high=\"{}\" data-low=\"{}\" data-close=\"{}\" data-count=\"{}\">\
             <line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></g>",
            if bar.up { "up" } else { "down" },
            c.t,
            plain(c.open),
            plain(c.high),
            plain(c.low),
            plain(c.close),
            c.count,
            bar.top,
            bar.bottom,
            bar.x - bar.width / 2,
            bar.body_top,
            bar.width,
            bar.body_height,
            x = bar.x,
        ));
    }
    out
}

/// The step of 1, 2 or 5 times a power of ten nearest above `rough`.
fn nice_step(rough: f64) -> f64 {
    let power = 10f64.powi(rough.log10().floor() as i32);
    let fraction = rough / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Price;

    fn candle(t: u64, open: f64, high: f64, low: f64, close: f64) -> Candle {
        let p = |value| Price::new(value).unwrap();
        Candle {
            t,
            open: p(open),
            high: p(high),
            low: p(low),
            close: p(close),
            count: 1,
        }
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert!((nice_step(0.0012) - 0.002).abs() < 1e-12);
    }

    #[test]
    fn candles_stand_between_their_high_and_low_within_the_plot() {
        let chart = layout(&[
            candle(0, 10.0, 12.0, 9.0, 11.0),
            candle(60_000, 11.0, 11.5, 8.0, 8.5),
        ]);
        assert_eq!(chart.bars.len(), 2);
        let (rise, fall) = (&chart.bars[0], &chart.bars[1]);
        assert!(rise.up && !fall.up);
        assert!(rise.x < fall.x && fall.x < PLOT_RIGHT);
        for bar in &chart.bars {
            assert!(PLOT_TOP <= bar.top && bar.top <= bar.body_top);
            assert!(bar.body_top + bar.body_height <= bar.bottom + 1);
            assert!(bar.bottom <= PLOT_BOTTOM);
        }
        // The highest high is higher on screen (a smaller y) than the lowest low.
        assert!(rise.top < fall.bottom);
        // The price axis covers every price, in whole steps, bottom to top.
        let (lowest, highest) = (chart.prices[0].1, chart.prices.last().unwrap().1);
        assert!(lowest <= 8.0 && highest >= 12.0, "{:?}", chart.prices);
        assert!(chart.prices.windows(2).all(|w| w[0].0 > w[1].0));
        assert_eq!(chart.times.last().unwrap().1, 60_000);
    }

    #[test]
    fn the_markup_is_well_formed_and_carries_each_candles_figures() {
        let chart = layout(&[candle(60_000, 10.0, 12.0, 9.5, 11.0)]);
        let markup = svg(&chart, 2, |t| t.to_string());
        let document = format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{markup}</svg>");
        let xml = roxmltree::Document::parse(&document).expect("well-formed SVG");
        let candles: Vec<_> = xml
            .descendants()
            .filter(|n| n.attribute("data-testid") == Some("candle"))
            .collect();
        assert_eq!(candles.len(), 1);
        let figures: Vec<_> = [
            "data-t",
            "data-open",
            "data-high",
            "data-low",
            "data-close",
            "data-count",
        ]
        .iter()
        .map(|name| candles[0].attribute(*name).unwrap())
        .collect();
        assert_eq!(figures, ["60000", "10.00", "12.00", "9.50", "11.00", "1"]);
        assert!(
            xml.descendants().any(|n| n.text() == Some("60000")),
            "the time axis"
        );
    }

    #[test]
    fn a_flat_series_still_has_an_axis_and_no_chart_has_more_than_its_candles() {
        let flat: Vec<Candle> = (0..100)
            .map(|i| candle(i * 1000, 5.0, 5.0, 5.0, 5.0))
            .collect();
        let chart = layout(&flat);
        assert_eq!(chart.bars.len(), MAX_CANDLES);
        assert!(chart.prices.len() >= 2);
        assert!(chart.times.len() <= 5);
        assert_eq!(layout(&[]), Chart::default());
    }
}
