//! The values of flags that are more than a number: addresses, origins, the
//! broker's prefix, symbols and the rate, each read and checked (the broker's
//! URL has a file of its own, `broker.rs`).

use app::model::Symbol;
use axum::http::HeaderValue;
use std::{net::SocketAddr, str::FromStr};

/// The most updates per second the simulator may be asked for.
pub const MAX_RATE: f64 = 100_000.0;

/// Reads `HOST:PORT`: an IP address, or a name resolved now (its first IPv4
/// address, as browsers try `localhost` on 127.0.0.1 first).
pub(super) fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|error| format!("{text:?} is not HOST:PORT, such as 127.0.0.1:3000 ({error})"))?
        .collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{text:?} names no address"))
}

pub(super) fn parse_prefix(text: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    if text.is_empty() || text.len() > 64 || !text.chars().all(valid) {
        return Err("a prefix is 1 to 64 of A-Z a-z 0-9 - _ . :".into());
    }
    Ok(text.into())
}

/// A web origin allowed by CORS: `scheme://host[:port]`, nothing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// The origin's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Checked to be plain ASCII when parsed.
        HeaderValue::from_str(&self.0).unwrap_or(HeaderValue::from_static("null"))
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| format!("origin {text:?} must start with http:// or https://"))?;
        let valid_host = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
        if rest.is_empty() || !rest.chars().all(valid_host) {
            return Err(format!(
                "origin {text:?} must be scheme://host[:port], with no path, such as https://example.com"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

pub(super) fn parse_origin(text: &str) -> Result<Origin, String> {
    text.parse()
}

pub(super) fn parse_symbol(text: &str) -> Result<Symbol, String> {
    text.trim().parse().map_err(|error| format!("{error}"))
}

pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE {
        Ok(rate)
    } else {
        Err(format!(
            "the rate must be above 0 and at most {MAX_RATE} updates per second"
        ))
    }
}
