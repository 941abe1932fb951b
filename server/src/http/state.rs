//! What every handler can reach: [`AppState`], built once by
//! [`startup`](crate::http::startup) and handed to [`router::app`](crate::http::router::app).
//!
//! It sits below the handlers and the start-up code alike, so neither imports
//! the other for it.

use crate::{
    config::Origin, delivery::engine::StreamSettings, delivery::limits::StreamLimits, hub::Hub,
    intake::broker::Broker, intake::publisher::Publisher, metrics::Metrics, secret::Secret,
};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::{sync::Arc, time::Duration};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The fan-out of prices.
    pub hub: Arc<Hub>,
    /// Where prices are published: the hub, or a cluster's broker.
    pub publisher: Publisher,
    /// The cluster's broker, when this instance is in one.
    pub broker: Option<Arc<Broker>>,
    /// This instance's name.
    pub instance: Arc<str>,
    /// The counters operators read at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The stream limits, overall and per address, and the count of open streams.
    pub limits: Arc<StreamLimits>,
    /// How each stream is paced.
    pub streams: StreamSettings,
    /// Leptos's settings, for rendering pages and serving the built site.
    pub leptos: LeptosOptions,
    /// The token publishers send; publishing is disabled without one.
    pub publish_token: Option<Secret>,
    /// The token viewers need, if any.
    pub viewer_token: Option<Secret>,
    /// The largest publish body, in bytes.
    pub max_body: usize,
    /// How long a publish body may take to arrive.
    pub body_timeout: Duration,
    /// How far a published `ts` may be from now.
    pub max_ts_skew: Duration,
    /// Whether the client address comes from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// The origins allowed to read the feed from other sites (empty: any, without
    /// credentials).
    pub cors_origins: Arc<[Origin]>,
    /// Whether HTTPS answers carry `Strict-Transport-Security`.
    pub hsts: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}
