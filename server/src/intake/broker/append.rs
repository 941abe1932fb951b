//! Appending a batch to the cluster's stream: all or nothing, at the head it
//! was computed at.

use super::client::{Broker, Waiting, encode};
use crate::hub::{PreparedUpdate, PublishError, Tick};
use app::model::EventId;
use redis::{RedisError, aio::MultiplexedConnection};
use std::{
    sync::{Arc, PoisonError},
    time::Duration,
};
use tokio::{
    sync::oneshot,
    time::{Instant, sleep, timeout},
};

/// How long a batch may keep losing races with other publishers (or wait
/// for a new epoch to load) before it is refused.
const APPEND_PATIENCE: Duration = Duration::from_secs(5);

/// The most prices one group commit takes (more wait for the next).
const MAX_GROUP: usize = 20_000;

/// How long a batch waits for its replicas (`WAIT`) before it is refused.
const REPLICA_WAIT: Duration = Duration::from_secs(1);

/// How long a publisher waits for this instance to relay a batch.
const RELAY_WAIT: Duration = Duration::from_secs(1);

impl Broker {
    /// Appends `batch` to the cluster's stream and returns the id of its last
    /// update, once this instance has relayed it.
    ///
    /// Batches that arrive while another is being appended wait in line, and
    /// the next append takes all of them at once (a group commit): one script
    /// run, one `WAIT` and one relay for them all, each still all or nothing,
    /// in the order they came, with no other update inside any of them. So
    /// publishers that send at once share the round trips instead of racing
    /// each other for the head.
    pub async fn append(self: &Arc<Self>, batch: Vec<Tick>) -> Result<EventId, PublishError> {
        let (done, mut answer) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Waiting { batch, done });
        loop {
            tokio::select! {
                biased;
                answer = &mut answer => {
                    return answer.unwrap_or_else(|_| {
                        Err(PublishError::Unavailable("the append was abandoned".into()))
                    });
                }
                turn = Arc::clone(&self.appending).lock_owned() => {
                    let group = self.take_group();
                    if group.is_empty() {
                        // Another append took this batch: its answer comes.
                        drop(turn);
                        continue;
                    }
                    // A task of its own, holding the turn: a publisher that
                    // goes away does not abandon the others' batches.
                    let broker = Arc::clone(self);
                    let _ = tokio::spawn(async move {
                        let _turn = turn;
                        broker.append_group(group).await;
                    })
                    .await;
                }
            }
        }
    }

    /// The batches waiting in line, oldest first, up to [`MAX_GROUP`] prices
    /// (at least one batch).
    fn take_group(&self) -> Vec<Waiting> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let mut prices = 0;
        let mut taken = 0;
        for batch in waiting.iter() {
            if taken > 0 && prices + batch.batch.len() > MAX_GROUP {
                break;
            }
            prices += batch.batch.len();
            taken += 1;
        }
        waiting.drain(..taken).collect()
    }

    /// Appends `group` as one batch and answers each of its publishers with
    /// the id of its own last update. If the group as a whole is refused (too
    /// many new symbols together), each batch is appended alone.
    async fn append_group(&self, group: Vec<Waiting>) {
        // The batches end to end, and where each one's answer goes.
        let mut ticks = Vec::with_capacity(group.iter().map(|w| w.batch.len()).sum());
        let mut answers = Vec::with_capacity(group.len());
        for Waiting { batch, done } in group {
            answers.push((batch.len(), done));
            ticks.extend(batch);
        }
        match self.append_now(&ticks).await {
            Ok(last) => {
                // The group's updates end at `last`; each batch's end is its
                // share of them, counted from the group's start.
                let mut end = last.seq - ticks.len() as u64;
                for (len, done) in answers {
                    end += len as u64;
                    let _ = done.send(Ok(EventId {
                        run: last.run,
                        seq: end,
                    }));
                }
            }
            // Together they would add too many symbols; alone, each may not.
            Err(PublishError::TooManySymbols(_)) if answers.len() > 1 => {
                let mut start = 0;
                for (len, done) in answers {
                    let batch = &ticks[start..start + len];
                    start += len;
                    let _ = done.send(self.append_now(batch).await);
                }
            }
            Err(error) => {
                for (_, done) in answers {
                    let _ = done.send(Err(same(&error)));
                }
            }
        }
    }

    /// Appends `batch` to the cluster's stream: computed against this
    /// instance's state and appended by the script; computed again when
    /// another publisher got there first. Returns the id of its last update,
    /// once this instance has relayed it.
    async fn append_now(&self, batch: &[Tick]) -> Result<EventId, PublishError> {
        let unavailable = |error: RedisError| PublishError::Unavailable(error.to_string());
        let deadline = Instant::now() + APPEND_PATIENCE;
        let mut last_refusal = None;
        while Instant::now() < deadline {
            let prepared = self.hub.prepare(batch)?;
            let base = prepared.base;
            let mut connection = self.commands().await.map_err(unavailable)?;
            let mut append = self.append.prepare_invoke();
            append
                .key(&self.keys.epoch)
                .key(&self.keys.head)
                .key(&self.keys.stream)
                .key(&self.keys.quotes)
                .key(&self.keys.symbols)
                .key(&self.keys.committed)
                .arg(base.run.to_string())
                .arg(base.seq)
                .arg(self.history)
                .arg(prepared.updates.len())
                .arg(batch_json(&prepared.updates));
            append.arg(prepared.states.len());
            for state in &prepared.states {
                append.arg(state.symbol.as_str()).arg(encode(state));
            }
            // With no replica to wait for, the batch counts at once.
            append.arg(if self.min_replicas == 0 { "1" } else { "0" });
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
                    if self.min_replicas > 0 {
                        self.commit(&mut connection, id, false).await?;
                    }
                    // Read your writes: this instance's viewers have it too.
                    self.relayed(id, RELAY_WAIT).await;
                    return Ok(id);
                }
                // Another publisher got there first: compute it again on top.
                "conflict" => {
                    let head = EventId {
                        run: base.run,
                        seq: head,
                    };
                    // Its batch may be waiting for replicas, or refused for
                    // want of them and never committed: commit what the
                    // replicas hold now, so that the cluster moves on.
                    if self.min_replicas > 0 && self.hub.head().seq < head.seq {
                        self.relayed(head, REPLICA_WAIT / 10).await;
                        if self.hub.head().seq < head.seq {
                            last_refusal = self.commit(&mut connection, head, true).await.err();
                        }
                    }
                    self.relayed(head, RELAY_WAIT).await;
                }
                // A new epoch: wait for the relay to load it.
                _ => sleep(Duration::from_millis(50)).await,
            }
        }
        Err(last_refusal.unwrap_or_else(|| {
            PublishError::Unavailable(format!(
                "other publishers kept getting there first for {APPEND_PATIENCE:?}, or this \
                 instance is not relaying"
            ))
        }))
    }

    /// Waits until `min_replicas` replicas hold the updates up to `id`
    /// (Redis's `WAIT`, which covers every write of the connection before it),
    /// then marks them committed, so that relays pass them on. A batch the
    /// replicas did not take in time is refused: it is on the primary but
    /// counts for nothing yet (a later commit may carry it, or a failover
    /// lose it, but no viewer has it before then).
    ///
    /// With `probe`, for updates another connection wrote: first a write of
    /// this connection's own, which replicas receive after those updates
    /// (replication keeps the primary's order), so that `WAIT` covers them.
    async fn commit(
        &self,
        connection: &mut MultiplexedConnection,
        id: EventId,
        probe: bool,
    ) -> Result<(), PublishError> {
        if probe {
            let written: Result<(), RedisError> = redis::cmd("SET")
                .arg(&self.keys.probe)
                .arg(&self.instance)
                .query_async(connection)
                .await;
            self.note(&written);
            written.map_err(|error| PublishError::Unavailable(error.to_string()))?;
        }
        let acknowledged: Result<u32, RedisError> = redis::cmd("WAIT")
            .arg(self.min_replicas)
            .arg(REPLICA_WAIT.as_millis() as u64)
            .query_async(connection)
            .await;
        self.note(&acknowledged);
        let acknowledged = acknowledged.map_err(|error| {
            PublishError::Unavailable(format!("the broker did not answer WAIT: {error}"))
        })?;
        if acknowledged < self.min_replicas {
            self.metrics.broker_unreplicated.inc();
            return Err(PublishError::Unavailable(format!(
                "the batch reached the broker's primary but {acknowledged} of the {} replica(s) \
                 it must reach within {REPLICA_WAIT:?}: not acknowledged, and no viewer has it",
                self.min_replicas
            )));
        }
        let committed: Result<(String, String), RedisError> = self
            .commit
            .key(&self.keys.epoch)
            .key(&self.keys.head)
            .key(&self.keys.stream)
            .key(&self.keys.committed)
            .arg(id.run.to_string())
            .arg(id.seq)
            .invoke_async(connection)
            .await;
        self.note(&committed);
        match committed {
            Ok((outcome, _)) if outcome == "ok" => Ok(()),
            Ok((_, epoch)) => Err(PublishError::Unavailable(format!(
                "the cluster started epoch {epoch} while the batch waited for its replicas"
            ))),
            Err(error) => Err(PublishError::Unavailable(error.to_string())),
        }
    }

    /// Waits (`patience` at most) until the hub has relayed `id`.
    async fn relayed(&self, id: EventId, patience: Duration) {
        let mut head = self.hub.watch_head();
        let _ = timeout(patience, async {
            while self.hub.head().run == id.run && self.hub.head().seq < id.seq {
                if head.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }
}

/// The updates' JSON as one array: a batch is one entry in the stream (one
/// `XADD` for a thousand prices, not a thousand).
fn batch_json(updates: &[PreparedUpdate]) -> String {
    let mut json =
        String::with_capacity(2 + updates.iter().map(|u| u.data.len() + 1).sum::<usize>());
    json.push('[');
    for (i, update) in updates.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&update.data);
    }
    json.push(']');
    json
}

/// `error` again, for another publisher of the same group.
fn same(error: &PublishError) -> PublishError {
    match error {
        PublishError::TooManySymbols(limit) => PublishError::TooManySymbols(limit.clone()),
        PublishError::Encode(error) => {
            PublishError::Encode(serde::ser::Error::custom(error.to_string()))
        }
        PublishError::Unavailable(why) => PublishError::Unavailable(why.clone()),
    }
}
