//! `GET /api/snapshot`, `GET /api/stats`, the `symbols` filter and the
//! server-rendered dashboard against a real server.

mod helpers;

use helpers::{PUBLISH_TOKEN, spawn_app, symbols_of};

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
