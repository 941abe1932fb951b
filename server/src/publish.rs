//! `tickertape publish`: replays a CSV of prices into a running server through
//! `POST /api/prices`, at a chosen pace.
//!
//! Each row is `symbol,price[,ts]` (`ts` in milliseconds since the Unix epoch); a
//! first row of column names is skipped. Every row is checked before anything is
//! sent. Rows are sent in order, in batches of those due at the same moment, paced
//! by `--rate` (rows per second) or, with `--speed`, by the gaps between their
//! `ts` (`--speed 60` replays an hour in a minute). The server stamps each update
//! with the time it arrives, unless `--keep-ts` sends the file's `ts`.

use crate::config::{Secret, parse_token};
use app::model::{Price, Symbol};
use clap::Args;
use serde::Serialize;
use std::{
    fs::File,
    io::{self, Read},
    path::PathBuf,
    time::Duration,
};
use tokio::time::Instant;

/// The flags of `tickertape publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The CSV file of `symbol,price[,ts]` rows; `-` reads standard input.
    pub file: PathBuf,

    /// The server's address.
    #[arg(long, env = "TICKERTAPE_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// The server's publish token (its `--publish-token`).
    #[arg(long, env = "TICKERTAPE_PUBLISH_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Secret,

    /// Rows sent per second.
    #[arg(long, default_value_t = 10.0, value_parser = parse_positive)]
    pub rate: f64,

    /// Instead of `--rate`, replay at this multiple of the pace recorded in the
    /// `ts` column (1 is real time). Every row needs a `ts`.
    #[arg(long, conflicts_with = "rate", value_parser = parse_positive)]
    pub speed: Option<f64>,

    /// The most rows in one request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,

    /// Send each row's `ts` as it is in the file (the server refuses times far
    /// from its clock); by default the server stamps the time of arrival.
    #[arg(long)]
    pub keep_ts: bool,
}

/// One row of the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What it prices.
    pub symbol: Symbol,
    /// The price.
    pub price: Price,
    /// When, if the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailed {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, io::Error),
    /// A row is wrong (nothing was sent).
    #[error("line {line}: {message}")]
    Row {
        /// The line, counting from 1.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The file has no rows.
    #[error("the file has no rows")]
    Empty,
    /// The server could not be reached.
    #[error("cannot reach {url}: {error}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        error: reqwest::Error,
    },
    /// The server refused a batch.
    #[error("the server refused rows {first}-{last} with {status}: {body}")]
    Refused {
        /// The first row of the batch (line number).
        first: u64,
        /// The last.
        last: u64,
        /// The status.
        status: reqwest::StatusCode,
        /// Its JSON error.
        body: String,
    },
}

/// Reads rows of `symbol,price[,ts]` from `input`, checking every one.
pub fn read_rows(input: impl Read) -> Result<Vec<(u64, Row)>, PublishFailed> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(input);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line =
            |record: &csv::StringRecord| record.position().map_or(i as u64 + 1, |p| p.line());
        let record = record.map_err(|error| PublishFailed::Row {
            line: error.position().map_or(i as u64 + 1, |p| p.line()),
            message: error.to_string(),
        })?;
        let at = line(&record);
        let bad = |message: String| PublishFailed::Row { line: at, message };
        if i == 0
            && record
                .get(0)
                .is_some_and(|first| first.eq_ignore_ascii_case("symbol"))
        {
            continue;
        }
        if !(2..=3).contains(&record.len()) {
            return Err(bad(format!(
                "expected symbol,price[,ts], found {} fields",
                record.len()
            )));
        }
        let symbol: Symbol = record[0].parse().map_err(|e| bad(format!("{e}")))?;
        let price = record[1]
            .parse::<f64>()
            .ok()
            .and_then(|price| Price::new(price).ok())
            .ok_or_else(|| {
                bad(format!(
                    "price {:?} is not a number from 0.000000001 to 1000000000000",
                    &record[1]
                ))
            })?;
        let ts = match record.get(2) {
            None | Some("") => None,
            Some(ts) => Some(ts.parse::<u64>().map_err(|_| {
                bad(format!(
                    "ts {ts:?} is not whole milliseconds since the Unix epoch"
                ))
            })?),
        };
        rows.push((at, Row { symbol, price, ts }));
    }
    if rows.is_empty() {
        return Err(PublishFailed::Empty);
    }
    Ok(rows)
}

/// When each row is due, as an offset from the start of the replay.
pub fn schedule(
    rows: &[(u64, Row)],
    rate: f64,
    speed: Option<f64>,
) -> Result<Vec<Duration>, PublishFailed> {
    let Some(speed) = speed else {
        return Ok((0..rows.len())
            .map(|i| Duration::from_secs_f64(i as f64 / rate))
            .collect());
    };
    let mut first = None;
    rows.iter()
        .map(|(line, row)| {
            let ts = row.ts.ok_or_else(|| PublishFailed::Row {
                line: *line,
                message: "--speed replays by the ts column, and this row has none".into(),
            })?;
            let first = *first.get_or_insert(ts);
            Ok(Duration::from_secs_f64(
                ts.saturating_sub(first) as f64 / 1000.0 / speed,
            ))
        })
        .collect()
}

