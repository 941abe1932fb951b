//! Safe to expose: the viewer token, CORS, stream limits, security headers,
//! `/metrics` and `/healthz`, on a real server.

mod helpers;

use helpers::{Metrics, PUBLISH_TOKEN, spawn_app};
use reqwest::{StatusCode, header, redirect::Policy};
use serde_json::Value;

const VIEWER: &str = "viewer-token-0123456789";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn without_the_viewer_token_every_view_is_refused_and_says_why() {
    let app = spawn_app(&["--viewer-token", VIEWER]).await;
    for path in [
        "/api/snapshot",
        "/api/candles?symbol=AAPL",
        "/api/stats",
        "/events",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{path}");
        assert!(
            body["message"].as_str().unwrap().contains("?token="),
            "{body}"
        );
    }
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 401);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("needs an access token"), "{html}");
    // A wrong token says so.
    let wrong = app
        .client
        .get(app.url("/?token=viewer-token-0123456780"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not valid"));
    // Open routes stay open.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_token_in_a_link_becomes_an_http_only_cookie_that_opens_the_stream() {
    let app = spawn_app(&["--viewer-token", VIEWER]).await;
    let client = no_redirects();
    let response = client
        .get(app.url(&format!("/?token={VIEWER}")))
        .send()
        .await
        .unwrap();
    // The page sheds the token from its address at once.
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/");
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with(&format!("tickertape_token={VIEWER};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();

    let page = client
        .get(app.url("/"))
        .header(header::COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let events = client
        .get(app.url("/events"))
        .header(header::COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut stream = helpers::SseClient::new(events);
    assert!(stream.next_of("snapshot").await.is_some());
    // EventSource's way: the token in the stream's own URL.
    let direct = client
        .get(app.url(&format!("/events?token={VIEWER}")))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    assert!(
        direct.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    // Programs may send it as a bearer token.
    let api = client
        .get(app.url("/api/snapshot"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials_and_no_others() {
    let listed = spawn_app(&["--cors-origins", "https://a.example,https://b.example"]).await;
    let ask = |app: &helpers::TestApp, origin: &'static str| {
        app.client
            .get(app.url("/api/snapshot"))
            .header(header::ORIGIN, origin)
            .send()
    };
    let response = ask(&listed, "https://b.example").await.unwrap();
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://b.example"
    );
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    let response = ask(&listed, "https://evil.example").await.unwrap();
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );

    let open = spawn_app(&[]).await;
    let response = ask(&open, "https://evil.example").await.unwrap();
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );

    // Publishing answers no CORS at all, to a listed origin either: neither
    // its preflight nor the POST itself.
    for app in [&listed, &open] {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/api/prices"))
            .header(header::ORIGIN, "https://b.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
            .await
            .unwrap();
        let post = app
            .client
            .post(app.url("/api/prices"))
            .header(header::ORIGIN, "https://b.example")
            .body("[]")
            .send()
            .await
            .unwrap();
        for answer in [preflight, post] {
            let cors: Vec<_> = answer
                .headers()
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{}: {cors:?}", answer.status());
        }
    }
}

#[tokio::test]
async fn past_the_stream_limits_the_answer_is_503_with_retry_after() {
    let app = spawn_app(&[
        "--max-streams",
        "3",
        "--max-streams-per-ip",
        "2",
        "--trust-forwarded-for",
    ])
    .await;
    let open = |ip: &'static str| {
        app.client
            .get(app.url("/events"))
            .header("x-forwarded-for", format!("192.0.2.99, {ip}"))
            .send()
    };
    let first = open("10.0.0.1").await.unwrap();
    let second = open("10.0.0.1").await.unwrap();
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let same_ip = open("10.0.0.1").await.unwrap();
    assert_eq!(same_ip.status(), 503);
    let after: u64 = same_ip.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1);
    let body: Value = same_ip.json().await.unwrap();
    assert_eq!(body["error"], "server_busy");
    // The body says when, too, for clients that read bodies, not headers.
    assert_eq!(body["retryAfter"].as_u64(), Some(after));
    assert!(body["message"].as_str().unwrap().contains("your address"));

    let third = open("10.0.0.2").await.unwrap();
    assert_eq!(third.status(), 200);
    let full = open("10.0.0.3").await.unwrap();
    assert_eq!(full.status(), 503);
    // HEAD asks without opening: the dashboard learns why its stream was refused.
    let head = app.client.head(app.url("/events")).send().await.unwrap();
    assert_eq!(head.status(), 503);
    assert!(head.headers().contains_key(header::RETRY_AFTER));

    // A closed stream gives its place back.
    drop(first);
    app.wait_for_subscribers(2).await;
    let mut back = None;
    for _ in 0..100 {
        let response = open("10.0.0.1").await.unwrap();
        if response.status() == 200 {
            back = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(back.is_some(), "the place was not given back");
    let metrics = app.metrics().await;
    assert_eq!(metrics.value("tickertape_streams"), 3.0);
    assert_eq!(
        metrics.value("tickertape_streams_refused_total{reason=\"client_busy\"}"),
        1.0
    );
    assert_eq!(
        metrics.value("tickertape_streams_refused_total{reason=\"server_busy\"}"),
        2.0
    );
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_that_admits_their_own_scripts() {
    let app = spawn_app(&[]).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("'wasm-unsafe-eval'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts lack the nonce"
    );
    // Each page gets its own.
    let again = app.client.get(app.url("/")).send().await.unwrap();
    assert!(
        !again.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains(nonce)
    );
    // API answers are not sniffed either.
    let api = app.client.get(app.url("/api/stats")).send().await.unwrap();
    assert_eq!(api.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn metrics_count_what_happens_and_healthz_answers() {
    // No simulator: every update is one this test published.
    let app = spawn_app(&["--no-simulator", "--publish-token", PUBLISH_TOKEN]).await;
    let mut live = app.open_stream().await;
    live.next_of("snapshot").await.unwrap();
    app.publish(&[("ACME", 1.0), ("ACME", 2.0), ("ACME", 3.0)])
        .await;
    let updates = live.updates(3).await;
    // One stream resumes after the first update and is replayed the other two;
    // one asks for an id that never was and gets a snapshot.
    let mut replayed = app
        .open_stream_at("/events", Some(&updates[0].id.to_string()))
        .await;
    replayed.updates(2).await;
    let mut resynced = app.open_stream_at("/events", Some("garbage")).await;
    resynced.next_of("snapshot").await.unwrap();

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let metrics = Metrics(response.text().await.unwrap());
    for (sample, value) in [
        ("tickertape_streams", 3.0),
        ("tickertape_events_published_total", 3.0),
        ("tickertape_ingest_accepted_total", 3.0),
        // Three live, two replayed.
        ("tickertape_events_delivered_total", 5.0),
        ("tickertape_replays_total", 1.0),
        ("tickertape_resyncs_total", 1.0),
        // Nobody fell behind, stalled or was refused; nothing was simulated.
        ("tickertape_slow_snapshots_total", 0.0),
        ("tickertape_conflated_events_total", 0.0),
        ("tickertape_slow_client_disconnects_total", 0.0),
        ("tickertape_simulator_skipped_total", 0.0),
    ] {
        assert_eq!(metrics.value(sample), value, "{sample}");
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let build = format!(
        "tickertape_build_info{{version=\"{}\",profile=\"{profile}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(metrics.value(&build), 1.0);
    let health: Value = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn a_simulator_that_falls_behind_skips_and_counts_it() {
    let app = spawn_app(&["--rate", "1000"]).await;
    let mut stream = app.open_stream().await;
    stream.next_update().await.unwrap();
    let skipped = || async {
        app.metrics()
            .await
            .value("tickertape_simulator_skipped_total")
    };
    assert_eq!(skipped().await, 0.0);
    // The server shares this test's one thread: blocking it holds the
    // simulator back 600 ms, past the 250 ms it may fall behind.
    std::thread::sleep(std::time::Duration::from_millis(600));
    let deadline = std::time::Instant::now() + helpers::PATIENCE;
    while skipped().await == 0.0 {
        assert!(std::time::Instant::now() < deadline, "nothing skipped");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // About 350 updates fell due too long ago (at most 600 ms' worth).
    let count = skipped().await;
    assert!((1.0..=600.0).contains(&count), "{count} skipped");
}

/// `request` over HTTPS with HTTP/1.1 (the connection closed after it): the
/// answer's head, lower-cased.
async fn https_head(
    app: &helpers::TestApp,
    der: rustls_pki_types::CertificateDer<'static>,
    path: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = helpers::tls_connect(app.addr, der, b"http/1.1").await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    answer[..answer.find("\r\n\r\n").unwrap()].to_owned()
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_answers_carry_hsts() {
    let (app, der) = helpers::spawn_tls_app(&["--viewer-token", VIEWER]).await;
    let head = https_head(&app, der.clone(), &format!("/api/snapshot?token={VIEWER}")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age=31536000\r\n"),
        "{head}"
    );
    let cookie = head
        .lines()
        .find(|line| line.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("httponly") && cookie.ends_with("; secure"),
        "{cookie}"
    );
    // Refusals too.
    let refused = https_head(&app, der, "/api/snapshot").await;
    assert!(refused.starts_with("http/1.1 401") && refused.contains("strict-transport-security"));

    // Turned off, and never over plain HTTP.
    let (quiet, der) = helpers::spawn_tls_app(&["--no-hsts"]).await;
    assert!(
        !https_head(&quiet, der, "/healthz")
            .await
            .contains("strict-transport")
    );
    let plain = spawn_app(&["--viewer-token", VIEWER]).await;
    let response = plain
        .client
        .get(plain.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));

    // Behind a proxy that says the viewer came over HTTPS: the same as the
    // instance's own TLS.
    let proxied = plain
        .client
        .get(plain.url(&format!("/api/snapshot?token={VIEWER}")))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxied.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = proxied.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.to_ascii_lowercase().ends_with("; secure"),
        "{cookie}"
    );
    let unproxied = plain
        .client
        .get(plain.url(&format!("/api/snapshot?token={VIEWER}")))
        .send()
        .await
        .unwrap();
    let cookie = unproxied.headers()["set-cookie"].to_str().unwrap();
    assert!(!cookie.to_ascii_lowercase().contains("secure"), "{cookie}");
}

#[tokio::test]
async fn head_events_answers_what_get_would_and_a_query_it_cannot_read_is_malformed() {
    let app = spawn_app(&["--viewer-token", VIEWER]).await;
    let head = |path: &str, token: bool| {
        let request = app.client.head(app.url(path));
        if token {
            request.bearer_auth(VIEWER)
        } else {
            request
        }
        .send()
    };
    for (path, token, status) in [
        ("/events", false, 401),
        ("/events?symbols=NOPE!", true, 400),
        ("/events?symbols=ZZZZ", true, 400),
        ("/events?symbols=AAPL", true, 200),
    ] {
        let answer = head(path, token).await.unwrap();
        assert_eq!(answer.status(), status, "HEAD {path}");
        assert_eq!(answer.bytes().await.unwrap().len(), 0, "HEAD {path}");
    }
    // Asked, not opened.
    assert_eq!(app.limits.open(), 0);

    // A query the server cannot read at all (a parameter twice).
    let answer = app
        .client
        .get(app.url("/events?symbols=AAPL&symbols=MSFT"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "malformed_query", "{body}");
}

#[tokio::test]
async fn a_preflight_is_answered_before_the_token_and_a_401_is_readable_by_allowed_sites() {
    let origin = "https://allowed.example";
    let app = spawn_app(&["--viewer-token", VIEWER, "--cors-origins", origin]).await;
    for path in ["/events", "/api/snapshot"] {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,last-event-id",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 200, "{path}");
        assert_eq!(
            preflight.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin
        );
        // Both request headers a reader sends are allowed.
        let allowed = preflight.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for name in ["authorization", "last-event-id"] {
            assert!(allowed.contains(name), "{path}: {allowed}");
        }

        let refused = app
            .client
            .get(app.url(path))
            .header(header::ORIGIN, origin)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "{path}");
        assert_eq!(
            refused.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            origin
        );
    }
}

#[tokio::test]
async fn a_token_with_a_plus_works_pasted_raw_or_encoded() {
    let token = "viewer+token/0123456789=";
    let app = spawn_app(&["--viewer-token", token]).await;
    for link in [
        "/api/snapshot?token=viewer+token/0123456789=",
        "/api/snapshot?token=viewer%2Btoken%2F0123456789%3D",
    ] {
        let response = no_redirects().get(app.url(link)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{link}");
    }
    let page = no_redirects()
        .get(app.url("/?token=viewer+token/0123456789="))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
}
