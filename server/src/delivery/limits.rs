//! How many streams may be open: overall and per client address.
//!
//! Each open stream holds a [`StreamPermit`]; dropping it (when the stream's
//! response is dropped) gives the place back. Past a limit, `GET /events` answers
//! 503 with `Retry-After`. The `tickertape_streams` gauge is the one count of
//! open streams: changed only here, under the lock that checks the limits.

use crate::metrics::{Metrics, RefuseReason};
use axum::http::HeaderMap;
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard},
};

/// The limits and the streams open now.
#[derive(Debug)]
pub struct StreamLimits {
    max: usize,
    per_ip: usize,
    open: Mutex<Open>,
    metrics: Arc<Metrics>,
}

/// Streams open now per client address (the total is the gauge).
#[derive(Debug, Default)]
struct Open {
    by_ip: HashMap<IpAddr, usize>,
}

impl StreamLimits {
    /// At most `max` streams, and `per_ip` from one address; counted in `metrics`.
    pub fn new(max: usize, per_ip: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            max,
            per_ip,
            open: Mutex::new(Open::default()),
            metrics,
        }
    }

    /// A place for one more stream from `ip`, or which limit is reached.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<StreamPermit, RefuseReason> {
        let mut open = self.lock();
        let from_ip = open.by_ip.get(&ip).copied().unwrap_or(0);
        let refused = if self.open() >= self.max {
            Some(RefuseReason::server_busy)
        } else if from_ip >= self.per_ip {
            Some(RefuseReason::client_busy)
        } else {
            None
        };
        if let Some(reason) = refused {
            drop(open);
            self.metrics.refused(reason);
            return Err(reason);
        }
        open.by_ip.insert(ip, from_ip + 1);
        self.metrics.streams.inc();
        drop(open);
        Ok(StreamPermit {
            limits: self.clone(),
            ip,
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        usize::try_from(self.metrics.streams.get()).unwrap_or(0)
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.lock();
        if let Some(count) = open.by_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.by_ip.remove(&ip);
            }
        }
        // Under the lock, so that `acquire` never sees a count being changed.
        self.metrics.streams.dec();
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Every change is complete before the lock is released.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One open stream's place; gives it back when dropped.
#[derive(Debug)]
pub struct StreamPermit {
    limits: Arc<StreamLimits>,
    ip: IpAddr,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.limits.release(self.ip);
    }
}

/// The client's address: the connection's peer or, when `trust_forwarded_for`,
/// the last address of `X-Forwarded-For` (the one the trusted proxy appended).
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = || {
        let last = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()?
            .to_str()
            .ok()?
            .rsplit(',')
            .next()?;
        last.trim().parse().ok()
    };
    trust_forwarded_for
        .then(forwarded)
        .flatten()
        .unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn places_are_counted_per_address_and_given_back() {
        let limits = Arc::new(StreamLimits::new(3, 2, Arc::new(Metrics::new())));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = limits.acquire(a).unwrap();
        let _second = limits.acquire(a).unwrap();
        assert_eq!(limits.acquire(a).unwrap_err(), RefuseReason::client_busy);
        let _third = limits.acquire(b).unwrap();
        assert_eq!(limits.acquire(b).unwrap_err(), RefuseReason::server_busy);
        drop(first);
        assert_eq!(limits.open(), 2);
        let _again = limits.acquire(a).unwrap();
        assert_eq!(limits.metrics.streams.get(), 3);
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 5.6.7.8"),
        );
        assert_eq!(client_ip(peer, &headers, false), peer.ip());
        assert_eq!(
            client_ip(peer, &headers, true),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(client_ip(peer, &headers, true), peer.ip());
    }
}
