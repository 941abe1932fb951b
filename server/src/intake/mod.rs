//! Prices in: simulated, posted, or relayed from the cluster, all handed to a
//! [`publisher::Publisher`].

pub mod broker;
pub mod feed;
pub mod ingest;
pub mod publisher;
