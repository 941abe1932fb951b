//! Streams to sockets: what each stream sends and when ([`engine`]), and
//! everything that carries it: the writers, the body hyper polls, each
//! connection and its guards.

pub mod backpressure;
pub mod body;
pub mod chunked;
pub mod engine;
pub mod guard;
pub mod idle;
pub mod limits;
pub mod listener;
mod raw_http;
pub mod serve;
pub mod tls;
pub mod writer;
