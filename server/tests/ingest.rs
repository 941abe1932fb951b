//! `POST /api/prices` on a real server: accepted updates reach viewers like
//! simulated ones, bad ones change nothing and say why.

mod helpers;

use helpers::{PUBLISH_TOKEN, TestApp, spawn_app, symbols_of};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

async fn publisher(args: &[&str]) -> TestApp {
    let mut all = vec!["--publish-token", PUBLISH_TOKEN];
    all.extend_from_slice(args);
    spawn_app(&all).await
}

/// The status and JSON body of a publish.
async fn publish(
    app: &TestApp,
    token: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let response = app.post_prices(token, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn published_prices_reach_every_viewer_and_a_new_symbol_joins_the_table() {
    let app = publisher(&["--no-simulator"]).await;
    let snapshot: Value = app.get_json("/api/snapshot").await;
    assert_eq!(
        symbols_of(&snapshot),
        Vec::<&str>::new(),
        "--no-simulator starts empty"
    );
    let mut viewers = vec![app.open_stream().await, app.open_stream().await];
    for viewer in &mut viewers {
        viewer.next_of("heartbeat").await.unwrap();
    }

    let (status, body) = publish(
        &app,
        Some(PUBLISH_TOKEN),
        json!([{"symbol": "ACME", "price": 10.5}, {"symbol": "ACME", "price": 11}, {"symbol": "BRK.B", "price": 441.25}])
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 3);

    for viewer in &mut viewers {
        let updates = viewer.updates(3).await;
        let seen: Vec<(&str, f64)> = updates.iter().map(|u| (u.symbol(), u.price())).collect();
        assert_eq!(seen, [("ACME", 10.5), ("ACME", 11.0), ("BRK.B", 441.25)]);
        assert!(updates[1].id.follows(updates[0].id) && updates[2].id.follows(updates[1].id));
        assert_eq!(updates[2].id.to_string(), body["lastEventId"]);
        // The session fields follow, exactly as for simulated prices.
        assert_eq!(updates[1].data["open"], 10.5);
        assert_eq!(updates[1].data["change"], 0.5);
    }
    let snapshot: Value = app.get_json("/api/snapshot").await;
    assert_eq!(symbols_of(&snapshot), ["ACME", "BRK.B"]);
    // A viewer may now ask for the new symbol alone.
    let mut acme = app.open_stream_at("/events?symbols=ACME", None).await;
    assert_eq!(
        symbols_of(&acme.next_of("snapshot").await.unwrap().json()),
        ["ACME"]
    );

    let metrics = app.metrics().await;
    assert_eq!(metrics.value("tickertape_ingest_accepted_total"), 3.0);
    assert_eq!(metrics.value("tickertape_events_published_total"), 3.0);
}

#[tokio::test]
async fn publishing_is_disabled_without_a_token_and_says_so() {
    let app = spawn_app(&[]).await;
    let (status, body) = publish(&app, Some(PUBLISH_TOKEN), r#"{"symbol":"A","price":1}"#).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "publishing_disabled");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("--publish-token")
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused() {
    let app = publisher(&[]).await;
    for token in [None, Some("publish-token-0123456780"), Some("short")] {
        let response = app.post_prices(token, r#"{"symbol":"A","price":1}"#).await;
        assert_eq!(response.status(), 401, "{token:?}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.value("tickertape_ingest_rejected_total{reason=\"unauthorized\"}"),
        3.0
    );
}

#[tokio::test]
async fn bad_input_changes_nothing_and_names_the_item() {
    let app = publisher(&[
        "--no-simulator",
        "--max-body-bytes",
        "1024",
        "--max-symbols",
        "3",
    ])
    .await;
    let ok = |symbol: &str| json!({"symbol": symbol, "price": 1.0});
    for (body, status, error, item) in [
        ("{\"symbol\":".to_owned(), 400, "malformed_json", None),
        (
            json!([ok("A"), {"symbol": "bad symbol", "price": 1}]).to_string(),
            422,
            "invalid_symbol",
            Some(1),
        ),
        (
            json!([ok("A"), ok("B"), {"symbol": "C", "price": -1}]).to_string(),
            422,
            "invalid_price",
            Some(2),
        ),
        (
            json!([ok("A"), {"symbol": "C", "price": 1, "ts": 1_000}]).to_string(),
            422,
            "invalid_ts",
            Some(1),
        ),
        (
            json!([ok("A"), ok("B"), ok("C"), ok("D")]).to_string(),
            422,
            "too_many_symbols",
            None,
        ),
        (
            format!("[{}]", vec![ok("A").to_string(); 60].join(",")),
            413,
            "too_large",
            None,
        ),
    ] {
        let (got, body_back) = publish(&app, Some(PUBLISH_TOKEN), body.clone()).await;
        assert_eq!(
            (got, body_back["error"].as_str()),
            (status, Some(error)),
            "{body_back}"
        );
        assert_eq!(
            body_back.get("item").and_then(Value::as_u64),
            item,
            "{body_back}"
        );
        assert!(!body_back["message"].as_str().unwrap().is_empty());
    }
    // Nothing of any refused batch was applied.
    let snapshot: Value = app.get_json("/api/snapshot").await;
    assert_eq!(symbols_of(&snapshot), Vec::<&str>::new());
    assert_eq!(
        snapshot["lastEventId"]
            .as_str()
            .unwrap_or_else(|| panic!("{snapshot}"))
            .split('-')
            .nth(1),
        Some("0")
    );
    let metrics = app.metrics().await;
    for reason in [
        "malformed_json",
        "invalid_symbol",
        "invalid_price",
        "invalid_ts",
        "too_many_symbols",
        "too_large",
    ] {
        assert_eq!(
            metrics.value(&format!(
                "tickertape_ingest_rejected_total{{reason=\"{reason}\"}}"
            )),
            1.0,
            "{reason}"
        );
    }
}

#[tokio::test]
async fn max_ts_skew_secs_sets_how_far_a_ts_may_be_from_the_servers_clock() {
    let app = publisher(&["--no-simulator", "--max-ts-skew-secs", "10"]).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // 5 s either way is inside 10 s; 60 s is inside the default (300 s) but
    // not this server's.
    for (ts, status) in [
        (now - 5_000, 200),
        (now + 5_000, 200),
        (now - 60_000, 422),
        (now + 60_000, 422),
    ] {
        let (got, body) = publish(
            &app,
            Some(PUBLISH_TOKEN),
            json!({"symbol": "ACME", "price": 1, "ts": ts}).to_string(),
        )
        .await;
        assert_eq!(got, status, "ts {ts} against {now}: {body}");
        if status == 422 {
            assert_eq!(body["error"], "invalid_ts", "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("(at most 10 s allowed)"), "{message}");
        }
    }
}
