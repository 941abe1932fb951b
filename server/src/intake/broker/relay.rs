//! The relay: the cluster's stream, read into this instance's hub.
//!
//! An update is passed on only once a commit mark covers it: once as many
//! replicas as the cluster asks for hold it (`--broker-min-replicas`), so that
//! no failover can take back an update a viewer has. After every reconnection
//! the relay checks that the broker still holds the last update it passed on,
//! byte for byte; when it does not (a failover lost it), the cluster starts a
//! new epoch, and viewers resync from a snapshot rather than see one id mean
//! two updates.

use super::client::{BACKOFF, Broker, Entry, RESPONSE_TIMEOUT, entry, parse_epoch};
use app::model::EventId;
use redis::{
    AsyncConnectionConfig, RedisError,
    aio::MultiplexedConnection,
    streams::{StreamRangeReply, StreamReadReply},
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

/// Where the relay is in the stream.
#[derive(Debug, Default)]
struct Reading {
    /// The connection of the blocking read, once made.
    reader: Option<MultiplexedConnection>,
    /// When the epoch and the committed head were last looked at.
    checked: Option<Instant>,
    /// The last entry read (an update or a mark); `None`: after the hub's head.
    cursor: Option<String>,
    /// Updates read that no commit mark covers yet, in order.
    pending: Vec<(u64, String)>,
    /// Set on connecting: the broker's hold on the hub's head is checked first.
    verify: bool,
}

impl Reading {
    /// Reads again from the hub's head (after the hub was reloaded).
    fn restart(&mut self) {
        self.cursor = None;
        self.pending.clear();
    }
}

impl Broker {
    /// Relays the stream into the hub until `shutdown`: reads after the hub's
    /// head, reconnects with backoff, reloads when the epoch changes or the
    /// stream has moved past what this instance can continue from.
    pub async fn relay(self: Arc<Self>, shutdown: CancellationToken) {
        let mut delay = BACKOFF.0;
        let mut reading = Reading::default();
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = self.relay_once(&mut reading) => result,
            };
            self.note(&result);
            match result {
                Ok(()) => delay = BACKOFF.0,
                Err(error) => {
                    tracing::debug!(%error, retry_in = ?delay, "relay interrupted");
                    reading.reader = None;
                    self.forget_connection().await;
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = sleep(delay) => {}
                    }
                    delay = (delay * 2).min(self.max_backoff());
                    self.metrics.broker_reconnects.inc();
                }
            }
        }
    }

    /// One read of the stream (or one look at the epoch when nothing came).
    async fn relay_once(&self, reading: &mut Reading) -> Result<(), RedisError> {
        if reading.reader.is_none() {
            // The blocking read has a connection of its own, so that it never
            // holds up publishing; its timeout outlasts the block.
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                .set_response_timeout(Some(BLOCK + RESPONSE_TIMEOUT));
            reading.reader = Some(self.connect(&config).await?);
            // Whatever happened while disconnected (a new epoch, a trimmed
            // stream, a failover) is found out before reading on.
            reading.checked = None;
            reading.verify = true;
            reading.restart();
        }
        if reading.verify {
            if self.verify_head().await? {
                reading.restart();
            }
            reading.verify = false;
        }
        let head = self.hub.head();
        let from = reading
            .cursor
            .clone()
            .unwrap_or_else(|| format!("{}-0", head.seq));
        let connection = reading.reader.as_mut().expect("connected above");
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(&from)
            .query_async(connection)
            .await?;
        let mut read_any = false;
        let mut committed = 0;
        for id in reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
        {
            read_any = true;
            match entry(&id) {
                Some(Entry::Updates(updates)) => reading
                    .pending
                    .extend(updates.into_iter().filter(|(seq, _)| *seq > head.seq)),
                Some(Entry::Commit(seq)) => committed = committed.max(seq),
                None => {}
            }
            reading.cursor = Some(id.id);
        }
        let split = reading
            .pending
            .partition_point(|(seq, _)| *seq <= committed);
        let ready: Vec<(u64, String)> = reading.pending.drain(..split).collect();
        // The epoch and the broker's head cost a round trip: looked at when the
        // stream is quiet, and once per `CHECK_EVERY` while it is busy, not per read.
        if read_any && reading.checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return self.apply(head, &ready, reading).await;
        }
        reading.checked = Some(Instant::now());
        let (epoch, newest) = self.epoch_and_committed().await?;
        let current = epoch.as_deref().map(parse_epoch).transpose()?;
        if current != Some(head.run) {
            tracing::warn!(
                from = %head.run,
                to = ?epoch,
                "the broker's epoch changed (it lost its data?): reloading"
            );
            reading.restart();
            return self.load_state().await;
        }
        if !read_any && reading.pending.is_empty() && newest > head.seq {
            // Nothing after the head in the stream, yet the committed head is
            // further: the entries were trimmed away while this instance was behind.
            reading.restart();
            return self.load_state().await;
        }
        self.apply(head, &ready, reading).await?;
        let relayed = self.hub.head().seq;
        self.metrics
            .broker_lag
            .set(i64::try_from(newest.saturating_sub(relayed)).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Relays `entries`, read after `head`; reloads when they do not follow it.
    async fn apply(
        &self,
        head: EventId,
        entries: &[(u64, String)],
        reading: &mut Reading,
    ) -> Result<(), RedisError> {
        if !entries.is_empty() && self.hub.apply(head.run, entries).is_err() {
            tracing::warn!(at = %head, "the stream moved past this instance: reloading");
            reading.restart();
            return self.load_state().await;
        }
        Ok(())
    }

    /// Checks that the broker still holds the last update this instance
    /// relayed, as it was; when it does not, the cluster starts a new epoch
    /// (see the module's documentation). Returns whether the hub was reloaded.
    async fn verify_head(&self) -> Result<bool, RedisError> {
        let head = self.hub.head();
        if head.seq == 0 {
            return Ok(false);
        }
        let mut connection = self.commands().await?;
        let (epoch, newest, found): (Option<String>, Option<u64>, StreamRangeReply) = redis::pipe()
            .get(&self.keys.epoch)
            .get(&self.keys.head)
            .cmd("XRANGE")
            .arg(&self.keys.stream)
            .arg(format!("{}-0", head.seq))
            .arg(format!("{}-0", head.seq))
            .query_async(&mut connection)
            .await?;
        if epoch.as_deref().map(parse_epoch).transpose()? != Some(head.run) {
            // Another epoch, or none: the relay's usual check reloads.
            return Ok(false);
        }
        let last = found
            .ids
            .first()
            .and_then(entry)
            .and_then(|entry| match entry {
                Entry::Updates(mut updates) => updates.pop(),
                Entry::Commit(_) => None,
            });
        let lost = match last {
            Some((seq, data)) if seq == head.seq => self.hub.holds(head, &data) == Some(false),
            // Not there: lost if the broker's head is behind it (if it is
            // ahead, the entry was trimmed away, and the relay reloads).
            _ => newest.unwrap_or(0) < head.seq,
        };
        if !lost {
            return Ok(false);
        }
        self.start_epoch_over(
            head.run,
            &format!("the broker no longer holds update {head}, which this instance relayed"),
        )
        .await?;
        Ok(true)
    }

    /// The broker's epoch (none when it lost its data) and committed head.
    /// Also asks the server its role: one that is no longer the primary (a
    /// primary that was stopped and came back after a failover) is an error,
    /// and the relay reconnects to the one the Sentinels name; a primary with
    /// too few replicas interrupts the feed ([`Broker::note_replicas`]).
    async fn epoch_and_committed(&self) -> Result<(Option<String>, u64), RedisError> {
        let mut connection = self.commands().await?;
        let (epoch, committed, role): (Option<String>, Option<u64>, redis::Value) = redis::pipe()
            .get(&self.keys.epoch)
            .get(&self.keys.committed)
            .cmd("ROLE")
            .query_async(&mut connection)
            .await?;
        match primary_replicas(&role) {
            Some(replicas) => self.note_replicas(replicas),
            // The relay's error path forgets the connections.
            None => {
                return Err(RedisError::from((
                    redis::ErrorKind::Io,
                    "the broker's server is no longer the primary",
                )));
            }
        }
        Ok((epoch, committed.unwrap_or(0)))
    }
}

