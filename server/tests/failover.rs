//! Redis fails too: a primary, a replica and three Sentinels (Debian's
//! `redis-server`, each on a free port), instances that find the primary
//! through the Sentinels, viewers recording every `(id, data)` they receive
//! (reconnecting with `Last-Event-ID`, as browsers do), and a publisher of a
//! known sequence of prices recording every batch acknowledged. Faults come
//! while the publisher runs; then the test asserts, over every viewer: no id
//! with two different data; every acknowledged batch received, or a snapshot
//! at or after it; no gap without a resync; every viewer live again after each
//! fault. It prints a ledger.
//!
//! - `make test` runs the short form: two instances in this process, twelve
//!   viewers, and one fault: `kill -9` of the primary.
//! - `make chaos` runs the whole (`--ignored`): three instances (processes)
//!   behind nginx with `docs/nginx/cluster.conf`, 100 viewers, and one fault
//!   after another: `kill -9` of the primary; `SIGSTOP` of the new primary
//!   for 5 s, then `SIGCONT`; `kill -9` of an instance; a Sentinel restarted.
//!   `docs/scale-out.md` ("Failover") has its ledgers.

mod helpers;

use app::model::EventId;
use helpers::{
    Nginx, PATIENCE, PUBLISH_TOKEN, SseClient, TestApp, binary::Launch, free_addr, post_prices,
    redis, spawn_app,
};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// The name the Sentinels monitor the primary under.
const MASTER: &str = "tt";

/// One Redis process of this test's own: a server or a Sentinel.
struct Node {
    child: Option<Child>,
    port: u16,
}

impl Node {
    /// A Redis server on `port` (a free one if `None`), the replica of
    /// `primary` when given.
    fn server(dir: &Path, port: Option<u16>, primary: Option<u16>) -> Self {
        let port = port.unwrap_or_else(|| free_addr().port());
        let mut command = Command::new(redis::server_binary());
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir);
        if let Some(primary) = primary {
            command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
        Self::spawn(command, port)
    }

    /// A Sentinel on `port` (a free one if `None`) watching `primary`, which
    /// it calls failed after a second.
    fn sentinel(dir: &Path, port: Option<u16>, primary: u16) -> Self {
        let port = port.unwrap_or_else(|| free_addr().port());
        let config = dir.join(format!("sentinel-{port}.conf"));
        // A restarted Sentinel reads the file it rewrote as it ran.
        if config.exists() {
            let mut command = Command::new(redis::server_binary());
            command.arg(&config).arg("--sentinel");
            return Self::spawn(command, port);
        }
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 3000\n\
                 sentinel parallel-syncs {MASTER} 1\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(redis::server_binary());
        command.arg(&config).arg("--sentinel");
        Self::spawn(command, port)
    }

    /// Sends `signal` (`STOP`, `CONT`).
    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn spawn(mut command: Command, port: u16) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "a Redis process did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            port,
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        redis::cli(self.port, args)
    }

    /// `kill -9`, and the process reaped.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A primary, its replica and three Sentinels.
