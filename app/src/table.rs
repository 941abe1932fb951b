//! The ticker table's state: one row per symbol, each behind its own signal.
//!
//! A price update touches exactly one row's signal, so only that row's cells
//! re-render; the list of symbols changes only when a new symbol appears.

use crate::model::{Quote, Symbol};
use leptos::prelude::*;
use std::collections::{HashMap, HashSet};

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
    /// How many updates this row has had on this page; its parity restarts the
    /// flash animation on every update.
    pub updates: u64,
}

impl Row {
    fn new(quote: Quote) -> Self {
        Self {
            quote,
            tick: Tick::Flat,
            updates: 0,
        }
    }

    /// Moves the row to `quote`, noting the direction of the move.
    fn move_to(&mut self, quote: Quote) {
        let (old, new) = (self.quote.price.get(), quote.price.get());
        self.tick = if new > old {
            Tick::Up
        } else if new < old {
            Tick::Down
        } else {
            Tick::Flat
        };
        self.quote = quote;
        self.updates += 1;
    }

    /// The row's CSS classes: a flash in the tick's direction after an update
    /// (a row that has not moved yet is `Flat`).
    pub fn flash_class(&self) -> String {
        let parity = self.updates % 2;
        match self.tick {
            Tick::Flat => "quote".to_owned(),
            Tick::Up => format!("quote flash-up-{parity}"),
            Tick::Down => format!("quote flash-down-{parity}"),
        }
    }
}

/// The table: symbols in display order and a signal per row.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    order: RwSignal<Vec<Symbol>>,
    rows: StoredValue<HashMap<Symbol, RwSignal<Row>>>,
}

impl Table {
    /// A table holding `quotes`, in their order.
    pub fn new(quotes: Vec<Quote>) -> Self {
        let table = Self {
            order: RwSignal::new(Vec::with_capacity(quotes.len())),
            rows: StoredValue::new(HashMap::with_capacity(quotes.len())),
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
        self.rows.with_value(|rows| rows.get(symbol).copied())
    }

    /// Applies a live update. A symbol the table has not seen yet gets a new row
    /// at the end.
    pub fn apply(&self, quote: Quote) {
        match self.row(&quote.symbol) {
            Some(row) => row.update(|row| row.move_to(quote)),
            None => self.insert(quote),
        }
    }

    /// Makes `quotes` the whole table, in their order: rows that changed move
    /// (and flash), new symbols get rows, symbols no longer quoted go away.
    pub fn reset(&self, quotes: Vec<Quote>) {
        let order: Vec<Symbol> = quotes.iter().map(|quote| quote.symbol.clone()).collect();
        self.rows.update_value(|rows| {
            let keep: HashSet<&Symbol> = order.iter().collect();
            rows.retain(|symbol, _| keep.contains(symbol));
        });
        for quote in quotes {
            match self.row(&quote.symbol) {
                Some(row) => {
                    if row.with_untracked(|row| row.quote != quote) {
                        row.update(|row| row.move_to(quote));
                    }
                }
                None => self.insert(quote),
            }
        }
        if self.order.with_untracked(|old| *old != order) {
            self.order.set(order);
        }
    }

    fn insert(&self, quote: Quote) {
        let symbol = quote.symbol.clone();
        self.rows
            .update_value(|rows| _ = rows.insert(symbol.clone(), RwSignal::new(Row::new(quote))));
        self.order.update(|order| order.push(symbol));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Price;

    fn quote(symbol: &str, price: f64) -> Quote {
        Quote {
            symbol: symbol.parse().unwrap(),
            price: Price::new(price).unwrap(),
            change: 0.0,
            change_pct: 0.0,
            ts: 0,
        }
    }

    fn price_of(table: &Table, symbol: &str) -> f64 {
        let row = table.row(&symbol.parse().unwrap()).unwrap();
        row.with_untracked(|row| row.quote.price.get())
    }

    #[test]
    fn updates_go_to_their_row_and_new_symbols_are_appended() {
        let owner = Owner::new();
        owner.with(|| {
            let table = Table::new(vec![quote("AAPL", 10.0), quote("MSFT", 20.0)]);
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
            assert_eq!(msft.flash_class(), "quote flash-up-1");
        });
    }

    #[test]
    fn a_reset_makes_the_snapshot_the_whole_table() {
        let owner = Owner::new();
        owner.with(|| {
            let table = Table::new(vec![quote("AAPL", 10.0), quote("MSFT", 20.0)]);
            table.reset(vec![quote("NVDA", 5.0), quote("AAPL", 11.0)]);
            let order: Vec<String> = table.symbols().iter().map(|s| s.to_string()).collect();
            assert_eq!(order, ["NVDA", "AAPL"]);
            assert_eq!(price_of(&table, "AAPL"), 11.0);
            assert!(table.row(&"MSFT".parse().unwrap()).is_none());
            let aapl = table.row(&"AAPL".parse().unwrap()).unwrap().get_untracked();
            assert_eq!(aapl.tick, Tick::Up);
        });
    }
}
