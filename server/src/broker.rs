//! A cluster's broker: several instances share one feed through Redis Streams.
//!
//! Without `--broker` an instance stands alone and nothing here runs. With it:
//!
//! - **One sequence.** Every update is appended to the stream `PREFIX:stream`
//!   by one Lua script ([`APPEND`]) that checks the cluster's epoch and the
//!   position the batch was computed at, then adds each update with the
//!   explicit id `<seq>-0` (`seq` gap-free across the cluster) and stores the
//!   snapshot state of the symbols it moved (`PREFIX:quotes`, in the order of
//!   `PREFIX:symbols`) and the head (`PREFIX:head`): a batch is all or nothing,
//!   and no other update falls inside it. A batch computed at an older position
//!   than the head is refused by the script and computed again once this
//!   instance has relayed the head (`conflict`).
//! - **Encoded once.** An entry holds the update's JSON, session fields
//!   included, exactly as the publisher encoded it; every instance builds the
//!   same `priceUpdate` frame around it. Ids are `<epoch>-<seq>`: the epoch is
//!   created with the stream (`PREFIX:epoch`) and changes only when the broker
//!   loses its data.
//! - **Relaying.** Each instance loads the snapshot and the history's tail
//!   before it accepts viewers, then reads the stream (`XREAD BLOCK`) into its
//!   own hub, which fans out as on a single instance: a `Last-Event-ID` from
//!   any instance resumes exactly on any other.
//! - **Trouble.** When Redis cannot be reached, streams stay open and their
//!   heartbeats say `"feed":"interrupted"`, publishing answers `503
//!   broker_unavailable`, `/healthz` answers 503; the relay reconnects with
//!   backoff and catches up from the last id it relayed. Redis back without its
//!   data: the first instance to see it starts a new epoch from its prices, and
//!   every viewer resyncs from a snapshot with a notice.
//! - **One simulator.** Instances compete for a lease (`SET NX PX`, renewed);
//!   the holder runs the simulator from the cluster's latest prices.

use crate::{
    feed::{self, Simulator},
    hub::{Hub, PublishError},
    metrics::Metrics,
};

/// Where prices are published: the hub of a standalone instance, or the
/// cluster's broker (every instance's hub gets them from there).
#[derive(Debug, Clone)]
pub enum Publisher {
    /// This instance's hub.
    Hub(Arc<Hub>),
    /// The cluster's broker.
    Broker(Arc<Broker>),
}

impl Publisher {
    /// Publishes `batch`, all or nothing, with consecutive ids; returns the id
    /// of its last update.
    pub async fn publish(&self, batch: Vec<(Symbol, Price, u64)>) -> Result<EventId, PublishError> {
        match self {
            Self::Hub(hub) => hub.publish_batch(batch),
            Self::Broker(broker) => broker.publish(batch).await,
        }
    }
}
use app::model::{EventId, Price, Quote, RunId, Symbol};
use redis::{
    AsyncConnectionConfig, Client, RedisError, Script, Value,
    aio::MultiplexedConnection,
    streams::{StreamId, StreamRangeReply, StreamReadReply},
};
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;

/// Appends a batch: `KEYS` epoch, head, stream, quotes, symbols; `ARGV` the
/// epoch and head the batch was computed at, the stream's `MAXLEN ~`, the
/// number of updates and each one's JSON, then the number of symbol states and
/// each `symbol, state`. Returns `{"ok", head}`, `{"conflict", head}` or
/// `{"epoch", epoch}`.
const APPEND: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'epoch', epoch or ''} end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
if head ~= tonumber(ARGV[2]) then return {'conflict', string.format('%d', head)} end
local n = tonumber(ARGV[4])
local i = 5
for _ = 1, n do
  head = head + 1
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], string.format('%d-0', head), 'd', ARGV[i])
  i = i + 1
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  if redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[5], ARGV[i])
  end
  i = i + 2