/// How many replicas a server's `ROLE` reply names, if it is a primary.
fn primary_replicas(role: &redis::Value) -> Option<usize> {
    let redis::Value::Array(parts) = role else {
        return None;
    };
    match parts.as_slice() {
        [
            redis::Value::BulkString(kind),
            _,
            redis::Value::Array(replicas),
            ..,
        ] if kind.as_slice() == b"master" => Some(replicas.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    #[test]
    fn a_primary_names_its_replicas_and_anything_else_is_not_a_primary() {
        let replica = Value::Array(vec![
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::BulkString(b"6380".to_vec()),
            Value::BulkString(b"42".to_vec()),
        ]);
        let primary = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(42),
            Value::Array(vec![replica.clone(), replica]),
        ]);
        assert_eq!(primary_replicas(&primary), Some(2));
        let alone = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(0),
            Value::Array(vec![]),
        ]);
        assert_eq!(primary_replicas(&alone), Some(0));
        let demoted = Value::Array(vec![
            Value::BulkString(b"slave".to_vec()),
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::Int(6379),
            Value::BulkString(b"connected".to_vec()),
            Value::Int(42),
        ]);
        assert_eq!(primary_replicas(&demoted), None);
        assert_eq!(primary_replicas(&Value::Nil), None);
    }
}
