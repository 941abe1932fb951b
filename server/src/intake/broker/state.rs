//! Joining the cluster: its epoch created if there is none, then its
//! snapshot and the history's tail loaded into this instance's hub.

use super::client::{BACKOFF, Broker, encode, entry, parse_epoch};
use app::model::{Quote, RunId};
use redis::{RedisError, streams::StreamRangeReply};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

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
            delay = (delay * 2).min(BACKOFF.1);
        }
    }

    /// Loads the cluster's state into the hub (creating the epoch first if
    /// the broker has none).
    pub(super) async fn load_state(&self) -> Result<(), RedisError> {
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
}
