//! This instance's connection to the cluster's Redis, and what `/healthz`
//! says of it.

use super::scripts::{APPEND, INIT, Keys, LOAD, RENEW};
use crate::{hub::Hub, metrics::Metrics};
use app::model::{EventId, Quote, RunId};
use redis::{
    AsyncConnectionConfig, Client, RedisError, Script, aio::MultiplexedConnection,
    streams::StreamId,
};
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// How long a command may take before the broker counts as unreachable.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Reconnection delays: doubling from the first to the last.
pub(super) const BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(2));

/// This instance's side of the cluster.
#[derive(Debug)]
pub struct Broker {
    pub(super) client: Client,
    pub(super) keys: Keys,
    pub(super) instance: String,
    pub(super) hub: Arc<Hub>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) history: usize,
    /// The connection for commands, made again after a failure.
    pub(super) commands: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Whether the broker answered the last time it was asked.
    pub(super) reachable: AtomicBool,
    /// What went wrong the last time, for `/healthz`.
    pub(super) problem: Mutex<Option<String>>,
    pub(super) append: Script,
    pub(super) init: Script,
    pub(super) load: Script,
    pub(super) renew: Script,
}

/// What `/healthz` says of the broker.
#[derive(Debug, Clone)]
pub struct Health {
    /// Whether the instance can reach the broker.
    pub reachable: bool,
    /// What is wrong, when something is.
    pub problem: Option<String>,
}

impl Broker {
    /// The broker at `url` for the cluster whose keys start with `prefix`, to
    /// fill `hub` (keeping `history` updates).
    pub fn new(
        url: &str,
        prefix: &str,
        instance: String,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        history: usize,
    ) -> Result<Self, RedisError> {
        Ok(Self {
            client: Client::open(url)?,
            keys: Keys::new(prefix),
            instance,
            hub,
            metrics,
            history,
            commands: tokio::sync::Mutex::new(None),
            reachable: AtomicBool::new(false),
            problem: Mutex::new(Some("not connected yet".into())),
            append: Script::new(APPEND),
            init: Script::new(INIT),
            load: Script::new(LOAD),
            renew: Script::new(RENEW),
        })
    }

    /// This instance's name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether the broker can be reached, and what is wrong if not.
    pub fn health(&self) -> Health {
        Health {
            reachable: self.reachable.load(Ordering::Acquire),
            problem: self
                .problem
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    pub(super) fn connection_config() -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
    }

    /// The command connection, made if there is none.
    pub(super) async fn commands(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.commands.lock().await;
        if let Some(connection) = &*slot {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&Self::connection_config())
            .await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Notes how the last exchange with the broker went.
    pub(super) fn note<T>(&self, result: &Result<T, RedisError>) {
        match result {
            Ok(_) => {
                if !self.reachable.swap(true, Ordering::AcqRel) {
                    tracing::info!("the broker is reachable");
                }
                *self.problem.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.hub.set_feed_interrupted(false);
            }
            Err(error) => {
                if self.reachable.swap(false, Ordering::AcqRel) {
                    tracing::warn!(%error, "the broker is unreachable: the feed is interrupted");
                }
                *self.problem.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(format!("the broker is unreachable: {error}"));
                self.hub.set_feed_interrupted(true);
            }
        }
    }

    /// Drops the command connection after a failure, so the next command
    /// connects again.
    pub(super) async fn forget_connection(&self) {
        *self.commands.lock().await = None;
    }
}

/// A stream entry as `(seq, data)`, when it is one of ours.
pub(super) fn entry(id: &StreamId) -> Option<(u64, String)> {
    let seq = id.id.split_once('-')?.0.parse().ok()?;
    let data: String = id.get("d")?;
    Some((seq, data))
}

/// A symbol's state as the broker keeps it: its quote with recent prices.
pub(super) fn encode(quote: &Quote) -> String {
    serde_json::to_string(quote).unwrap_or_default()
}

pub(super) fn parse_epoch(text: &str) -> Result<RunId, RedisError> {
    format!("{text}-0")
        .parse::<EventId>()
        .map(|id| id.run)
        .map_err(|error| {
            RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the broker's epoch is not ours",
                error.to_string(),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_reads_as_a_run_and_anything_else_is_an_error() {
        let run = RunId(0x27b8_4eec);
        assert_eq!(parse_epoch(&run.to_string()).unwrap(), run);
        for bad in ["", "not-hex", "27b84eec-1", "zzzzzzzz"] {
            assert!(parse_epoch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_entry_is_its_seq_and_its_data_field() {
        let ours = StreamId {
            id: "42-0".into(),
            map: [("d".to_owned(), redis::Value::BulkString(b"{}".to_vec()))].into(),
            ..StreamId::default()
        };
        assert_eq!(entry(&ours), Some((42, "{}".to_owned())));
        let without_data = StreamId {
            id: "1700000000000-0".into(),
            ..StreamId::default()
        };
        assert_eq!(entry(&without_data), None);
    }
}
