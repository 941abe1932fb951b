//! The real `tickertape` binary: SIGTERM with thousands of open streams.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const STREAMS: usize = 2000;

/// Starts the binary on a free port and returns it with its address.
fn start() -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickertape"))
        .args(["--addr", "127.0.0.1:0", "--rate", "50"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn,server::startup=info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(at) = line.find("listening on http://") {
            break line[at + "listening on http://".len()..]
                .trim()
                .parse()
                .unwrap();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// Opens a stream on a raw connection and reads until its first heartbeat.
async fn open(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.windows(16).any(|w| w == b"event: heartbeat") {
        let mut chunk = [0; 4096];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the stream closed before its first heartbeat");
        seen.extend_from_slice(&chunk[..n]);
    }
    (tcp, seen)
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
    let (mut child, addr) = start();
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS / 100 {
        let batch = (0..100).map(|_| open(addr));
        streams.extend(futures::future::join_all(batch).await);
    }

    let started = Instant::now();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let ended = tokio::task::spawn_blocking(move || child.wait().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(10), ended)
        .await
        .expect("the server did not exit")
        .unwrap();
    let took = started.elapsed();

    assert!(status.success(), "exit status {status}");
    assert!(
        took < Duration::from_secs(2),
        "exit took {took:?} with {STREAMS} streams"
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
