//! The server's settings: command-line flags, each with an environment variable.
//!
//! Every setting has a default that runs out of the box; `tickertape --help`
//! lists them all.

mod broker;
mod settings;
mod summary;
mod values;

pub use broker::BrokerUrl;
pub use values::{MAX_RATE, Origin};

use crate::{
    hub::DEFAULT_HISTORY,
    secret::{Secret, parse_token},
};
use app::model::Symbol;
use broker::parse_broker;
use clap::{Parser, builder::BoolishValueParser};
use std::{collections::HashSet, net::SocketAddr, path::PathBuf};
use values::{parse_addr, parse_origin, parse_prefix, parse_rate, parse_symbol};

/// The symbols quoted when none are configured, comma-separated.
pub const DEFAULT_SYMBOLS: &str = "AAPL,MSFT,NVDA,GOOGL,AMZN,META,TSLA,JPM,V,XOM,WMT,KO";

/// tickertape: live market prices over Server-Sent Events, with a dashboard.
///
/// Serves the dashboard at `/`, the price stream at `/events`, the current
/// prices at `/api/snapshot`, accepts prices at `POST /api/prices` (with
/// `--publish-token`), and `/metrics` and `/healthz` for operators. Every flag
/// can also be set by the environment variable shown with it.
#[derive(Debug, Clone, Parser)]
#[command(name = "tickertape", version, args_conflicts_with_subcommands = true)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address and port to listen on. Leptos's own variable, so cargo-leptos sets it too.
    /// A host name (`localhost:3000`) is resolved once, at start-up.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000", value_parser = parse_addr)]
    pub addr: SocketAddr,

    /// Folder of the built front end (the `pkg/` bundle and public assets), as
    /// written by `cargo leptos build`.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Symbols the price simulator quotes, comma-separated (1-12 of A-Z 0-9 . -).
    #[arg(
        long,
        env = "TICKERTAPE_SYMBOLS",
        value_delimiter = ',',
        default_value = DEFAULT_SYMBOLS,
        value_parser = parse_symbol,
    )]
    pub symbols: Vec<Symbol>,

    /// Simulated updates per second, over all symbols together. A machine that
    /// cannot keep up skips updates rather than fall behind (logged, counted).
    #[arg(long, env = "TICKERTAPE_RATE", default_value_t = 20.0, value_parser = parse_rate)]
    pub rate: f64,

    /// Seed of the price simulator: the same seed and symbols give the same prices.
    /// Random when not set; the seed in use is logged at start-up.
    #[arg(long, env = "TICKERTAPE_SEED")]
    pub seed: Option<u64>,

    /// How long browsers wait before reconnecting after the stream drops, in
    /// milliseconds (sent as the stream's `retry:` field).
    #[arg(
        long,
        env = "TICKERTAPE_RETRY_MS",
        default_value_t = 3000,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub retry_ms: u64,

    /// Interval between `heartbeat` events on every stream, in milliseconds. The
    /// dashboard calls a stream stale after 2.5 intervals without a word.
    #[arg(
        long,
        env = "TICKERTAPE_HEARTBEAT_MS",
        default_value_t = app::model::DEFAULT_HEARTBEAT_MS,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub heartbeat_ms: u64,

    /// How many updates the server keeps for clients that resume (`Last-Event-ID`).
    /// A client further behind than this gets a snapshot instead. Each update
    /// takes about 300 bytes.
    #[arg(
        long,
        env = "TICKERTAPE_HISTORY",
        default_value_t = DEFAULT_HISTORY as u64,
        value_parser = clap::value_parser!(u64).range(10..=1_000_000),
    )]
    pub history: u64,

    /// How long a write to a client may make no progress before the client is
    /// disconnected (it stopped reading), in milliseconds.
    #[arg(
        long,
        env = "TICKERTAPE_STALL_TIMEOUT_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub stall_timeout_ms: u64,

    /// How long a request head (or a TLS handshake) may take from its first
    /// byte, in milliseconds; a connection that takes longer is closed.
    #[arg(
        long,
        env = "TICKERTAPE_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(100..=60_000),
    )]
    pub header_read_timeout_ms: u64,

    /// How long a connection may wait with no request in flight (HTTP/1
    /// keep-alive, HTTP/2, or before its first request), in milliseconds;
    /// then it is closed. Streams are never idle (the stall timeout guards them).
    #[arg(
        long,
        env = "TICKERTAPE_IDLE_TIMEOUT_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub idle_timeout_ms: u64,

    /// The most connections that may be idle (no request in flight) at once;
    /// past it, the one idle the longest is closed. Lowered to a quarter of the
    /// open-files limit when that is less, so idle connections alone never
    /// take every descriptor.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_IDLE_CONNECTIONS",
        default_value_t = 4096,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
    )]
    pub max_idle_connections: u64,

    /// How often an HTTP/2 connection is pinged, in milliseconds; one that
    /// does not answer within as long again is closed.
    #[arg(
        long,
        env = "TICKERTAPE_H2_PING_INTERVAL_MS",
        default_value_t = 20_000,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub h2_ping_interval_ms: u64,

    /// Updates published within this window (after the first, which goes at once)
    /// reach each stream together, in one write, in milliseconds; 0 sends every
    /// batch as it comes. Costs at most this much latency, and only at high rates.
    #[arg(
        long,
        env = "TICKERTAPE_COALESCE_MS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=1000),
    )]
    pub coalesce_ms: u64,

    /// A stream whose next update is later than this (beyond the coalescing
    /// window), in milliseconds, has fallen behind (a slow network, or a server
    /// out of CPU): it skips to the latest prices with a snapshot instead of
    /// sending a backlog.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_LAG_MS",
        default_value_t = 250,
        value_parser = clap::value_parser!(u64).range(10..=3_600_000),
    )]
    pub max_lag_ms: u64,

    /// The kernel's send buffer of each connection, in bytes (the kernel doubles
    /// it for its bookkeeping): what may wait in the kernel for a slow client. 0
    /// keeps the kernel's default, which grows to megabytes (seconds of prices).
    #[arg(
        long,
        env = "TICKERTAPE_SEND_BUFFER_BYTES",
        default_value_t = 32 * 1024,
        value_parser = clap::value_parser!(u64).range(0..=64 * 1024 * 1024),
    )]
    pub send_buffer_bytes: u64,

    /// The listen backlog: connections the kernel holds while the server accepts
    /// (a storm of reconnections after a restart). The kernel caps it at
    /// `net.core.somaxconn`.
    #[arg(
        long,
        env = "TICKERTAPE_LISTEN_BACKLOG",
        default_value_t = 4096,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000),
    )]
    pub listen_backlog: u32,

    /// Origins allowed to read `/events` and `/api/*` from other sites (CORS),
    /// comma-separated, such as `https://example.com`; only these may send
    /// credentials (the viewer cookie). When not set, any origin may read the
    /// feed, without credentials.
    #[arg(long, env = "TICKERTAPE_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<Origin>,

    /// Token that publishers must send as `Authorization: Bearer <token>` to
    /// `POST /api/prices`. Publishing is disabled when not set.
    #[arg(long, env = "TICKERTAPE_PUBLISH_TOKEN", value_parser = parse_token, hide_env_values = true)]
    pub publish_token: Option<Secret>,

    /// Token that viewers need for `/`, `/api/*` and `/events`: given once as
    /// `?token=…` (it becomes an HttpOnly cookie) or as `Authorization: Bearer`.
    /// Anyone may view when not set.
    #[arg(long, env = "TICKERTAPE_VIEWER_TOKEN", value_parser = parse_token, hide_env_values = true)]
    pub viewer_token: Option<Secret>,

    /// Run without the price simulator: prices come only from `POST /api/prices`
    /// and the dashboard starts empty.
    #[arg(long, env = "TICKERTAPE_NO_SIMULATOR", value_parser = BoolishValueParser::new())]
    pub no_simulator: bool,

    /// The largest `POST /api/prices` body accepted, in bytes.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_BODY_BYTES",
        default_value_t = 1 << 20,
        value_parser = clap::value_parser!(u64).range(64..=(64 << 20)),
    )]
    pub max_body_bytes: u64,

    /// How many symbols the server quotes at most; a publish that would add more
    /// is refused.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_SYMBOLS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
    )]
    pub max_symbols: u64,

    /// How far a published update's `ts` may be from the server's clock, in
    /// seconds, before it is refused.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_TS_SKEW_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600),
    )]
    pub max_ts_skew_secs: u64,

    /// The most streams (`/events`) open at once; past it a stream is refused
    /// with 503 and `Retry-After`.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_STREAMS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=10_000_000),
    )]
    pub max_streams: u64,

    /// The most streams open at once from one client IP address.
    #[arg(
        long,
        env = "TICKERTAPE_MAX_STREAMS_PER_IP",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..=10_000_000),
    )]
    pub max_streams_per_ip: u64,

    /// Take the client's IP address from the last entry of `X-Forwarded-For`
    /// (set it only behind a proxy that writes that header, such as the nginx
    /// configuration in `docs/nginx/`); otherwise it is the connection's address.
    #[arg(long, env = "TICKERTAPE_TRUST_FORWARDED_FOR", value_parser = BoolishValueParser::new())]
    pub trust_forwarded_for: bool,

    /// How logs are written: `text` for people, `json` (one object per line)
    /// for log collectors.
    #[arg(long, env = "TICKERTAPE_LOG_FORMAT", value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How long shutdown waits for open connections to finish, in milliseconds.
    #[arg(long, env = "TICKERTAPE_SHUTDOWN_GRACE_MS", default_value_t = 2000)]
    pub shutdown_grace_ms: u64,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate chain (PEM);
    /// needs `--tls-key`.
    #[arg(long, env = "TICKERTAPE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "TICKERTAPE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with a certificate made at start-up for
    /// localhost and 127.0.0.1, to try HTTP/2 locally (browsers warn about it).
    #[arg(
        long,
        env = "TICKERTAPE_TLS_SELF_SIGNED",
        value_parser = BoolishValueParser::new(),
        conflicts_with = "tls_cert"
    )]
    pub tls_self_signed: bool,

    /// Leave out `Strict-Transport-Security` (sent by default on every HTTPS
    /// answer: this instance's own TLS, or a proxy's `X-Forwarded-Proto: https`).
    #[arg(long, env = "TICKERTAPE_NO_HSTS", value_parser = BoolishValueParser::new())]
    pub no_hsts: bool,

    /// Join the cluster of instances that share this Redis (or Valkey), as
    /// `redis://HOST:PORT[/DB]`: one feed, one sequence of ids, resume on any
    /// instance. Or the Redis that Sentinels name, followed through failovers,
    /// as `redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER_NAME`. Without it the
    /// instance stands alone, as it always has.
    #[arg(long, env = "TICKERTAPE_BROKER", value_parser = parse_broker, hide_env_values = true)]
    pub broker: Option<BrokerUrl>,

    /// The prefix of this cluster's keys in the broker, so that two clusters
    /// can share one Redis.
    #[arg(
        long,
        env = "TICKERTAPE_BROKER_PREFIX",
        default_value = "tickertape",
        value_parser = parse_prefix,
    )]
    pub broker_prefix: String,

    /// How many replicas must hold a batch before `POST /api/prices` answers
    /// 200 (Redis's `WAIT`), and before any instance relays it to viewers: with
    /// 1 or more, an acknowledged batch survives the loss of any one Redis.
    /// Default: 1 with `redis+sentinel://`, 0 with `redis://`.
    #[arg(
        long,
        env = "TICKERTAPE_BROKER_MIN_REPLICAS",
        value_parser = clap::value_parser!(u32).range(0..=16)
    )]
    pub broker_min_replicas: Option<u32>,

    /// This instance's name in `/healthz`, `/metrics` and the broker's lease
    /// (default: the host name and the process id).
    #[arg(long, env = "TICKERTAPE_INSTANCE")]
    pub instance: Option<String>,
}