struct Cluster {
    primary: Node,
    replica: Node,
    sentinels: Vec<Node>,
    dir: PathBuf,
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tickertape-failover-{}-{}",
            std::process::id(),
            free_addr().port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let primary = Node::server(&dir, None, None);
        let replica = Node::server(&dir, None, Some(primary.port));
        let sentinels = (0..3)
            .map(|_| Node::sentinel(&dir, None, primary.port))
            .collect();
        let cluster = Self {
            primary,
            replica,
            sentinels,
            dir,
        };
        // Ready: the replica in sync, and every Sentinel knowing of it.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let synced = cluster
                .replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up");
            let known = cluster.sentinels.iter().all(|sentinel| {
                sentinel
                    .cli(&["SENTINEL", "replicas", MASTER])
                    .contains(&cluster.replica.port.to_string())
            });
            if synced && known {
                return cluster;
            }
            assert!(
                Instant::now() < deadline,
                "the Redis cluster did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port))
            .collect();
        format!("redis+sentinel://{}/{MASTER}", hosts.join(","))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one viewer received, in order.
#[derive(Default)]
struct Seen {
    /// `priceUpdate`s as `(id, data, when)`.
    updates: Vec<(EventId, String, Instant)>,
    /// Snapshots' `lastEventId`, in order among the updates: `(index in
    /// updates, id)`.
    snapshots: Vec<(usize, EventId)>,
    /// Times the stream ended or was cut and the viewer came back.
    reconnects: u32,
    /// When the heartbeats' word on the feed changed: `true` for
    /// `"interrupted"`, `false` for fine again.
    feed: Vec<(Instant, bool)>,
}

impl Seen {
    /// How long after `fault` the viewer's feed was fine again: the first
    /// heartbeat without `"feed":"interrupted"` after the last interruption
    /// that began after `fault` (zero if none began).
    fn feed_back_after(&self, fault: Instant, next_fault: Option<Instant>) -> Duration {
        let window = |at: &Instant| *at >= fault && next_fault.is_none_or(|next| *at < next);
        let Some(began) = self
            .feed
            .iter()
            .position(|(at, interrupted)| *interrupted && window(at))
        else {
            return Duration::ZERO;
        };
        self.feed[began..]
            .iter()
            .rfind(|(at, interrupted)| !interrupted && window(at))
            .map_or(Duration::MAX, |(at, _)| at.duration_since(fault))
    }
}

/// A viewer: reads `url`'s stream, and when it ends or is cut, opens it
/// again with `Last-Event-ID` (as a browser's `EventSource` does), until an
/// update of the symbol `END` arrives.
async fn view(client: reqwest::Client, url: String, seen: Arc<Mutex<Seen>>) {
    let mut last: Option<EventId> = None;
    loop {
        let mut request = client.get(&url);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let stream = match request.send().await {
            Ok(response) if response.status() == 200 => Some(SseClient::new(response)),
            _ => None,
        };
        if let Some(mut stream) = stream {
            while let Ok(Some(raw)) = stream.next_frame_or_cut().await {
                let frame = helpers::Frame::parse(raw);
                let mut seen = seen.lock().unwrap();
                match frame.kind() {
                    "priceUpdate" => {
                        let id = frame.event_id();
                        last = Some(id);
                        let end = frame.json()["symbol"] == "END";
                        seen.updates.push((id, frame.data.clone(), Instant::now()));
                        if end {
                            return;
                        }
                    }
                    "heartbeat" => {
                        let interrupted = frame.json()["feed"] == "interrupted";
                        if seen.feed.last().is_none_or(|(_, was)| *was != interrupted) {
                            seen.feed.push((Instant::now(), interrupted));
                        }
                    }
                    "snapshot" => {
                        let id: EventId = frame.json()["lastEventId"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        last = Some(id);
                        let at = seen.updates.len();
                        seen.snapshots.push((at, id));
                    }
                    _ => {}
                }
            }
        }
        seen.lock().unwrap().reconnects += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn batch(symbol: &str, price: f64) -> String {
    format!(r#"[{{"symbol":"{symbol}","price":{price}}}]"#)
}

/// The publisher's side: what it was told.
#[derive(Default)]
struct Published {
    /// Acknowledged batches: `(id, price)`.
    acknowledged: Vec<(EventId, f64)>,
    /// Refused: 503 (and 502 from nginx while an instance is down).
    refused: u32,
    last_refusal: String,
}

/// Publishes `FOA` at 100.00, 100.01, … to `bases` in turn, every 10 ms,
/// until `stop`.
fn publish(
    client: reqwest::Client,
    bases: Vec<String>,
    published: Arc<Mutex<Published>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let price = 100.0 + f64::from(i) / 100.0;
            let base = &bases[i as usize % bases.len()];
            let sent = client
                .post(format!("{base}/api/prices"))
                .bearer_auth(PUBLISH_TOKEN)
                .body(batch("FOA", price))
                .send()
                .await;
            let (status, body) = match sent {
                Ok(response) => (
                    response.status().as_u16(),
                    response.text().await.unwrap_or_default(),
                ),
                Err(error) => (0, error.to_string()),
            };
            {
                let mut published = published.lock().unwrap();
                if status == 200 {
                    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let id = body["lastEventId"].as_str().unwrap().parse().unwrap();
                    published.acknowledged.push((id, price));
                } else {
                    assert!(
                        [0, 502, 503].contains(&status),
                        "a publish answered {status}: {body}"
                    );
                    published.refused += 1;
                    published.last_refusal = body;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

/// Publishes one batch to `base` as a publisher should: a refusal (503
/// `broker_unavailable`, which promises nothing was taken) is retried after
/// its `Retry-After`, until the batch is taken (200) or 3 × [`PATIENCE`] pass.
/// A replica that falls behind for a moment refuses a batch; this is the
/// protocol working, not a fault.
async fn publish_until_taken(client: &reqwest::Client, base: &str, body: &str) {
    let deadline = Instant::now() + 3 * PATIENCE;
    loop {
        let response = post_prices(client, base, Some(PUBLISH_TOKEN), body.to_owned()).await;
        let status = response.status().as_u16();
        if status == 200 {
            return;
        }
        let after: Option<u64> = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.parse().ok());
        let said = response.text().await.unwrap_or_default();
        // nginx says 502 while the instance behind it is down.
        let after = match status {
            503 => {
                assert!(said.contains("broker_unavailable"), "{said}");
                after.expect("a 503 without Retry-After")
            }
            502 => 1,
            _ => panic!("a publish answered {status}: {said}"),
        };
        assert!(
            Instant::now() < deadline,
            "the batch was refused for {:?}; the last refusal: {said}",
            3 * PATIENCE
        );
        tokio::time::sleep(Duration::from_secs(after)).await;
    }
}

/// Stops the publisher, publishes the last batch (`END`) to `base` and waits
/// until every viewer has it.
async fn finish(
    client: &reqwest::Client,
    base: &str,
    stop: &AtomicBool,
    publisher: tokio::task::JoinHandle<()>,
    viewers: Vec<tokio::task::JoinHandle<()>>,
) {
    stop.store(true, Ordering::Relaxed);
    publisher.await.unwrap();
    publish_until_taken(client, base, &batch("END", 1.0)).await;
    for viewer in viewers {
        tokio::time::timeout(3 * PATIENCE, viewer)
            .await
            .expect("a viewer never got the last batch")
            .unwrap();
    }
}

/// Waits until `n` more batches than now are acknowledged.
async fn acknowledged_more(published: &Mutex<Published>, n: usize) {
    let target = published.lock().unwrap().acknowledged.len() + n;
    let deadline = Instant::now() + 3 * PATIENCE;
    while published.lock().unwrap().acknowledged.len() < target {
        assert!(
            Instant::now() < deadline,
            "nothing was acknowledged for {:?}; the last refusal: {}",
            3 * PATIENCE,
            published.lock().unwrap().last_refusal
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the Sentinels name the Redis on `port` the primary.
async fn promoted(redis: &Cluster, port: u16) {
    let deadline = Instant::now() + 3 * PATIENCE;
    while !redis.sentinels[0]
        .cli(&["SENTINEL", "get-master-addr-by-name", MASTER])
        .contains(&port.to_string())
    {
        assert!(
            Instant::now() < deadline,
            "the Sentinels promoted no replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the replica on `node` is in sync with its primary.
async fn in_sync(node: &Node) {
    let deadline = Instant::now() + 3 * PATIENCE;
    while !node
        .cli(&["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(Instant::now() < deadline, "the replica never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks what every viewer received against what was acknowledged, and
/// returns the ledger's line and each fault's recovery times (for every
/// viewer, from the fault to its next update).
fn check(
    viewers: &[Arc<Mutex<Seen>>],
    published: &Published,
    faults: &[(&str, Instant)],
) -> (String, Vec<Recovery>) {
    let mut data_of: HashMap<EventId, &str> = HashMap::new();
    let mut resynced = 0;
    let mut reconnects = 0;
    let seen: Vec<_> = viewers.iter().map(|seen| seen.lock().unwrap()).collect();
    for seen in &seen {
        reconnects += seen.reconnects;
        for (id, data, _) in &seen.updates {
            let earlier = data_of.entry(*id).or_insert(data);
            assert_eq!(earlier, data, "id {id} came with two different data");
        }
        // Gaps only after a snapshot, never silent.
        for (i, pair) in seen.updates.windows(2).enumerate() {
            let (before, after) = (pair[0].0, pair[1].0);
            let resync = seen.snapshots.iter().any(|(at, _)| *at == i + 1);
            if !resync {
                assert!(
                    after.run == before.run && after.seq == before.seq + 1,
                    "a gap without a resync: {before} then {after}"
                );
            }
        }
        // The first snapshot opens the stream; the others are resyncs.
        resynced += seen.snapshots.len().saturating_sub(1);
        // Every acknowledged batch, or a snapshot at or after it.
        for (id, price) in &published.acknowledged {
            match seen.updates.iter().find(|(seen_id, _, _)| seen_id == id) {
                Some((_, data, _)) => {
                    let update: serde_json::Value = serde_json::from_str(data).unwrap();
                    assert_eq!(update["price"].as_f64(), Some(*price), "{id}: {data}");
                }
                None => {
                    let covered = seen
                        .snapshots
                        .iter()
                        .any(|(_, at)| at.run != id.run || at.seq >= id.seq);
                    assert!(covered, "acknowledged {id} never reached a viewer");
                }
            }
        }
    }
    let recoveries = faults
        .iter()
        .enumerate()
        .map(|(i, (name, at))| {
            let next = faults.get(i + 1).map(|(_, next)| *next);
            let mut updates: Vec<Duration> = seen
                .iter()
                .map(|seen| {
                    seen.updates
                        .iter()
                        .find(|(_, _, when)| when > at)
                        .map_or(Duration::MAX, |(_, _, when)| when.duration_since(*at))
                })
                .collect();
            updates.sort();
            let mut feed: Vec<Duration> = seen
                .iter()
                .map(|seen| seen.feed_back_after(*at, next))
                .collect();
            feed.sort();
            Recovery {
                fault: (*name).to_owned(),
                updates,
                feed,
            }
        })
        .collect();
    let ledger = format!(
        "{} batches acknowledged, {} refused; {} distinct ids delivered to {} viewers; \
         {resynced} resyncs (snapshots after the first), {reconnects} reconnections",
        published.acknowledged.len(),
        published.refused,
        data_of.len(),
        viewers.len(),
    );
    (ledger, recoveries)
}

/// How the viewers came through one fault.
struct Recovery {
    fault: String,
    /// For each viewer, sorted: from the fault to its next update.
    updates: Vec<Duration>,
    /// For each viewer, sorted: from the fault until its heartbeats said the
    /// feed was fine again (zero if they never said otherwise).
    feed: Vec<Duration>,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: feed fine again after p50 {:?} / p99 {:?}; next update after p50 {:?} / p99 {:?} / max {:?}",
            self.fault,
            percentile(&self.feed, 0.5),
            percentile(&self.feed, 0.99),
            percentile(&self.updates, 0.5),
            percentile(&self.updates, 0.99),
            self.updates[self.updates.len() - 1],
        )
    }
}

/// The `p`-th percentile of sorted `times`.
fn percentile(times: &[Duration], p: f64) -> Duration {
    let at = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[at]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_behind_sentinel_loses_no_acknowledged_batch_and_no_id_means_two_updates()
{
    let mut redis = Cluster::start();
    let url = redis.url();
    let mut apps: Vec<TestApp> = Vec::new();
    for name in ["a", "b"] {
        let args = [
            "--broker",
            &url,
            "--instance",
            name,
            "--publish-token",
            PUBLISH_TOKEN,
            "--no-simulator",
            "--heartbeat-ms",
            "500",
        ];
        apps.push(spawn_app(&args).await);
    }
    let health: serde_json::Value = apps[0].get_json("/healthz").await;
    assert_eq!(health["broker"]["minReplicas"], 1, "{health}");
    assert_eq!(
        health["broker"]["primary"],
        format!("127.0.0.1:{}", redis.primary.port),
        "{health}"
    );
    let metrics = apps[0].metrics().await;
    assert_eq!(
        metrics.value(&format!(
            "tickertape_broker_primary{{address=\"127.0.0.1:{}\"}}",
            redis.primary.port
        )),
        1.0
    );
    // The first batch opens the symbol.
    let client = reqwest::Client::new();
    publish_until_taken(&client, &apps[0].url(""), &batch("FOA", 100.0)).await;

    let viewers: Vec<Arc<Mutex<Seen>>> = (0..12).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = viewers
        .iter()
        .enumerate()
        .map(|(i, seen)| {
            tokio::spawn(view(
                client.clone(),
                apps[i % 2].url("/events"),
                seen.clone(),
            ))
        })
        .collect();
    let published = Arc::new(Mutex::new(Published::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let bases = apps.iter().map(|app| app.url("")).collect();
    let publisher = publish(client.clone(), bases, published.clone(), stop.clone());
    acknowledged_more(&published, 50).await;

    // The fault: the primary dies. Once the Sentinels have promoted the
    // replica, an operator (or a supervisor) starts the dead one again, empty,
    // as the new primary's replica: until then no batch can be on a replica,
    // and every batch is refused.
    let old_primary = redis.primary.port;
    redis.primary.kill();
    let killed = Instant::now();
    promoted(&redis, redis.replica.port).await;
    let promoted_after = killed.elapsed();
    redis.primary = Node::server(&redis.dir, Some(old_primary), Some(redis.replica.port));
    acknowledged_more(&published, 50).await;
    finish(&client, &apps[0].url(""), &stop, publisher, tasks).await;

    let (ledger, recoveries) = check(
        &viewers,
        &published.lock().unwrap(),
        &[("kill -9 the primary", killed)],
    );
    let health: serde_json::Value = apps[1].get_json("/healthz").await;
    println!(
        "ledger: {ledger}\n  {} (the Sentinels promoted the replica after {promoted_after:?})\n  \
         /healthz: {}",
        recoveries[0], health["broker"]["lastChange"],
    );
    assert!(
        recoveries[0]
            .updates
            .iter()
            .all(|time| *time < 3 * PATIENCE),
        "a viewer was never live again"
    );
    // The primary it names is the one the Sentinels name now.
    let named = redis.sentinels[0].cli(&["SENTINEL", "get-master-addr-by-name", MASTER]);
    assert_eq!(
        health["broker"]["primary"],
        named.replace('\n', ":"),
        "{health}"
    );
    assert_ne!(
        health["broker"]["primary"],
        format!("127.0.0.1:{old_primary}")
    );
    for app in apps {
        app.shutdown().await;
    }
}

/// `make chaos`: see the module's documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the whole chaos test (a few minutes): make chaos"]
async fn chaos() {
    let viewers_wanted: usize = std::env::var("CHAOS_VIEWERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let mut redis = Cluster::start();
    let url = redis.url();
    let args = |name: &'static str| {
        Launch::new(&[
            "--broker",
            &url,
            "--instance",
            name,
            "--publish-token",
            PUBLISH_TOKEN,
            "--no-simulator",
            "--heartbeat-ms",
            "1000",
            "--trust-forwarded-for",
        ])
        .start()
    };
    let mut instances = vec![args("a"), args("b"), args("c")];
    let mut site = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/nginx/cluster.conf"
    ))
    .unwrap();
    for (port, instance) in [3011, 3012, 3013].iter().zip(&instances) {
        let line = format!("server 127.0.0.1:{port} ");
        assert!(site.contains(&line), "{line} is not in cluster.conf");
        site = site.replace(&line, &format!("server {} ", instance.addr));
    }
    let nginx = Nginx::start(&site, "listen 127.0.0.1:8080;");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    publish_until_taken(&client, &nginx.url(""), &batch("FOA", 100.0)).await;

    let viewers: Vec<Arc<Mutex<Seen>>> = (0..viewers_wanted).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = viewers
        .iter()
        .map(|seen| tokio::spawn(view(client.clone(), nginx.url("/events"), seen.clone())))
        .collect();
    let published = Arc::new(Mutex::new(Published::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = publish(
        client.clone(),
        vec![nginx.url("")],
        published.clone(),
        stop.clone(),
    );
    acknowledged_more(&published, 100).await;
    let mut faults = Vec::new();

    // 1. kill -9 the primary; the operator brings it back as a replica.
    let (first_primary, first_replica) = (redis.primary.port, redis.replica.port);
    redis.primary.kill();
    faults.push(("kill -9 the primary", Instant::now()));
    promoted(&redis, first_replica).await;
    redis.primary = Node::server(&redis.dir, Some(first_primary), Some(first_replica));
    in_sync(&redis.primary).await;
    acknowledged_more(&published, 100).await;

    // 2. SIGSTOP the new primary for 5 s, then SIGCONT: the Sentinels promote
    // the other, and turn the one that comes back into its replica.
    println!(
        "  the primary is {first_replica}; {first_primary} its replica; stopping {first_replica} at {}",
        httpdate::fmt_http_date(std::time::SystemTime::now())
    );
    redis.replica.signal("STOP");
    faults.push(("SIGSTOP the new primary for 5 s", Instant::now()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    redis.replica.signal("CONT");
    promoted(&redis, first_primary).await;
    acknowledged_more(&published, 100).await;

    // 3. kill -9 an instance: its viewers come back through nginx.
    let killed = instances.remove(0);
    killed.kill();
    faults.push(("kill -9 an instance", Instant::now()));
    acknowledged_more(&published, 100).await;

    // 4. Restart a Sentinel.
    let sentinel = redis.sentinels[0].port;
    redis.sentinels[0].kill();
    faults.push(("restart a Sentinel", Instant::now()));
    redis.sentinels[0] = Node::sentinel(&redis.dir, Some(sentinel), first_primary);
    acknowledged_more(&published, 100).await;

    finish(&client, &nginx.url(""), &stop, publisher, tasks).await;
    let (ledger, recoveries) = check(&viewers, &published.lock().unwrap(), &faults);
    println!("chaos ledger: {ledger}");
    for recovery in &recoveries {
        println!("  {recovery}");
    }
    for instance in instances {
        let health: serde_json::Value = client
            .get(instance.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        println!("  /healthz: {}", health["broker"]);
        let stopped = instance.stop();
        for line in stopped.log.iter().filter(|line| {
            !line.contains("publish refused")
                && ["primary", "epoch", "broker", "relay", "reach"]
                    .iter()
                    .any(|word| line.contains(word))
        }) {
            println!("    {line}");
        }
    }
    // The goal: live again within 5 s of the primary's death.
    let primary_death = &recoveries[0];
    assert!(
        percentile(&primary_death.updates, 0.99) <= Duration::from_secs(5),
        "{primary_death}"
    );
    drop(nginx);
}
