//! `loadgen`: many Server-Sent Events viewers on raw TCP, in a process of its own,
//! for `make bench`.
//!
//! It opens every connection at the same instant (a connection storm), waits for
//! each to stream, then measures for a while: `priceUpdate` events received, and
//! for each the time from its intended publish time (its `ts` field) to its
//! arrival, in an HDR histogram. It reads the server's CPU time and memory from
//! `/proc` (`--pid`), and its own CPU time, so a saturated generator shows. One
//! JSON object on standard output; a summary on standard error.
//!
//! Deliberately lean: one thread (the server gets the other core), one small
//! buffer per connection, frames found with `memchr`, no HTTP client. It reads
//! HTTP/1.1 bodies whether chunked or not: chunk-size lines fall between whole
//! frames, so a frame is whatever ends with a blank line.
//!
//! Exit status 3 means a limit of this machine (file descriptors, local ports)
//! capped the run, not the server: the figures would be wrong, so none are given.

use clap::Parser;
use hdrhistogram::Histogram;
use memchr::memmem;
use serde::Serialize;
use std::{
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
};

/// Errors of this machine, not of the server: out of file descriptors, out of
/// local ports.
const CLIENT_LIMITS: [i32; 3] = [24, 23, 99];

/// Many SSE viewers against one server.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The stream's path and query.
    #[arg(long, default_value = "/events")]
    path: String,
    /// Viewers, all connecting at once.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Seconds of streaming before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// The server's process id, to read its CPU time and memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Local addresses 127.0.0.1, .2, … to spread connections over (each has
    /// its own range of ports).
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// How long every viewer may take to start streaming, in seconds.
    #[arg(long, default_value_t = 30.0)]
    connect_timeout: f64,
    /// Also count deliveries at the server, from tickertape's `/metrics`
    /// (`tickertape_events_delivered_total`) at the start and end of the window.
    #[arg(long)]
    server_metrics: bool,
    /// A name for this run, copied into the report.
    #[arg(long, default_value = "")]
    label: String,
}

/// What every viewer adds to.
#[derive(Debug)]
struct Shared {
    recording: AtomicBool,
    /// Whether the measured window is in its second half.
    second_half: AtomicBool,
    deliveries: AtomicU64,
    snapshots: AtomicU64,
    bytes: AtomicU64,
    streaming: AtomicUsize,
    latency: Mutex<[Histogram<u64>; 2]>,
    /// How long each viewer took from the start of the storm to its first event.
    time_to_stream: Mutex<Histogram<u64>>,
    refused: AtomicUsize,
    client_limited: AtomicUsize,
    ended: AtomicUsize,
}

