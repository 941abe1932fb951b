//! What operators watch: counters for `GET /metrics` (Prometheus / OpenMetrics
//! text) and `GET /api/stats` (JSON), kept with `prometheus-client`.
//!
//! Every counter is an atomic shared by cheap clones, so the hot paths (publishing,
//! delivering a frame) pay one relaxed add.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, info::Info},
    registry::Registry,
};
use std::sync::Arc;

/// Why a `POST /api/prices` was refused (the `reason` label).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RejectReason {
    /// Publishing is disabled (no publish token configured).
    disabled,
    /// No token, or the wrong one.
    unauthorized,
    /// The body is not JSON.
    malformed_json,
    /// The body is over the configured limit.
    too_large,
    /// The body did not arrive within the header-read timeout.
    slow_body,
    /// An item is not an object of `symbol`, `price` and `ts`.
    invalid_item,
    /// A symbol outside `[A-Z0-9.-]{1,12}`.
    invalid_symbol,
    /// A price that is not a finite positive number.
    invalid_price,
    /// A timestamp that is not whole milliseconds near the server's clock.
    invalid_ts,
    /// An empty batch.
    empty_batch,
    /// The batch would add symbols past `--max-symbols`.
    too_many_symbols,
    /// A cluster's broker could not be reached.
    broker_unavailable,
}

/// Why a stream was refused (the `reason` label).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RefuseReason {
    /// `--max-streams` streams were open.
    server_busy,
    /// `--max-streams-per-ip` streams were open from the client's address.
    client_busy,
}

/// Why accepting a connection failed (the `reason` label).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AcceptError {
    /// The process or the system ran out of file descriptors (`EMFILE`, `ENFILE`).
    out_of_file_descriptors,
    /// Any other error, such as the kernel running out of socket memory.
    other,
}

