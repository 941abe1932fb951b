//! tickertape's server: a live price stream over Server-Sent Events, a JSON API and
//! the server-rendered dashboard.
//!
//! # Layout
//! Data flows one way, top to bottom:
//! - [`feed`]: the built-in price simulator, a seeded random walk per symbol; it
//!   publishes the updates that fall due together as one batch.
//! - [`ingest`]: `POST /api/prices`, real prices in: checked, all-or-nothing.
//! - [`broker`]: with `--broker`, a cluster of instances sharing one feed on
//!   Redis Streams: publishing appends there, and a relay fills each hub.
//! - [`publisher`]: where prices go in: the hub, or the cluster's broker.
//! - [`hub`]: the fan-out. It keeps the latest quote per symbol, numbers every update
//!   with an [`EventId`](app::model::EventId) (server run and position), encodes it
//!   once into a bounded history that every subscriber reads at its own pace, and
//!   announces new updates at most once per coalescing window.
//! - [`wire`]: how each kind of event looks on the wire, as shared bytes.
//! - [`sse`]: `GET /events`, one subscriber's stream: catch up (snapshot or
//!   replay), then live updates (everything new in one write), heartbeats and
//!   notices; a stream that falls behind skips to a snapshot (the hub decides).
//! - [`listener`]: binding (deep backlog, open-files limit), accepting (errors
//!   logged and counted), and each connection's guards: a small kernel send
//!   buffer, backpressure the streams can see, a timeout for stalled writes.
//! - [`idle`]: the connections that are not streams: idle and header-read
//!   timeouts, and the cap on how many may wait.
//! - [`params`]: the query parameters (`symbols`, `lastEventId`) and their errors.
//! - [`limits`]: how many streams may be open, overall and per client address.
//! - [`api`]: `GET /api/snapshot` and `GET /api/stats`.
//! - [`access`]: the optional viewer token (link, cookie, bearer) and the pages'
//!   security headers.
//! - [`metrics`]: counters for `GET /metrics` and `/api/stats`.
//! - [`health`]: `GET /healthz`.
//! - [`error`]: the JSON body of every error answer.
//! - [`serve`]: each accepted connection: a stream on a connection of its own
//!   (its head parsed by `httparse`) goes to the writers, anything else goes
//!   through hyper.
//! - [`writer`]: the stream writers, each sweeping the sockets of many streams
//!   when updates are announced, one shared chunk and one `send` per socket.
//! - [`chunked`]: HTTP/1.1 chunked framing, for the writers' streams.
//! - [`tls`]: HTTPS with HTTP/2 (`--tls-cert`/`--tls-key`, `--tls-self-signed`).
//! - [`state`]: [`AppState`](state::AppState), what every handler can reach.
//! - [`startup`]: [`app`](startup::app) (the router, buildable without a socket),
//!   the server's life cycle and graceful shutdown.
//! - [`clock`]: the wall clock in milliseconds, for every timestamp.
//! - [`config`]: command-line flags and `TICKERTAPE_*` environment variables.
//! - [`secret`]: the tokens, compared in constant time and never shown.
//! - [`telemetry`]: logging through `tracing`, as text or JSON.
//! - [`publish`]: `tickertape publish`, replaying a CSV into a server.
//!
//! The delivery path of one price, end to end: [`feed::run`] or
//! [`ingest::publish`] → [`hub::Hub::publish_batch`] (encoded once by
//! [`wire::price_update`], announced by [`hub::Hub::announce`]) → each
//! writer's sweep in [`writer`] (reads after each stream's cursor, one chunk per
//! write, shared by the streams at the same place) → the socket; or, for a
//! stream on a reused connection, its `poll_next` in [`sse`] → hyper →
//! [`listener::GuardedStream`] → the socket.
//!
//! No module names one above it: `tests/layout.rs` (run by `make lint`) fails
//! on any import circle.
//!
//! `main.rs` only parses the configuration, binds the listener and calls
//! [`startup::Application::run`], so tests start the same server on `127.0.0.1:0`.

// The dashboard's view types nest deeply.
#![recursion_limit = "256"]

pub mod access;
pub mod api;
pub mod broker;
pub mod chunked;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod feed;
pub mod health;
pub mod hub;
pub mod idle;
pub mod ingest;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod params;
pub mod publish;
pub mod publisher;
pub mod secret;
pub mod serve;
pub mod sse;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod wire;
pub mod writer;
