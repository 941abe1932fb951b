//! The table as CSV (RFC 4180): the rows shown, in the order shown, with the
//! table's columns; plain numbers (no thousands separators, no signs or `%`
//! added for display) at the decimals the table shows, and each row's last
//! update in ISO 8601, UTC.

use crate::{format, sort::Column, table::Row};

/// The columns, in the table's order (the last move and the trend line are
/// drawings, not numbers).
const COLUMNS: [Column; 7] = [
    Column::Symbol,
    Column::Price,
    Column::Change,
    Column::ChangePct,
    Column::High,
    Column::Low,
    Column::Updated,
];

/// `rows` as a CSV document: a header line, then a line per row, each ended
/// by CRLF.
pub fn of_rows<'a>(rows: impl IntoIterator<Item = &'a Row>) -> String {
    let mut text = String::new();
    line(
        &mut text,
        COLUMNS.iter().map(|column| column.label().to_owned()),
    );
    for row in rows {
        line(&mut text, COLUMNS.iter().map(|column| cell(row, *column)));
    }
    text
}

/// The cell of `row` in `column`.
fn cell(row: &Row, column: Column) -> String {
    let quote = &row.quote;
    match column {
        Column::Symbol => quote.symbol.to_string(),
        Column::Price => format::plain(quote.price.get(), row.decimals),
        Column::Change => format::plain(row.change(), row.decimals),
        Column::ChangePct => format::plain(quote.change_pct, 2),
        Column::High => format::plain(quote.high.get(), row.decimals),
        Column::Low => format::plain(quote.low.get(), row.decimals),
        Column::Updated => format::iso_utc(quote.ts),
    }
}

/// Appends one line of `fields`, quoted where RFC 4180 requires it.
fn line(text: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            text.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            text.push('"');
            text.push_str(&field.replace('"', "\"\""));
            text.push('"');
        } else {
            text.push_str(&field);
        }
    }
    text.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Price, table::Table};
    use leptos::prelude::*;

    #[test]
    fn rows_are_plain_numbers_and_iso_times_in_the_order_given() {
        Owner::new().with(|| {
            let price = |value| Price::new(value).unwrap();
            let open = crate::model::Quote::opening(
                "BRK.A".parse().unwrap(),
                price(700_000.0),
                1_796_324_645_006,
            );
            let table = Table::new(vec![open.clone()]);
            table.apply(crate::model::Quote {
                price: price(699_000.5),
                low: price(699_000.5),
                change: -999.5,
                change_pct: -0.142_785_714,
                ..open
            });
            let row = table
                .row(&"BRK.A".parse().unwrap())
                .unwrap()
                .get_untracked();
            assert_eq!(
                of_rows([&row]),
                "Symbol,Price,Change,Change %,High,Low,Updated\r\n\
                 BRK.A,699000.50,-999.50,-0.14,700000.00,699000.50,2026-12-03T19:04:05.006Z\r\n"
            );
        });
    }

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let mut text = String::new();
        line(
            &mut text,
            ["a,b", "say \"hi\"", "plain", "two\nlines"]
                .into_iter()
                .map(str::to_owned),
        );
        assert_eq!(text, "\"a,b\",\"say \"\"hi\"\"\",plain,\"two\nlines\"\r\n");
    }
}
