//! `tickertape publish`: replays a CSV of prices into a running server through
//! `POST /api/prices`, at a chosen pace.
//!
//! Each row is `symbol,price[,ts]` (`ts` in milliseconds since the Unix epoch); a
//! first row of column names is skipped. Every row is checked before anything is
//! sent. Rows are sent in order, in batches of those due at the same moment, paced
//! by `--rate` (rows per second) or, with `--speed`, by the gaps between their
//! `ts` (`--speed 60` replays an hour in a minute). The server stamps each update
//! with the time it arrives, unless `--keep-ts` sends the file's `ts`.

use crate::secret::{Secret, parse_token};
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

    /// The server's address: `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long, env = "TICKERTAPE_URL", default_value = "http://127.0.0.1:3000", value_parser = parse_url)]
    pub url: String,

    /// Trust this certificate (PEM) for HTTPS, besides the system's: a
    /// `--tls-self-signed` server says where it wrote its own.
    #[arg(long, env = "TICKERTAPE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

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
    #[error("cannot reach {url}: {why}")]
    Unreachable {
        /// Where (without credentials).
        url: String,
        /// Why, in plain words.
        why: String,
    },
    /// `--ca-cert` could not be used.
    #[error("cannot use --ca-cert {0}: {1}")]
    CaCert(String, String),
    /// The server refused the publish token.
    #[error(
        "the server refused the publish token ({status}): check --token \
         (TICKERTAPE_PUBLISH_TOKEN) against the server's --publish-token"
    )]
    Token {
        /// 401, or 403 when publishing is off.
        status: reqwest::StatusCode,
    },
    /// The server refused a batch.
    #[error("the server refused {rows} with {status}: {message}")]
    Refused {
        /// The line of the refused row, or the lines of the batch.
        rows: String,
        /// The status.
        status: reqwest::StatusCode,
        /// What the server said.
        message: String,
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
    let client = client(args.ca_cert.as_deref())?;
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
            why: plain_words(&error),
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
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(PublishFailed::Token { status });
            }
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let message = body["message"].as_str().unwrap_or("(no reason given)");
            // An item's index in the batch is a line of the file.
            let rows = match body["item"].as_u64().and_then(|i| chunk.get(i as usize)) {
                Some((line, _)) => format!("line {line}"),
                None => format!("lines {}-{}", chunk[0].0, chunk[chunk.len() - 1].0),
            };
            return Err(PublishFailed::Refused {
                rows,
                status,
                message: message.to_owned(),
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

/// The HTTP client, trusting `ca_cert` besides the system's certificates.
fn client(ca_cert: Option<&std::path::Path>) -> Result<reqwest::Client, PublishFailed> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_cert {
        let shown = path.display().to_string();
        let pem =
            std::fs::read(path).map_err(|e| PublishFailed::CaCert(shown.clone(), e.to_string()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|_| PublishFailed::CaCert(shown, "not a PEM certificate".into()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|error| PublishFailed::CaCert(String::new(), error.to_string()))
}

/// Why a request failed, in plain words (and never with the URL, which may
/// hold credentials).
fn plain_words(error: &reqwest::Error) -> String {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    let mut deepest = String::new();
    while let Some(current) = cause {
        deepest = current.to_string();
        cause = current.source();
    }
    let lower = deepest.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused (is tickertape running at that address?)".into()
    } else if lower.contains("certificate") || lower.contains("unknownissuer") {
        format!(
            "the server's certificate is not trusted ({deepest}); for a --tls-self-signed \
             server pass --ca-cert with the file it names when it starts"
        )
    } else if error.is_timeout() {
        "no answer in time".into()
    } else if lower.contains("invalid http version") || lower.contains("corrupt") {
        format!("the server did not answer in HTTP ({deepest}); is it HTTPS? use https://")
    } else {
        deepest
    }
}

/// Reads `--url`: it must say `http://` or `https://`.
fn parse_url(text: &str) -> Result<String, String> {
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(text.to_owned())
        }
        Ok(url) if text.contains("://") => Err(format!(
            "{:?} is not an http:// or https:// address",
            url.scheme()
        )),
        // `localhost:3000` reads as a URL of the scheme `localhost`.
        _ => Err(format!(
            "{} needs a scheme: http://{} or https://{}",
            redacted(text),
            redacted(text),
            redacted(text)
        )),
    }
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