end
redis.call('SET', KEYS[2], head)
return {'ok', string.format('%d', head)}
";

/// Creates the cluster's epoch unless there is one: `KEYS` epoch, head,
/// stream, quotes, symbols; `ARGV` a new epoch, then the number of symbols and
/// each `symbol, state` to start from. Returns the epoch in force.
const INIT: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch then return epoch end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[2], 0)
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  redis.call('RPUSH', KEYS[5], ARGV[i])
  i = i + 2
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// The snapshot, consistent with its head: `KEYS` epoch, head, quotes,
/// symbols. Returns `{epoch, head, {state, ...}}` in display order.
const LOAD: &str = r"
local symbols = redis.call('LRANGE', KEYS[4], 0, -1)
local states = {}
if #symbols > 0 then states = redis.call('HMGET', KEYS[3], unpack(symbols)) end
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0', states}
";

/// Renews the lease if this instance holds it: `KEYS` lease; `ARGV` the
/// instance, the lease's length in milliseconds.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives the lease up if this instance holds it: `KEYS` lease; `ARGV` the instance.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// How long the relay blocks in `XREAD` before looking at the epoch again.
const BLOCK: Duration = Duration::from_millis(1000);

/// How long a command may take before the broker counts as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often a busy relay looks at the broker's epoch and head (and updates
/// `tickertape_broker_lag`).
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// The most entries the relay reads at once.
const READ_COUNT: usize = 1000;

/// How long the simulator's lease lasts unless renewed.
const LEASE: Duration = Duration::from_millis(3000);

/// How often the lease is renewed, or tried for.
const LEASE_EVERY: Duration = Duration::from_millis(1000);

/// Reconnection delays: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// How long a batch may keep losing races with other publishers (or wait
/// for a new epoch to load) before it is refused.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(5);

/// The keys of one cluster.
#[derive(Debug)]
struct Keys {
    epoch: String,
    head: String,
    stream: String,
    quotes: String,
    symbols: String,
    lease: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        let key = |name: &str| format!("{prefix}:{name}");
        Self {
            epoch: key("epoch"),
            head: key("head"),
            stream: key("stream"),
            quotes: key("quotes"),
            symbols: key("symbols"),
            lease: key("lease"),
        }
    }
}

/// This instance's side of the cluster.
#[derive(Debug)]
pub struct Broker {
    client: Client,
    keys: Keys,
    instance: String,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    history: usize,
    /// The connection for commands, made again after a failure.
    commands: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Whether the broker answered the last time it was asked.
    reachable: AtomicBool,
    /// What went wrong the last time, for `/healthz`.
    problem: Mutex<Option<String>>,
    append: Script,
    init: Script,
    load: Script,
    renew: Script,
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

