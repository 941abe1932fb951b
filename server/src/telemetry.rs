//! Logging through `tracing`, filtered by `RUST_LOG` (default `info`).
//!
//! Tokens never reach the log: the configuration prints them as "set", `Secret`'s
//! `Debug` is redacted, and requests are logged by path, without their query.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Call once, at start-up.
///
/// Text has colours only when writing to a terminal and `NO_COLOR` is not set;
/// JSON is one object per line, with the span fields (method and path) included.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            fmt()
                .with_env_filter(filter)
                .with_target(false)
                .with_ansi(colour)
                .init();
        }
        LogFormat::Json => fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
