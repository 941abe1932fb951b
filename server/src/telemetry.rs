//! Logging through `tracing`, filtered by `RUST_LOG` (default `info`).

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Call once, at start-up.
///
/// Colours only when writing to a terminal and `NO_COLOR` is not set.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .init();
}
