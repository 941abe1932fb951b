//! Starting a real tickertape server on 127.0.0.1 port 0 and reading its stream.

#![allow(dead_code, unreachable_pub)]

pub mod binary;
pub mod redis;

use app::model::EventId;
use bytes::Bytes;
use clap::Parser;
use futures::{Stream, StreamExt};
use server::{
    config::Config, delivery::limits::StreamLimits, http::startup::Application, hub::Hub,
};
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

/// The publish token the tests start their servers with (`--publish-token`).
pub const PUBLISH_TOKEN: &str = "publish-token-0123456789";

/// `POST /api/prices` of `body` to the server at `base` (`http://HOST:PORT`),
/// with `Authorization: Bearer token` when there is a token.
pub async fn post_prices(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = client.post(format!("{base}/api/prices")).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Publishes the JSON `body` to the server at `base` with [`PUBLISH_TOKEN`],
/// expects it taken (200) and returns the last id it was given.
pub async fn publish_body_to(
    client: &reqwest::Client,
    base: &str,
    body: impl Into<reqwest::Body>,
) -> EventId {
    let response = post_prices(client, base, Some(PUBLISH_TOKEN), body).await;
    assert_eq!(response.status(), 200);
    let accepted: serde_json::Value = response.json().await.unwrap();
    accepted["lastEventId"].as_str().unwrap().parse().unwrap()
}

/// Reads `io` until `end` appears in what came, and returns all of it; fails
/// the test if the connection closes first or nothing comes for [`PATIENCE`].
pub async fn read_until(io: &mut (impl tokio::io::AsyncRead + Unpin), end: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while !seen.windows(end.len()).any(|w| w == end) {
            let mut chunk = [0; 4096];
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {end:?} in {}", String::from_utf8_lossy(&seen)));
    seen
}

/// Opens `GET /events` on a raw connection (no HTTP client in between) and
/// reads until its first heartbeat; returns the connection and what came.
pub async fn raw_stream(addr: SocketAddr) -> (tokio::net::TcpStream, Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: tickertape\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until(&mut tcp, b"event: heartbeat").await;
    (tcp, seen)
}

/// A free address on 127.0.0.1, for a process this test starts.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A server running in this process, on a real socket. A panic in the
/// server's own code while it runs (a handler, a connection task: tokio would
/// catch it and carry on) fails the test when the `TestApp` is dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    pub limits: Arc<StreamLimits>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

/// Panics raised in the project's own code (`server/src`, `app/src`), with
/// the thread they were raised on: the test's own (a current-thread runtime
/// runs the server's tasks there) or a runtime's worker.
static SERVER_PANICS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Records every panic of the project's own code, then lets the default hook
/// print it as usual.
fn watch_for_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = info.location().is_some_and(|at| {
                let file = at.file();
                file.starts_with("server/src/") || file.starts_with("app/src/")
            });
            if ours {
                let thread = std::thread::current().name().unwrap_or_default().to_owned();
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((thread, info.to_string()));
            }
            default(info);
        }));
    });
}

/// The recorded panics that may be this test's server's: raised on this
/// thread or on a runtime worker (taken, so that they fail one test).
fn server_panics() -> Vec<String> {
    let here = std::thread::current().name().unwrap_or_default().to_owned();
    let mut panics = SERVER_PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mine, others) = std::mem::take(&mut *panics)
        .into_iter()
        .partition(|(thread, _)| *thread == here || thread.starts_with("tokio-runtime-worker"));
    *panics = others;
    mine.into_iter().map(|(_, panic)| panic).collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let panics = server_panics();
        assert!(panics.is_empty(), "the server panicked: {panics:#?}");
    }
}