/// Runs `tickertape publish`.
pub async fn run(args: PublishArgs) -> Result<(), PublishFailed> {
    let name = args.file.display().to_string();
    let rows = if name == "-" {
        read_rows(io::stdin().lock())
    } else {
        let file =
            File::open(&args.file).map_err(|error| PublishFailed::Read(name.clone(), error))?;
        read_rows(io::BufReader::new(file))
    }?;
    let due = schedule(&rows, args.rate, args.speed)?;
    let url = format!("{}/api/prices", args.url.trim_end_matches('/'));
    // What is printed: never the credentials a URL may carry.
    let shown = redacted(&url);
    let client = reqwest::Client::new();
    let batch = usize::try_from(args.batch).unwrap_or(usize::MAX);
    tracing::info!(rows = rows.len(), url = %shown, "publishing");

    let start = Instant::now();
    let mut last_report = start;
    let mut sent = 0;
    while sent < rows.len() {
        tokio::time::sleep_until(start + due[sent]).await;
        let now = start.elapsed();
        let end = (sent..rows.len())
            .take(batch)
            .take_while(|&i| due[i] <= now)
            .last()
            .map_or(sent + 1, |i| i + 1);
        let chunk = &rows[sent..end];
        let body: Vec<Row> = chunk
            .iter()
            .map(|(_, row)| Row {
                ts: row.ts.filter(|_| args.keep_ts),
                ..row.clone()
            })
            .collect();
        let unreachable = |error: reqwest::Error| PublishFailed::Unreachable {
            url: shown.clone(),
            error: error.without_url(),
        };
        let response = client
            .post(&url)
            .bearer_auth(args.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(PublishFailed::Refused {
                first: chunk[0].0,
                last: chunk[chunk.len() - 1].0,
                status,
                body: response.text().await.unwrap_or_default(),
            });
        }
        sent = end;
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            tracing::info!(sent, of = rows.len(), "publishing");
        }
    }
    tracing::info!(sent, elapsed = ?start.elapsed(), "published every row");
    Ok(())
}

/// `url` with its user name and password (if any) replaced by `***`.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("***");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL: it is printed as given only when it cannot hold a password.
        Err(_) if url.contains('@') => "<the --url given>".to_owned(),
        Err(_) => url.to_owned(),
    }
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a number above zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        assert_eq!(
            redacted("http://user:s3cret@example.com:8080/api/prices"),
            "http://***@example.com:8080/api/prices"
        );
        assert_eq!(
            redacted("https://t0ken@example.com/api/prices"),
            "https://***@example.com/api/prices"
        );
        assert_eq!(
            redacted("http://127.0.0.1:3000/api/prices"),
            "http://127.0.0.1:3000/api/prices"
        );
        assert!(!redacted("not a url:s3cret@x").contains("s3cret"));
    }

    #[test]
    fn rows_are_read_with_or_without_a_header_and_ts() {
        let rows = read_rows(
            "symbol,price,ts\nAAPL, 228.5 ,1763900000000\n# a note\nBRK.B,441\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1.ts, Some(1_763_900_000_000));
        assert_eq!(
            (
                rows[1].1.symbol.as_str(),
                rows[1].1.price.get(),
                rows[1].1.ts
            ),
            ("BRK.B", 441.0, None)
        );
    }

    #[test]
    fn a_bad_row_names_its_line() {
        for (csv, says) in [
            ("AAPL,1\naapl,2\n", "line 2"),
            ("AAPL,-1\n", "from 0.000000001"),
            ("AAPL,1,yesterday\n", "ts"),
            ("AAPL\n", "fields"),
            ("", "no rows"),
        ] {
            let error = read_rows(csv.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(says), "{csv:?}: {error}");
        }
    }

    #[test]
    fn rows_are_paced_by_rate_or_by_their_times() {
        let rows = read_rows("A,1,1000\nA,2,3000\nA,3,3000\n".as_bytes()).unwrap();
        let secs = |due: Vec<Duration>| due.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
        assert_eq!(secs(schedule(&rows, 2.0, None).unwrap()), [0.0, 0.5, 1.0]);
        assert_eq!(
            secs(schedule(&rows, 2.0, Some(2.0)).unwrap()),
            [0.0, 1.0, 1.0]
        );
        let no_ts = read_rows("A,1\n".as_bytes()).unwrap();
        assert!(schedule(&no_ts, 1.0, Some(1.0)).is_err());
    }
}
