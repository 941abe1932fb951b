//! The HTTP surface: the handlers, what they share, their errors, the router
//! and the server's life cycle.

pub mod access;
pub mod candles;
pub mod error;
pub mod events;
pub mod health;
pub mod params;
pub mod prices;
pub mod router;
pub mod snapshot;
pub mod startup;
pub mod state;
pub mod stats;
