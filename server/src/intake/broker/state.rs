//! Joining the cluster: its epoch created if there is none, then its
//! snapshot and the history's tail loaded into this instance's hub.

use super::client::{BACKOFF, Broker, Entry, encode, entry, parse_epoch};
use app::model::{Quote, RunId};
use redis::{RedisError, streams::StreamRangeReply};
use std::time::Duration;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

/// How many times a load looks for the head to be committed, and how long it
/// waits between looks (a batch waits for its replicas about a millisecond).
const LOAD_TRIES: u32 = 20;
const LOAD_PAUSE: Duration = Duration::from_millis(50);

/// How many entries one read of the history's tail takes.
const TAIL_PAGE: usize = 256;

impl Broker {
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
            delay = (delay * 2).min(self.max_backoff());
        }
    }

    /// Loads the cluster's state into the hub (creating the epoch first if
    /// the broker has none).
    pub(super) async fn load_state(&self) -> Result<(), RedisError> {
        self.init_epoch(None).await?;
        self.load().await
    }

    /// Starts a new epoch in place of `old`, from this instance's prices, and
    /// loads it: the broker lacks updates this instance relayed (a failover
    /// lost them), and the same ids must never mean other updates. Every
    /// instance reloads on seeing the new epoch, and every viewer resyncs from
    /// a snapshot with a notice. When another instance started one first, this
    /// loads that one.
    pub(super) async fn start_epoch_over(&self, old: RunId, why: &str) -> Result<(), RedisError> {
        let epoch = self.init_epoch(Some(old)).await?;
        if epoch != old.to_string() {
            self.record(format!("{why}: the cluster starts over at epoch {epoch}"));
        }
        self.load().await
    }

    /// Creates the cluster's epoch from this hub's prices if the broker has
    /// none, or in place of `replace`; returns the epoch in force.
    async fn init_epoch(&self, replace: Option<RunId>) -> Result<String, RedisError> {
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
            .key(&keys.committed)
            .arg(RunId(rand::random()).to_string())
            .arg(snapshot.quotes.len());
        for quote in &snapshot.quotes {
            init.arg(quote.symbol.as_str()).arg(encode(quote));
        }
        init.arg(replace.map(|run| run.to_string()).unwrap_or_default());
        init.invoke_async(&mut connection).await
    }

    /// Loads the epoch, the snapshot and the history's tail into the hub, at
    /// the last committed update.
    async fn load(&self) -> Result<(), RedisError> {
        let mut connection = self.commands().await?;
        let keys = &self.keys;
        // The snapshot's states are the head's: wait (briefly) for the head to
        // be committed, so that they are states that count.
        let mut tries = 0;
        let (epoch, committed, states) = loop {
            let (epoch, head, committed, states): (String, u64, u64, Vec<Option<String>>) = self
                .load
                .key(&keys.epoch)
                .key(&keys.head)
                .key(&keys.quotes)
                .key(&keys.symbols)
                .key(&keys.committed)
                .invoke_async(&mut connection)
                .await?;
            tries += 1;
            if head == committed || tries >= LOAD_TRIES {
                break (epoch, committed, states);
            }
            sleep(LOAD_PAUSE).await;
        };
        let run = parse_epoch(&epoch)?;
        let quotes = states
            .into_iter()
            .flatten()
            .filter_map(|state| serde_json::from_str::<Quote>(&state).ok())
            .collect();
        // The history's tail, newest first, a page of entries at a time (an
        // entry is a batch of updates, one update, or a commit mark).
        let mut history = Vec::new();
        let mut before = format!("{committed}-0");
        while history.len() < self.history {
            let page: StreamRangeReply = redis::cmd("XREVRANGE")
                .arg(&keys.stream)
                .arg(&before)
                .arg("-")
                .arg("COUNT")
                .arg(TAIL_PAGE)
                .query_async(&mut connection)
                .await?;
            let Some(oldest) = page.ids.last() else {
                break;
            };
            before = format!("({}", oldest.id);
            let full = page.ids.len() == TAIL_PAGE;
            for entry in page.ids.iter().filter_map(entry) {
                if let Entry::Updates(updates) = entry {
                    history.extend(updates.into_iter().rev());
                }
            }
            if !full {
                break;
            }
        }
        history.truncate(self.history);
        history.reverse();
        self.hub.reset(run, committed, quotes, &history);
        tracing::info!(epoch = %run, head = committed, history = history.len(), "loaded the cluster's state");
        Ok(())
    }
}
