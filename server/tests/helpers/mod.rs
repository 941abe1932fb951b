//! Starting a real tickertape server on 127.0.0.1 port 0 and reading its stream.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use clap::Parser;
use futures::{Stream, StreamExt};
use server::{config::Config, hub::Hub, startup::Application};
use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A server running in this process, on a real socket.
pub struct TestApp {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
}

/// Starts a server with `args` as its command line (after the program name).
pub async fn spawn_app(args: &[&str]) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config::try_parse_from(
        ["tickertape", "--addr", "127.0.0.1:0"]
            .iter()
            .chain(args)
            .copied(),
    )
    .unwrap();
    config.validate().unwrap();
    let app = Application::new(listener, config).unwrap();
    let addr = app.local_addr().unwrap();
    let hub = app.hub();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        hub,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens `GET /events` and checks that it answers 200.
    pub async fn open_stream(&self) -> SseClient {
        let response = self.client.get(self.url("/events")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        SseClient::new(response)
    }

    /// Sends the shutdown signal and returns how long the server took to stop.
    pub async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, self.server)
            .await
            .expect("the server did not stop")
            .unwrap()
            .unwrap();
        started.elapsed()
    }

    /// Waits until the hub has exactly `n` subscribers.
    pub async fn wait_for_subscribers(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.hub.subscriber_count() != n {
            assert!(
                Instant::now() < deadline,
                "still {} subscribers, expected {n}",
                self.hub.subscriber_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An SSE response read frame by frame (a frame ends with a blank line).
pub struct SseClient {
    pub headers: reqwest::header::HeaderMap,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
}

impl SseClient {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next whole frame, blank line included, or `None` when the stream ends.
    pub async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let rest = self.buffer.split_off(end + 2);
                return Some(std::mem::replace(&mut self.buffer, rest));
            }
            match tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("no frame arrived in time")
            {
                Some(Ok(chunk)) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next `priceUpdate` frame, skipping `retry:` and keep-alive frames.
    pub async fn next_update(&mut self) -> Option<Update> {
        loop {
            let frame = self.next_frame().await?;
            if frame.starts_with("event: priceUpdate\n") {
                return Some(Update::parse(frame));
            }
        }
    }

    /// The next `n` price updates.
    pub async fn updates(&mut self, n: usize) -> Vec<Update> {
        let mut updates = Vec::with_capacity(n);
        for _ in 0..n {
            updates.push(self.next_update().await.expect("the stream ended"));
        }
        updates
    }
}

/// One `priceUpdate` frame, raw and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub raw: String,
    pub id: u64,
    pub data: serde_json::Value,
}

impl Update {
    fn parse(raw: String) -> Self {
        let mut lines = raw.lines();
        assert_eq!(lines.next(), Some("event: priceUpdate"), "{raw:?}");
        let id = lines
            .next()
            .and_then(|l| l.strip_prefix("id: "))
            .expect("an id line");
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .expect("a data line");
        Self {
            id: id.parse().expect("a numeric id"),
            data: serde_json::from_str(data).expect("JSON data"),
            raw,
        }
    }

    pub fn symbol(&self) -> &str {
        self.data["symbol"].as_str().unwrap()
    }

    pub fn price(&self) -> f64 {
        self.data["price"].as_f64().unwrap()
    }
}
