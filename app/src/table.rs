//! The ticker table's state: one row per symbol, each behind its own signal.
//!
//! A price update touches exactly one row's signal, so only that row's cells
//! re-render; the list of symbols changes only when a new symbol appears.

use crate::{
    format,
    model::{Price, Quote, RECENT_PRICES, Symbol},
};
use leptos::prelude::*;
use std::collections::VecDeque;

/// Which way the last tick moved the price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// The price rose.
    Up,
    /// The price fell.
    Down,
    /// The price did not move (or the row has not ticked yet).
    Flat,
}

impl Tick {
    /// The arrow shown beside the price.
    pub fn arrow(self) -> &'static str {
        match self {
            Self::Up => "▲",
            Self::Down => "▼",
            Self::Flat => "",
        }
    }

    /// The arrow's CSS classes.
    pub fn class(self) -> &'static str {
        match self {
            Self::Up => "tick tick-up",
            Self::Down => "tick tick-down",
            Self::Flat => "tick",
        }
    }

    /// The same, in words, for screen readers.
    pub fn word(self) -> &'static str {
        match self {
            Self::Up => "up ",
            Self::Down => "down ",
            Self::Flat => "",
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The latest quote.
    pub quote: Quote,
    /// The direction of the last update.
    pub tick: Tick,
    /// How many updates this row has had on this page.
    pub updates: u64,
    /// Whether the row is lit by its last update (the stream fades it shortly).
    pub flashing: bool,
    /// The last [`RECENT_PRICES`] prices, oldest first, ending with the current one.
    pub recent: VecDeque<f64>,
    /// The decimals this symbol's prices are shown with: the most any of its
    /// prices has carried on this page (so a column never jitters as digits
    /// come and go), from 2 to 8.
    pub decimals: u32,
}

impl Row {
    fn new(mut quote: Quote) -> Self {
        let mut row = Self {
            recent: recent_prices(quote.price, std::mem::take(&mut quote.recent)),
            quote,
            tick: Tick::Flat,
            updates: 0,
            flashing: false,
            decimals: format::MIN_DECIMALS,
        };
        row.note_decimals();
        row
    }

    /// Widens `decimals` to what the quote's and the recent prices carry.
    fn note_decimals(&mut self) {
        let quote = &self.quote;
        let prices = [quote.price, quote.open, quote.high, quote.low];
        let most = prices
            .iter()
            .map(|price| price.get())
            .chain(self.recent.iter().copied())
            .map(format::decimals_of)
            .max()
            .unwrap_or(format::MIN_DECIMALS);
        self.decimals = self.decimals.max(most);
    }

    /// `price` minus `open`, at the row's decimals (the quote's own `change`
    /// is rounded to cents by older servers).
    pub fn change(&self) -> f64 {
        self.quote.price.get() - self.quote.open.get()
    }

    /// Moves the row to `quote`, noting the direction of the move; a quote from
    /// a snapshot brings its recent prices.
    fn move_to(&mut self, mut quote: Quote) {
        let (old, new) = (self.quote.price.get(), quote.price.get());
        self.tick = if new > old {
            Tick::Up
        } else if new < old {
            Tick::Down
        } else {
            Tick::Flat
        };
        let recent = std::mem::take(&mut quote.recent);
        if recent.is_empty() {
            if self.recent.len() == RECENT_PRICES {
                self.recent.pop_front();
            }
            self.recent.push_back(new);
        } else {
            self.recent = recent_prices(quote.price, recent);
        }
        self.quote = quote;
        self.note_decimals();
        self.updates += 1;
        self.flashing = true;
    }

    /// Ends the flash of update number `update`, unless a later one relit the row.
    /// Returns whether it changed anything.
    pub fn fade(&mut self, update: u64) -> bool {
        let fades = self.flashing && self.updates == update;
        if fades {
            self.flashing = false;
        }
        fades
    }

    /// The row's CSS classes: lit in the tick's direction after an update.
    pub fn flash_class(&self) -> String {
        match (self.flashing, self.tick) {
            (true, Tick::Up) => "quote flash-up".to_owned(),
            (true, Tick::Down) => "quote flash-down".to_owned(),
            _ => "quote".to_owned(),
        }
    }
}

/// The last [`RECENT_PRICES`] of `recent`, ending with `current`.
fn recent_prices(current: Price, recent: Vec<Price>) -> VecDeque<f64> {
    let mut prices: VecDeque<f64> = recent.into_iter().map(Price::get).collect();
    if prices.back() != Some(&current.get()) {
        prices.push_back(current.get());
    }
    while prices.len() > RECENT_PRICES {
        prices.pop_front();
    }
    prices
}

/// The table: symbols in display order and a signal per row.
///
/// Rows are found by a linear scan: a dashboard holds a few hundred symbols at
/// most, and a map would cost the browser bundle more than the scan costs time.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    order: RwSignal<Vec<Symbol>>,
    rows: StoredValue<Vec<(Symbol, RwSignal<Row>)>>,
}

impl Table {
    /// A table holding `quotes`, in their order, with their `recent` prices.
    pub fn new(quotes: Vec<Quote>) -> Self {
        let table = Self {
            order: RwSignal::new(Vec::with_capacity(quotes.len())),
            rows: StoredValue::new(Vec::with_capacity(quotes.len())),
        };
        for quote in quotes {
            table.insert(quote);
        }
        table
    }

    /// The symbols, in display order (tracked).
    pub fn symbols(&self) -> Vec<Symbol> {
        self.order.get()
    }

