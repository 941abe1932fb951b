//! Which rows the table shows, and in which order: the viewer's sort column and
//! filter. Plain data, tested without a browser.

use crate::model::{Quote, Symbol};
use std::cmp::Ordering;

/// A column the table can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The ticker symbol, alphabetically.
    Symbol,
    /// The last price.
    Price,
    /// The change against the open.
    Change,
    /// The change in per cent of the open.
    ChangePct,
    /// The session high.
    High,
    /// The session low.
    Low,
    /// How long ago the row last ticked.
    Updated,
}

impl Column {
    /// The column's heading.
    pub fn label(self) -> &'static str {
        match self {
            Self::Symbol => "Symbol",
            Self::Price => "Price",
            Self::Change => "Change",
            Self::ChangePct => "Change %",
            Self::High => "High",
            Self::Low => "Low",
            Self::Updated => "Updated",
        }
    }

    /// What the column shows, for its heading's tooltip (where its name does
    /// not say it all).
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Self::Symbol | Self::Price => None,
            Self::Change => Some("The price minus the session's opening price"),
            Self::ChangePct => Some("Change, in per cent of the opening price"),
            Self::High => Some("The session's highest price"),
            Self::Low => Some("The session's lowest price"),
            Self::Updated => Some("Since the last price (a row's time shows on pointing at it)"),
        }
    }

    /// The direction a first click sorts in: names A to Z, numbers largest first,
    /// updates most recent first.
    fn first_direction(self) -> Direction {
        match self {
            Self::Symbol => Direction::Ascending,
            _ => Direction::Descending,
        }
    }

    /// Whether the order by this column changes as prices tick.
    pub fn is_live(self) -> bool {
        self != Self::Symbol
    }

    fn compare(self, a: &Quote, b: &Quote) -> Ordering {
        match self {
            Self::Symbol => a.symbol.cmp(&b.symbol),
            Self::Price => a.price.get().total_cmp(&b.price.get()),
            Self::Change => a.change.total_cmp(&b.change),
            Self::ChangePct => a.change_pct.total_cmp(&b.change_pct),
            Self::High => a.high.get().total_cmp(&b.high.get()),
            Self::Low => a.low.get().total_cmp(&b.low.get()),
            // Oldest first when ascending, as for any time.
            Self::Updated => a.ts.cmp(&b.ts),
        }
    }
}

/// A sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

/// The viewer's sort: a column and a direction, or the server's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sort(Option<(Column, Direction)>);

impl Sort {
    /// Sorted by `column` in `direction`.
    pub fn by(column: Column, direction: Direction) -> Self {
        Self(Some((column, direction)))
    }

    /// The column sorted by, if any.
    pub fn column(self) -> Option<Column> {
        self.0.map(|(column, _)| column)
    }

    /// What clicking `column`'s heading does: sorts by it, or reverses it when it
    /// is already the sort column.
    #[must_use]
    pub fn toggled(self, column: Column) -> Self {
        let direction = match self.0 {
            Some((current, Direction::Ascending)) if current == column => Direction::Descending,
            Some((current, Direction::Descending)) if current == column => Direction::Ascending,
            _ => column.first_direction(),
        };
        Self::by(column, direction)
    }

    /// The `aria-sort` value of `column`'s heading.
    pub fn aria(self, column: Column) -> &'static str {
        match self.0 {
            Some((current, Direction::Ascending)) if current == column => "ascending",
            Some((current, Direction::Descending)) if current == column => "descending",
            _ => "none",
        }
    }

    /// The symbols of `rows` (each with its latest quote) that match `filter`, in
    /// this sort's order (the given order when unsorted; ties keep it too).
    pub fn apply<'a>(
        self,
        rows: impl IntoIterator<Item = (&'a Symbol, Quote)>,
        filter: &str,
    ) -> Vec<Symbol> {
        let needle = filter.trim().to_ascii_uppercase();
        let kept: Vec<(&Symbol, Quote)> = rows
            .into_iter()
            .filter(|(symbol, _)| contains(symbol.as_str(), &needle))
            .collect();
        let Some((column, direction)) = self.0 else {
            return kept.into_iter().map(|(symbol, _)| symbol.clone()).collect();
        };
        let order = |a: &Quote, b: &Quote| {
            let order = column.compare(a, b);
            match direction {
                Direction::Ascending => order,
                Direction::Descending => order.reverse(),
            }
        };
        // A binary insertion sort of positions, stable (each row goes after
        // the rows it ties with). The standard library's sort weighs ~2 KB of
        // the front end's gzip'd budget (`make weight`); this is a few hundred
        // bytes, and sorts a table of 500 rows in well under a millisecond.
        let mut sorted: Vec<usize> = Vec::with_capacity(kept.len());
        for (i, (_, quote)) in kept.iter().enumerate() {
            let at = sorted.partition_point(|&j| order(&kept[j].1, quote).is_le());
            sorted.insert(at, i);
        }
        sorted.into_iter().map(|i| kept[i].0.clone()).collect()
    }
}

