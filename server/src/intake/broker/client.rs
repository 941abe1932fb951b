//! This instance's connection to the cluster's Redis, and what `/healthz`
//! says of it.

use super::scripts::{APPEND, COMMIT, INIT, Keys, LOAD, RENEW};
use crate::{
    config::BrokerUrl,
    hub::{Hub, PublishError, Tick},
    metrics::Metrics,
};
use app::model::{EventId, Quote, RunId};
use redis::{
    AsyncConnectionConfig, Client, ErrorKind, RedisConnectionInfo, RedisError, Script,
    aio::MultiplexedConnection,
    sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType},
    streams::StreamId,
};
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::oneshot;

/// How long a command may take before the broker counts as unreachable.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Reconnection delays: doubling from the first to the last.
pub(super) const BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(2));

/// How this instance finds the cluster's Redis.
pub(super) enum Target {
    /// One Redis.
    Redis(Client),
    /// The primary that the Sentinels name (asked again at every connection,
    /// so a failover is followed).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis(_) => "Redis",
            Self::Sentinel(_) => "Sentinel",
        })
    }
}

/// The longest pause between reconnections behind Sentinel.
const SENTINEL_MAX_BACKOFF: Duration = Duration::from_millis(500);

/// This instance's side of the cluster.
#[derive(Debug)]
pub struct Broker {
    pub(super) target: Target,
    /// How many replicas must hold a batch before it counts.
    pub(super) min_replicas: u32,
    /// The Redis this instance last connected to, for `/healthz` and `/metrics`.
    pub(super) primary: Mutex<Option<String>>,
    /// The last change the cluster went through (a failover followed, an
    /// epoch started), for `/healthz`.
    pub(super) last_change: Mutex<Option<String>>,
    /// Set while the primary has fewer replicas than a batch must reach.
    pub(super) degraded: Mutex<Option<String>>,
    /// Batches waiting for their turn to be appended (a group commit).
    pub(super) waiting: Mutex<Vec<Waiting>>,
    /// Held by the append in progress.
    pub(super) appending: Arc<tokio::sync::Mutex<()>>,
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
    pub(super) commit: Script,
    pub(super) init: Script,
    pub(super) load: Script,
    pub(super) renew: Script,
}

/// A batch waiting for its turn to be appended, and where its answer goes.
#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) batch: Vec<Tick>,
    pub(super) done: oneshot::Sender<Result<EventId, PublishError>>,
}

/// What `/healthz` says of the broker.
#[derive(Debug, Clone)]
pub struct Health {
    /// Whether the instance can reach the broker.
    pub reachable: bool,
    /// What is wrong, when something is.
    pub problem: Option<String>,
    /// The Redis (`HOST:PORT`) this instance last connected to: behind
    /// Sentinel, the primary they named.
    pub primary: Option<String>,
    /// How many replicas must hold a batch before it counts.
    pub min_replicas: u32,
    /// The last change the cluster went through, and when (a failover
    /// followed, an epoch started).
    pub last_change: Option<String>,
}

