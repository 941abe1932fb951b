//! The relay: the cluster's stream, read into this instance's hub.

use super::client::{BACKOFF, Broker, RESPONSE_TIMEOUT, entry, parse_epoch};
use app::model::EventId;
use redis::{
    AsyncConnectionConfig, RedisError, aio::MultiplexedConnection, streams::StreamReadReply,
};
use std::{sync::Arc, time::Duration};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

/// How long the relay blocks in `XREAD` before looking at the epoch again.
const BLOCK: Duration = Duration::from_millis(1000);

/// How often a busy relay looks at the broker's epoch and head (and updates
/// `tickertape_broker_lag`).
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// The most entries the relay reads at once.
const READ_COUNT: usize = 1000;

impl Broker {
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
}