/// Whether `needle` occurs in `text`. Symbols are a few bytes long: comparing
/// at each position is as quick as `str::contains`, whose two-way search
/// weighs ~1 KB in the front end.
fn contains(text: &str, needle: &str) -> bool {
    needle.is_empty()
        || text
            .as_bytes()
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Price;

    fn row(symbol: &str, open: f64, price: f64, ts: u64) -> (Symbol, Quote) {
        let symbol: Symbol = symbol.parse().unwrap();
        let quote = Quote::opening(symbol.clone(), Price::new(open).unwrap(), 0)
            .moved_to(Price::new(price).unwrap(), ts);
        (symbol, quote)
    }

    fn rows() -> Vec<(Symbol, Quote)> {
        vec![
            row("MSFT", 400.0, 410.0, 3),
            row("AAPL", 200.0, 190.0, 1),
            row("KO", 60.0, 63.0, 2),
        ]
    }

    fn order(sort: Sort, filter: &str) -> Vec<String> {
        let rows = rows();
        sort.apply(rows.iter().map(|(s, r)| (s, r.clone())), filter)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn unsorted_keeps_the_server_order_and_filters_by_symbol() {
        assert_eq!(order(Sort::default(), ""), ["MSFT", "AAPL", "KO"]);
        assert_eq!(order(Sort::default(), " a"), ["AAPL"]);
        assert_eq!(order(Sort::default(), "k"), ["KO"]);
        assert!(order(Sort::default(), "zz").is_empty());
    }

    #[test]
    fn each_column_sorts_both_ways() {
        let by = |column, direction| order(Sort::by(column, direction), "");
        use Direction::*;
        assert_eq!(by(Column::Symbol, Ascending), ["AAPL", "KO", "MSFT"]);
        assert_eq!(by(Column::Price, Descending), ["MSFT", "AAPL", "KO"]);
        assert_eq!(by(Column::Change, Ascending), ["AAPL", "KO", "MSFT"]);
        // KO +5 %, MSFT +2.5 %, AAPL -5 %.
        assert_eq!(by(Column::ChangePct, Descending), ["KO", "MSFT", "AAPL"]);
        assert_eq!(by(Column::High, Ascending), ["KO", "AAPL", "MSFT"]);
        assert_eq!(by(Column::Low, Ascending), ["KO", "AAPL", "MSFT"]);
        assert_eq!(by(Column::Updated, Descending), ["MSFT", "KO", "AAPL"]);
    }

    #[test]
    fn clicking_a_heading_sorts_then_reverses() {
        let sort = Sort::default().toggled(Column::Price);
        assert_eq!(sort, Sort::by(Column::Price, Direction::Descending));
        assert_eq!(sort.aria(Column::Price), "descending");
        assert_eq!(sort.aria(Column::Symbol), "none");
        let sort = sort.toggled(Column::Price);
        assert_eq!(sort.aria(Column::Price), "ascending");
        let sort = sort.toggled(Column::Symbol);
        assert_eq!(sort, Sort::by(Column::Symbol, Direction::Ascending));
    }

    proptest::proptest! {
        /// The hand-written sort orders like the standard library's stable
        /// sort, ties included, and filters by substring like `str::contains`.
        #[test]
        fn sorts_and_filters_like_the_standard_library(
            prices in proptest::collection::vec((0u8..6, 1u32..40, 1u32..40), 0..40),
            column in 0usize..6,
            descending in proptest::bool::ANY,
            filter in "[A-C]{0,2}",
        ) {
            let columns = [Column::Symbol, Column::Price, Column::Change, Column::ChangePct, Column::High, Column::Low];
            let direction = if descending { Direction::Descending } else { Direction::Ascending };
            let sort = Sort::by(columns[column], direction);
            // Few distinct symbols and prices: many ties.
            let rows: Vec<(Symbol, Quote)> = prices
                .iter()
                .map(|&(name, open, price)| {
                    row(["A", "AB", "B", "BC", "CA", "ABC"][usize::from(name)], f64::from(open), f64::from(price), 0)
                })
                .collect();
            let sorted = sort.apply(rows.iter().map(|(s, q)| (s, q.clone())), &filter);
            let mut expected: Vec<&(Symbol, Quote)> =
                rows.iter().filter(|(s, _)| s.as_str().contains(filter.as_str())).collect();
            expected.sort_by(|(_, a), (_, b)| {
                let order = columns[column].compare(a, b);
                if descending { order.reverse() } else { order }
            });
            let expected: Vec<Symbol> = expected.into_iter().map(|(s, _)| s.clone()).collect();
            proptest::prop_assert_eq!(sorted, expected);
        }
    }
}
