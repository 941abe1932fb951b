//! Interoperability: the real server read by SSE clients no one here wrote,
//! each resuming with `Last-Event-ID` exactly: Node's fetch (undici) and the
//! npm `eventsource` package, Python's aiohttp and httpx with httpx-sse, and
//! curl; over a first request (the server's own writers), a kept-alive
//! connection (hyper), HTTPS with HTTP/1.1, and HTTP/2. (Chromium is in
//! `end2end/tests/interop.spec.ts`.)
//!
//! The clients are in `end2end/interop/`; `make test` installs them (npm
//! packages in `end2end/node_modules`, a Python venv in `end2end/interop/.venv`,
//! Debian's curl), pinned.

mod helpers;

use app::model::{EventId, Price};
use helpers::{TestApp, spawn_app};
use serde_json::Value;
use std::{path::PathBuf, process::Stdio, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// HTTP/1.1, the stream the first request on its connection.
    First,
    /// HTTP/1.1, the stream on a connection kept alive after `/healthz`.
    Reused,
    /// HTTPS with HTTP/1.1.
    Https,
    /// HTTPS with HTTP/2.
    H2,
}

impl Transport {
    fn mode(self) -> &'static str {
        match self {
            Self::First | Self::Https => "first",
            Self::Reused => "reused",
            Self::H2 => "h2",
        }
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/interop")
}

/// A client, as the command that runs it (before its four arguments).
#[derive(Debug, Clone, Copy)]
enum Client {
    NodeFetch,
    EventSource,
    Aiohttp,
    Httpx,
    Curl,
}

impl Client {
    fn command(self) -> Command {
        let dir = interop_dir();
        let python = dir.join(".venv/bin/python");
        let (program, script) = match self {
            Self::NodeFetch => ("node".into(), Some("node_fetch.mjs")),
            Self::EventSource => ("node".into(), Some("eventsource.mjs")),
            Self::Aiohttp => (python, Some("aiohttp_client.py")),
            Self::Httpx => (python, Some("httpx_client.py")),
            Self::Curl => (PathBuf::from("curl"), None),
        };
        assert!(
            program.components().count() == 1 || program.exists(),
            "{} is missing: run `make setup-test`",
            program.display()
        );
        let mut command = Command::new(program);
        command.current_dir(&dir);
        if let Some(script) = script {
            command.arg(script);
        }
        command
    }

    fn transports(self) -> &'static [Transport] {
        use Transport::*;
        match self {
            // aiohttp speaks HTTP/1.1 only.
            Self::Aiohttp => &[First, Reused, Https],
            _ => &[First, Reused, Https, H2],
        }
    }
}

/// What a client read: each event's type, id and data, and the protocol when
/// the client says.
#[derive(Debug, Default)]
struct Read {
    protocol: Option<String>,
    events: Vec<(String, Option<String>, String)>,
}

