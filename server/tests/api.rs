//! `GET /api/snapshot`, `GET /api/stats`, the `symbols` filter and the
//! server-rendered dashboard against a real server.

mod helpers;

use helpers::{PUBLISH_TOKEN, spawn_app, symbols_of, updates_in};

const SYMBOLS: &str = "AAPL,BRK.B,ZZZZ";

#[tokio::test]
async fn the_snapshot_has_every_symbol_in_order_and_the_last_id() {
    let app = spawn_app(&["--symbols", SYMBOLS, "--rate", "200"]).await;
    let mut stream = app.open_stream().await;
    let seen = stream.next_update().await.unwrap();

    let response = app
        .client
        .get(app.url("/api/snapshot"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let snapshot: serde_json::Value = response.json().await.unwrap();
    assert_eq!(symbols_of(&snapshot).join(","), SYMBOLS);
    let last: app::model::EventId = snapshot["lastEventId"].as_str().unwrap().parse().unwrap();
    assert_eq!(last.run, seen.id.run);
    assert!(last.seq >= seen.id.seq);
    for quote in snapshot["quotes"].as_array().unwrap() {
        let price = quote["price"].as_f64().unwrap();
        assert!(price > 0.0);
        assert!(quote["changePct"].is_number() && quote["ts"].is_u64());
        let (low, high) = (
            quote["low"].as_f64().unwrap(),
            quote["high"].as_f64().unwrap(),
        );
        assert!(low <= price && price <= high, "{quote}");
        // The sparkline's prices end with the current one.
        let recent = quote["recent"].as_array().unwrap();
        assert_eq!(recent.last().unwrap().as_f64(), Some(price));
    }
}

#[tokio::test]
async fn the_dashboard_html_already_holds_the_current_prices() {
    let app = spawn_app(&["--symbols", SYMBOLS, "--rate", "0.001"]).await;
    let snapshot: app::model::Snapshot = app.get_json("/api/snapshot").await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<tbody>"), "no explicit tbody");
    for quote in &snapshot.quotes {
        let row = format!("data-symbol=\"{}\"", quote.symbol);
        let at = html
            .find(&row)
            .unwrap_or_else(|| panic!("no row for {}", quote.symbol));
        let value = quote.price.get();
        let price = app::format::price(value, app::format::decimals_of(value));
        assert!(
            html[at..].contains(&price),
            "{} is not shown at {price}",
            quote.symbol
        );
    }
}

#[tokio::test]
async fn the_page_tells_the_dashboard_the_servers_retry_delay_before_any_stream() {
    let app = spawn_app(&["--retry-ms", "4321", "--rate", "0.001"]).await;
    let html = app.get_text("/").await;
    let start = html.find(r#"id="page-data""#).expect("no page data");
    let script = &html[start..];
    let json = &script[script.find('>').unwrap() + 1..script.find("</script>").unwrap()];
    let page: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(page["retryMs"], 4321);
}

#[tokio::test]
async fn symbols_filter_the_snapshot_and_the_stream() {
    let app = spawn_app(&["--symbols", SYMBOLS, "--rate", "300"]).await;

    let snapshot: serde_json::Value = app.get_json("/api/snapshot?symbols=ZZZZ,AAPL").await;
    assert_eq!(
        symbols_of(&snapshot),
        ["AAPL", "ZZZZ"],
        "configured order, only those listed"
    );

    let mut stream = app.open_stream_at("/events?symbols=BRK.B", None).await;
    let first = stream.next_of("snapshot").await.unwrap().json();
    assert_eq!(first["quotes"].as_array().unwrap().len(), 1);
    assert_eq!(first["quotes"][0]["symbol"], "BRK.B");
    for update in stream.updates(30).await {
        assert_eq!(update.symbol(), "BRK.B");
    }
}

#[tokio::test]
async fn bad_symbol_lists_get_a_400_that_says_what_was_wrong() {
    let app = spawn_app(&["--symbols", SYMBOLS]).await;

    for path in ["/events", "/api/snapshot"] {
        for (query, code, says) in [
            ("symbols=AAPL,NOPE,ZZZ", "unknown_symbols", "NOPE, ZZZ"),
            ("symbols=", "malformed_symbols", "empty"),
            ("symbols=AAPL,,ZZZZ", "malformed_symbols", "cannot be empty"),
            ("symbols=aapl", "malformed_symbols", "A-Z"),
            ("symbols=%FF", "malformed_symbols", ""),
        ] {
            let response = app
                .client
                .get(app.url(&format!("{path}?{query}")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{path}?{query}");
            assert_eq!(response.headers()["content-type"], "application/json");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], code, "{path}?{query}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(says), "{path}?{query}: {message}");
        }
    }
    let body: serde_json::Value = app.get_json("/events?symbols=AAPL,NOPE").await;
    assert_eq!(body["symbols"], serde_json::json!(["NOPE"]));
    assert_eq!(body["unknownCount"], 1, "{body}");
    // Past 20 unknown symbols, the first 20 are named and all are counted.
    let unknown: Vec<String> = (0..25).map(|n| format!("NO{n}")).collect();
    let body: serde_json::Value = app
        .get_json(&format!("/api/snapshot?symbols=AAPL,{}", unknown.join(",")))
        .await;
    assert_eq!(body["error"], "unknown_symbols", "{body}");
    assert_eq!(body["symbols"], serde_json::json!(unknown[..20]), "{body}");
    assert_eq!(body["unknownCount"], 25, "{body}");
    assert_eq!(app.limits.open(), 0, "a refused stream was opened");
}

#[tokio::test]
async fn stats_count_streams_and_resumes() {
    // No simulator: the history holds exactly what this test published.
    let app = spawn_app(&["--no-simulator", "--publish-token", PUBLISH_TOKEN]).await;
    let mut stream = app.open_stream().await;
    app.publish(&[("ACME", 1.0), ("ACME", 2.0), ("ACME", 3.0)])
        .await;
    let update = stream.next_update().await.unwrap();
    let _resumed = app
        .open_stream_at("/events", Some(&update.id.to_string()))
        .await;
    let _resynced = app.open_stream_at("/events", Some("nonsense")).await;

    let stats = app.stats().await;

    assert_eq!(stats["streams"], 3);
    assert_eq!(
        (stats["resumed"].as_u64(), stats["resynced"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["historyLen"], 3);
    assert_eq!(stats["slowSnapshots"], 0);
}

#[tokio::test]
async fn the_router_answers_without_a_socket() {
    use axum::{body::Body, http::Request};
    use clap::Parser;
    use http_body_util::BodyExt;
    use server::{
        config::Config,
        http::{router, startup},
    };
    use tower::ServiceExt;

    let config = Config::try_parse_from(["tickertape", "--symbols", SYMBOLS]).unwrap();
    let (state, _simulator) = startup::state(&config, "127.0.0.1:3000".parse().unwrap()).unwrap();
    let request = Request::get("/api/snapshot?symbols=ZZZZ")
        .body(Body::empty())
        .unwrap();
    let response = router::app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let snapshot: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(symbols_of(&snapshot), ["ZZZZ"]);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app(&[]).await;
    let missing = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let wrong = app
        .client
        .delete(app.url("/api/snapshot"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET,HEAD");
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

/// `GET /api/candles`: built from the published updates' `ts`, answered byte
/// for byte, and every bad request a JSON error.
#[tokio::test]
async fn candles_are_the_published_prices_by_their_ts_and_bad_requests_are_json_errors() {
    let app = spawn_app(&["--no-simulator", "--publish-token", PUBLISH_TOKEN]).await;
    // Two minutes ago, on a whole minute: within the accepted clock skew.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let base = now / 60_000 * 60_000 - 120_000;
    let body = format!(
        r#"[{{"symbol":"ACME","price":10,"ts":{a}}},{{"symbol":"ACME","price":12,"ts":{b}}},
            {{"symbol":"ACME","price":9.5,"ts":{c}}},{{"symbol":"ACME","price":11,"ts":{d}}},
            {{"symbol":"OTHR","price":1,"ts":{a}}}]"#,
        a = base + 100,
        b = base + 900,
        c = base + 1_500,
        d = base + 61_000,
    );
    app.publish_body(body).await;
    // The candles say the position they are at: here, the snapshot's.
    let snapshot: serde_json::Value =
        serde_json::from_str(&app.get_text("/api/snapshot").await).unwrap();
    let head = snapshot["lastEventId"].as_str().unwrap().to_owned();
    assert!(head.ends_with("-5"), "{head}");
    let get = |query: &'static str| {
        let url = app.url(&format!("/api/candles{query}"));
        let client = app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (status, kind, response.text().await.unwrap())
        }
    };
    let (status, kind, seconds) = get("?symbol=ACME&interval=1s").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert_eq!(
        seconds,
        format!(
            r#"{{"symbol":"ACME","interval":"1s","candles":[{{"t":{},"open":10.0,"high":12.0,"low":10.0,"close":12.0,"count":2}},{{"t":{},"open":9.5,"high":9.5,"low":9.5,"close":9.5,"count":1}},{{"t":{},"open":11.0,"high":11.0,"low":11.0,"close":11.0,"count":1}}],"lastEventId":"{}"}}"#,
            base,
            base + 1_000,
            base + 61_000,
            head
        )
    );
    let (_, _, minutes) = get("?symbol=ACME&interval=1m").await;
    assert_eq!(
        minutes,
        format!(
            r#"{{"symbol":"ACME","interval":"1m","candles":[{{"t":{},"open":10.0,"high":12.0,"low":9.5,"close":9.5,"count":3}},{{"t":{},"open":11.0,"high":11.0,"low":11.0,"close":11.0,"count":1}}],"lastEventId":"{}"}}"#,
            base,
            base + 60_000,
            head
        )
    );
    // 1m is the default; limit keeps the last ones.
    let (_, _, last) = get("?symbol=ACME&limit=1").await;
    assert!(
        last.ends_with(&format!(
            r#""candles":[{{"t":{},"open":11.0,"high":11.0,"low":11.0,"close":11.0,"count":1}}],"lastEventId":"{}"}}"#,
            base + 60_000,
            head
        )),
        "{last}"
    );
    let (_, _, five) = get("?symbol=ACME&interval=5m").await;
    let five: serde_json::Value = serde_json::from_str(&five).unwrap();
    assert_eq!(updates_in(&five), 4);

    for (query, status, code) in [
        ("?symbol=NOPE", 404, "unknown_symbol"),
        ("", 400, "malformed_symbol"),
        ("?symbol=not%20a%20symbol", 400, "malformed_symbol"),
        ("?symbol=ACME&interval=1h", 400, "invalid_interval"),
        ("?symbol=ACME&interval=1s&limit=0", 400, "invalid_limit"),
        ("?symbol=ACME&interval=1s&limit=601", 400, "invalid_limit"),
        ("?symbol=ACME&limit=-1", 400, "invalid_limit"),
        (
            "?symbol=ACME&limit=99999999999999999999999",
            400,
            "invalid_limit",
        ),
    ] {
        let (got, kind, body) = get(query).await;
        assert_eq!(
            (got, kind.as_str()),
            (status, "application/json"),
            "{query}: {body}"
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], code, "{query}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
