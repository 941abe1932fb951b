//! Appending a batch to the cluster's stream: all or nothing, at the head it
//! was computed at.

use super::client::{Broker, encode};
use crate::hub::{PublishError, Tick};
use app::model::EventId;
use redis::RedisError;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// How long a batch may keep losing races with other publishers (or wait
/// for a new epoch to load) before it is refused.
const APPEND_PATIENCE: Duration = Duration::from_secs(5);

impl Broker {
    /// Appends `batch` to the cluster's stream: computed against this
    /// instance's state and appended by the script; computed again when
    /// another publisher got there first. Returns the id of its last update,
    /// once this instance has relayed it.
    pub async fn append(&self, batch: Vec<Tick>) -> Result<EventId, PublishError> {
        let unavailable = |error: RedisError| PublishError::Unavailable(error.to_string());
        let deadline = Instant::now() + APPEND_PATIENCE;
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
            "other publishers kept getting there first for {APPEND_PATIENCE:?}, or this \
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
}