/// Why the server closed a connection that was not a stream (the `reason` label).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CloseReason {
    /// No request for `--idle-timeout-ms`.
    idle_timeout,
    /// A request head not whole within `--header-read-timeout-ms` (or a TLS
    /// handshake not done within it).
    header_timeout,
    /// Closed while idle to make room: `--max-idle-connections` were open, or
    /// the file descriptors ran out.
    evicted,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Closed {
    reason: CloseReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AcceptFailed {
    reason: AcceptError,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rejected {
    reason: RejectReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Primary {
    address: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refused {
    reason: RefuseReason,
}

/// The server's counters and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Streams open now.
    pub streams: Gauge,
    /// Updates published (simulated or ingested).
    pub published: Counter,
    /// Price updates written to streams (live or replayed; one per stream).
    pub delivered: Counter,
    /// Streams that resumed from an id and were replayed what they missed.
    pub replays: Counter,
    /// Streams that asked to resume from an unusable id and got a snapshot.
    pub resyncs: Counter,
    /// Snapshots sent to connected streams that fell behind (too far to replay
    /// or too late to be worth it).
    pub slow_snapshots: Counter,
    /// Updates such streams skipped because one snapshot replaced them.
    pub conflated: Counter,
    /// Connections closed because their client stopped reading.
    pub slow_disconnects: Counter,
    /// Updates accepted by `POST /api/prices`.
    pub ingest_accepted: Counter,
    /// Simulated updates skipped because the simulator fell too far behind its
    /// rate (the machine cannot publish `--rate`).
    pub simulator_skipped: Counter,
    /// In a cluster: updates in the broker this instance has not relayed yet.
    pub broker_lag: Gauge,
    /// In a cluster: times this instance reconnected to the broker.
    pub broker_reconnects: Counter,
    /// In a cluster: batches refused because too few replicas took them in time.
    pub broker_unreplicated: Counter,
    /// In a cluster: 1 while this instance holds the simulator's lease.
    pub lease_holder: Gauge,
    /// In a cluster: the Redis this instance is connected to, by address.
    broker_primary: Family<Primary, Gauge>,
    ingest_rejected: Family<Rejected, Counter>,
    streams_refused: Family<Refused, Counter>,
    accept_errors: Family<AcceptFailed, Counter>,
    connections_closed: Family<Closed, Counter>,
    /// In a cluster: entries read from the broker that were not a valid batch
    /// of prices, dropped (their ids are holes, never replayed).
    pub relay_rejected: Counter,
}

impl Metrics {
    /// Fresh counters, registered under the `tickertape_` prefix.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// Fresh counters for the instance named `instance` (in
    /// `tickertape_instance_info`).
    pub fn named(instance: &str) -> Self {
        Self::build(Some(instance))
    }

    fn build(instance: Option<&str>) -> Self {
        let mut registry = Registry::with_prefix("tickertape");
        let metrics = Self {
            registry: Registry::default(),
            streams: Gauge::default(),
            published: Counter::default(),
            delivered: Counter::default(),
            replays: Counter::default(),
            resyncs: Counter::default(),
            slow_snapshots: Counter::default(),
            conflated: Counter::default(),
            slow_disconnects: Counter::default(),
            ingest_accepted: Counter::default(),
            simulator_skipped: Counter::default(),
            broker_lag: Gauge::default(),
            broker_reconnects: Counter::default(),
            broker_unreplicated: Counter::default(),
            lease_holder: Gauge::default(),
            broker_primary: Family::default(),
            ingest_rejected: Family::default(),
            streams_refused: Family::default(),
            accept_errors: Family::default(),
            connections_closed: Family::default(),
            relay_rejected: Counter::default(),
        };
        let build = Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION")),
            (
                "profile",
                if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                },
            ),
        ]);
        registry.register("build", "The running tickertape build", build);
        if let Some(instance) = instance {
            let info = Info::new(vec![("instance", instance.to_owned())]);
            registry.register("instance", "This instance's name (--instance)", info);
        }
        registry.register("streams", "Streams open now", metrics.streams.clone());
        registry.register(
            "broker_lag",
            "Updates in the cluster's broker not yet relayed by this instance",
            metrics.broker_lag.clone(),
        );
        registry.register(
            "broker_reconnects",
            "Times this instance reconnected to the cluster's broker",
            metrics.broker_reconnects.clone(),
        );
        registry.register(
            "broker_primary",
            "1 for the cluster's Redis this instance connected to last (behind Sentinel, the primary they named), by address",
            metrics.broker_primary.clone(),
        );
        registry.register(
            "broker_unreplicated_batches",
            "Batches refused (503) because fewer than --broker-min-replicas replicas took them in time",
            metrics.broker_unreplicated.clone(),
        );
        registry.register(
            "lease_holder",
            "1 while this instance holds the cluster's simulator lease",
            metrics.lease_holder.clone(),
        );
        registry.register(
            "events_published",
            "Price updates published (simulated or ingested)",
            metrics.published.clone(),
        );
        registry.register(
            "events_delivered",
            "Price updates written to streams, live or replayed, one per stream",
            metrics.delivered.clone(),
        );
        registry.register(
            "replays",
            "Streams that resumed from an id and were replayed what they missed",
            metrics.replays.clone(),
        );
        registry.register(
            "resyncs",
            "Streams that asked to resume from an unusable id and got a snapshot",
            metrics.resyncs.clone(),
        );
        registry.register(
            "slow_snapshots",
            "Snapshots sent to connected streams that fell behind instead of what they missed",
            metrics.slow_snapshots.clone(),
        );
        registry.register(
            "conflated_events",
            "Updates that streams which fell behind skipped because a snapshot replaced them",
            metrics.conflated.clone(),
        );
        registry.register(
            "slow_client_disconnects",
            "Connections closed because their client stopped reading",
            metrics.slow_disconnects.clone(),
        );
        registry.register(
            "ingest_accepted",
            "Price updates accepted by POST /api/prices",
            metrics.ingest_accepted.clone(),
        );
        registry.register(
            "simulator_skipped",
            "Simulated price updates skipped because the simulator fell too far behind its rate",
            metrics.simulator_skipped.clone(),
        );
        registry.register(
            "ingest_rejected",
            "Requests to POST /api/prices refused, by reason",
            metrics.ingest_rejected.clone(),
        );
        registry.register(
            "streams_refused",
            "Streams refused with 503 because of a limit, by reason",
            metrics.streams_refused.clone(),
        );
        registry.register(
            "accept_errors",
            "Connections the server failed to accept, by reason",
            metrics.accept_errors.clone(),
        );
        registry.register(
            "connections_closed",
            "Connections that were not streams closed by the server, by reason",
            metrics.connections_closed.clone(),
        );
        registry.register(
            "relay_rejected",
            "Entries read from the cluster's broker that were not valid prices, dropped",
            metrics.relay_rejected.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The cluster's Redis this instance now uses is at `address` (the only
    /// one `tickertape_broker_primary` shows).
    pub fn set_broker_primary(&self, address: &str) {
        self.broker_primary.clear();
        self.broker_primary
            .get_or_create(&Primary {
                address: address.to_owned(),
            })
            .set(1);
    }

    /// A client that took nothing of its stream for the stall timeout, whatever
    /// carried it, is disconnected: logged and counted here.
    pub fn stalled_client(&self, peer: std::net::SocketAddr) {
        self.slow_disconnects.inc();
        tracing::warn!(%peer, "disconnecting a client that stopped reading");
    }

    /// Counts a refused `POST /api/prices`.
    pub fn rejected(&self, reason: RejectReason) {
        self.ingest_rejected
            .get_or_create(&Rejected { reason })
            .inc();
    }

    /// Counts a connection the server closed for `reason`.
    pub fn closed(&self, reason: CloseReason) {
        self.connections_closed
            .get_or_create(&Closed { reason })
            .inc();
    }

    /// Counts a stream refused by a limit.
    pub fn refused(&self, reason: RefuseReason) {
        self.streams_refused
            .get_or_create(&Refused { reason })
            .inc();
    }

    /// Counts a connection that could not be accepted.
    pub fn accept_failed(&self, reason: AcceptError) {
        self.accept_errors
            .get_or_create(&AcceptFailed { reason })
            .inc();
    }

    /// The OpenMetrics text of every counter.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(4096);
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The handler of `GET /metrics`.
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_counter_with_its_prefix() {
        let metrics = Metrics::new();
        metrics.published.inc();
        metrics.rejected(RejectReason::invalid_price);
        metrics.refused(RefuseReason::client_busy);
        let text = metrics.encode().unwrap();
        for line in [
            "tickertape_events_published_total 1",
            "tickertape_ingest_rejected_total{reason=\"invalid_price\"} 1",
            "tickertape_streams_refused_total{reason=\"client_busy\"} 1",
            "tickertape_streams 0",
            "tickertape_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
