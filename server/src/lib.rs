//! tickertape's server: a live price stream over Server-Sent Events, a JSON API and
//! the server-rendered dashboard.
//!
//! # Layout
//! Folders along a price's path, and data flows one way, top to bottom
//! (`tests/layout.rs`, run by `make lint`, fails on any import circle):
//! - [`intake`]: prices in: the simulator ([`intake::simulator`]), `POST
//!   /api/prices` bodies ([`intake::ingest`]), and with `--broker` a cluster
//!   on Redis Streams ([`intake::broker`]); [`intake::publisher`] says where
//!   they go.
//! - [`hub`]: the fan-out: the latest quote per symbol, ids, the bounded
//!   history of frames encoded once ([`hub::wire`]), announcements.
//! - [`delivery`]: streams to sockets: each stream's [`delivery::engine`], the
//!   writers that sweep many streams' sockets ([`delivery::writer`]), the body
//!   hyper polls ([`delivery::body`]), each connection ([`delivery::serve`],
//!   [`delivery::listener`], [`delivery::idle`], [`delivery::tls`]) and the
//!   stream limits ([`delivery::limits`]).
//! - [`http`]: the HTTP surface: `/events` ([`http::events`]), `/api/*`,
//!   `/healthz`, the viewer token and headers, errors, the router and the
//!   server's life cycle ([`http::startup`]).
//! - Beside them: [`config`], [`secret`], [`metrics`], [`clock`],
//!   [`telemetry`], [`text`]; and [`publish`], the `tickertape publish` command.
//!
//! The delivery path of one price, end to end: [`intake::simulator::run`] or
//! [`http::prices::publish`] → [`hub::Hub::publish_batch`] (encoded once by
//! [`hub::wire::price_update`]) → each stream's [`delivery::engine::Engine`],
//! driven by a writer's sweep (one chunk per write, shared by the streams at
//! the same place) or by hyper polling its body → the socket.
//!
//! `main.rs` only parses the configuration, binds the listener and calls
//! [`http::startup::Application::run`], so tests start the same server on
//! `127.0.0.1:0`. See ARCHITECTURE.md for the map.

// The dashboard's view types nest deeply.
#![recursion_limit = "256"]

pub mod clock;
pub mod config;
pub mod delivery;
pub mod http;
pub mod hub;
pub mod intake;
pub mod metrics;
pub mod publish;
pub mod secret;
pub mod telemetry;
pub mod text;
