//! Fan-out benchmark: many streams, a few clients that stop reading, then shutdown.
//!
//! Starts the real server in this process on 127.0.0.1:0, opens `STREAMS` streams
//! that read everything and `STALLED` that never read, runs for `SECONDS`, and
//! reports delivery latency (price timestamp to arrival), resident memory, what
//! happened to the stalled clients, and how long shutdown took.
//!
//! ```sh
//! cargo bench -p server --bench fanout                    # defaults
//! STREAMS=2000 STALLED=20 RATE=200 SECONDS=20 cargo bench -p server --bench fanout
//! ```
//!
//! Client and server share this process (and its RSS figure); stalled clients are
//! disconnected once their buffers (hyper's ~400 KB and the kernel's) are full and
//! a write has waited 2 s, so give them enough updates to fill those.
//!
//! ```text
//! ```

use clap::Parser;
use futures::StreamExt;
use server::{config::Config, http::startup::Application};
use std::{
    env,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::{io::AsyncWriteExt, net::TcpListener, sync::oneshot};

fn setting(name: &str, default: u64) -> u64 {
    env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Reads a stream, recording for each price update how late it arrived.
async fn read_stream(url: String, until: Instant) -> Vec<u64> {
    let client = reqwest::Client::new();
    let response = client.get(url).send().await.expect("stream");
    let mut body = response.bytes_stream();
    let mut latencies = Vec::new();
    let mut buffer = String::new();
    while Instant::now() < until {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(until.into(), body.next()).await else {
            break;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if !frame.starts_with("event: priceUpdate") {
                continue;
            }
            if let Some(at) = frame.find("\"ts\":") {
                let digits: String = frame[at + 5..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(ts) = digits.parse::<u64>() {
                    latencies.push(now_ms().saturating_sub(ts));
                }
            }
        }
    }
    latencies
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let streams = setting("STREAMS", 1000) as usize;
    let stalled = setting("STALLED", 10) as usize;
    let rate = setting("RATE", 200);
    let seconds = setting("SECONDS", 10);
    rlimit::increase_nofile_limit(4 * (streams + stalled) as u64 + 100).expect("file limit");

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config::try_parse_from([
        "tickertape",
        "--rate",
        &rate.to_string(),
        "--stall-timeout-ms",
        "2000",
        // Every stream comes from 127.0.0.1.
        "--max-streams",
        "10000000",
        "--max-streams-per-ip",
        "10000000",
    ])
    .unwrap();
    let app = Application::new(listener, config).unwrap();
    let addr = app.local_addr().unwrap();
    let (limits, metrics) = (app.limits(), app.metrics());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    let rss_before = rss_mib();

    let mut idle = Vec::new();
    for _ in 0..stalled {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut tcp = socket.connect(addr).await.unwrap();
        tcp.write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
            .await
            .unwrap();
        idle.push(tcp);
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    let url = format!("http://{addr}/events");
    let readers: Vec<_> = (0..streams)
        .map(|_| tokio::spawn(read_stream(url.clone(), until)))
        .collect();
    tokio::time::sleep_until((until - Duration::from_secs(1)).into()).await;
    let rss_during = rss_mib();
    let open = limits.open();

    let mut latencies = Vec::new();
    let mut starved = 0;
    for reader in readers {
        let seen = reader.await.unwrap();
        if seen.is_empty() {
            starved += 1;
        }
        latencies.extend(seen);
    }
    latencies.sort_unstable();

    let started = Instant::now();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let shutdown = started.elapsed();

    println!(
        "fanout: {streams} reading streams + {stalled} stalled, {rate} updates/s, {seconds} s"
    );
    println!("  updates delivered   {}", latencies.len());
    println!(
        "  latency ms          p50 {}  p99 {}  max {}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0)
    );
    println!("  readers starved     {starved}");
    println!("  streams open (t-1s) {open}");
    println!("  stalled disconnects {}", metrics.slow_disconnects.get());
    println!("  slow snapshots      {}", metrics.slow_snapshots.get());
    println!("  RSS MiB             {rss_before:.1} before, {rss_during:.1} during");
    println!("  shutdown            {shutdown:?}");
    drop(idle);
}
