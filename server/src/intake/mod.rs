//! Prices in: simulated, posted, or relayed from the cluster, all handed to a
//! [`publisher::Publisher`].

pub mod broker;
pub mod ingest;
pub mod publisher;
pub mod simulator;