/// Starts a server with `args` as its command line (after the program name).
pub async fn spawn_app(args: &[&str]) -> TestApp {
    watch_for_server_panics();
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
    let limits = app.limits();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        hub,
        limits,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens `GET /events` and checks that it answers 200.
    pub async fn open_stream(&self) -> SseClient {
        self.open_stream_at("/events", None).await
    }

    /// Opens `path` (`/events?...`), with a `Last-Event-ID` header when given, and
    /// checks that it answers 200.
    pub async fn open_stream_at(&self, path: &str, last_event_id: Option<&str>) -> SseClient {
        let mut request = self.client.get(self.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        SseClient::new(response)
    }

    /// `GET path`, whatever its status, with its body as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// `POST /api/prices` with `body` (raw bytes) and, when given, the bearer `token`.
    pub async fn post_prices(
        &self,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        post_prices(&self.client, &self.url(""), token, body).await
    }

    /// Publishes `prices` (symbol, price) in one batch with [`PUBLISH_TOKEN`],
    /// expects them taken (200) and returns the last id they were given.
    pub async fn publish(&self, prices: &[(&str, f64)]) -> EventId {
        let batch: Vec<_> = prices
            .iter()
            .map(|(symbol, price)| serde_json::json!({ "symbol": symbol, "price": price }))
            .collect();
        self.publish_body(serde_json::to_vec(&batch).unwrap()).await
    }

    /// Publishes the JSON `body` as it is, as [`TestApp::publish`] does.
    pub async fn publish_body(&self, body: impl Into<reqwest::Body>) -> EventId {
        publish_body_to(&self.client, &self.url(""), body).await
    }

    /// The body of `GET path` as text.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET /metrics`, read by sample.
    pub async fn metrics(&self) -> Metrics {
        Metrics::scrape(&self.client, &self.url("/metrics")).await
    }

    /// `GET /api/stats` as JSON.
    pub async fn stats(&self) -> serde_json::Value {
        self.get_json("/api/stats").await
    }

    /// Sends the shutdown signal and returns how long the server took to stop.
    pub async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, self.server.take().unwrap())
            .await
            .expect("the server did not stop")
            .unwrap()
            .unwrap();
        started.elapsed()
    }

    /// Waits until the hub has published `count` updates after `after`.
    pub async fn wait_for_updates_after(&self, after: EventId, count: u64) {
        let mut head = self.hub.watch_head();
        while head.borrow_and_update().seq < after.seq + count {
            head.changed().await.unwrap();
        }
    }

    /// Waits until exactly `n` streams are open.
    pub async fn wait_for_subscribers(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.limits.open() != n {
            assert!(
                Instant::now() < deadline,
                "still {} streams open, expected {n}",
                self.limits.open()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A `/metrics` scrape (OpenMetrics text), read by sample.
pub struct Metrics(pub String);

impl Metrics {
    /// `GET url`.
    pub async fn scrape(client: &reqwest::Client, url: &str) -> Self {
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {url}");
        Self(response.text().await.unwrap())
    }

    /// The value of `sample`, named as the text writes it, labels included
    /// (`tickertape_streams`, `tickertape_ingest_rejected_total{reason="too_large"}`),
    /// if the scrape has it.
    pub fn get(&self, sample: &str) -> Option<f64> {
        self.0.lines().find_map(|line| {
            let value = line.strip_prefix(sample)?.strip_prefix(' ')?;
            Some(
                value
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("not a number: {line}")),
            )
        })
    }

    /// The value of `sample`; fails the test when the scrape lacks it.
    pub fn value(&self, sample: &str) -> f64 {
        self.get(sample)
            .unwrap_or_else(|| panic!("no {sample} in\n{}", self.0))
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An SSE response read frame by frame (a frame ends with a blank line).
pub struct SseClient {
    pub headers: reqwest::header::HeaderMap,
    body: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
    buffer: String,
}

impl SseClient {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream().map(|r| r.map_err(BoxError::from))),
            buffer: String::new(),
        }
    }

    /// Opens `path` on a connection whose receive buffer is only `recv_buffer`
    /// bytes, so that not reading pushes back on the server at once (a slow
    /// client, without megabytes of kernel buffers in between).
    pub async fn open_with_small_buffer(addr: SocketAddr, path: &str, recv_buffer: u32) -> Self {
        use http_body_util::{BodyExt, Empty};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(recv_buffer).unwrap();
        let tcp = socket.connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        Self {
            headers: response.headers().clone(),
            body: Box::pin(
                response
                    .into_body()
                    .into_data_stream()
                    .map(|r| r.map_err(BoxError::from)),
            ),
            buffer: String::new(),
        }
    }

    /// The next whole frame, blank line included, or `None` when the stream
    /// ends cleanly. A transport error (a connection cut, a body cut short) is
    /// no clean end: it fails the test (see [`SseClient::next_frame_or_cut`]).
    pub async fn next_frame(&mut self) -> Option<String> {
        self.next_frame_or_cut()
            .await
            .unwrap_or_else(|error| panic!("the stream broke: {error}"))
    }

    /// The next whole frame, `Ok(None)` at a clean end, or the transport
    /// error that cut the stream, for a test in which the server cuts it.
    pub async fn next_frame_or_cut(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let rest = self.buffer.split_off(end + 2);
                return Ok(Some(std::mem::replace(&mut self.buffer, rest)));
            }
            match tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("no frame arrived in time")
            {
                Some(Ok(chunk)) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Some(Err(error)) => return Err(format!("{error:?}")),
                None => return Ok(None),
            }
        }
    }

    /// The next frame that is an event (skipping `retry:`-only frames and comments).
    pub async fn next_event(&mut self) -> Option<Frame> {
        loop {
            let frame = Frame::parse(self.next_frame().await?);
            if frame.event.is_some() || !frame.data.is_empty() {
                return Some(frame);
            }
        }
    }

    /// The next event of type `kind` (`message` for notices), skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Option<Frame> {
        loop {
            let frame = self.next_event().await?;
            if frame.kind() == kind {
                return Some(frame);
            }
        }
    }

    /// The next `priceUpdate`, skipping every other frame.
    pub async fn next_update(&mut self) -> Option<Update> {
        self.next_of("priceUpdate").await.map(Update::from)
    }

    /// The next `n` price updates.
    pub async fn updates(&mut self, n: usize) -> Vec<Update> {
        let mut updates = Vec::with_capacity(n);
        for _ in 0..n {
            updates.push(self.next_update().await.expect("the stream ended"));
        }
        updates
    }

    /// Reads to the end of the stream and returns every event.
    pub async fn rest(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_event().await {
            frames.push(frame);
        }
        frames
    }
}

