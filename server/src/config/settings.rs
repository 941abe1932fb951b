//! What the flags mean to the rest of the server: durations, sizes and the
//! settings each part is built with, read from the raw values clap parsed.

use super::Config;
use crate::delivery::{idle::IdleSettings, tls::Certificate};
use std::time::Duration;

impl Config {
    /// The `retry:` delay.
    pub fn retry(&self) -> Duration {
        Duration::from_millis(self.retry_ms)
    }

    /// The interval between heartbeats.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// This instance's name: `--instance`, or the host name and process id.
    pub fn instance(&self) -> String {
        self.instance.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|_| "tickertape".into());
            format!("{host}-{}", std::process::id())
        })
    }

    /// How many updates the history keeps.
    pub fn history(&self) -> usize {
        usize::try_from(self.history).unwrap_or(usize::MAX)
    }

    /// How long a stalled write may last.
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms)
    }

    /// How long connections that are not streams may wait, and how many may
    /// (`open_files`: the process's limit, when known).
    pub fn idle(&self, open_files: Option<u64>) -> IdleSettings {
        let cap = open_files.map_or(u64::MAX, |limit| (limit / 4).max(16));
        IdleSettings {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_idle: usize::try_from(self.max_idle_connections.min(cap)).unwrap_or(usize::MAX),
        }
    }

    /// Where the server's certificate comes from, when it serves HTTPS.
    pub fn certificate(&self) -> Option<Certificate> {
        match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(Certificate::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Some(Certificate::SelfSigned),
            _ => None,
        }
    }

    /// How often HTTP/2 connections are pinged.
    pub fn h2_ping_interval(&self) -> Duration {
        Duration::from_millis(self.h2_ping_interval_ms)
    }

    /// The coalescing window.
    pub fn coalesce(&self) -> Duration {
        Duration::from_millis(self.coalesce_ms)
    }

    /// How late a live update may be before its stream skips to a snapshot.
    pub fn max_lag(&self) -> Duration {
        Duration::from_millis(self.max_lag_ms)
    }

    /// The send buffer each connection asks the kernel for, if any.
    pub fn send_buffer(&self) -> Option<usize> {
        (self.send_buffer_bytes > 0)
            .then(|| usize::try_from(self.send_buffer_bytes).unwrap_or(usize::MAX))
    }

    /// How long shutdown waits for connections.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    /// How far a published timestamp may be from now.
    pub fn max_ts_skew(&self) -> Duration {
        Duration::from_secs(self.max_ts_skew_secs)
    }

    /// How many replicas must hold a batch before it counts (0 without a broker).
    pub fn broker_min_replicas(&self) -> u32 {
        self.broker.as_ref().map_or(0, |broker| {
            self.broker_min_replicas
                .unwrap_or_else(|| broker.default_min_replicas())
        })
    }
}