impl Config {
    /// The configuration from the command line and the environment; on a bad
    /// value, the error (naming the environment variable when the value came
    /// from one) and the exit.
    pub fn parse_or_exit() -> Self {
        use clap::Parser as _;
        Self::try_parse().unwrap_or_else(|error| {
            let _ = error.print();
            if let Some(variable) = from_environment(&error, std::env::args()) {
                eprintln!("(the value came from the environment variable {variable})");
            }
            std::process::exit(error.exit_code());
        })
    }

    /// Checks what single flags cannot: no symbol is listed twice.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for symbol in &self.symbols {
            if !seen.insert(symbol) {
                return Err(format!("symbol {symbol} is listed more than once"));
            }
        }
        Ok(())
    }
}

/// The subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Replay a CSV of `symbol,price[,ts]` rows into a running server
    /// (`POST /api/prices`) at a chosen pace.
    Publish(crate::publish::PublishArgs),
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The environment variable an invalid value of `error` came from: the
/// flag's own variable, when it is set and the flag is not on the command
/// line (`args`).
fn from_environment(error: &clap::Error, args: impl Iterator<Item = String>) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let ContextValue::String(arg) = error.get(ContextKind::InvalidArg)? else {
        return None;
    };
    // `--rate <RATE>`
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let command = <Config as clap::CommandFactory>::command();
    let flag = command
        .get_arguments()
        .chain(
            command
                .get_subcommands()
                .flat_map(|sub| sub.get_arguments()),
        )
        .find(|flag| flag.get_long() == Some(long))?;
    let variable = flag.get_env()?.to_str()?.to_owned();
    let on_the_line = args
        .into_iter()
        .any(|arg| arg == format!("--{long}") || arg.starts_with(&format!("--{long}=")));
    (!on_the_line && std::env::var_os(&variable).is_some()).then_some(variable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("tickertape").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.symbols.len(), DEFAULT_SYMBOLS.split(',').count());
        assert_eq!(config.rate, 20.0);
        assert_eq!(config.retry_ms, 3000);
        assert_eq!(config.heartbeat_ms, 5000);
        assert!(config.history >= 10_000);
        assert!(config.cors_origins.is_empty());
        config.validate().unwrap();
    }

    #[test]
    fn a_coalescing_window_of_zero_is_none_at_all() {
        let config = parse(&["--coalesce-ms", "0"]).unwrap();
        assert_eq!(config.coalesce(), Duration::ZERO);
        assert_eq!(parse(&[]).unwrap().coalesce(), Duration::from_millis(10));
    }

    #[test]
    fn flags_are_parsed_and_checked() {
        let config = parse(&["--symbols", "AAPL, BRK.B", "--rate", "2.5", "--seed", "9"]).unwrap();
        let symbols: Vec<&str> = config.symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(symbols, ["AAPL", "BRK.B"]);
        assert_eq!((config.rate, config.seed), (2.5, Some(9)));

        for bad in [
            &["--symbols", "aapl"][..],
            &["--symbols", "AAPL,,MSFT"],
            &["--rate", "0"],
            &["--rate", "fast"],
            &["--retry-ms", "5"],
            &["--heartbeat-ms", "0"],
            &["--history", "0"],
            &["--cors-origins", "example.com"],
            &["--cors-origins", "https://example.com/path"],
            &["--publish-token", "too-short"],
            &["--viewer-token", "has spaces in it, sixteen+"],
            &["--max-streams", "0"],
            &["--max-body-bytes", "1"],
            &["--log-format", "xml"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        let operated = parse(&[
            "--no-simulator",
            "--publish-token",
            "publish-token-0123456789",
            "--log-format",
            "json",
            "--max-streams-per-ip",
            "3",
        ])
        .unwrap();
        assert!(operated.no_simulator && operated.viewer_token.is_none());
        assert_eq!(
            (operated.log_format, operated.max_streams_per_ip),
            (LogFormat::Json, 3)
        );
        let token = operated.publish_token.clone().unwrap();
        assert!(
            token.matches(b"publish-token-0123456789")
                && !token.matches(b"publish-token-012345678")
        );
        // Neither the log summary nor Debug shows a token.
        let shown = format!("{operated} {operated:?} {token:?}");
        assert!(!shown.contains("publish-token-0123456789"), "{shown}");
        let twice = parse(&["--symbols", "AAPL,AAPL"]).unwrap();
        assert!(twice.validate().unwrap_err().contains("AAPL"));
    }
}
