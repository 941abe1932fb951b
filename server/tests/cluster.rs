//! A cluster: several instances sharing one feed through a real Redis (Debian's
//! `redis-server`, started on a free port for each test, without persistence
//! unless the test needs it).

mod helpers;

use app::model::EventId;
use helpers::{
    Metrics, Nginx, PATIENCE, PUBLISH_TOKEN, SseClient, TestApp, Update,
    binary::{Launch, Server},
    free_addr, spawn_app, symbols_of, updates_in,
};
use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A Redis server of this test's own.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = free_addr().port();
        let dir =
            std::env::temp_dir().join(format!("tickertape-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            child: None,
            port,
            dir,
        };
        redis.run();
        redis
    }

    /// Starts the server (again), from its dump file if it saved one.
    fn run(&mut self) {
        let child = Command::new(helpers::redis::server_binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--dbfilename",
                "dump.rdb",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` with `args` against this server.
    fn cli(&self, args: &[&str]) -> String {
        helpers::redis::cli(self.port, args)
    }

    /// Stops the server, saving its data first when `save`.
    fn stop(&mut self, save: bool) {
        self.cli(&["SHUTDOWN", if save { "SAVE" } else { "NOSAVE" }]);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        if !save {
            let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An instance of the cluster on `redis`, run in this process.
async fn instance(redis: &Redis, name: &str, extra: &[&str]) -> TestApp {
    let url = redis.url();
    let mut args = vec![
        "--broker",
        &url,
        "--instance",
        name,
        "--publish-token",
        PUBLISH_TOKEN,
    ];
    args.extend_from_slice(extra);
    spawn_app(&args).await
}

/// Waits until every one of `apps` has relayed `id`.
async fn relayed(apps: &[&TestApp], id: EventId) {
    for app in apps {
        let deadline = Instant::now() + PATIENCE;
        while app.hub.head() != id {
            assert!(Instant::now() < deadline, "{id} was not relayed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn batch(symbols: &[&str], price: f64) -> String {
    let items: Vec<String> = symbols
        .iter()
        .map(|symbol| format!(r#"{{"symbol":"{symbol}","price":{price}}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

/// Reads updates until the one with id `last`, checking that each follows the
/// one before; returns them.
async fn read_through(stream: &mut SseClient, mut previous: EventId, last: EventId) -> Vec<Update> {
    let mut read = Vec::new();
    while previous != last {
        let frame = tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .expect("an update in time")
            .expect("the stream ended");
        match frame.kind() {
            "priceUpdate" => {
                let update = Update::from(frame);
                previous = update.assert_follows(previous);
                read.push(update);
            }
            "heartbeat" => {}
            other => panic!("unexpected {other}: {:?}", frame.raw),
        }
    }
    read
}

/// The last id a stream has seen so far, as its heartbeat says after the catch-up.
async fn caught_up(stream: &mut SseClient) -> EventId {
    stream.next_of("heartbeat").await.unwrap().event_id()
}

#[tokio::test]
async fn a_client_moving_from_instance_to_instance_sees_every_id_once_in_order() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let b = instance(&redis, "b", &["--no-simulator"]).await;
    let c = instance(&redis, "c", &["--no-simulator"]).await;
    let instances = [&a, &b, &c];

    let mut stream = a.open_stream().await;
    let mut position = caught_up(&mut stream).await;
    let mut seen = Vec::new();
    let mut published = Vec::new();
    for round in 0..3 {
        // A publisher posts batches to each instance in turn.
        let mut last = position;
        for (i, app) in instances.iter().enumerate() {
            let price = 10.0 + f64::from(round * 3 + i as u32);
            let body = batch(&["AAA", "BBB", "CCC"], price);
            last = app.publish_body(body).await;
            published.extend(["AAA", "BBB", "CCC"].map(|symbol| (symbol.to_owned(), price)));
        }
        let read = read_through(&mut stream, position, last).await;
        position = last;
        seen.extend(read);
        // The viewer moves to the next instance with its Last-Event-ID.
        drop(stream);
        let next = instances[(round as usize + 1) % 3];
        stream = next
            .open_stream_at("/events", Some(&position.to_string()))
            .await;
    }
    let got: Vec<(String, f64)> = seen
        .iter()
        .map(|update| (update.symbol().to_owned(), update.price()))
        .collect();
    assert_eq!(got, published, "every update once, in the order published");

    // Updates published while the viewer was away are replayed on arrival.
    let missed = b.publish_body(batch(&["DDD"], 1.0)).await;
    let mut late = c
        .open_stream_at("/events", Some(&position.to_string()))
        .await;
    let replayed = read_through(&mut late, position, missed).await;
    assert_eq!(replayed.len(), 1);
}

#[tokio::test]
async fn instances_serve_byte_identical_frames_and_snapshots() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let b = instance(&redis, "b", &["--no-simulator"]).await;
    let start = a.publish_body(batch(&["AAA", "BBB"], 5.0)).await;
    let mut on_a = a.open_stream_at("/events", Some(&start.to_string())).await;
    let mut on_b = b.open_stream_at("/events", Some(&start.to_string())).await;
    caught_up(&mut on_a).await;
    caught_up(&mut on_b).await;
    a.publish_body(batch(&["AAA"], 6.0)).await;
    let last = b.publish_body(batch(&["BBB", "CCC"], 7.0)).await;
    let from_a = read_through(&mut on_a, start, last).await;
    let from_b = read_through(&mut on_b, start, last).await;
    let raw = |updates: &[Update]| updates.iter().map(|u| u.raw.clone()).collect::<Vec<_>>();
    assert_eq!(raw(&from_a), raw(&from_b));

    // Snapshots at the same position: the same bytes but for the sender's clock.
    let snapshot = |app: &TestApp| {
        let app_url = app.url("/events");
        async move {
            let response = reqwest::get(app_url).await.unwrap();
            let mut stream = SseClient::new(response);
            let frame = stream.next_of("snapshot").await.unwrap();
            let mut data = frame.json();
            data["time"] = 0.into();
            (frame.event_id(), data.to_string())
        }
    };
    assert_eq!(snapshot(&a).await, snapshot(&b).await);
    assert_eq!(snapshot(&a).await.0, last);
}

#[tokio::test]
async fn a_refused_batch_changes_nothing_anywhere() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator", "--max-symbols", "3"]).await;
    let b = instance(&redis, "b", &["--no-simulator", "--max-symbols", "3"]).await;
    let before = a.publish_body(batch(&["AAA", "BBB"], 5.0)).await;
    let length = redis.cli(&["XLEN", "tickertape:stream"]);

    // Valid items, but two new symbols past the limit of three.
    let refused = b
        .post_prices(Some(PUBLISH_TOKEN), batch(&["AAA", "CCC", "DDD"], 9.0))
        .await;
    assert_eq!(refused.status(), 422);
    // Not a price at all.
    let invalid = a
        .post_prices(
            Some(PUBLISH_TOKEN),
            r#"[{"symbol":"AAA","price":1},{"symbol":"BBB","price":-1}]"#,
        )
        .await;
    assert_eq!(invalid.status(), 422);

    assert_eq!(redis.cli(&["XLEN", "tickertape:stream"]), length);
    let after = b.publish_body(batch(&["AAA"], 6.0)).await;
    assert!(
        after.follows(before),
        "{after} after {before}: something fell between"
    );
    for app in [&a, &b] {
        let snapshot: serde_json::Value = app.get_json("/api/snapshot").await;
        let prices: Vec<f64> = snapshot["quotes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["price"].as_f64().unwrap())
            .collect();
        assert_eq!(prices, [6.0, 5.0]);
    }
}

#[tokio::test]
async fn a_broker_that_stops_interrupts_the_feed_and_one_that_lost_its_data_starts_an_epoch() {
    let mut redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator", "--heartbeat-ms", "200"]).await;
    let b = instance(&redis, "b", &["--no-simulator", "--heartbeat-ms", "200"]).await;
    let first = a.publish_body(batch(&["AAA"], 5.0)).await;
    relayed(&[&b], first).await;
    let mut stream = b.open_stream().await;
    assert_eq!(caught_up(&mut stream).await, first);

    // Redis stops (saving its data): the stream stays open and says so;
    // publishing and the health check answer 503.
    redis.stop(true);
    let interrupted = loop {
        let beat = stream.next_of("heartbeat").await.unwrap();
        if beat.json()["feed"] == "interrupted" {
            break beat;
        }
    };
    assert_eq!(interrupted.event_id(), first);
    let refused = a
        .post_prices(Some(PUBLISH_TOKEN), batch(&["AAA"], 6.0))
        .await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "broker_unavailable");
    let health = a.client.get(a.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["instance"], "a");
    assert!(health["problem"].as_str().unwrap().contains("unreachable"));

    // Back with its data: the same stream goes on, nothing lost.
    redis.run();
    let deadline = Instant::now() + PATIENCE;
    let next = loop {
        let response = a
            .post_prices(Some(PUBLISH_TOKEN), batch(&["AAA"], 7.0))
            .await;
        if response.status() == 200 {
            let accepted: serde_json::Value = response.json().await.unwrap();
            break accepted["lastEventId"]
                .as_str()
                .unwrap()
                .parse::<EventId>()
                .unwrap();
        }
        assert!(Instant::now() < deadline, "the broker did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(next.follows(first));
    read_through(&mut stream, first, next).await;
    let healthy: serde_json::Value = b.get_json("/healthz").await;
    assert_eq!(healthy["status"], "ok");
    // Each instance counted its reconnection; b has relayed all there is.
    for app in [&a, &b] {
        let metrics = app.metrics().await;
        assert!(metrics.value("tickertape_broker_reconnects_total") >= 1.0);
        assert_eq!(
            metrics.value("tickertape_lease_holder"),
            0.0,
            "--no-simulator"
        );
    }
    assert_eq!(b.metrics().await.value("tickertape_broker_lag"), 0.0);

    // Back without its data: a new epoch; the stream resyncs with a notice.
    redis.stop(false);
    redis.run();
    let snapshot = loop {
        let frame = tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .expect("a snapshot in time")
            .unwrap();
        if frame.kind() == "snapshot" {
            break frame;
        }
    };
    let epoch = snapshot.event_id();
    assert_ne!(epoch.run, next.run);
    assert_eq!(epoch.seq, 0);
    // The prices carry over into the new epoch.
    assert_eq!(snapshot.json()["quotes"][0]["price"], 7.0);
    let notice = stream.next_event().await.unwrap();
    assert!(
        notice.data.contains("the price feed restarted"),
        "{:?}",
        notice.raw
    );
    // A viewer of the old epoch that reconnects elsewhere is resynced too.
    let mut old = a.open_stream_at("/events", Some(&next.to_string())).await;
    assert_eq!(
        old.next_of("snapshot").await.unwrap().event_id().run,
        epoch.run
    );
}

/// What an asynchronous failover leaves (`--broker-min-replicas 0`): a broker
/// with the same epoch that lacks the last updates instances relayed, and
/// that would give their ids to other updates. Made here by hand, exactly:
/// the last three updates and their commit marks deleted and the head set
/// back, then every connection cut, as a failover cuts them. The instances
/// start a new epoch rather than let one id mean two updates: the stream
/// resyncs from a snapshot with a notice, and the next update's id is new.
#[tokio::test]
async fn a_broker_without_updates_it_relayed_is_not_continued_but_a_new_epoch_starts() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator", "--heartbeat-ms", "200"]).await;
    let b = instance(&redis, "b", &["--no-simulator", "--heartbeat-ms", "200"]).await;
    let mut last = a.publish_body(batch(&["AAA"], 5.0)).await;
    for price in [6.0, 7.0, 8.0] {
        last = a.publish_body(batch(&["AAA"], price)).await;
    }
    relayed(&[&a, &b], last).await;
    let mut stream = b.open_stream().await;
    assert_eq!(caught_up(&mut stream).await, last);

    // The broker loses the last three updates (the replica it promoted had
    // not received them).
    let kept = last.seq - 3;
    for entry in redis
        .cli(&[
            "XRANGE",
            "tickertape:stream",
            &format!("{}-0", kept + 1),
            "+",
        ])
        .lines()
        .filter(|line| {
            line.contains('-') && line.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
    {
        redis.cli(&["XDEL", "tickertape:stream", entry]);
    }
    redis.cli(&["SET", "tickertape:head", &kept.to_string()]);
    redis.cli(&["SET", "tickertape:committed", &kept.to_string()]);
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);

    let deadline = Instant::now() + PATIENCE;
    let snapshot = loop {
        assert!(
            Instant::now() < deadline,
            "no snapshot: the stream went on in the epoch the broker lost updates of"
        );
        let frame = stream.next_event().await.unwrap();
        assert_ne!(frame.kind(), "priceUpdate", "{}", frame.raw);
        if frame.kind() == "snapshot" {
            break frame;
        }
    };
    let epoch = snapshot.event_id();
    assert_ne!(epoch.run, last.run, "the same epoch went on");
    // The prices the viewers have carry over.
    assert_eq!(snapshot.json()["quotes"][0]["price"], 8.0);
    let notice = stream.next_event().await.unwrap();
    assert!(
        notice.data.contains("the price feed restarted"),
        "{:?}",
        notice.raw
    );
    // Publishing goes on in the new epoch, and no id of the old one is reused.
    let next = a.publish_body(batch(&["AAA"], 9.0)).await;
    assert_eq!(next.run, epoch.run);
    let update = stream.next_of("priceUpdate").await.unwrap();
    assert_eq!(update.event_id(), next);
    for app in [&a, &b] {
        let health: serde_json::Value = app.get_json("/healthz").await;
        let change = health["broker"]["lastChange"].as_str().unwrap_or_default();
        assert!(
            change.contains(&format!("no longer holds update {last}"))
                || change.is_empty() && app.hub.head().run == epoch.run,
            "{health}"
        );
    }
}

/// Batches posted at once to one instance are appended together (a group
/// commit), and each is still whole: its updates in order, one after another,
/// ending at the id its publisher was given.
#[tokio::test]
async fn batches_posted_at_once_are_each_whole_and_in_order() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let start = a.publish_body(batch(&["AAA", "BBB", "CCC"], 1.0)).await;
    let mut stream = a.open_stream_at("/events", Some(&start.to_string())).await;
    let posts = (0..8).map(|round| {
        let price = 10.0 + f64::from(round);
        let a = &a;
        async move {
            (
                price,
                a.publish_body(batch(&["AAA", "BBB", "CCC"], price)).await,
            )
        }
    });
    let mut given: Vec<(f64, EventId)> = futures::future::join_all(posts).await;
    given.sort_by_key(|(_, id)| id.seq);
    let last = given.last().unwrap().1;
    let updates = read_through(&mut stream, start, last).await;
    assert_eq!(updates.len(), 24);
    for (price, end) in given {
        let mine: Vec<&Update> = updates
            .iter()
            .filter(|update| update.id.seq + 3 > end.seq && update.id.seq <= end.seq)
            .collect();
        assert_eq!(mine.len(), 3, "{end}");
        for (update, symbol) in mine.iter().zip(["AAA", "BBB", "CCC"]) {
            assert_eq!(update.symbol(), symbol, "{end}");
            assert_eq!(update.price(), price, "{end}");
        }
    }
}

/// Candles are built from the updates' `ts`: the instance that published, one
/// that relayed, and one that joined later (from the history it loaded)
/// answer the same candles, byte for byte.
#[tokio::test]
async fn every_instance_answers_the_same_candles() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let b = instance(&redis, "b", &["--no-simulator"]).await;
    let mut last = a.publish_body(batch(&["AAA", "BBB"], 5.0)).await;
    for price in [6.0, 4.0, 7.0] {
        last = b.publish_body(batch(&["AAA"], price)).await;
    }
    let c = instance(&redis, "c", &["--no-simulator"]).await;
    relayed(&[&a, &b, &c], last).await;
    for interval in ["1s", "1m", "5m"] {
        let path = format!("/api/candles?symbol=AAA&interval={interval}");
        let answers = [
            a.get_text(&path).await,
            b.get_text(&path).await,
            c.get_text(&path).await,
        ];
        assert_eq!(answers[0], answers[1], "{interval}");
        assert_eq!(answers[0], answers[2], "{interval}");
        let candles: serde_json::Value = serde_json::from_str(&answers[0]).unwrap();
        assert_eq!(updates_in(&candles), 4, "{interval}: {candles}");
    }
}

/// A real `tickertape` process in the cluster, on a port it binds itself.
struct Process {
    server: Server,
    addr: SocketAddr,
}

impl Process {
    fn start(redis: &Redis, name: &str) -> Self {
        Self::start_with(redis, name, &["--rate", "50"])
    }

    fn start_with(redis: &Redis, name: &str, args: &[&str]) -> Self {
        let broker = redis.url();
        let cluster = ["--broker", &broker, "--instance", name];
        let server = Launch::new(&[&cluster[..], args].concat()).start();
        Self {
            addr: server.addr,
            server,
        }
    }

    /// SIGKILL: no goodbye, the lease runs out.
    fn kill(self) {
        self.server.kill();
    }

    /// SIGTERM, its exit checked.
    fn stop(self) {
        self.server.stop();
    }
}

#[tokio::test]
async fn another_instance_simulates_within_seconds_when_the_simulators_dies() {
    let redis = Redis::start();
    let first = Process::start(&redis, "first");
    // The first instance takes the lease; the second waits.
    let deadline = Instant::now() + PATIENCE;
    while redis.cli(&["GET", "tickertape:lease"]) != "first" {
        assert!(Instant::now() < deadline, "nobody took the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = Process::start(&redis, "second");
    // Who holds the lease, and who is who, by the metrics.
    let url = |process: &Process| format!("http://{}/metrics", process.addr);
    let client = reqwest::Client::new();
    let metrics = Metrics::scrape(&client, &url(&first)).await;
    assert_eq!(metrics.value("tickertape_lease_holder"), 1.0);
    assert_eq!(
        metrics.value("tickertape_instance_info{instance=\"first\"}"),
        1.0
    );
    let metrics = Metrics::scrape(&client, &url(&second)).await;
    assert_eq!(metrics.value("tickertape_lease_holder"), 0.0);
    assert_eq!(metrics.value("tickertape_broker_reconnects_total"), 0.0);
    let response = reqwest::get(format!("http://{}/events", second.addr))
        .await
        .unwrap();
    let mut stream = SseClient::new(response);
    let mut previous = caught_up(&mut stream).await;
    let price_before = loop {
        let update = stream.next_update().await.unwrap();
        previous = update.assert_follows(previous);
        if update.symbol() == "AAPL" {
            break update.price();
        }
    };

    first.kill(); // No goodbye: the lease runs out.
    let killed = Instant::now();
    while redis.cli(&["GET", "tickertape:lease"]) != "second" {
        assert!(killed.elapsed() < PATIENCE, "the lease was not taken over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Prices go on with gap-free ids, from where they were.
    let took_over = loop {
        let frame = tokio::time::timeout(PATIENCE, stream.next_event())
            .await
            .expect("prices again in time")
            .unwrap();
        if frame.kind() != "priceUpdate" {
            continue;
        }
        let update = Update::from(frame);
        previous = update.assert_follows(previous);
        if update.symbol() == "AAPL" && Instant::now() > killed + Duration::from_secs(1) {
            break update;
        }
    };
    assert!(
        killed.elapsed() < Duration::from_secs(8),
        "prices stopped for {:?}",
        killed.elapsed()
    );
    let jump = (took_over.price() / price_before).ln().abs();
    assert!(
        jump < 0.05,
        "AAPL jumped from {price_before} to {}",
        took_over.price()
    );
    let metrics = Metrics::scrape(&client, &url(&second)).await;
    assert_eq!(metrics.value("tickertape_lease_holder"), 1.0);

    // A holder that shuts down cleanly gives the lease up as it goes, not
    // 3 s later when the lease would run out.
    drop(stream);
    second.stop();
    assert_eq!(
        redis.cli(&["GET", "tickertape:lease"]),
        "",
        "the lease outlived its holder"
    );
}

#[tokio::test]
async fn a_viewer_from_an_instance_ahead_waits_for_its_id_and_resumes_exactly() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let b = instance(&redis, "b", &["--no-simulator"]).await;
    let head = a.publish_body(batch(&["AAA"], 1.0)).await;
    relayed(&[&a, &b], head).await;

    // The viewer saw an id that `b` has not relayed yet, as if it came from an
    // instance a moment ahead.
    let ahead = EventId {
        seq: head.seq + 1,
        ..head
    };
    let last_seen = ahead.to_string();
    let opening = b.open_stream_at("/events", Some(&last_seen));
    let publishing = async {
        // The stream is counted as it starts waiting for its id.
        b.wait_for_subscribers(1).await;
        a.publish_body(batch(&["AAA", "BBB"], 2.0)).await
    };
    let (mut stream, last) = tokio::join!(opening, publishing);
    assert_eq!(last.seq, ahead.seq + 1);
    // Exactly what followed its id: no snapshot, no notice.
    let replayed = read_through(&mut stream, ahead, last).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].symbol(), "BBB");
}

/// How many streams `addr` has open, from its metrics.
async fn streams_on(client: &reqwest::Client, addr: SocketAddr) -> u64 {
    let url = format!("http://{addr}/metrics");
    Metrics::scrape(client, &url)
        .await
        .value("tickertape_streams") as u64
}

/// Posts a batch straight to the instance at `addr`; returns the last id.
async fn publish_to(client: &reqwest::Client, addr: SocketAddr, price: f64) -> EventId {
    let base = format!("http://{addr}");
    helpers::publish_body_to(client, &base, batch(&["AAA", "BBB"], price)).await
}

#[tokio::test]
async fn through_nginx_a_viewer_whose_instance_is_killed_resumes_on_another_exactly() {
    let redis = Redis::start();
    let args = ["--no-simulator", "--publish-token", PUBLISH_TOKEN];
    let mut instances: Vec<Process> = ["a", "b", "c"]
        .iter()
        .map(|name| Process::start_with(&redis, name, &args))
        .collect();
    let site = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/nginx/cluster.conf"
    ))
    .unwrap();
    // The documented file, pointed at this test's instances.
    let mut site = site;
    for (port, instance) in [3011, 3012, 3013].iter().zip(&instances) {
        let line = format!("server 127.0.0.1:{port} ");
        assert!(site.contains(&line), "{line} is not in cluster.conf");
        site = site.replace(&line, &format!("server {} ", instance.addr));
    }
    let nginx = Nginx::start(&site, "listen 127.0.0.1:8080;");
    let client = reqwest::Client::new();

    let response = client.get(nginx.url("/events")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = SseClient::new(response);
    let start = caught_up(&mut stream).await;
    let mut last = start;
    for (round, instance) in instances.iter().enumerate() {
        last = publish_to(&client, instance.addr, round as f64 + 1.0).await;
    }
    let mut seen = read_through(&mut stream, start, last).await;

    // Kill the instance serving the stream, mid-stream.
    let mut serving = None;
    for (i, instance) in instances.iter().enumerate() {
        if streams_on(&client, instance.addr).await == 1 {
            serving = Some(i);
        }
    }
    let serving = serving.expect("no instance counts the stream");
    instances.remove(serving).kill();
    // Prices go on meanwhile, on the others.
    let before = last;
    for (round, instance) in instances.iter().enumerate() {
        last = publish_to(&client, instance.addr, round as f64 + 10.0).await;
    }
    // The stream ends, as a browser sees it: cut (nginx cannot end a chunked
    // body whose upstream died) or ended. It reconnects through nginx with the
    // last id it saw, and gets exactly what it missed.
    while let Ok(Some(_)) = tokio::time::timeout(PATIENCE, stream.next_frame_or_cut())
        .await
        .expect("the stream did not end")
    {}
    let response = client
        .get(nginx.url("/events"))
        .header("Last-Event-ID", before.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut resumed = SseClient::new(response);
    seen.extend(read_through(&mut resumed, before, last).await);
    assert_eq!(seen.len() as u64, last.seq - start.seq);
}

#[tokio::test]
async fn entries_written_to_redis_by_hand_never_break_a_frame_or_repeat_an_id() {
    let redis = Redis::start();
    let a = instance(&redis, "a", &["--no-simulator"]).await;
    let b = instance(&redis, "b", &["--no-simulator"]).await;
    let start = a.publish_body(batch(&["AAA"], 5.0)).await;
    relayed(&[&a, &b], start).await;
    let mut live = b.open_stream_at("/events", Some(&start.to_string())).await;
    caught_up(&mut live).await;

    // A writer to Redis that is not an instance: valid JSON whose whitespace
    // holds line breaks, then something that is no quote, then a good entry.
    let good = |price: f64| {
        format!(
            r#"{{"symbol":"AAA","price":{price},"open":5.0,"high":{price},"low":5.0,"change":1.0,"changePct":20.0,"ts":1}}"#
        )
    };
    let spaced = good(6.0).replace(",\"open\"", ",\r\n\r\n\"open\"");
    let entries = [
        spaced,
        r#"{"symbol":"AAA","price":null}"#.to_owned(),
        good(7.0),
    ];
    for data in &entries {
        let head: u64 = redis.cli(&["INCR", "tickertape:head"]).parse().unwrap();
        redis.cli(&["XADD", "tickertape:stream", &format!("{head}-0"), "d", data]);
        // Relays pass on only what a commit mark covers.
        redis.cli(&[
            "XADD",
            "tickertape:stream",
            &format!("{head}-*"),
            "c",
            &head.to_string(),
        ]);
        redis.cli(&["SET", "tickertape:committed", &head.to_string()]);
    }
    let last = EventId {
        run: start.run,
        seq: start.seq + 3,
    };
    relayed(&[&a, &b], last).await;

    // Live, and resumed from before the entries on either instance: two
    // updates, each one clean frame, each id once.
    let expected = [start.seq + 1, start.seq + 3];
    let mut live_updates = Vec::new();
    while live_updates.len() < 2 {
        let frame = live.next_of("priceUpdate").await.unwrap();
        live_updates.push(frame);
    }
    for app in [&a, &b] {
        let mut resumed = app
            .open_stream_at("/events", Some(&start.to_string()))
            .await;
        let mut updates = Vec::new();
        while updates.len() < 2 {
            updates.push(resumed.next_of("priceUpdate").await.unwrap());
        }
        for (frame, seq) in updates
            .iter()
            .chain(&live_updates)
            .zip(expected.iter().cycle())
        {
            assert_eq!(frame.event_id().seq, *seq, "{}", frame.raw);
            assert!(!frame.raw.contains('\r'), "{:?}", frame.raw);
            // event, id, data and the blank line that ends it.
            assert_eq!(frame.raw.lines().count(), 4, "{:?}", frame.raw);
            assert_eq!(frame.json()["symbol"], "AAA");
        }
        let metrics = app.metrics().await;
        assert_eq!(metrics.value("tickertape_relay_rejected_total"), 1.0);
    }
}

#[tokio::test]
async fn two_clusters_share_one_redis_under_their_own_prefixes() {
    let redis = Redis::start();
    let ours = instance(&redis, "ours", &["--no-simulator"]).await;
    let theirs = instance(
        &redis,
        "theirs",
        &["--no-simulator", "--broker-prefix", "othercluster"],
    )
    .await;
    let published = ours.publish_body(batch(&["AAA"], 1.0)).await;
    relayed(&[&ours], published).await;
    let other = theirs.publish_body(batch(&["BBB"], 2.0)).await;
    relayed(&[&theirs], other).await;
    // Each cluster's keys under its own prefix, and each sees its own prices only.
    let keys = redis.cli(&["KEYS", "*"]);
    let keys: Vec<&str> = keys.lines().collect();
    assert!(
        keys.iter().any(|key| key.starts_with("tickertape:"))
            && keys.iter().any(|key| key.starts_with("othercluster:"))
            && keys
                .iter()
                .all(|key| key.starts_with("tickertape:") || key.starts_with("othercluster:")),
        "{keys:?}"
    );
    let symbols = |snapshot: serde_json::Value| {
        symbols_of(&snapshot)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(symbols(ours.get_json("/api/snapshot").await), ["AAA"]);
    assert_eq!(symbols(theirs.get_json("/api/snapshot").await), ["BBB"]);
}
