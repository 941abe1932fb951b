//! `ingest`: how many prices per second `POST /api/prices` takes, in batches.
//!
//! A process of its own, like `loadgen`: a few keep-alive connections on raw
//! TCP, each posting a batch, waiting for the answer and posting the next, for
//! a fixed time, spread over the given servers (a cluster's instances). It
//! prints one JSON line: prices accepted per second, request latency p50/p99,
//! refusals, and its own CPU.
//!
//! ```text
//! ingest --addr 127.0.0.1:3001,127.0.0.1:3002 --token T --batch 1000 --seconds 10
//! ```

use clap::Parser;
use hdrhistogram::Histogram;
use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[derive(Parser, Debug)]
#[command(about = "Posts batches of prices as fast as the server takes them")]
struct Args {
    /// The servers, comma-separated; connections go to each in turn.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:3000")]
    addr: Vec<SocketAddr>,
    /// The publish token.
    #[arg(long)]
    token: String,
    /// Prices per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Distinct symbols the prices cycle over.
    #[arg(long, default_value_t = 100)]
    symbols: usize,
    /// Connections posting at once.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// A label for the report.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Default)]
struct Totals {
    accepted: AtomicU64,
    refused: AtomicU64,
    first_refusal: Mutex<Option<String>>,
    latency_us: Mutex<Option<Histogram<u64>>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let totals = Arc::new(Totals {
        latency_us: Mutex::new(Some(Histogram::new(3).expect("3 significant digits"))),
        ..Totals::default()
    });
    let cpu_before = own_cpu_seconds();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let addr = args.addr[i % args.addr.len()];
        let body = batch(&args, i);
        let request = format!(
            "POST /api/prices HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            args.token,
            body.len()
        );
        tasks.push(tokio::spawn(poster(
            addr,
            request.into_bytes(),
            args.batch as u64,
            until,
            totals.clone(),
        )));
    }
    for task in tasks {
        if let Err(error) = task.await {
            eprintln!("ingest: a connection failed: {error}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = own_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let histogram = totals.latency_us.lock().unwrap().take().unwrap();
    let quantile = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let accepted = totals.accepted.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "label": args.label,
        "prices_per_s": accepted as f64 / elapsed,
        "accepted": accepted,
        "requests": histogram.len(),
        "refused": totals.refused.load(Ordering::Relaxed),
        "first_refusal": totals.first_refusal.lock().unwrap().clone(),
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "batch": args.batch,
        "connections": args.connections,
        "ingest_cpu": cpu.map(|cpu| cpu / elapsed),
    });
    println!("{report}");
}

/// One request body: `batch` prices over `symbols` symbols, near 100.
fn batch(args: &Args, seed: usize) -> String {
    let items: Vec<String> = (0..args.batch)
        .map(|i| {
            let price = 100.0 + ((i * 7 + seed * 13) % 200) as f64 / 100.0;
            format!(r#"{{"symbol":"S{:03}","price":{price}}}"#, i % args.symbols)
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// Posts `request` on one keep-alive connection until `until`.
async fn poster(
    addr: SocketAddr,
    request: Vec<u8>,
    prices: u64,
    until: Instant,
    totals: Arc<Totals>,
) {
    let mut tcp = match TcpStream::connect(addr).await {
        Ok(tcp) => tcp,
        Err(error) => {
            eprintln!("ingest: cannot connect to {addr}: {error}");
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < until {
        let sent = Instant::now();
        if tcp.write_all(&request).await.is_err() {
            return;
        }
        let Some((status, body)) = response(&mut tcp, &mut buffer).await else {
            eprintln!("ingest: {addr} closed the connection");
            return;
        };
        let micros = sent.elapsed().as_micros() as u64;
        if let Some(histogram) = totals.latency_us.lock().unwrap().as_mut() {
            let _ = histogram.record(micros.max(1));
        }
        if status == 200 {
            totals.accepted.fetch_add(prices, Ordering::Relaxed);
        } else {
            totals.refused.fetch_add(1, Ordering::Relaxed);
            totals
                .first_refusal
                .lock()
                .unwrap()
                .get_or_insert_with(|| format!("{status} {body}"));
        }
    }
}

/// Reads one response (status and body, by its `content-length`).
async fn response(tcp: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(u16, String)> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
    buffer.drain(..head_end + length);
    Some((status, body))
}

/// This process's CPU time (user + system), in seconds.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