/// One frame, raw and split into its fields (a simple reader for the frames this
/// server writes: one field per line, `name: value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub raw: String,
    pub event: Option<String>,
    pub id: Option<String>,
    pub retry: Option<u64>,
    /// The `data:` lines joined with newlines.
    pub data: String,
}

impl Frame {
    pub fn parse(raw: String) -> Self {
        let mut frame = Self {
            raw: raw.clone(),
            event: None,
            id: None,
            retry: None,
            data: String::new(),
        };
        let mut data = Vec::new();
        for line in raw.lines() {
            let (name, value) = line.split_once(": ").unwrap_or((line, ""));
            match name {
                "event" => frame.event = Some(value.to_owned()),
                "id" => frame.id = Some(value.to_owned()),
                "retry" => frame.retry = Some(value.parse().expect("a numeric retry")),
                "data" => data.push(value),
                _ => {}
            }
        }
        frame.data = data.join("\n");
        frame
    }

    /// The event type, `message` when unnamed.
    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    /// The data as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {:?}", self.raw))
    }

    /// The `id:` as an event id.
    pub fn event_id(&self) -> EventId {
        self.id.as_deref().expect("an id").parse().unwrap()
    }
}

/// One `priceUpdate` frame, raw and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub raw: String,
    pub id: EventId,
    pub data: serde_json::Value,
}

impl From<Frame> for Update {
    fn from(frame: Frame) -> Self {
        assert_eq!(frame.kind(), "priceUpdate", "{:?}", frame.raw);
        Self {
            id: frame.event_id(),
            data: frame.json(),
            raw: frame.raw,
        }
    }
}

impl Update {
    /// Asserts that this update comes right after `previous` (no hole, no
    /// duplicate) and returns its id, the next `previous`.
    pub fn assert_follows(&self, previous: EventId) -> EventId {
        assert!(
            self.id.follows(previous),
            "{} came after {previous}",
            self.id
        );
        self.id
    }

    pub fn symbol(&self) -> &str {
        self.data["symbol"].as_str().unwrap()
    }

    pub fn price(&self) -> f64 {
        self.data["price"].as_f64().unwrap()
    }
}

/// The symbols of a snapshot's quotes (JSON), in order.
pub fn symbols_of(snapshot: &serde_json::Value) -> Vec<&str> {
    snapshot["quotes"]
        .as_array()
        .expect("a quotes array")
        .iter()
        .map(|quote| quote["symbol"].as_str().unwrap())
        .collect()
}

/// How many updates the candles of a `/api/candles` answer (JSON) hold.
pub fn updates_in(candles: &serde_json::Value) -> u64 {
    candles["candles"]
        .as_array()
        .expect("a candles array")
        .iter()
        .map(|candle| candle["count"].as_u64().unwrap())
        .sum()
}

/// How a response's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Chunked,
    Length(u64),
    /// Until the connection closes (an HTTP/1.0 answer).
    Close,
}

