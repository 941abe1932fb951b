//! The real binary: `tickertape publish` replaying a CSV into a server, and JSON
//! logs that never hold a token.

mod helpers;

use helpers::{
    PUBLISH_TOKEN,
    binary::{Launch, Server},
    post_prices, publish_body_to,
};
use std::{
    path::PathBuf,
    process::{Command, Output},
};

const VIEWER: &str = "viewer-token-9876543210";

/// The binary with `args` and the environment variables `vars`, logging
/// everything (a token must appear at no level).
fn start(args: &[&str], vars: &[(&str, &str)]) -> Server {
    vars.iter()
        .fold(
            Launch::new(args).env("RUST_LOG", "trace"),
            |launch, (name, value)| launch.env(name, value),
        )
        .start()
}

async fn snapshot(server: &Server) -> serde_json::Value {
    let response = reqwest::get(server.url("/api/snapshot")).await.unwrap();
    response.json().await.unwrap()
}

fn csv_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tickertape-{}-{name}.csv", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn publish(server: &Server, file: &PathBuf, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickertape"))
        .arg("publish")
        .arg(file)
        .args(["--url", &server.url(""), "--token", PUBLISH_TOKEN])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[tokio::test]
async fn publish_replays_a_csv_at_its_pace_and_stops_at_a_bad_row() {
    let server = start(&["--no-simulator", "--publish-token", PUBLISH_TOKEN], &[]);
    let file = csv_file(
        "good",
        "symbol,price,ts\nACME,10.00,1000\nACME,10.50,1100\nBRK.B,441.20,1200\nACME,10.25,1300\nZZZ,1,1400\n",
    );
    // Five rows at 10 per second: the server stamps each on arrival.
    let started = std::time::Instant::now();
    let output = publish(&server, &file, &["--rate", "10"]);
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let replayed = snapshot(&server).await;
    let quotes = replayed["quotes"].as_array().unwrap();
    let prices: Vec<(&str, f64)> = quotes
        .iter()
        .map(|q| (q["symbol"].as_str().unwrap(), q["price"].as_f64().unwrap()))
        .collect();
    assert_eq!(prices, [("ACME", 10.25), ("BRK.B", 441.2), ("ZZZ", 1.0)]);
    let ts = |i: usize| quotes[i]["ts"].as_u64().unwrap();
    // Paced: the fifth row is due 0.4 s after the first and never sent
    // earlier (a late machine may send rows closer together, never sooner).
    assert!(
        took >= std::time::Duration::from_millis(400),
        "five rows at 10 per second took {took:?}"
    );
    // BRK.B (the third row) was stamped before ZZZ (the fifth).
    assert!(ts(2) >= ts(1), "{replayed}");
    assert_eq!(quotes[0]["open"], 10.0);

    // A bad row: nothing is sent and the line is named.
    let bad = csv_file("bad", "NEW,1\nNEW,2\nnew,3\n");
    let output = publish(&server, &bad, &[]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("line 3"), "{said}");
    assert_eq!(
        snapshot(&server).await["quotes"].as_array().unwrap().len(),
        3,
        "a row of the bad file was sent"
    );

    // A wrong token: the server's refusal is shown.
    let output = Command::new(env!("CARGO_BIN_EXE_tickertape"))
        .args([
            "publish",
            file.to_str().unwrap(),
            "--url",
            &server.url(""),
            "--token",
            "wrong-token-000000000",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("401"));
    server.stop();
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(bad);
}

#[tokio::test]
async fn json_logs_never_hold_a_token() {
    let server = start(
        &[
            "--log-format",
            "json",
            "--publish-token",
            PUBLISH_TOKEN,
            "--viewer-token",
            VIEWER,
        ],
        &[],
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let wrong = "wrong-token-abcdefghijkl";
    for url in [
        server.url(&format!("/?token={VIEWER}")),
        server.url(&format!("/?token={wrong}")),
        server.url(&format!("/api/snapshot?token={VIEWER}")),
    ] {
        client.get(url).send().await.unwrap();
    }
    client
        .get(server.url("/api/stats"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/api/stats"))
        .header("cookie", format!("tickertape_token={VIEWER}"))
        .send()
        .await
        .unwrap();
    for token in [PUBLISH_TOKEN, wrong] {
        post_prices(
            &client,
            &server.url(""),
            Some(token),
            r#"{"symbol":"ACME","price":1}"#,
        )
        .await;
    }
    let log = server.stop().log;
    assert!(log.len() > 10, "too few lines: {log:?}");
    for line in &log {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            entry.get("level").is_some() && entry.get("timestamp").is_some(),
            "{line}"
        );
        for secret in [PUBLISH_TOKEN, VIEWER, wrong] {
            assert!(!line.contains(secret), "a token was logged: {line}");
        }
    }
    // The log does say what happened, by path.
    assert!(
        log.iter().any(|line| line.contains("/api/prices")),
        "no request was logged"
    );
    assert!(log.iter().any(|line| line.contains("publish refused")));
}

#[tokio::test]
async fn environment_variables_set_what_flags_set() {
    let server = start(
        &[],
        &[
            ("TICKERTAPE_NO_SIMULATOR", "true"),
            ("TICKERTAPE_PUBLISH_TOKEN", PUBLISH_TOKEN),
            ("TICKERTAPE_MAX_STREAMS_PER_IP", "1"),
            ("TICKERTAPE_LOG_FORMAT", "json"),
        ],
    );
    let client = reqwest::Client::new();
    assert_eq!(snapshot(&server).await["quotes"], serde_json::json!([]));
    publish_body_to(&client, &server.url(""), r#"{"symbol":"ACME","price":2}"#).await;
    let first = client.get(server.url("/events")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = client.get(server.url("/events")).send().await.unwrap();
    assert_eq!(second.status(), 503);
    drop(first);
    let log = server.stop().log;
    assert!(
        log.iter().all(|line| line.starts_with('{')),
        "not JSON logs: {log:?}"
    );
}

/// `tickertape publish` with `args`: whether it succeeded, and all it said.
fn run_publish(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tickertape"))
        .arg("publish")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[tokio::test]
async fn publish_never_prints_the_password_of_its_url() {
    let server = start(&["--no-simulator", "--publish-token", PUBLISH_TOKEN], &[]);
    let file = csv_file("secret", "symbol,price\nACME,10.00\n");
    let with_password = server
        .url("")
        .replace("http://", "http://operator:hunter2-s3cret@");
    // Reached, and then not: a port nobody listens on.
    let closed = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "http://operator:hunter2-s3cret@{}",
            socket.local_addr().unwrap()
        )
    };
    // (reqwest turns the URL's credentials into Basic authorization, which
    // the server refuses: what matters here is what is printed.)
    for url in [with_password, closed] {
        let (ok, said) = run_publish(&[
            file.to_str().unwrap(),
            "--url",
            &url,
            "--token",
            PUBLISH_TOKEN,
        ]);
        assert!(!ok, "{said}");
        assert!(said.contains("***@127.0.0.1"), "{said}");
        assert!(
            !said.contains("hunter2"),
            "the password was printed: {said}"
        );
    }
    server.stop();
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_bad_value_names_its_environment_variable_and_names_resolve() {
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tickertape"))
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    let output = run(&[("TICKERTAPE_RATE", "fast")], &[]);
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("'fast'") && said.contains("TICKERTAPE_RATE"),
        "{said}"
    );
    // On the command line, the flag is the one to blame.
    let said = String::from_utf8_lossy(&run(&[], &["--rate", "fast"]).stderr).into_owned();
    assert!(!said.contains("TICKERTAPE_RATE"), "{said}");
    let said =
        String::from_utf8_lossy(&run(&[("TICKERTAPE_LOG_FORMAT", "xml")], &[]).stderr).into_owned();
    assert!(
        said.contains("text, json") && said.contains("TICKERTAPE_LOG_FORMAT"),
        "{said}"
    );

    // `localhost:PORT` works, and `JSON` is `json`.
    let server = start(
        &[],
        &[
            ("TICKERTAPE_LOG_FORMAT", "JSON"),
            ("LEPTOS_SITE_ADDR", "localhost:0"),
        ],
    );
    assert!(server.addr.ip().is_loopback());
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    server.stop();
}

#[tokio::test]
async fn publish_speaks_https_and_says_what_went_wrong_in_plain_words() {
    let run = run_publish;
    let file = csv_file(
        "plain",
        "# prices from somewhere\n# two comment lines first\nsymbol,price,ts\nACME,10.00\nACME,10.50,1\n",
    );
    let file = file.to_str().unwrap();

    // No scheme, and nobody there.
    let (ok, said) = run(&[file, "--token", PUBLISH_TOKEN, "--url", "localhost:3000"]);
    assert!(
        !ok && said.contains("needs a scheme: http://localhost:3000"),
        "{said}"
    );
    let nobody = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", socket.local_addr().unwrap())
    };
    let (ok, said) = run(&[file, "--token", PUBLISH_TOKEN, "--url", &nobody]);
    assert!(!ok && said.contains("connection refused"), "{said}");

    // HTTPS with the server's own self-signed certificate, trusted with --ca-cert.
    let server = start(
        &[
            "--no-simulator",
            "--publish-token",
            PUBLISH_TOKEN,
            "--tls-self-signed",
        ],
        &[],
    );
    let ca = server
        .log()
        .iter()
        .find_map(|line| {
            let at = line.find("clients can trust it with ")?;
            Some(
                line[at + "clients can trust it with ".len()..]
                    .trim()
                    .to_owned(),
            )
        })
        .expect("the server names its certificate");
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let (ok, said) = run(&[file, "--token", PUBLISH_TOKEN, "--url", &url]);
    assert!(
        !ok && said.contains("not trusted") && said.contains("--ca-cert"),
        "{said}"
    );
    // Trusting the certificate, with `token` and any `extra` flags.
    let trusted = |token: &str, extra: &[&str]| {
        let args = [file, "--token", token, "--url", &url, "--ca-cert", &ca];
        run(&[&args[..], extra].concat())
    };
    let (ok, said) = trusted("wrong-token-0123456789", &[]);
    assert!(!ok && said.contains("refused the publish token"), "{said}");
    // The second row's ts is far from the server's clock: refused, and named
    // by its line in the file, comments counted.
    let (ok, said) = trusted(
        PUBLISH_TOKEN,
        &["--keep-ts", "--rate", "1000", "--batch", "10"],
    );
    assert!(!ok && said.contains("refused line 5"), "{said}");
    let (ok, said) = trusted(PUBLISH_TOKEN, &[]);
    assert!(ok, "{said}");
    server.stop();
}

#[tokio::test]
async fn a_server_without_its_built_front_end_says_so() {
    let server = start(&["--site-root", "/nonexistent/site"], &[]);
    let log = server.stop().log;
    assert!(
        log.iter()
            .any(|line| line.contains("no built front end at /nonexistent/site")),
        "{log:?}"
    );
}

#[tokio::test]
async fn publish_reads_stdin_keeps_the_files_ts_and_sends_rows_due_together_in_batches() {
    let server = start(&["--no-simulator", "--publish-token", PUBLISH_TOKEN], &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Five rows due together (one ts, at the ts column's own pace), from
    // stdin, their ts kept, two a request.
    let rows: String = ["AAA", "BBB", "CCC", "DDD", "EEE"]
        .iter()
        .map(|symbol| format!("{symbol},1.5,{}\n", now - 1000))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickertape"))
        .args([
            "publish",
            "-",
            "--url",
            &server.url(""),
            "--token",
            PUBLISH_TOKEN,
        ])
        .args(["--keep-ts", "--speed", "1", "--batch", "2"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rows.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let quotes = snapshot(&server).await["quotes"].clone();
    let quotes = quotes.as_array().unwrap();
    assert_eq!(quotes.len(), 5);
    for quote in quotes {
        assert_eq!(quote["ts"], now - 1000, "{quote}");
    }
    // Three requests: two rows, two rows, one.
    let log = server.stop().log;
    let posts = log
        .iter()
        .filter(|line| line.contains("path=/api/prices}: started processing request"))
        .count();
    assert_eq!(posts, 3, "{log:#?}");
}

#[tokio::test]
async fn boolean_variables_read_yes_and_no_and_a_backlog_past_the_kernels_cap_is_logged() {
    for (value, simulator) in [("yes", "off"), ("1", "off"), ("no", "on"), ("false", "on")] {
        let server = start(&[], &[("TICKERTAPE_NO_SIMULATOR", value)]);
        let quotes = snapshot(&server).await["quotes"].as_array().unwrap().len();
        assert_eq!(quotes == 0, simulator == "off", "{value}: {quotes} quotes");
        let log = server.stop().log.join("\n");
        assert!(
            log.contains(&format!("simulator      {simulator}")),
            "TICKERTAPE_NO_SIMULATOR={value}: {log}"
        );
    }

    let cap: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if cap >= 1_000_000 {
        return; // No backlog the server takes is past this kernel's cap.
    }
    let asked = (cap + 1).to_string();
    let server = start(&["--listen-backlog", &asked], &[]);
    let log = server.stop().log.join("\n");
    assert!(
        log.contains("net.core.somaxconn") && log.contains(&format!("somaxconn={cap}")),
        "--listen-backlog {asked} over a cap of {cap}, not logged: {log}"
    );
    // At the cap, nothing to say.
    let server = start(&["--listen-backlog", &cap.to_string()], &[]);
    let log = server.stop().log.join("\n");
    assert!(!log.contains("caps the listen backlog"), "{log}");
}
