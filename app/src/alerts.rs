//! Price alerts: levels a viewer sets for a symbol, "above" or "below". An
//! alert fires when an update crosses its level (once: it is then spent) and
//! re-arms when the price goes back. Fired alerts stay on the page until
//! dismissed.
//!
//! Every tab checks every update it applies (the tabs of a browser apply the
//! same updates, so they agree on what fired); only the tab that holds the
//! browser's stream (or a tab alone) asks the system for a `Notification`, so
//! one crossing is one notification per browser, not one per tab. The page's
//! part is in `crate::detail`, loaded on first use.

use crate::model::Symbol;

/// Which way a price must cross an alert's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Fires when the price reaches the level or goes over it.
    Above,
    /// Fires when the price reaches the level or goes under it.
    Below,
}

impl Side {
    /// Whether `price` is at or past `level` on this side.
    pub fn reached(self, price: f64, level: f64) -> bool {
        match self {
            Self::Above => price >= level,
            Self::Below => price <= level,
        }
    }

    /// The side in words: "above", "below".
    pub fn word(self) -> &'static str {
        match self {
            Self::Above => "above",
            Self::Below => "below",
        }
    }

    /// The side's mark in the stored form: `>`, `<`.
    fn mark(self) -> char {
        match self {
            Self::Above => '>',
            Self::Below => '<',
        }
    }
}

/// One alert a viewer set.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The symbol watched.
    pub symbol: Symbol,
    /// Which way its price must cross the level.
    pub side: Side,
    /// The level, a price.
    pub level: f64,
    /// Whether the next crossing fires it: false from its crossing until the
    /// price goes back (and, for a new alert, while the price is already past
    /// its level).
    pub armed: bool,
}

impl Alert {
    /// An alert at `level`, armed unless `price` (the symbol's price now, if
    /// known) is already past it.
    pub fn new(symbol: Symbol, side: Side, level: f64, price: Option<f64>) -> Self {
        Self {
            armed: price.is_none_or(|price| !side.reached(price, level)),
            symbol,
            side,
            level,
        }
    }

    /// Moves the alert with `price`; returns whether it fires.
    pub fn check(&mut self, price: f64) -> bool {
        let reached = self.side.reached(price, self.level);
        let fires = self.armed && reached;
        self.armed = !reached;
        fires
    }
}

/// An alert that fired, as the page shows it until dismissed.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    /// Tells fired alerts apart (for dismissing one).
    pub id: u32,
    /// The alert's symbol.
    pub symbol: Symbol,
    /// The way its price crossed the level.
    pub side: Side,
    /// The level, as the table writes prices.
    pub level: String,
    /// The price that crossed it, as the table writes it.
    pub price: String,
}

impl Fired {
    /// What the alert says: "AAPL rose above 105.00: 105.20".
    pub fn message(&self) -> String {
        let verb = match self.side {
            Side::Above => "rose",
            Side::Below => "fell",
        };
        format!(
            "{} {verb} {} {}: {}",
            self.symbol,
            self.side.word(),
            self.level,
            self.price
        )
    }
}

/// The alerts in their stored form: `AAPL>105.5;MSFT<20`, levels written by
/// `number` (the browser's own number printer in the bundle).
pub fn stored(alerts: &[Alert], number: impl Fn(f64) -> String) -> String {
    let mut text = String::new();
    for alert in alerts {
        if !text.is_empty() {
            text.push(';');
        }
        text.push_str(&alert.symbol.to_string());
        text.push(alert.side.mark());
        text.push_str(&number(alert.level));
    }
    text
}

/// Reads the stored form (what does not read is left out), levels read by
/// `number`; `price` gives a symbol's price now, to arm each alert.
pub fn parse(
    text: &str,
    number: impl Fn(&str) -> Option<f64>,
    price: impl Fn(&Symbol) -> Option<f64>,
) -> Vec<Alert> {
    text.split(';')
        .filter_map(|entry| {
            let at = entry.find(['>', '<'])?;
            let side = if entry[at..].starts_with('>') {
                Side::Above
            } else {
                Side::Below
            };
            let symbol: Symbol = entry[..at].parse().ok()?;
            let level =
                number(&entry[at + 1..]).filter(|level| level.is_finite() && *level > 0.0)?;
            let now = price(&symbol);
            Some(Alert::new(symbol, side, level, now))
        })
        .collect()
}

/// The alerts `loaded` (another tab saved them), each keeping the state of
/// the same alert in `current`.
pub fn merged(current: &[Alert], loaded: Vec<Alert>) -> Vec<Alert> {
    loaded
        .into_iter()
        .map(|new| {
            current
                .iter()
                .find(|old| {
                    (&old.symbol, old.side, old.level) == (&new.symbol, new.side, new.level)
                })
                .cloned()
                .unwrap_or(new)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aapl() -> Symbol {
        "AAPL".parse().unwrap()
    }

    #[test]
    fn an_alert_fires_once_per_crossing_and_rearms_when_the_price_goes_back() {
        let mut above = Alert::new(aapl(), Side::Above, 105.0, Some(100.0));
        let fires: Vec<bool> = [104.0, 105.0, 106.0, 104.9, 105.5, 110.0]
            .into_iter()
            .map(|price| above.check(price))
            .collect();
        assert_eq!(fires, [false, true, false, false, true, false]);
        let mut below = Alert::new(aapl(), Side::Below, 95.0, Some(100.0));
        let fires: Vec<bool> = [96.0, 94.0, 93.0, 96.0, 95.0]
            .into_iter()
            .map(|price| below.check(price))
            .collect();
        assert_eq!(fires, [false, true, false, false, true]);
    }

    #[test]
    fn an_alert_set_past_its_level_waits_for_the_price_to_come_back() {
        let mut alert = Alert::new(aapl(), Side::Above, 105.0, Some(107.0));
        assert!(!alert.armed);
        assert!(!alert.check(108.0));
        assert!(!alert.check(104.0));
        assert!(alert.check(105.0));
    }

    #[test]
    fn the_stored_form_reads_back_and_skips_what_does_not_read() {
        let alerts = vec![
            Alert::new(aapl(), Side::Above, 105.5, None),
            Alert::new("BTC-USD".parse().unwrap(), Side::Below, 0.25, None),
        ];
        let text = stored(&alerts, |n| n.to_string());
        assert_eq!(text, "AAPL>105.5;BTC-USD<0.25");
        let number = |s: &str| s.parse().ok();
        assert_eq!(parse(&text, number, |_| None), alerts);
        let read = parse("AAPL>x;bad symbol>1;MSFT<-1;MSFT=2;;NVDA<3", number, |_| {
            Some(2.0)
        });
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].side, read[0].level, read[0].armed),
            (Side::Below, 3.0, false)
        );
    }

    #[test]
    fn a_fired_alert_names_the_symbol_the_level_and_the_price() {
        let fired = Fired {
            id: 0,
            symbol: aapl(),
            side: Side::Below,
            level: "95.00".into(),
            price: "94.80".into(),
        };
        assert_eq!(fired.message(), "AAPL fell below 95.00: 94.80");
    }
}