/// The status and framing of a response head, read as a strict client reads
/// it: `httparse`, then RFC 9112 §6.1 and §6.3 (Node's fetch and aiohttp
/// refuse a response with both `Content-Length` and `Transfer-Encoding`).
pub fn strict_framing(head: &[u8]) -> Result<(u16, Framing), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head).map_err(|e| e.to_string())? {
        httparse::Status::Complete(end) if end == head.len() => {}
        _ => return Err("not one whole head".into()),
    }
    let values = |name: &str| -> Vec<String> {
        response
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .collect()
    };
    let (lengths, encodings) = (values("content-length"), values("transfer-encoding"));
    let framing = match (lengths.as_slice(), encodings.as_slice()) {
        ([], []) => Framing::Close,
        ([_, ..], [_, ..]) => return Err("both Content-Length and Transfer-Encoding".into()),
        ([length], []) => Framing::Length(length.parse().map_err(|_| "bad Content-Length")?),
        ([], [chunked]) if chunked == "chunked" => Framing::Chunked,
        (lengths, encodings) => return Err(format!("framing {lengths:?} {encodings:?}")),
    };
    if framing == Framing::Chunked && response.version != Some(1) {
        return Err("chunks in an HTTP/1.0 answer".into());
    }
    Ok((response.code.unwrap(), framing))
}

/// A stream read on a raw TCP connection, one HTTP chunk at a time: each chunk
/// is one write of the server's (one body frame), so a test can see which
/// events went out together.
pub struct ChunkedStream {
    tcp: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl ChunkedStream {
    /// Opens `GET path` (with `headers`, each `Name: value`), optionally on a
    /// socket with a small receive buffer, and reads the response head.
    pub async fn open(
        addr: SocketAddr,
        path: &str,
        headers: &[&str],
        recv_buffer: Option<u32>,
    ) -> Self {
        let mut stream = Self::connect(addr, recv_buffer).await;
        stream.get_stream(path, headers).await;
        stream
    }

    /// Like [`ChunkedStream::open`], on a connection that has answered another
    /// request first (kept alive): hyper serves the stream, not the writers.
    pub async fn open_reused(
        addr: SocketAddr,
        path: &str,
        headers: &[&str],
        recv_buffer: Option<u32>,
    ) -> Self {
        let mut stream = Self::connect(addr, recv_buffer).await;
        stream.send_get("/healthz", &[]).await;
        let head = String::from_utf8(stream.read_until(b"\r\n\r\n").await).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no content-length: {head}"));
        stream.read_exact(length).await;
        stream.get_stream(path, headers).await;
        stream
    }

    async fn connect(addr: SocketAddr, recv_buffer: Option<u32>) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(bytes) = recv_buffer {
            socket.set_recv_buffer_size(bytes).unwrap();
        }
        Self {
            tcp: socket.connect(addr).await.unwrap(),
            buffer: Vec::new(),
        }
    }

    async fn send_get(&mut self, path: &str, headers: &[&str]) {
        use tokio::io::AsyncWriteExt;
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: tickertape\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        self.tcp.write_all(request.as_bytes()).await.unwrap();
    }

    async fn get_stream(&mut self, path: &str, headers: &[&str]) {
        self.send_get(path, headers).await;
        let head = self.read_until(b"\r\n\r\n").await;
        let framing = strict_framing(&head).unwrap_or_else(|error| {
            panic!("{error}: {}", String::from_utf8_lossy(&head));
        });
        assert_eq!(framing, (200, Framing::Chunked));
    }

    /// The next chunk's data (one write of the server's).
    pub async fn next_chunk(&mut self) -> String {
        let size_line = self.read_until(b"\r\n").await;
        let size_text = std::str::from_utf8(&size_line).unwrap().trim();
        let size = usize::from_str_radix(size_text, 16).unwrap();
        assert!(size > 0, "the stream ended");
        let data = self.read_exact(size + 2).await;
        assert!(data.ends_with(b"\r\n"));
        String::from_utf8(data[..size].to_vec()).unwrap()
    }

    /// The events of the next chunk.
    pub async fn next_chunk_events(&mut self) -> Vec<Frame> {
        events_of(&self.next_chunk().await)
    }

    async fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.buffer.windows(end.len()).position(|w| w == end) {
                let rest = self.buffer.split_off(at + end.len());
                return std::mem::replace(&mut self.buffer, rest);
            }
            self.fill().await;
        }
    }

    async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buffer.len() < n {
            self.fill().await;
        }
        let rest = self.buffer.split_off(n);
        std::mem::replace(&mut self.buffer, rest)
    }

    async fn fill(&mut self) {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0; 8192];
        let n = tokio::time::timeout(PATIENCE, self.tcp.read(&mut chunk))
            .await
            .expect("nothing arrived in time")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The events (frames with an event name or data) in `text`.
pub fn events_of(text: &str) -> Vec<Frame> {
    text.split_inclusive("\n\n")
        .map(|raw| Frame::parse(raw.to_owned()))
        .filter(|frame| frame.event.is_some() || !frame.data.is_empty())
        .collect()
}