/// Runs `client` over `transport` against `base`, resuming from `last` when
/// given, until the first heartbeat (`updates` = 0) or that many updates.
async fn run(
    client: Client,
    transport: Transport,
    base: &str,
    ca: &std::path::Path,
    last: Option<EventId>,
    updates: usize,
) -> Read {
    let last = last.map(|id| id.to_string()).unwrap_or_default();
    let mut command = client.command();
    match client {
        Client::Curl => {
            let mut args = vec!["--silent", "--no-buffer", "--include", "--max-time", "30"];
            args.push(match transport {
                Transport::H2 => "--http2",
                _ => "--http1.1",
            });
            command.args(args).arg("--cacert").arg(ca);
            if !last.is_empty() {
                command.arg("-H").arg(format!("Last-Event-ID: {last}"));
            }
            if transport == Transport::Reused {
                command.arg(format!("{base}/healthz"));
            }
            command.arg(format!("{base}/events"));
        }
        _ => {
            command.args([base, transport.mode(), &last, &updates.to_string()]);
        }
    }
    command
        .env("CA_FILE", ca)
        .env("NODE_EXTRA_CA_CERTS", ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the client starts");
    let stdout = child.stdout.take().unwrap();
    let what = format!("{client:?} over {transport:?}");
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        match client {
            Client::Curl => read_raw(stdout, updates).await,
            _ => read_lines(stdout).await,
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no end within 30 s"));
    if !matches!(client, Client::Curl) {
        let output = child.wait_with_output().await.unwrap();
        assert!(
            output.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    read
}

/// The JSON lines the Node and Python clients print.
async fn read_lines(stdout: tokio::process::ChildStdout) -> Read {
    let mut read = Read::default();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        let value: Value = serde_json::from_str(&line).unwrap();
        if let Some(protocol) = value["protocol"].as_str() {
            read.protocol = Some(protocol.to_owned());
            continue;
        }
        read.events.push((
            value["event"].as_str().unwrap().to_owned(),
            value["id"].as_str().map(str::to_owned),
            value["data"].as_str().unwrap().to_owned(),
        ));
    }
    read
}

/// What curl prints (`--include`: heads, then bodies), read as SSE until the
/// first heartbeat or `updates` updates.
async fn read_raw(stdout: tokio::process::ChildStdout, updates: usize) -> Read {
    let mut read = Read::default();
    let mut lines = BufReader::new(stdout).lines();
    let mut event = (String::from("message"), None, Vec::<String>::new());
    let mut in_head = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        let line = line.trim_end_matches('\r').to_owned();
        if line.starts_with("HTTP/") {
            read.protocol = line.split(' ').next().map(str::to_owned);
            in_head = true;
            continue;
        }
        if in_head {
            in_head = !line.is_empty();
            continue;
        }
        if line.is_empty() {
            let (kind, id, data) =
                std::mem::replace(&mut event, ("message".into(), None, Vec::new()));
            if data.is_empty() {
                continue;
            }
            read.events.push((kind, id, data.join("\n")));
            let done = read.events.last().unwrap().0.as_str();
            let count = read.events.iter().filter(|e| e.0 == "priceUpdate").count();
            if (updates == 0 && done == "heartbeat") || (updates > 0 && count >= updates) {
                return read;
            }
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "event" => event.0 = value,
            "id" => event.1 = Some(value),
            "data" => event.2.push(value),
            _ => {}
        }
    }
    read
}

/// Every client over every transport it speaks: a fresh stream (snapshot,
/// then heartbeat), then, after three prices were published, a resume from
/// the heartbeat's id that gets exactly those three, in order.
async fn every_client_over(
    transports: &[Transport],
    app: &TestApp,
    base: &str,
    ca: &std::path::Path,
) {
    for client in [
        Client::NodeFetch,
        Client::EventSource,
        Client::Aiohttp,
        Client::Httpx,
        Client::Curl,
    ] {
        for &transport in client
            .transports()
            .iter()
            .filter(|t| transports.contains(t))
        {
            let what = format!("{client:?} over {transport:?}");
            let fresh = run(client, transport, base, ca, None, 0).await;
            let kinds: Vec<&str> = fresh.events.iter().map(|e| e.0.as_str()).collect();
            assert_eq!(kinds, ["snapshot", "heartbeat"], "{what}: {fresh:?}");
            let last: EventId = fresh.events[1].1.as_deref().unwrap().parse().unwrap();
            assert_eq!(last, app.hub.head(), "{what}");

            let mut published = Vec::new();
            for (i, symbol) in ["AAPL", "MSFT", "AAPL"].into_iter().enumerate() {
                let price = Price::new(100.0 + published.len() as f64 + i as f64 / 4.0).unwrap();
                let id = app.hub.publish(symbol.parse().unwrap(), price, 1).unwrap();
                published.push((id, symbol, price.get()));
            }
            let resumed = run(client, transport, base, ca, Some(last), 3).await;
            let updates: Vec<_> = resumed
                .events
                .iter()
                .filter(|(kind, ..)| kind != "heartbeat")
                .map(|(kind, id, data)| {
                    assert_eq!(kind, "priceUpdate", "{what}: {resumed:?}");
                    let quote: Value = serde_json::from_str(data).unwrap();
                    let id: EventId = id.as_deref().unwrap().parse().unwrap();
                    (
                        id,
                        quote["symbol"].as_str().unwrap().to_owned(),
                        quote["price"].as_f64().unwrap(),
                    )
                })
                .collect();
            let expected: Vec<_> = published
                .iter()
                .map(|(id, symbol, price)| (*id, symbol.to_string(), *price))
                .collect();
            assert_eq!(updates, expected, "{what}: not resumed exactly");
            if transport == Transport::H2
                && let Some(protocol) = &resumed.protocol
            {
                assert!(protocol.contains('2'), "{what} spoke {protocol}");
            } else if let Some(protocol) = &resumed.protocol {
                assert!(protocol.contains("1.1"), "{what} spoke {protocol}");
            }
        }
    }
}

#[tokio::test]
async fn clients_no_one_here_wrote_read_and_resume_over_http() {
    let app = spawn_app(&["--no-simulator", "--symbols", "AAPL,MSFT"]).await;
    let base = format!("http://{}", app.addr);
    let (ca, ..) = helpers::certificate();
    every_client_over(&[Transport::First, Transport::Reused], &app, &base, &ca).await;
}

#[tokio::test]
async fn clients_no_one_here_wrote_read_and_resume_over_https_and_http2() {
    let (cert, key, _) = helpers::certificate();
    let (cert_path, key_path) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let app = spawn_app(&[
        "--no-simulator",
        "--symbols",
        "AAPL,MSFT",
        "--tls-cert",
        cert_path,
        "--tls-key",
        key_path,
    ])
    .await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    every_client_over(&[Transport::Https, Transport::H2], &app, &base, &cert).await;
}