/// The report, one JSON object.
#[derive(Debug, Serialize)]
struct Report {
    label: String,
    connections: usize,
    streaming: usize,
    refused: usize,
    ended_early: usize,
    storm_p99_ms: f64,
    storm_max_ms: f64,
    seconds: f64,
    deliveries: u64,
    deliveries_per_s: f64,
    /// Deliveries the server counted in the same window, when asked to.
    server_deliveries: Option<u64>,
    snapshots: u64,
    mbytes_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    p99_first_half_ms: f64,
    p99_second_half_ms: f64,
    server_cpu_s: Option<f64>,
    server_cpu_us_per_delivery: Option<f64>,
    server_rss_before_kb: Option<u64>,
    server_rss_streaming_kb: Option<u64>,
    server_rss_per_connection_kb: Option<f64>,
    loadgen_cpu_s: f64,
    loadgen_cpu_share: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < args.connections as u64 + 64 => {
            eprintln!(
                "loadgen: the open files limit is {limit}, below {} connections: raise the hard limit",
                args.connections
            );
            return ExitCode::from(3);
        }
        Ok(_) => {}
        Err(error) => eprintln!("loadgen: could not raise the open files limit: {error}"),
    }
    let histogram = || Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds");
    let shared = Arc::new(Shared {
        recording: AtomicBool::new(false),
        second_half: AtomicBool::new(false),
        deliveries: AtomicU64::new(0),
        snapshots: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        streaming: AtomicUsize::new(0),
        latency: Mutex::new([histogram(), histogram()]),
        time_to_stream: Mutex::new(histogram()),
        refused: AtomicUsize::new(0),
        client_limited: AtomicUsize::new(0),
        ended: AtomicUsize::new(0),
    });
    let request: Arc<[u8]> = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        args.path, args.addr
    )
    .into_bytes()
    .into();
    let rss_before = args.pid.and_then(rss_kb);

    // The storm: every viewer at once.
    let storm = Instant::now();
    for i in 0..args.connections {
        let source = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(args.sources.max(1))) as u8);
        let (shared, request, addr) = (shared.clone(), request.clone(), args.addr);
        tokio::spawn(async move {
            if let Err(error) = viewer(addr, source.into(), &request, &shared, storm).await {
                if error
                    .raw_os_error()
                    .is_some_and(|code| CLIENT_LIMITS.contains(&code))
                {
                    shared.client_limited.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let deadline = storm + Duration::from_secs_f64(args.connect_timeout);
    loop {
        let done = shared.streaming.load(Ordering::Relaxed)
            + shared.refused.load(Ordering::Relaxed)
            + shared.client_limited.load(Ordering::Relaxed);
        if done >= args.connections || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let client_limited = shared.client_limited.load(Ordering::Relaxed);
    if client_limited > 0 {
        eprintln!(
            "loadgen: {client_limited} connections failed for a limit of this machine \
             (file descriptors or local ports), not of the server: no figures"
        );
        return ExitCode::from(3);
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let rss_streaming = args.pid.and_then(rss_kb);
    let delivered_before = delivered_at_server(&args).await;
    let cpu_before = (
        args.pid.and_then(cpu_seconds),
        cpu_seconds(std::process::id()),
    );
    shared.recording.store(true, Ordering::Release);
    let measured = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds / 2.0)).await;
    shared.second_half.store(true, Ordering::Release);
    tokio::time::sleep(Duration::from_secs_f64(args.seconds / 2.0)).await;
    shared.recording.store(false, Ordering::Release);
    let elapsed = measured.elapsed().as_secs_f64();
    let cpu_after = (
        args.pid.and_then(cpu_seconds),
        cpu_seconds(std::process::id()),
    );

    let delivered_after = delivered_at_server(&args).await;

    let mut report = report(
        &args,
        &shared,
        elapsed,
        (cpu_before, cpu_after),
        (rss_before, rss_streaming),
    );
    report.server_deliveries = delivered_before
        .zip(delivered_after)
        .map(|(before, after)| after.saturating_sub(before));
    eprintln!(
        "{}: {}/{} streaming (storm p99 {:.0} ms), {:.0} deliveries/s, p50 {:.1} ms, p99 {:.1} ms, \
         p99.9 {:.1} ms, server {} µs/delivery, loadgen CPU {:.0} %",
        report.label,
        report.streaming,
        report.connections,
        report.storm_p99_ms,
        report.deliveries_per_s,
        report.p50_ms,
        report.p99_ms,
        report.p999_ms,
        report
            .server_cpu_us_per_delivery
            .map_or("?".into(), |us| format!("{us:.2}")),
        report.loadgen_cpu_share * 100.0,
    );
    println!(
        "{}",
        serde_json::to_string(&report).expect("a report is plain data")
    );
    ExitCode::SUCCESS
}

type CpuReadings = (Option<f64>, Option<f64>);

fn report(
    args: &Args,
    shared: &Shared,
    elapsed: f64,
    (cpu_before, cpu_after): (CpuReadings, CpuReadings),
    (rss_before, rss_streaming): (Option<u64>, Option<u64>),
) -> Report {
    let latency = shared.latency.lock().expect("no viewer panics");
    let mut all = latency[0].clone();
    all.add(&latency[1]).expect("same bounds");
    let ms = |us: u64| us as f64 / 1000.0;
    let storm = shared.time_to_stream.lock().expect("no viewer panics");
    let deliveries = shared.deliveries.load(Ordering::Relaxed);
    let streaming = shared.streaming.load(Ordering::Relaxed);
    let server_cpu = cpu_before.0.zip(cpu_after.0).map(|(a, b)| b - a);
    let loadgen_cpu = cpu_before.1.zip(cpu_after.1).map_or(0.0, |(a, b)| b - a);
    Report {
        label: args.label.clone(),
        connections: args.connections,
        streaming,
        refused: shared.refused.load(Ordering::Relaxed),
        ended_early: shared.ended.load(Ordering::Relaxed),
        storm_p99_ms: ms(storm.value_at_quantile(0.99)),
        storm_max_ms: ms(storm.max()),
        seconds: elapsed,
        deliveries,
        deliveries_per_s: deliveries as f64 / elapsed,
        server_deliveries: None,
        snapshots: shared.snapshots.load(Ordering::Relaxed),
        mbytes_per_s: shared.bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
        p50_ms: ms(all.value_at_quantile(0.5)),
        p99_ms: ms(all.value_at_quantile(0.99)),
        p999_ms: ms(all.value_at_quantile(0.999)),
        max_ms: ms(all.max()),
        p99_first_half_ms: ms(latency[0].value_at_quantile(0.99)),
        p99_second_half_ms: ms(latency[1].value_at_quantile(0.99)),
        server_cpu_s: server_cpu,
        server_cpu_us_per_delivery: server_cpu
            .filter(|_| deliveries > 0)
            .map(|cpu| cpu * 1e6 / deliveries as f64),
        server_rss_before_kb: rss_before,
        server_rss_streaming_kb: rss_streaming,
        server_rss_per_connection_kb: rss_before
            .zip(rss_streaming)
            .filter(|_| streaming > 0)
            .map(|(before, after)| (after as f64 - before as f64) / streaming as f64),
        loadgen_cpu_s: loadgen_cpu,
        loadgen_cpu_share: loadgen_cpu / elapsed,
    }
}

/// tickertape's count of deliveries, from its `/metrics`, when asked for.
async fn delivered_at_server(args: &Args) -> Option<u64> {
    if !args.server_metrics {
        return None;
    }
    let mut tcp = tokio::net::TcpStream::connect(args.addr).await.ok()?;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        args.addr
    );
    tcp.write_all(request.as_bytes()).await.ok()?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("tickertape_events_delivered_total "))?
        .trim()
        .parse()
        .ok()
}

/// One viewer: connect, ask for the stream, then read and time every event.
async fn viewer(
    addr: SocketAddr,
    source: IpAddr,
    request: &[u8],
    shared: &Shared,
    storm: Instant,
) -> io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut tcp = socket.connect(addr).await?;
    tcp.write_all(request).await?;

    let mut buffer = vec![0u8; 16 * 1024];
    let mut filled = 0;
    // The response head.
    let body_start = loop {
        let n = tcp.read(&mut buffer[filled..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(end) = memmem::find(&buffer[..filled], b"\r\n\r\n") {
            if !buffer.starts_with(b"HTTP/1.1 200") {
                return Err(io::Error::other("refused"));
            }
            break end + 4;
        }
        if filled == buffer.len() {
            return Err(io::Error::other("response head too long"));
        }
    };
    buffer.copy_within(body_start..filled, 0);
    filled -= body_start;

    let mut streaming = false;
    loop {
        // Every whole frame in the buffer.
        let mut start = 0;
        while let Some(end) = memmem::find(&buffer[start..filled], b"\n\n") {
            let frame = &buffer[start..start + end];
            if !streaming {
                streaming = true;
                shared.streaming.fetch_add(1, Ordering::Relaxed);
                let _ = shared
                    .time_to_stream
                    .lock()
                    .expect("no viewer panics")
                    .record(storm.elapsed().as_micros().max(1) as u64);
            }
            if shared.recording.load(Ordering::Relaxed) {
                note(frame, shared);
            }
            start += end + 2;
        }
        if start > 0 {
            buffer.copy_within(start..filled, 0);
            filled -= start;
        }
        if filled == buffer.len() {
            // A frame bigger than the buffer (a large snapshot): make room.
            buffer.resize(buffer.len() * 2, 0);
        }
        let n = tcp.read(&mut buffer[filled..]).await?;
        if n == 0 {
            shared.ended.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if shared.recording.load(Ordering::Relaxed) {
            shared.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        filled += n;
    }
}

/// Counts one frame and, for a price update, records its latency.
fn note(frame: &[u8], shared: &Shared) {
    if memmem::find(frame, b"event: priceUpdate").is_some() {
        shared.deliveries.fetch_add(1, Ordering::Relaxed);
        if let Some(ts) = ts_of(frame) {
            let latency_us = now_us().saturating_sub(ts * 1000).max(1);
            let half = usize::from(shared.second_half.load(Ordering::Relaxed));
            let _ = shared.latency.lock().expect("no viewer panics")[half].record(latency_us);
        }
    } else if memmem::find(frame, b"event: snapshot").is_some() {
        shared.snapshots.fetch_add(1, Ordering::Relaxed);
    }
}

/// The `ts` field of a price update's JSON: milliseconds since the epoch.
fn ts_of(frame: &[u8]) -> Option<u64> {
    let at = memmem::rfind(frame, b"\"ts\":")? + 5;
    let digits = frame[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut ts = 0u64;
    let mut any = false;
    for digit in digits {
        ts = ts * 10 + u64::from(digit - b'0');
        any = true;
    }
    any.then_some(ts)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// User and system CPU time of process `pid`, in seconds (`/proc/PID/stat`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields are counted after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports CPU time in USER_HZ, 100 on every mainstream architecture.
    Some(ticks as f64 / 100.0)
}

/// Resident memory of process `pid`, in KiB (`/proc/PID/status`).
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_is_read_from_the_json() {
        let frame = b"event: priceUpdate\nid: 1-2\ndata: {\"symbol\":\"A\",\"price\":1.5,\"ts\":1763900000050}";
        assert_eq!(ts_of(frame), Some(1_763_900_000_050));
        assert_eq!(ts_of(b"event: heartbeat\ndata: {}"), None);
    }

    #[test]
    fn cpu_and_memory_of_this_process_can_be_read() {
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(rss_kb(std::process::id()).unwrap() > 0);
    }
}
