//! The settings in use, one line each, for the start-up log (tokens only as
//! "set").

use super::{Config, values::Origin};
use crate::secret::Secret;
use app::model::Symbol;
use std::fmt;

impl fmt::Display for Config {
    /// One line per setting, for the start-up log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbols: Vec<&str> = self.symbols.iter().map(Symbol::as_str).collect();
        let origins: Vec<&str> = self.cors_origins.iter().map(Origin::as_str).collect();
        writeln!(f, "  addr           {}", self.addr)?;
        writeln!(f, "  site root      {}", self.site_root.display())?;
        writeln!(f, "  symbols        {}", symbols.join(","))?;
        writeln!(f, "  rate           {}/s", self.rate)?;
        match self.seed {
            Some(seed) => writeln!(f, "  seed           {seed}")?,
            None => writeln!(f, "  seed           random")?,
        }
        writeln!(f, "  retry          {} ms", self.retry_ms)?;
        writeln!(f, "  heartbeat      {} ms", self.heartbeat_ms)?;
        writeln!(f, "  history        {} updates", self.history)?;
        writeln!(f, "  stall timeout  {} ms", self.stall_timeout_ms)?;
        writeln!(f, "  header read    {} ms", self.header_read_timeout_ms)?;
        writeln!(f, "  idle timeout   {} ms", self.idle_timeout_ms)?;
        writeln!(
            f,
            "  max idle       {} connections",
            self.max_idle_connections
        )?;
        writeln!(f, "  h2 ping        {} ms", self.h2_ping_interval_ms)?;
        writeln!(f, "  coalesce       {} ms", self.coalesce_ms)?;
        writeln!(f, "  max lag        {} ms", self.max_lag_ms)?;
        match self.send_buffer_bytes {
            0 => writeln!(f, "  send buffer    kernel default")?,
            bytes => writeln!(f, "  send buffer    {bytes} bytes")?,
        }
        writeln!(f, "  listen backlog {}", self.listen_backlog)?;
        if origins.is_empty() {
            writeln!(f, "  cors origins   any")?;
        } else {
            writeln!(f, "  cors origins   {}", origins.join(","))?;
        }
        writeln!(f, "  shutdown grace {} ms", self.shutdown_grace_ms)?;
        let set = |token: &Option<Secret>| if token.is_some() { "set" } else { "not set" };
        writeln!(
            f,
            "  simulator      {}",
            if self.no_simulator { "off" } else { "on" }
        )?;
        writeln!(
            f,
            "  publish token  {} (publishing {})",
            set(&self.publish_token),
            if self.publish_token.is_some() {
                "enabled"
            } else {
                "disabled"
            }
        )?;
        writeln!(f, "  viewer token   {}", set(&self.viewer_token))?;
        writeln!(
            f,
            "  max streams    {} ({} per IP{})",
            self.max_streams,
            self.max_streams_per_ip,
            if self.trust_forwarded_for {
                ", from X-Forwarded-For"
            } else {
                ""
            }
        )?;
        writeln!(f, "  max body       {} bytes", self.max_body_bytes)?;
        writeln!(f, "  max symbols    {}", self.max_symbols)?;
        match (&self.tls_cert, self.tls_self_signed) {
            (Some(cert), _) => writeln!(
                f,
                "  tls            {} (HTTP/2 and HTTP/1.1)",
                cert.display()
            )?,
            (None, true) => writeln!(f, "  tls            self-signed (HTTP/2 and HTTP/1.1)")?,
            (None, false) => writeln!(f, "  tls            off (plain HTTP/1.1)")?,
        }
        match &self.broker {
            Some(broker) => writeln!(
                f,
                "  broker         {broker} (keys {}:*, a batch counts once on {} replica(s))",
                self.broker_prefix,
                self.broker_min_replicas()
            )?,
            None => writeln!(f, "  broker         none (this instance stands alone)")?,
        }
        write!(f, "  max ts skew    {} s", self.max_ts_skew_secs)
    }
}