impl Broker {
    /// The broker at `url` for the cluster whose keys start with `prefix`, to
    /// fill `hub` (keeping `history` updates); a batch counts once
    /// `min_replicas` replicas hold it.
    pub fn new(
        url: &BrokerUrl,
        min_replicas: u32,
        prefix: &str,
        instance: String,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        history: usize,
    ) -> Result<Self, RedisError> {
        let target = match url {
            BrokerUrl::Redis(url) => Target::Redis(Client::open(url.as_str())?),
            BrokerUrl::Sentinel {
                sentinels,
                master,
                password,
            } => {
                let mut node = RedisConnectionInfo::default();
                if let Some(password) = password {
                    node = node.set_password(password);
                }
                let addresses = sentinels
                    .iter()
                    .map(|host| format!("redis://{host}"))
                    .collect::<Vec<_>>();
                Target::Sentinel(tokio::sync::Mutex::new(SentinelClient::build(
                    addresses,
                    master.clone(),
                    Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(node)),
                    SentinelServerType::Master,
                )?))
            }
        };
        Ok(Self {
            target,
            min_replicas,
            primary: Mutex::new(None),
            last_change: Mutex::new(None),
            degraded: Mutex::new(None),
            waiting: Mutex::new(Vec::new()),
            appending: Arc::new(tokio::sync::Mutex::new(())),
            keys: Keys::new(prefix),
            instance,
            hub,
            metrics,
            history,
            commands: tokio::sync::Mutex::new(None),
            reachable: AtomicBool::new(false),
            problem: Mutex::new(Some("not connected yet".into())),
            append: Script::new(APPEND),
            commit: Script::new(COMMIT),
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
            primary: self.primary(),
            min_replicas: self.min_replicas,
            last_change: self
                .last_change
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// The Redis this instance last connected to.
    pub fn primary(&self) -> Option<String> {
        self.primary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A new connection to the primary: the one Redis, or the one the
    /// Sentinels name now (which the Sentinel client checks with `ROLE`).
    pub(super) async fn connect(
        &self,
        config: &AsyncConnectionConfig,
    ) -> Result<MultiplexedConnection, RedisError> {
        let client = match &self.target {
            Target::Redis(client) => client.clone(),
            Target::Sentinel(sentinels) => {
                let mut sentinels = sentinels.lock().await;
                tokio::time::timeout(RESPONSE_TIMEOUT, sentinels.async_get_client())
                    .await
                    .map_err(|_| {
                        RedisError::from((ErrorKind::Io, "no Sentinel answered in time"))
                    })??
            }
        };
        let connection = client
            .get_multiplexed_async_connection_with_config(config)
            .await?;
        let address = client.get_connection_info().addr().to_string();
        let before = self
            .primary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(address.clone());
        if before.as_deref() != Some(address.as_str()) {
            self.metrics.set_broker_primary(&address);
            match before {
                Some(before) => {
                    self.record(format!("the primary moved from {before} to {address}"))
                }
                None => tracing::info!(primary = %address, "connected to the broker"),
            }
        }
        Ok(connection)
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
        let connection = self.connect(&Self::connection_config()).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Logs `what` happened to the cluster, and keeps it for `/healthz`.
    pub(super) fn record(&self, what: String) {
        tracing::warn!("{what}");
        let at = httpdate::fmt_http_date(std::time::SystemTime::now());
        *self
            .last_change
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(format!("{what} ({at})"));
    }

    /// The longest pause between reconnections: 2 s to one Redis, 0.5 s
    /// behind Sentinel (asking them is cheap, and a failover is followed
    /// within half a second of their promoting a replica).
    pub(super) fn max_backoff(&self) -> Duration {
        match self.target {
            Target::Redis(_) => BACKOFF.1,
            Target::Sentinel(_) => SENTINEL_MAX_BACKOFF,
        }
    }

    /// Notes how the last exchange with the broker went.
    pub(super) fn note<T>(&self, result: &Result<T, RedisError>) {
        match result {
            Ok(_) => {
                if !self.reachable.swap(true, Ordering::AcqRel) {
                    tracing::info!("the broker is reachable");
                }
                // Reachable, yet maybe unable to take a batch (too few replicas).
                let degraded = self
                    .degraded
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                self.hub.set_feed_interrupted(degraded.is_some());
                *self.problem.lock().unwrap_or_else(PoisonError::into_inner) = degraded;
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

    /// Notes how many replicas the primary has: fewer than `min_replicas`,
    /// and no batch can count, so the feed is interrupted (viewers see it in
    /// heartbeats, operators in `/healthz`) until they are back.
    pub(super) fn note_replicas(&self, replicas: usize) {
        let wanted = self.min_replicas as usize;
        let degraded = (replicas < wanted).then(|| {
            format!(
                "the broker's primary has {replicas} of the {wanted} replica(s) a batch must \
                 reach: nothing can be published until a replica is back"
            )
        });
        let before = std::mem::replace(
            &mut *self.degraded.lock().unwrap_or_else(PoisonError::into_inner),
            degraded.clone(),
        );
        match (&before, &degraded) {
            (None, Some(problem)) => tracing::warn!("{problem}"),
            (Some(_), None) => {
                tracing::info!(replicas, "the broker's primary has its replicas again")
            }
            _ => {}
        }
        self.note(&Ok::<(), RedisError>(()));
    }

    /// Drops the command connection after a failure, so the next command
    /// connects again.
    pub(super) async fn forget_connection(&self) {
        *self.commands.lock().await = None;
    }
}

/// One of the stream's entries.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// Updates, in order: `(seq, JSON)` each. A batch's entry holds them all;
    /// an entry of one update (field `d`) holds one.
    Updates(Vec<(u64, String)>),
    /// A commit mark: the updates up to this `seq` count.
    Commit(u64),
}

/// A stream entry, when it is one of ours: `<seq>-0` with the field `b` (a
/// batch whose last update is `seq`, its updates' JSON array) or `d` (one
/// update), or `<seq>-<n>` with the field `c` (a commit mark).
pub(super) fn entry(id: &StreamId) -> Option<Entry> {
    let seq: u64 = id.id.split_once('-')?.0.parse().ok()?;
    if let Some(data) = id.get::<String>("d") {
        return Some(Entry::Updates(vec![(seq, data)]));
    }
    if let Some(batch) = id.get::<String>("b") {
        let updates: Vec<&serde_json::value::RawValue> = serde_json::from_str(&batch).ok()?;
        let first = (seq + 1).checked_sub(updates.len() as u64)?;
        return Some(Entry::Updates(
            (first..)
                .zip(updates)
                .map(|(seq, update)| (seq, update.get().to_owned()))
                .collect(),
        ));
    }
    let committed = id.get::<String>("c")?.parse().ok()?;
    Some(Entry::Commit(committed))
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
    fn an_entry_is_a_batch_an_update_or_a_commit_mark() {
        let ours = StreamId {
            id: "42-0".into(),
            map: [("d".to_owned(), redis::Value::BulkString(b"{}".to_vec()))].into(),
            ..StreamId::default()
        };
        assert_eq!(
            entry(&ours),
            Some(Entry::Updates(vec![(42, "{}".to_owned())]))
        );
        let batch = StreamId {
            id: "42-0".into(),
            map: [(
                "b".to_owned(),
                redis::Value::BulkString(br#"[{"a":1}, {"b":[2,3]},{}]"#.to_vec()),
            )]
            .into(),
            ..StreamId::default()
        };
        assert_eq!(
            entry(&batch),
            Some(Entry::Updates(vec![
                (40, r#"{"a":1}"#.to_owned()),
                (41, r#"{"b":[2,3]}"#.to_owned()),
                (42, "{}".to_owned()),
            ]))
        );
        let broken = StreamId {
            id: "42-0".into(),
            map: [("b".to_owned(), redis::Value::BulkString(b"[{".to_vec()))].into(),
            ..StreamId::default()
        };
        assert_eq!(entry(&broken), None);
        let mark = StreamId {
            id: "42-3".into(),
            map: [("c".to_owned(), redis::Value::BulkString(b"40".to_vec()))].into(),
            ..StreamId::default()
        };
        assert_eq!(entry(&mark), Some(Entry::Commit(40)));
        let without_data = StreamId {
            id: "1700000000000-0".into(),
            ..StreamId::default()
        };
        assert_eq!(entry(&without_data), None);
    }
}