    fn connection_config() -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
    }

    /// The command connection, made if there is none.
    async fn commands(&self) -> Result<MultiplexedConnection, RedisError> {
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
    fn note<T>(&self, result: &Result<T, RedisError>) {
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
    async fn forget_connection(&self) {
        *self.commands.lock().await = None;
    }

    /// Joins the cluster: creates its epoch from this hub's prices if it has
    /// none, then loads the snapshot and the history's tail into the hub.
    /// Retries with backoff until the broker answers.
    pub async fn join(&self, shutdown: &CancellationToken) {
        let mut delay = BACKOFF.0;
        loop {
            let result = self.load_state().await;
            self.note(&result);
            match result {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?delay, "cannot load the cluster's state from the broker");
                    self.forget_connection().await;
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = sleep(delay) => {}
            }
            delay = (delay * 2).min(BACKOFF.1);
        }
    }

    /// Loads the cluster's state into the hub (creating the epoch first if
    /// the broker has none).
    async fn load_state(&self) -> Result<(), RedisError> {
        let mut connection = self.commands().await?;
        let keys = &self.keys;
        // A new epoch starts from this instance's prices, so that a broker that
        // lost its data does not take the cluster back to nothing.
        let snapshot = self.hub.snapshot(&None);
        let mut init = self.init.prepare_invoke();
        init.key(&keys.epoch)
            .key(&keys.head)
            .key(&keys.stream)
            .key(&keys.quotes)
            .key(&keys.symbols)
            .arg(RunId(rand::random()).to_string())
            .arg(snapshot.quotes.len());
        for quote in &snapshot.quotes {
            init.arg(quote.symbol.as_str()).arg(encode(quote));
        }
        let epoch: String = init.invoke_async(&mut connection).await?;
        let (epoch, head, states): (String, u64, Vec<Option<String>>) = self
            .load
            .key(&keys.epoch)
            .key(&keys.head)
            .key(&keys.quotes)
            .key(&keys.symbols)
            .invoke_async(&mut connection)
            .await
            .map(|(e, h, s): (String, String, Vec<Option<String>>)| {
                (
                    if e.is_empty() { epoch } else { e },
                    h.parse().unwrap_or(0),
                    s,
                )
            })?;
        let run = parse_epoch(&epoch)?;
        let quotes = states
            .into_iter()
            .flatten()
            .filter_map(|state| serde_json::from_str::<Quote>(&state).ok())
            .collect();
        let tail: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&keys.stream)
            .arg(format!("{head}-0"))
            .arg("-")
            .arg("COUNT")
            .arg(self.history)
            .query_async(&mut connection)
            .await?;
        let mut history: Vec<(u64, String)> = tail.ids.iter().filter_map(entry).collect();
        history.reverse();
        self.hub.reset(run, head, quotes, &history);
        tracing::info!(epoch = %run, head, history = history.len(), "loaded the cluster's state");
        Ok(())
    }

    /// Relays the stream into the hub until `shutdown`: reads after the hub's
    /// head, reconnects with backoff, reloads when the epoch changes or the
    /// stream has moved past what this instance can continue from.
    pub async fn relay(self: Arc<Self>, shutdown: CancellationToken) {
        let mut delay = BACKOFF.0;
        let mut reader: Option<MultiplexedConnection> = None;
        let mut checked = None;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = self.relay_once(&mut reader, &mut checked) => result,
            };
            self.note(&result);
            match result {
                Ok(()) => delay = BACKOFF.0,
                Err(error) => {
                    tracing::debug!(%error, retry_in = ?delay, "relay interrupted");
                    reader = None;
                    self.forget_connection().await;
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = sleep(delay) => {}
                    }
                    delay = (delay * 2).min(BACKOFF.1);
                    self.metrics.broker_reconnects.inc();
                }
            }
        }
    }

    /// One read of the stream (or one look at the epoch when nothing came).
    async fn relay_once(
        &self,
        reader: &mut Option<MultiplexedConnection>,
        checked: &mut Option<Instant>,
    ) -> Result<(), RedisError> {
        if reader.is_none() {
            // The blocking read has a connection of its own, so that it never
            // holds up publishing; its timeout outlasts the block.
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                .set_response_timeout(Some(BLOCK + RESPONSE_TIMEOUT));
            *reader = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
            // Whatever happened while disconnected (a new epoch, a trimmed
            // stream) is found out below: the first read checks.
            *checked = None;
        }
        let connection = reader.as_mut().expect("connected above");
        let head = self.hub.head();
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(format!("{}-0", head.seq))
            .query_async(connection)
            .await?;
        let entries: Vec<(u64, String)> = reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .filter_map(|id| entry(&id))
            .collect();
        // The epoch and the broker's head cost a round trip: looked at when the
        // stream is quiet, and once per `CHECK_EVERY` while it is busy, not per read.
        if !entries.is_empty() && checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return self.apply(head, &entries).await;
        }
        *checked = Some(Instant::now());
        let (epoch, newest) = self.epoch_and_head().await?;
        let current = epoch.as_deref().map(parse_epoch).transpose()?;
        if current != Some(head.run) {
            tracing::warn!(
                from = %head.run,
                to = ?epoch,
                "the broker's epoch changed (it lost its data?): reloading"
            );
            return self.load_state().await;
        }
        if entries.is_empty() && newest > head.seq {
            // Nothing after the head in the stream, yet the head is further: the
            // entries were trimmed away while this instance was behind.
            return self.load_state().await;
        }
        self.apply(head, &entries).await?;
        let relayed = self.hub.head().seq;
        self.metrics
            .broker_lag
            .set(i64::try_from(newest.saturating_sub(relayed)).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Relays `entries`, read after `head`; reloads when they do not follow it.
    async fn apply(&self, head: EventId, entries: &[(u64, String)]) -> Result<(), RedisError> {
        if !entries.is_empty() && self.hub.apply(head.run, entries).is_err() {
            tracing::warn!(at = %head, "the stream moved past this instance: reloading");
            return self.load_state().await;
        }
        Ok(())
    }

    /// The broker's epoch (none when it lost its data) and head.
    async fn epoch_and_head(&self) -> Result<(Option<String>, u64), RedisError> {
        let mut connection = self.commands().await?;
        let (epoch, head): (Option<String>, Option<u64>) = redis::pipe()
            .get(&self.keys.epoch)
            .get(&self.keys.head)
            .query_async(&mut connection)
            .await?;
        Ok((epoch, head.unwrap_or(0)))
    }

    /// Publishes `batch` for the whole cluster: computed against this
    /// instance's state and appended by the script; computed again when
    /// another publisher got there first. Returns the id of its last update,
    /// once this instance has relayed it.
    pub async fn publish(&self, batch: Vec<(Symbol, Price, u64)>) -> Result<EventId, PublishError> {
        let unavailable = |error: RedisError| PublishError::Unavailable(error.to_string());
        let deadline = Instant::now() + PUBLISH_PATIENCE;
        while Instant::now() < deadline {
            let prepared = self.hub.prepare(&batch)?;
            let base = prepared.base;
            let mut connection = self.commands().await.map_err(unavailable)?;
            let mut append = self.append.prepare_invoke();
            append
                .key(&self.keys.epoch)
                .key(&self.keys.head)
                .key(&self.keys.stream)
                .key(&self.keys.quotes)
                .key(&self.keys.symbols)
                .arg(base.run.to_string())
                .arg(base.seq)
                .arg(self.history)
                .arg(prepared.updates.len());
            for update in &prepared.updates {
                append.arg(&update.data);
            }
            append.arg(prepared.states.len());
            for state in &prepared.states {
                append.arg(state.symbol.as_str()).arg(encode(state));
            }
            let result: Result<(String, String), RedisError> =
                append.invoke_async(&mut connection).await;
            self.note(&result);
            let (outcome, value) = match result {
                Ok(reply) => reply,
                Err(error) => {
                    self.forget_connection().await;
                    return Err(unavailable(error));
                }
            };
            let head = value.parse().unwrap_or(0);
            match outcome.as_str() {
                "ok" => {
                    let id = EventId {
                        run: base.run,
                        seq: head,
                    };
                    // Read your writes: this instance's viewers have it too.
                    self.relayed(id).await;
                    return Ok(id);
                }
                // Another publisher got there first: compute it again on top.
                "conflict" => {
                    self.relayed(EventId {
                        run: base.run,
                        seq: head,
                    })
                    .await;
                }
                // A new epoch: wait for the relay to load it.
                _ => sleep(Duration::from_millis(50)).await,
            }
        }
        Err(PublishError::Unavailable(format!(
            "other publishers kept getting there first for {PUBLISH_PATIENCE:?}, or this \
             instance is not relaying"
        )))
    }

    /// Waits (a second at most) until the hub has relayed `id`.
    async fn relayed(&self, id: EventId) {
        let mut head = self.hub.watch_head();
        let _ = timeout(Duration::from_secs(1), async {
            while self.hub.head().run == id.run && self.hub.head().seq < id.seq {
                if head.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Runs the simulator (`rate` updates a second) while this instance holds
    /// the cluster's lease, until `shutdown`. Its walks continue from the
    /// cluster's latest prices each time it takes the lease.
    pub async fn lead(
        self: Arc<Self>,
        simulator: Simulator,
        rate: f64,
        shutdown: CancellationToken,
    ) {
        let mut idle = Some(simulator);
        let mut running: Option<(CancellationToken, tokio::task::JoinHandle<Simulator>)> = None;
        let mut renewed = Instant::now();
        loop {
            let held = running.is_some();
            let result = self.hold_lease(held).await;
            if matches!(result, Ok(true)) {
                renewed = Instant::now();
            }
            // Unreachable, a holder keeps simulating until its lease would
            // have run out (its batches fail meanwhile anyway).
            let holding = matches!(result, Ok(true))
                || (held && result.is_err() && renewed.elapsed() < LEASE);
            match (holding, running.take(), idle.take()) {
                (true, None, Some(mut simulator)) => {
                    tracing::info!(instance = %self.instance, "took the simulator's lease: simulating prices");
                    simulator.continue_from(&self.hub.snapshot(&None).quotes);
                    let stop = shutdown.child_token();
                    let publisher = Publisher::Broker(self.clone());
                    let skipped = self.metrics.simulator_skipped.clone();
                    let task =
                        tokio::spawn(feed::run(simulator, publisher, rate, skipped, stop.clone()));
                    running = Some((stop, task));
                }
                (false, Some((stop, task)), None) => {
                    tracing::warn!(instance = %self.instance, "lost the simulator's lease: another instance simulates");
                    stop.cancel();
                    idle = task.await.ok();
                }
                (_, task, simulator) => {
                    running = task;
                    idle = simulator;
                }
            }
            self.metrics.lease_holder.set(i64::from(running.is_some()));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = sleep(LEASE_EVERY) => {}
            }
        }
        if let Some((stop, task)) = running {
            stop.cancel();
            let _ = task.await;
            // Let another instance take over at once.
            if let Ok(mut connection) = self.commands().await {
                let _: Result<i64, _> = Script::new(RELEASE)
                    .key(&self.keys.lease)
                    .arg(&self.instance)
                    .invoke_async(&mut connection)
                    .await;
            }
        }
        self.metrics.lease_holder.set(0);
    }

    /// Renews the lease when `held`, or tries to take it; whether this
    /// instance holds it now.
    async fn hold_lease(&self, held: bool) -> Result<bool, RedisError> {
        let mut connection = self.commands().await?;
        let ms = LEASE.as_millis() as u64;
        if held {
            let renewed: i64 = self
                .renew
                .key(&self.keys.lease)
                .arg(&self.instance)
                .arg(ms)
                .invoke_async(&mut connection)
                .await?;
            return Ok(renewed == 1);
        }
        let taken: Value = redis::cmd("SET")
            .arg(&self.keys.lease)
            .arg(&self.instance)
            .arg("NX")
            .arg("PX")
            .arg(ms)
            .query_async(&mut connection)
            .await?;
        Ok(matches!(taken, Value::Okay))
    }
}

/// A stream entry as `(seq, data)`, when it is one of ours.
fn entry(id: &StreamId) -> Option<(u64, String)> {
    let seq = id.id.split_once('-')?.0.parse().ok()?;
    let data: String = id.get("d")?;
    Some((seq, data))
}

/// A symbol's state as the broker keeps it: its quote with recent prices.
fn encode(quote: &Quote) -> String {
    serde_json::to_string(quote).unwrap_or_default()
}

fn parse_epoch(text: &str) -> Result<RunId, RedisError> {
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