    /// The signal of `symbol`'s row, if the table has one.
    pub fn row(&self, symbol: &Symbol) -> Option<RwSignal<Row>> {
        self.rows
            .with_value(|rows| rows.iter().find(|(s, _)| s == symbol).map(|(_, row)| *row))
    }

    /// Applies a live update and returns the row it lit, if any. A symbol the
    /// table has not seen yet gets a new row at the end.
    pub fn apply(&self, quote: Quote) -> Option<RwSignal<Row>> {
        match self.row(&quote.symbol) {
            Some(row) => {
                row.update(|row| row.move_to(quote));
                Some(row)
            }
            None => {
                self.insert(quote);
                None
            }
        }
    }

    /// Makes `quotes` the whole table, in their order: rows that changed move
    /// (and flash) and take their `recent` prices, new symbols get rows, symbols
    /// no longer quoted go away. Returns the rows it lit.
    pub fn reset(&self, quotes: Vec<Quote>) -> Vec<RwSignal<Row>> {
        let mut lit = Vec::new();
        let order: Vec<Symbol> = quotes.iter().map(|quote| quote.symbol.clone()).collect();
        self.rows
            .update_value(|rows| rows.retain(|(symbol, _)| order.contains(symbol)));
        for quote in quotes {
            match self.row(&quote.symbol) {
                Some(row) => {
                    let moved = row.with_untracked(|row| {
                        (row.quote.price, row.quote.ts) != (quote.price, quote.ts)
                    });
                    if moved {
                        row.update(|row| row.move_to(quote));
                        lit.push(row);
                    }
                }
                None => self.insert(quote),
            }
        }
        if self.order.with_untracked(|old| *old != order) {
            self.order.set(order);
        }
        lit
    }

    fn insert(&self, quote: Quote) {
        let symbol = quote.symbol.clone();
        let row = RwSignal::new(Row::new(quote));
        self.rows
            .update_value(|rows| rows.push((symbol.clone(), row)));
        self.order.update(|order| order.push(symbol));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Price;

    fn quote(symbol: &str, price: f64) -> Quote {
        Quote::opening(symbol.parse().unwrap(), Price::new(price).unwrap(), 0)
    }

    fn table(quotes: Vec<Quote>) -> Table {
        Table::new(quotes)
    }

    fn price_of(table: &Table, symbol: &str) -> f64 {
        let row = table.row(&symbol.parse().unwrap()).unwrap();
        row.with_untracked(|row| row.quote.price.get())
    }

    #[test]
    fn a_rows_decimals_follow_its_prices_and_never_narrow() {
        Owner::new().with(|| {
            let table = Table::new(vec![quote("EURUSD", 1.0834), quote("PEPE", 0.00001234)]);
            let row = table.row(&"EURUSD".parse().unwrap()).unwrap();
            assert_eq!(row.with_untracked(|r| r.decimals), 4);
            table.apply(quote("EURUSD", 1.08345));
            assert_eq!(row.with_untracked(|r| r.decimals), 5);
            // A price that happens to need fewer keeps the column as it was.
            table.apply(quote("EURUSD", 1.08));
            assert_eq!(row.with_untracked(|r| r.decimals), 5);
            let tiny = table.row(&"PEPE".parse().unwrap()).unwrap();
            assert_eq!(tiny.with_untracked(|r| r.decimals), 8);
        });
    }

    #[test]
    fn updates_go_to_their_row_and_new_symbols_are_appended() {
        let owner = Owner::new();
        owner.with(|| {
            let table = table(vec![quote("AAPL", 10.0), quote("MSFT", 20.0)]);
            table.apply(quote("MSFT", 21.0));
            table.apply(quote("NVDA", 5.0));
            assert_eq!(price_of(&table, "MSFT"), 21.0);
            let order: Vec<String> = table
                .order
                .get_untracked()
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(order, ["AAPL", "MSFT", "NVDA"]);
            let msft = table.row(&"MSFT".parse().unwrap()).unwrap().get_untracked();
            assert_eq!((msft.tick, msft.updates), (Tick::Up, 1));
            assert_eq!(msft.recent, [20.0, 21.0]);
            assert_eq!(msft.flash_class(), "quote flash-up");
            let mut faded = msft.clone();
            assert!(
                !faded.fade(0),
                "an earlier update's fade leaves a later flash"
            );
            assert!(faded.fade(1));
            assert_eq!(faded.flash_class(), "quote");
        });
    }

    #[test]
    fn a_reset_makes_the_snapshot_the_whole_table() {
        let owner = Owner::new();
        owner.with(|| {
            let table = table(vec![quote("AAPL", 10.0), quote("MSFT", 20.0)]);
            let aapl = Quote {
                recent: vec![Price::new(9.0).unwrap(), Price::new(11.0).unwrap()],
                ..quote("AAPL", 11.0)
            };
            table.reset(vec![quote("NVDA", 5.0), aapl]);
            let order: Vec<String> = table.symbols().iter().map(|s| s.to_string()).collect();
            assert_eq!(order, ["NVDA", "AAPL"]);
            assert_eq!(price_of(&table, "AAPL"), 11.0);
            assert!(table.row(&"MSFT".parse().unwrap()).is_none());
            let aapl = table.row(&"AAPL".parse().unwrap()).unwrap().get_untracked();
            assert_eq!(aapl.tick, Tick::Up);
            // The snapshot's recent prices replace the row's.
            assert_eq!(aapl.recent, [9.0, 11.0]);
            let nvda = table.row(&"NVDA".parse().unwrap()).unwrap().get_untracked();
            assert_eq!(nvda.recent, [5.0]);
        });
    }
}