/// Debian's nginx running a site (a `server { … }` file from `docs/nginx/`) on
/// a free port of 127.0.0.1, as the current user, until dropped.
pub struct Nginx {
    child: std::process::Child,
    pub addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Nginx {
    /// Runs `site` with its `listen` line (`listen_line`, such as `listen 80;`)
    /// moved to a free port.
    pub fn start(site: &str, listen_line: &str) -> Self {
        use std::process::{Command, Stdio};
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .expect("nginx is not installed: run `make setup-test` (Debian's nginx package)");
        let addr = free_addr();
        let port = addr.port();
        assert!(site.contains(listen_line), "no {listen_line:?} in the site");
        let site = site.replace(listen_line, &format!("listen {addr};"));
        let dir =
            std::env::temp_dir().join(format!("tickertape-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log info;\nworker_processes 1;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let config = dir.join("nginx.conf");
        // Run as the current user; as root, nginx's workers would switch to nobody.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
        let user = if root {
            vec!["-g", "daemon off; user root;"]
        } else {
            vec!["-g", "daemon off;"]
        };
        let child = Command::new(nginx)
            .args([
                "-p",
                dir.to_str().unwrap(),
                "-c",
                config.to_str().unwrap(),
                "-e",
                &format!("{d}/error.log"),
            ])
            .args(user)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let nginx = Self { child, addr, dir };
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// Stops nginx with TERM, its fast shutdown: the master ends its worker and
    /// then itself. A SIGKILL'd master leaves the worker running, holding the
    /// port, for good.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + PATIENCE;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// HTTPS and HTTP/2, for the servers started with a certificate.

/// A certificate for localhost and 127.0.0.1, written as PEM files for the
/// server; returns the paths and the certificate, for the client to trust.
pub fn certificate() -> (
    std::path::PathBuf,
    std::path::PathBuf,
    rustls_pki_types::CertificateDer<'static>,
) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "tickertape-tls-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

/// An HTTP/2 connection to `addr` over TLS, trusting `cert`.
pub async fn h2_connect(
    addr: std::net::SocketAddr,
    cert: rustls_pki_types::CertificateDer<'static>,
) -> h2::client::SendRequest<bytes::Bytes> {
    h2_connect_deafened(addr, cert).await.0
}

/// An HTTP/2 connection as [`h2_connect`] makes it, and a switch: once sent,
/// the client stops reading its connection (it answers nothing, pings
/// included) and keeps it open.
pub async fn h2_connect_deafened(
    addr: std::net::SocketAddr,
    cert: rustls_pki_types::CertificateDer<'static>,
) -> (h2::client::SendRequest<bytes::Bytes>, oneshot::Sender<()>) {
    let tls = tls_connect(addr, cert, b"h2").await;
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"h2"[..]),
        "no HTTP/2"
    );
    // A browser's windows: 64 KiB per stream, much more for the connection
    // (Chromium: 6 MiB and 15 MiB), so one stopped stream cannot fill it.
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(64 * 1024)
        .initial_connection_window_size(15 << 20)
        .handshake(tls)
        .await
        .unwrap();
    let (deafen, deafened) = oneshot::channel();
    tokio::spawn(async move {
        tokio::pin!(connection);
        tokio::select! {
            _ = &mut connection => {}
            // Held, never polled again.
            Ok(()) = deafened => std::future::pending::<()>().await,
        }
    });
    (send, deafen)
}

/// Opens `GET path` on the connection and checks that it answers 200.
pub async fn h2_open(
    send: &mut h2::client::SendRequest<bytes::Bytes>,
    path: &str,
) -> h2::RecvStream {
    let request = axum::http::Request::get(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = tokio::time::timeout(PATIENCE, response)
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.into_body()
}

/// The next DATA frame's text, its flow-control capacity given back.
pub async fn h2_next_data(body: &mut h2::RecvStream) -> String {
    let data = tokio::time::timeout(PATIENCE, body.data())
        .await
        .expect("data in time")
        .expect("the stream ended")
        .unwrap();
    body.flow_control().release_capacity(data.len()).unwrap();
    String::from_utf8(data.to_vec()).unwrap()
}

/// A server started with `args` and a certificate made here (for localhost and
/// 127.0.0.1); the certificate, for clients to trust.
pub async fn spawn_tls_app(args: &[&str]) -> (TestApp, rustls_pki_types::CertificateDer<'static>) {
    let (cert, key, der) = certificate();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut all = vec!["--tls-cert", cert, "--tls-key", key];
    all.extend_from_slice(args);
    (spawn_app(&all).await, der)
}

/// A TLS connection to `addr` as `localhost`, trusting `cert`, offering `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    cert: rustls_pki_types::CertificateDer<'static>,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}
