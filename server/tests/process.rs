//! The real `tickertape` binary: its memory with a client that stops reading, and
//! SIGTERM with thousands of open streams.

mod helpers;

use helpers::{
    Metrics,
    binary::{Launch, Server},
    raw_stream,
};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{Mutex, MutexGuard},
};

const STREAMS: usize = 2000;

/// The tests here each load the machine (2000 streams, 50 000 updates a
/// second, a process out of descriptors) and time something: they run one at
/// a time, so that none is timed while another loads the machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// The value of the counter `name` (with its labels) at `/metrics`.
async fn counter(addr: SocketAddr, name: &str) -> u64 {
    let url = format!("http://{addr}/metrics");
    Metrics::scrape(&reqwest::Client::new(), &url)
        .await
        .value(name) as u64
}

/// Reads a stream to its end and says whether the shutdown notice came.
async fn told_and_ended(mut tcp: TcpStream, mut seen: Vec<u8>) -> bool {
    let mut chunk = [0; 4096];
    while let Ok(n) = tcp.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    seen.windows(24).any(|w| w == b"data: server restarting\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_thousands_of_streams_and_exits_within_two_seconds() {
    rlimit::increase_nofile_limit(4 * STREAMS as u64 + 100).unwrap();
    // Every stream comes from 127.0.0.1: lift the per-address limit.
    let _alone = alone().await;
    let server = Server::start(&["--rate", "50", "--max-streams-per-ip", "100000"]);
    let addr = server.addr;
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS / 100 {
        let batch = (0..100).map(|_| raw_stream(addr));
        streams.extend(futures::future::join_all(batch).await);
    }

    // Stopped with SIGTERM: status 0 and no panic, or the test fails.
    let stopped = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || server.stop()),
    )
    .await
    .expect("the server did not exit")
    .unwrap();
    // Promised: within the shutdown grace (2 s) whatever is open. The margin
    // (1 s) is for the exit itself on a loaded machine.
    assert!(
        stopped.took < Duration::from_secs(3),
        "exit took {:?} with {STREAMS} streams",
        stopped.took
    );
    let told = futures::future::join_all(
        streams
            .into_iter()
            .map(|(tcp, seen)| told_and_ended(tcp, seen)),
    )
    .await;
    let told = told.into_iter().filter(|told| *told).count();
    assert_eq!(
        told, STREAMS,
        "only {told} of {STREAMS} streams got the shutdown notice"
    );
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// Waits until the server has published `count` updates.
async fn wait_for_published(client: &reqwest::Client, addr: SocketAddr, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats: serde_json::Value = client
            .get(format!("http://{addr}/api/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = stats["lastEventId"].as_str().unwrap();
        let seq: u64 = id.split_once('-').unwrap().1.parse().unwrap();
        if seq >= count {
            return;
        }
        assert!(Instant::now() < deadline, "only {seq} updates published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_grow_the_servers_memory() {
    let _alone = alone().await;
    // The stalled client is never disconnected here: memory must stay bounded anyway.
    let server = Server::start(&["--rate", "50000", "--stall-timeout-ms", "3600000"]);
    let addr = server.addr;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    // Readers that keep up, reading and discarding.
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (mut tcp, _) = raw_stream(addr).await;
        readers.push(tokio::spawn(async move {
            let mut chunk = vec![0; 64 * 1024];
            while matches!(tcp.read(&mut chunk).await, Ok(n) if n > 0) {}
        }));
    }
    let client = reqwest::Client::new();

    // Past the history's fill (10 000) and the stalled client's buffers.
    wait_for_published(&client, addr, 100_000).await;
    let before = rss(server.pid());
    wait_for_published(&client, addr, 400_000).await;
    let after = rss(server.pid());

    // An unbounded queue for the stalled client would hold 300 000 more frames
    // (about 45 MB) by now.
    let grown = after.saturating_sub(before);
    eprintln!(
        "RSS {} KiB after 100 000 updates, {} KiB after 400 000",
        before >> 10,
        after >> 10
    );
    assert!(
        grown < 15 << 20,
        "RSS grew by {} KiB (from {} to {} KiB)",
        grown >> 10,
        before >> 10,
        after >> 10
    );
    drop(stalled);
    for reader in readers {
        reader.abort();
    }
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_logged_counted_and_survived() {
    let _alone = alone().await;
    // Room for the runtime and a few connections only.
    let server = Launch::new(&["--max-streams-per-ip", "1000"])
        .open_files(40)
        .start();
    let addr = server.addr;
    let mut clients = Vec::new();
    for _ in 0..60 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
            .await
            .unwrap();
        clients.push(tcp);
    }
    // Said in the log, not a silent pause.
    let said = tokio::task::block_in_place(|| {
        server.wait_for_line(Duration::from_secs(10), |line| {
            line.contains("out of file descriptors")
        })
    });
    assert!(
        said.is_some(),
        "running out of file descriptors was not logged"
    );

    // Once connections close, the server accepts again, and it counted the failures.
    drop(clients);
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(10), raw_stream(addr))
        .await
        .expect("no stream after file descriptors were freed");
    drop(tcp);
    let failures = counter(
        addr,
        "tickertape_accept_errors_total{reason=\"out_of_file_descriptors\"}",
    )
    .await;
    assert!(failures >= 1, "{failures} accept errors counted");
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_alone_never_keep_out_a_health_check_or_a_stream() {
    let _alone = alone().await;
    // 64 descriptors: a quarter of them (16) may be idle connections.
    let server = Launch::new(&["--max-idle-connections", "4096"])
        .open_files(64)
        .start();
    let addr = server.addr;
    let mut idle = Vec::new();
    for _ in 0..100 {
        let Ok(mut tcp) = TcpStream::connect(addr).await else {
            continue;
        };
        // Kept alive after one answer, then silent.
        if tcp
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: tickertape\r\n\r\n")
            .await
            .is_ok()
        {
            let mut answer = [0; 512];
            let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer)).await;
        }
        idle.push(tcp);
    }
    // Answered within a second, with a hundred idle connections held open.
    let started = Instant::now();
    let health = tokio::time::timeout(
        Duration::from_secs(1),
        reqwest::get(format!("http://{addr}/healthz")),
    )
    .await
    .expect("no health check answer within a second")
    .unwrap();
    assert_eq!(health.status(), 200);
    let (stream, _) = tokio::time::timeout(Duration::from_secs(1), raw_stream(addr))
        .await
        .expect("no stream within a second");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(stream);
    let evicted = counter(
        addr,
        "tickertape_connections_closed_total{reason=\"evicted\"}",
    )
    .await;
    // At least one round of closing for room (more or less, as the
    // connections came while descriptors were free or not).
    assert!(evicted >= 32, "{evicted} evicted");
    drop(idle);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_within_the_grace_though_a_client_never_takes_the_notice() {
    let _alone = alone().await;
    let server = Server::start(&["--rate", "5000", "--shutdown-grace-ms", "1000"]);
    let addr = server.addr;
    // A stream that is its connection's second request (so hyper serves it,
    // and shutdown waits for it), from a client that stops reading, its
    // receive buffer tiny: the notice can never go through.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut deaf = socket.connect(addr).await.unwrap();
    deaf.write_all(b"GET /healthz HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0; 1024];
    let n = deaf.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    deaf.write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    // A second of 5000 updates a second fills every buffer in between.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stopped = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || server.stop_with("INT")),
    )
    .await
    .expect("the server did not exit: nothing ended its wait for the deaf client")
    .unwrap();
    // It waited for the client, and no longer than the grace (1 s); the
    // margin (2 s) is for the exit itself on a loaded machine.
    assert!(
        stopped.took >= Duration::from_millis(900) && stopped.took < Duration::from_secs(3),
        "Ctrl-C took {:?} with a 1 s grace",
        stopped.took
    );
    drop(deaf);
}
